// The two small SVG charts of the dashboard: throughput and backlog over the recent history.
import { $, el, formatAge, svg } from './dom.js';

const CHART_WINDOW = { minMs: 30_000, maxMs: 600_000 };
const CHART = { width: 600, height: 180, left: 48, right: 10, top: 12, bottom: 22 };
const COLORS = ['#2458c6', '#d9480f', '#2b8a3e', '#862e9c', '#c2255c', '#0b7285', '#5c940d'];
const rateFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/**
 * Turns the samples into series: entries/s for throughput (counts over the real time between two
 * samples), lag + pending for backlog.
 */
function toSeries(history) {
  const throughput = new Map();
  const backlog = new Map();
  const add = (map, name, at, value) => {
    if (!map.has(name)) map.set(name, []);
    map.get(name).push({ at, value });
  };
  history.samples.forEach((sample, index) => {
    const previous = history.samples[index - 1];
    const seconds = Math.max(
      0.001,
      (previous ? sample.at - previous.at : history.intervalMs) / 1_000,
    );
    for (const stream of sample.streams) {
      add(throughput, `${stream.stream} published`, sample.at, stream.published / seconds);
      for (const group of stream.groups) {
        const name = `${stream.stream} · ${group.group}`;
        add(throughput, `${name} handled`, sample.at, group.handled / seconds);
        const waiting =
          group.lag === null && group.pending === null
            ? null
            : (group.lag ?? 0) + (group.pending ?? 0);
        add(backlog, name, sample.at, waiting);
      }
    }
  });
  return { throughput, backlog };
}

/** A rounded top for the y axis: 1, 2 or 5 times a power of ten. */
function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((top) => top >= value);
}

function drawChart(svgId, legendId, series, windowMs, now) {
  const { width, height, left, right, top, bottom } = CHART;
  const chart = $(svgId);
  const values = [...series.values()]
    .flat()
    .filter((point) => point.value !== null && point.at >= now - windowMs)
    .map((point) => point.value);
  const max = Math.max(0, ...values);
  const yTop = niceCeiling(max);
  const x = (at) => left + ((at - (now - windowMs)) / windowMs) * (width - left - right);
  const y = (value) => height - bottom - (value / yTop) * (height - top - bottom);
  const formatTick = (value) => rateFormat.format(value);

  const nodes = [];
  for (const fraction of [0, 0.5, 1]) {
    const value = yTop * fraction;
    nodes.push(
      svg('line', { class: 'axis', x1: left, x2: width - right, y1: y(value), y2: y(value) }),
    );
    nodes.push(
      svg(
        'text',
        { class: 'label', x: left - 6, y: y(value) + 4, 'text-anchor': 'end' },
        formatTick(value),
      ),
    );
  }
  nodes.push(svg('text', { class: 'label', x: left, y: height - 6 }, `−${formatAge(windowMs)}`));
  nodes.push(
    svg('text', { class: 'label', x: width - right, y: height - 6, 'text-anchor': 'end' }, 'now'),
  );

  const legend = [];
  let color = 0;
  for (const [name, points] of series) {
    const stroke = COLORS[color++ % COLORS.length];
    // A gap where Redis did not answer: one polyline per run of known values.
    let run = [];
    const flush = () => {
      if (run.length > 1)
        nodes.push(svg('polyline', { class: 'series', stroke, points: run.join(' ') }));
      if (run.length === 1) {
        const [cx, cy] = run[0].split(',');
        nodes.push(svg('circle', { cx, cy, r: 2, fill: stroke }));
      }
      run = [];
    };
    for (const point of points) {
      if (point.value === null || point.at < now - windowMs) flush();
      else run.push(`${x(point.at).toFixed(1)},${y(point.value).toFixed(1)}`);
    }
    flush();
    const swatch = svg('svg', { viewBox: '0 0 14 4', 'aria-hidden': 'true' });
    swatch.append(svg('line', { x1: 0, x2: 14, y1: 2, y2: 2, stroke, 'stroke-width': 4 }));
    const last = points[points.length - 1]?.value;
    legend.push(
      el(
        'li',
        {},
        swatch,
        `${name}: ${last === null || last === undefined ? '—' : formatTick(last)}`,
      ),
    );
  }
  if (series.size === 0) {
    nodes.push(
      svg(
        'text',
        { class: 'empty', x: width / 2, y: height / 2, 'text-anchor': 'middle' },
        'Collecting samples…',
      ),
    );
  }
  chart.replaceChildren(...nodes);
  chart.dataset.max = String(max);
  $(legendId).replaceChildren(...legend);
}

/** The charts span the history the service has: from 30 s for a fresh one up to 10 minutes. */
export function renderHistory(history) {
  const now = Date.now();
  const oldest = history.samples[0]?.at ?? now;
  const windowMs = Math.min(Math.max(now - oldest, CHART_WINDOW.minMs), CHART_WINDOW.maxMs);
  const { throughput, backlog } = toSeries(history);
  drawChart('throughput-chart', 'throughput-legend', throughput, windowMs, now);
  drawChart('backlog-chart', 'backlog-legend', backlog, windowMs, now);
}
