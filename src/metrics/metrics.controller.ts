import { Controller, Get, Header } from '@nestjs/common';
import { Registry } from 'prom-client';

/**
 * `GET /metrics` in the Prometheus text format.
 *
 * Open even when API_KEY is set: the key lets its holder publish and read alerts, which a scraper
 * must not be able to do, and the metrics hold no alert content, no URL and no secret, only counts
 * per stream and group. Restrict who reaches it at the network level (the scrape port inside the
 * cluster, a NetworkPolicy), as for /health.
 */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly registry: Registry) {}

  @Get()
  @Header('content-type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('cache-control', 'no-store')
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
