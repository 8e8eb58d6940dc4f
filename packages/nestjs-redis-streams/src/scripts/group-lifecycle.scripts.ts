import { loadScript } from './lua-loader.js';

/*
 * The scripts that create a consumer group and tidy it: its consumers that stopped for good, and
 * retry bookkeeping of entries no longer pending.
 */

/** Creates the consumer group (and the stream) unless it exists. */
export const ENSURE_GROUP = loadScript('ensure-group');

/** Deletes consumers idle for long with nothing pending, never the caller. */
export const DELETE_IDLE_CONSUMERS = loadScript('delete-idle-consumers');

/** One step of a scan that removes the bookkeeping of entries no longer pending. */
export const SWEEP_BOOKKEEPING = loadScript('sweep-bookkeeping');
