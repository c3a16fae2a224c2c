// Where the built dashboard lives, for services/api to serve (Z4J_DASHBOARD_DIST overrides it).
import { fileURLToPath } from 'node:url';

export const DASHBOARD_DIST = fileURLToPath(new URL('./dist', import.meta.url));
