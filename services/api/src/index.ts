export { createApiService } from './api-service.js';
export { ensureFirstBootToken, formatFirstBootBanner } from './first-boot.js';
export type { FirstBootOptions, FirstBootResult } from './first-boot.js';
export { hashSetupToken, mintSetupToken } from './setup-token.js';
export { createFirstAdmin } from './setup/first-admin.js';
export type { FirstAdminInput, FirstAdminOptions } from './setup/first-admin.js';
export { lazyPasswordHasher } from './http/lazy-password-hasher.js';
