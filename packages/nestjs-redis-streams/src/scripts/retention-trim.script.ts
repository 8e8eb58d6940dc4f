import { loadScript } from './lua-loader.js';

/** One step of retention on one stream: by age, then by count, never past what a group needs. */
export const RETENTION_TRIM = loadScript('retention-trim');
