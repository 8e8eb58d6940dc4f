import type { Spread } from './stats.js';

export interface Bar {
  label: string;
  value: Spread;
  kind: 'module' | 'raw' | 'bullmq' | 'ceiling';
}

const COLORS: Record<Bar['kind'], string> = {
  module: '#2563eb',
  raw: '#6b7280',
  bullmq: '#d97706',
  ceiling: '#c4c4c4',
};

const WIDTH = 900;
const LABEL_WIDTH = 290;
const PLOT_WIDTH = 470;
const BAR_HEIGHT = 20;
const GAP = 8;

const escape = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

export const compact = (n: number): string =>
  n >= 1e6 ? `${+(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${+(n / 1e3).toFixed(1)}k` : n.toFixed(0);

/**
 * Horizontal bar charts, one panel per title, on a log scale (the redis-benchmark ceiling is two
 * orders of magnitude above a publish awaited one at a time); whiskers show min and max.
 */
export function renderChart(panels: Array<{ title: string; unit: string; bars: Bar[] }>): string {
  const values = panels.flatMap((p) => p.bars.flatMap((b) => [b.value.min, b.value.max]));
  const low = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...values))));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const x = (v: number) =>
    LABEL_WIDTH + (Math.log10(Math.max(v, low) / low) / Math.log10(high / low)) * PLOT_WIDTH;
  const parts: string[] = [];
  let y = 20;
  for (const panel of panels) {
    parts.push(`<text x="10" y="${y + 14}" class="title">${escape(panel.title)}</text>`);
    y += 28;
    const top = y;
    const height = panel.bars.length * (BAR_HEIGHT + GAP);
    for (let tick = low; tick <= high; tick *= 10) {
      parts.push(
        `<line x1="${x(tick)}" y1="${top - 4}" x2="${x(tick)}" y2="${top + height}" class="grid"/>`,
        `<text x="${x(tick)}" y="${top + height + 14}" class="tick">${compact(tick)}</text>`,
      );
    }
    for (const bar of panel.bars) {
      const mid = y + BAR_HEIGHT / 2;
      const end = x(bar.value.median);
      parts.push(
        `<text x="${LABEL_WIDTH - 8}" y="${mid + 4}" class="label">${escape(bar.label)}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${(end - LABEL_WIDTH).toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLORS[bar.kind]}"/>`,
        `<line x1="${x(bar.value.min).toFixed(1)}" y1="${mid}" x2="${x(bar.value.max).toFixed(1)}" y2="${mid}" class="whisker"/>`,
        `<text x="${(Math.max(end, x(bar.value.max)) + 6).toFixed(1)}" y="${mid + 4}" class="value">${compact(bar.value.median)} ${escape(panel.unit)}</text>`,
      );
      y += BAR_HEIGHT + GAP;
    }
    y += 40;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}">`,
    '<style>',
    'text { font-family: sans-serif; font-size: 12px; fill: #111; }',
    '.title { font-size: 14px; font-weight: bold; }',
    '.label { text-anchor: end; }',
    '.tick { text-anchor: middle; fill: #555; font-size: 11px; }',
    '.grid { stroke: #ddd; }',
    '.whisker { stroke: #111; stroke-width: 1.5; }',
    '</style>',
    `<rect width="${WIDTH}" height="${y}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
