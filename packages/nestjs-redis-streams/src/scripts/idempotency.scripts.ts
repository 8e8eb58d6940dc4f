import { loadScript } from './lua-loader.js';

/*
 * The scripts for idempotent handlers: the per-eventId marker that lets one entry run the
 * handler, and its release after a failed attempt.
 */

/** Takes the right to run the handler for one eventId: 'run', 'done' or 'busy'. */
export const CLAIM_EVENT = loadScript('claim-event');

/** Gives up the right to run taken with CLAIM_EVENT after a failed attempt, if still held. */
export const RELEASE_EVENT = loadScript('release-event');
