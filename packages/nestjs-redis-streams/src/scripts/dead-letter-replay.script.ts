import { loadScript } from './lua-loader.js';

/** Moves dead letters back to their stream, without their `dlq-*` fields, each once. */
export const REPLAY_DEAD_LETTERS = loadScript('replay-dead-letters');
