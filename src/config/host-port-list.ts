/** One `host:port` of a list such as REDIS_CLUSTER_NODES. */
export interface HostPort {
  host: string;
  port: number;
}

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/**
 * Reads a comma-separated `host:port` list (`10.0.0.1:7000,redis-2:7000,[::1]:7001`). Returns the
 * addresses, or why the text is not such a list. The reason never repeats an entry that looks like
 * it holds a password (a URL pasted by mistake).
 */
export function parseHostPortList(text: string): HostPort[] | { problem: string } {
  const entries = text.split(',').map((entry) => entry.trim());
  const nodes: HostPort[] = [];
  for (const entry of entries) {
    if (entry === '') return { problem: 'it has an empty entry' };
    if (entry.includes('@') || entry.includes('://')) {
      return { problem: 'give host:port only, without a scheme, user or password' };
    }
    const match = HOST_PORT.exec(entry);
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65_535) {
      return { problem: `${JSON.stringify(entry.slice(0, 80))} is not host:port` };
    }
    nodes.push({ host: match[1] ?? match[2], port });
  }
  return nodes;
}
