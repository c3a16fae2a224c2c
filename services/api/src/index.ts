export { createApiService } from './api-service.js';
export { ensureFirstBootToken, formatFirstBootBanner } from './first-boot.js';
export type { FirstBootOptions, FirstBootResult } from './first-boot.js';
export { hashSetupToken, mintSetupToken } from './setup-token.js';
