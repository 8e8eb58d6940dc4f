import type { Redis } from 'ioredis';

/**
 * Makes the commands issued on `redis` during one turn of the event loop leave in one write to
 * its socket, at the end of the turn, instead of one write (one system call, and on a loopback
 * socket the receiving side's work too) each. ioredis writes each command as it is issued;
 * concurrent callers (HTTP requests answered in one turn, the entries of one batch) each issue
 * their own. The socket is corked at the first command of a turn and uncorked in `setImmediate`,
 * once the turn's callbacks and promise continuations have run. Replies and their order are as
 * before: only the writes are grouped.
 *
 * Not ioredis's auto-pipelining, which does the same with a Pipeline per turn: Pipelines outlive
 * young-generation collections (see write-together.ts).
 */
export function coalesceWrites(redis: Redis): void {
  const sendCommand = redis.sendCommand;
  let corked: Redis['stream'] | undefined;
  redis.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    const socket = this.status === 'ready' ? this.stream : undefined;
    if (socket !== undefined && corked !== socket) {
      corked = socket;
      socket.cork();
      setImmediate(() => {
        corked = undefined;
        socket.uncork();
      });
    }
    return sendCommand.apply(this, args);
  } as Redis['sendCommand'];
}
