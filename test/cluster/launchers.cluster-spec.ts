import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestRedisCluster } from '../support/redis-cluster.js';
import { accepts, redisCommand } from '../support/redis-node.js';
import { TestRedisSentinel } from '../support/redis-sentinel.js';

function leftoverDirs(prefix: string): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith(prefix));
}

describe('the Cluster and Sentinel launchers', () => {
  it('start a 3+3 cluster that serves keys, and leave no server or folder behind', async () => {
    const before = leftoverDirs('test-redis-cluster-');
    const cluster = await TestRedisCluster.start({ masters: 3, replicasPerMaster: 1 });
    try {
      expect(cluster.startupNodes).toHaveLength(6);
      const masters = await cluster.masters();
      expect(masters).toHaveLength(3);
      for (const master of masters) {
        const replica = await cluster.replicaOf(master);
        expect(masters).not.toContain(replica);
      }
      const owner = await cluster.masterForKey('{launcher}');
      expect(masters).toContain(owner);
      const client = cluster.client();
      await client.set('{launcher}:a', '1');
      expect(await redisCommand(owner, ['GET', '{launcher}:a'])).toBe('1');
    } finally {
      await cluster.destroy();
    }
    for (const port of cluster.ports) expect(await accepts(port)).toBe(false);
    expect(leftoverDirs('test-redis-cluster-')).toEqual(before);
    expect(cluster.startedInMs).toBeLessThan(30_000);
  }, 60_000);

  it('start a master, a replica and three Sentinels, and leave nothing behind', async () => {
    const sentinel = await TestRedisSentinel.start();
    const dirs: string[] = [];
    try {
      const master = await sentinel.masterPort();
      expect(sentinel.dataPorts).toContain(master);
      expect(sentinel.sentinels).toHaveLength(3);
      const client = sentinel.client();
      await client.set('launcher', '1');
      expect(await redisCommand(master, ['GET', 'launcher'])).toBe('1');
      for (const { port } of sentinel.sentinels) {
        dirs.push(...leftoverDirs(`test-redis-sentinel-${port}-`).map((d) => join(tmpdir(), d)));
      }
      expect(dirs).toHaveLength(3);
    } finally {
      await sentinel.destroy();
    }
    for (const port of [...sentinel.dataPorts, ...sentinel.sentinels.map((s) => s.port)]) {
      expect(await accepts(port)).toBe(false);
    }
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
