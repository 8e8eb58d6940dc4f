import { loadScript } from './lua-loader.js';

/*
 * Flow control of a consumer group, shared by all its instances: a pause by hand, a pause while
 * the destination is busy, a circuit that opens when the destination is down, and a rate limit.
 * The group's flow hash (see streamKeys.flow) holds:
 * - `paused`: '1' while paused by hand;
 * - `busyUntil`: server time (ms) until which no call starts, after a busy signal;
 * - `streak`, `lastFailed`: failures of different entries in a row, and the last one's id;
 * - `openUntil`, `probeMs`: while the circuit is open, when the next probe may go, and the wait
 *   after that if it fails too;
 * - `probe`, `probeUntil`: the consumer whose call is the probe, and until when it holds that.
 * Times are the server's (TIME), so the instances' clocks do not matter.
 */

/** The flow state, and the server's time to compare it with; runs while Redis is full. */
export const FLOW_STATE = loadScript('flow-state');

/** The destination said it is busy: no call starts for a while, then calls resume at a rate. */
export const FLOW_BUSY = loadScript('flow-busy');

/** A call failed: lengthens the streak of failures, opening the circuit at its limit. */
export const FLOW_FAILED = loadScript('flow-failed');

/** A call succeeded: the streak ends, and an open circuit closes. */
export const FLOW_SUCCEEDED = loadScript('flow-succeeded');

/** Takes the probe of an open circuit whose wait is over, unless another consumer holds it. */
export const FLOW_TAKE_PROBE = loadScript('flow-take-probe');

/** Takes call tokens from the rate limit and the rate the group resumes at after busy signals. */
export const FLOW_TAKE = loadScript('flow-take');
