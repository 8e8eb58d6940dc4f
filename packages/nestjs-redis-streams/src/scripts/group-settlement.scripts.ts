import { loadScript } from './lua-loader.js';

/*
 * The scripts for the delivery a group consumer holds: settling it (ACK, SCHEDULE_RETRY,
 * DEAD_LETTER) and keeping it while its handler runs (STILL_CURRENT, EXTEND_LEASE). Which delivery
 * is current: see lua/includes/current-delivery.lua.
 *
 * Bookkeeping. The attempts hash and the retries set have no TTL: every path that finds an entry no
 * longer pending removes its fields there (see also SWEEP_BOOKKEEPING).
 */

/** Moves an entry to the dead-letter stream and acknowledges it, for the current delivery only. */
export const DEAD_LETTER = loadScript('dead-letter');

/** Acknowledges an entry, forgets its retry bookkeeping, and may mark its event handled. */
export const ACK = loadScript('ack');

/** Schedules a retry of the current delivery, in Redis so it survives a crash. */
export const SCHEDULE_RETRY = loadScript('schedule-retry');

/** Whether a delivery is still current, renewing its lease if so. */
export const STILL_CURRENT = loadScript('still-current');

/** Keeps entries that handlers work on from looking idle, only those the caller still owns. */
export const EXTEND_LEASE = loadScript('extend-lease');
