import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@redis-streams-alerts/nestjs-redis-streams/testing';
import { ControlledExporter } from './controlled-exporter.js';
import { MonitoringProcess } from './monitoring-process.js';

/** A Prometheus alerting rule, as in a rules file. */
export interface AlertRule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface MonitoringStackOptions {
  rules: AlertRule[];
  /** Where Alertmanager's webhook receiver posts (the service's /alerts/alertmanager). */
  webhookUrl: string;
  /** Sent by Alertmanager as `Authorization: Bearer <key>`. */
  apiKey: string;
}

/**
 * A real Prometheus scraping a `ControlledExporter` every second and evaluating `rules` every
 * second, and a real Alertmanager (no cluster, 1 s group wait and interval) that it notifies and
 * that posts to `webhookUrl` with `send_resolved: true`. Each keeps its data in a temp folder.
 */
export class MonitoringStack {
  private constructor(
    readonly exporter: ControlledExporter,
    readonly prometheus: MonitoringProcess,
    readonly alertmanager: MonitoringProcess,
    private readonly dir: string,
  ) {}

  static async start(options: MonitoringStackOptions): Promise<MonitoringStack> {
    const dir = mkdtempSync(join(tmpdir(), 'monitoring-stack-'));
    const started: Array<{ close(): Promise<void> }> = [];
    try {
      const exporter = await ControlledExporter.start();
      started.push(exporter);
      const [amPort, promPort] = [await freePort(), await freePort()];
      writeFileSync(join(dir, 'alertmanager.yml'), alertmanagerConfig(options));
      const alertmanager = await MonitoringProcess.start(
        'prometheus-alertmanager',
        [
          `--config.file=${join(dir, 'alertmanager.yml')}`,
          `--storage.path=${join(dir, 'alertmanager-data')}`,
          `--web.listen-address=127.0.0.1:${amPort}`,
          '--cluster.listen-address=',
        ],
        `http://127.0.0.1:${amPort}`,
      );
      started.push(alertmanager);
      writeFileSync(
        join(dir, 'rules.yml'),
        JSON.stringify({ groups: [{ name: 'stack', interval: '1s', rules: options.rules }] }),
      );
      writeFileSync(
        join(dir, 'prometheus.yml'),
        prometheusConfig(exporter.target, amPort, join(dir, 'rules.yml')),
      );
      const prometheus = await MonitoringProcess.start(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
          // Firing alerts go to Alertmanager every second, not every minute.
          '--rules.alert.resend-delay=1s',
        ],
        `http://127.0.0.1:${promPort}`,
      );
      return new MonitoringStack(exporter, prometheus, alertmanager, dir);
    } catch (error) {
      for (const thing of started.reverse()) await thing.close();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Both processes' recent output, for a failure message. */
  log(): string {
    return `${this.prometheus.log()}\n${this.alertmanager.log()}`;
  }

  async close(): Promise<void> {
    await this.prometheus.close();
    await this.alertmanager.close();
    await this.exporter.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** JSON is YAML: no YAML writer needed, and no quoting to get wrong. */
function prometheusConfig(target: string, amPort: number, rulesFile: string): string {
  return JSON.stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [rulesFile],
    scrape_configs: [{ job_name: 'exporter', static_configs: [{ targets: [target] }] }],
    alerting: {
      alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }],
    },
  });
}

function alertmanagerConfig({ webhookUrl, apiKey }: MonitoringStackOptions): string {
  return JSON.stringify({
    route: {
      receiver: 'relay',
      group_by: ['alertname'],
      group_wait: '1s',
      group_interval: '1s',
      repeat_interval: '1h',
    },
    receivers: [
      {
        name: 'relay',
        webhook_configs: [
          {
            url: webhookUrl,
            send_resolved: true,
            http_config: { authorization: { type: 'Bearer', credentials: apiKey } },
          },
        ],
      },
    ],
  });
}
