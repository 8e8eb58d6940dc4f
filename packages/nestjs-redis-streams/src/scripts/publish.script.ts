import { loadScript } from './lua-loader.js';

/** Publishes a batch, de-duplicating by eventId; with a guard key, safe to run twice. */
export const PUBLISH = loadScript('publish');
