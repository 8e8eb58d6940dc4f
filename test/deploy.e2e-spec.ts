import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { readReceiversFile } from '../src/config/receivers-file.js';

const DEPLOY = join(import.meta.dirname, '..', 'deploy');

function yamlOf(name: string): Record<string, unknown> {
  const document = parseDocument(readFileSync(join(DEPLOY, name), 'utf8'), { uniqueKeys: true });
  expect(document.errors.map((error) => `${name}: ${error.message}`)).toEqual([]);
  return document.toJS() as Record<string, unknown>;
}

/** Runs a checker of Debian's packages when it is installed (.ci/run installs them). */
function check(binary: string, args: string[]): { output: string; ok: boolean } {
  const run = spawnSync(binary, args, { cwd: DEPLOY, encoding: 'utf8', timeout: 20_000 });
  if (run.error) return { output: '', ok: true };
  return { output: `${run.stdout}${run.stderr}`, ok: run.status === 0 };
}

/** The files of deploy/: the compose file of the monitoring stack and the configs it mounts. */
describe('deploy/', () => {
  it('holds only YAML that parses, without duplicate keys', () => {
    const files = readdirSync(DEPLOY).filter((name) => /\.ya?ml$/.test(name));
    expect(files.sort()).toEqual([
      'alert-rules.yml',
      'alertmanager.yml',
      'monitoring-compose.yml',
      'prometheus.yml',
      'receivers.yml',
    ]);
    for (const name of files) yamlOf(name);
  });

  it('composes Redis, the service, Alertmanager and Prometheus, mounting the files beside it', () => {
    const compose = yamlOf('monitoring-compose.yml') as {
      services: Record<string, { volumes?: string[]; environment?: Record<string, string> }>;
    };
    expect(Object.keys(compose.services).sort()).toEqual([
      'alertmanager',
      'alerts',
      'prometheus',
      'redis',
    ]);
    const mounted = Object.values(compose.services)
      .flatMap((service) => service.volumes ?? [])
      .filter((volume) => volume.startsWith('./'))
      .map((volume) => volume.split(':')[0].slice(2));
    expect(mounted.sort()).toEqual([
      'alert-rules.yml',
      'alertmanager.yml',
      'prometheus.yml',
      'receivers.yml',
    ]);
    expect(compose.services.alerts.environment).toMatchObject({
      ALERTS_RECEIVERS_FILE: '/etc/alerts/receivers.yml',
    });
  });

  it('has Alertmanager post to the service, resolves included', () => {
    const config = yamlOf('alertmanager.yml') as {
      receivers: Array<{ webhook_configs: Array<{ url: string; send_resolved: boolean }> }>;
    };
    expect(config.receivers[0].webhook_configs[0]).toMatchObject({
      url: 'http://alerts:3000/alerts/alertmanager',
      send_resolved: true,
    });
    const checked = check('amtool', ['check-config', 'alertmanager.yml']);
    expect(checked.ok ? 'ok' : checked.output).toBe('ok');
  });

  it('has Prometheus configs that promtool accepts', () => {
    for (const args of [
      ['check', 'config', 'prometheus.yml'],
      ['check', 'rules', 'alert-rules.yml'],
    ]) {
      const checked = check('promtool', args);
      expect(checked.ok ? 'ok' : checked.output).toBe('ok');
    }
  });

  it('has a receivers file that the service accepts', () => {
    const { problems, receivers } = readReceiversFile(join(DEPLOY, 'receivers.yml'), {
      timeoutMs: 5_000,
      maxAgeMs: 21_600_000,
      variables: {
        PD_ROUTING_KEY: 'an-integration-key',
        SLACK_WEBHOOK_URL: 'https://hooks.example.com/slack',
      },
    });
    expect(problems).toEqual([]);
    expect(receivers.map(({ name, format }) => `${name}:${format}`)).toEqual([
      'pager:pagerduty',
      'chat:slack',
    ]);
  });
});
