import { loadScript } from './lua-loader.js';

/*
 * The scripts of ordered partitions: a partition's lease with its fencing token, and the
 * settlement and take-over of its entries, each done only while the caller holds the lease.
 */

/** Takes or keeps the lease of a partition; a new lease gets the next fencing token. */
export const ACQUIRE_LEASE = loadScript('acquire-lease');

/** Extends or gives up a lease, only while it is still the caller's. */
export const RENEW_LEASE = loadScript('renew-lease');

/** Acknowledges an entry of an ordered partition, only while the caller holds its lease. */
export const FENCED_ACK = loadScript('fenced-ack');

/** Dead-letters an entry of an ordered partition, only while the caller holds its lease. */
export const FENCED_DEAD_LETTER = loadScript('fenced-dead-letter');

/** For a partition's owner: claims the oldest pending entries of the group, whoever had them. */
export const TAKE_OVER_PENDING = loadScript('take-over-pending');
