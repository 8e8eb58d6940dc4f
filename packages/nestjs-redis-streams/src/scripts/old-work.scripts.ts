import { loadScript } from './lua-loader.js';

/*
 * The scripts that hand a consumer work older than what it reads: retries that are due, entries
 * idle too long under another consumer (reclaim), and its own pending entries it does not hold
 * (RECOVER_OWN, with SERVER_TIME). RECLAIM and TAKE_DUE_RETRIES record what one call handed out
 * under a claim key of its own: see lua/includes/claim-record.lua.
 */

/** Takes retries that are due and claims their entries for this consumer. */
export const TAKE_DUE_RETRIES = loadScript('take-due-retries');

/** Claims entries idle too long under other consumers, counting the abandoned delivery. */
export const RECLAIM = loadScript('reclaim');

/** Takes back this consumer's own pending entries that it does not hold. */
export const RECOVER_OWN = loadScript('recover-own');

/** The time (ms) of the server that holds a stream. */
export const SERVER_TIME = loadScript('server-time');
