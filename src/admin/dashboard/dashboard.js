// The dashboard's only script: polls the admin API of the service that served it, draws the
// tables and two small SVG charts, and replays or deletes dead letters. No libraries, no network
// beyond this service. Everything that comes from the streams is written as text, never as HTML.

const POLL_MS = 2_000;
const REQUEST_TIMEOUT_MS = 8_000;
const KEY_STORAGE = 'streams-dashboard.api-key';
const DEAD_LETTER_PAGE = 20;
const CHART_WINDOW = { minMs: 30_000, maxMs: 600_000 };
const CHART = { width: 600, height: 180, left: 48, right: 10, top: 12, bottom: 22 };
const COLORS = ['#2458c6', '#d9480f', '#2b8a3e', '#862e9c', '#c2255c', '#0b7285', '#5c940d'];
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
const numberFormat = new Intl.NumberFormat();
const rateFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

const state = {
  /** Streams the service handles, from the last poll. */
  streams: [],
  deadLetters: { stream: '', group: '', error: '', cursors: [], next: undefined },
  busy: false,
};

/** An API answer that was not 2xx. */
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) ?? '';
}

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (apiKey()) headers['x-api-key'] = apiKey();
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch {
    throw new ApiError(0, 'The service does not answer');
  }
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = Array.isArray(payload.message) ? payload.message.join('; ') : payload.message;
    throw new ApiError(response.status, detail || response.statusText);
  }
  return payload;
}

/** `el('td', { className: 'num' }, 'text', child)`: builds DOM without ever parsing HTML. */
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) {
    if (child !== undefined && child !== null) node.append(child);
  }
  return node;
}

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatNumber(value) {
  return value === null || value === undefined ? '—' : numberFormat.format(value);
}

function formatAge(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${Math.round(ms / 1_000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

function setStatus(text, isError = false) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', isError);
}

function showError(error) {
  if (error.status === 401) {
    document.body.classList.add('needs-key');
    setStatus('The API key is missing or wrong: enter it above.', true);
    $('api-key').focus();
  } else if (error.status === 503) {
    setStatus(`Redis is unavailable: ${error.message}. Retrying…`, true);
  } else if (error.status === 0) {
    setStatus(`${error.message}. Retrying…`, true);
  } else {
    setStatus(`Error ${error.status}: ${error.message}`, true);
  }
}

// ---- Streams and groups ----

function renderStreams(streams) {
  const rows = [];
  for (const info of streams) {
    const groups = info.groups.length > 0 ? info.groups : [undefined];
    groups.forEach((group, index) => {
      const row = el('tr', {});
      row.dataset.stream = info.stream;
      if (group) row.dataset.group = group.name;
      row.append(
        el('th', { scope: 'row', className: 'stream' }, index === 0 ? info.stream : ''),
        el('td', { className: 'num length' }, index === 0 ? formatNumber(info.length) : ''),
        el(
          'td',
          {
            className: `num dead-letters${index === 0 && info.deadLetter.length > 0 ? ' warn' : ''}`,
          },
          index === 0 ? formatNumber(info.deadLetter.length) : '',
        ),
        el('td', { className: 'group' }, group ? group.name : '—'),
        el('td', { className: 'consumers' }, group ? describeConsumers(group) : ''),
        el(
          'td',
          {
            className: `num lag${group?.lag > 0 ? ' warn' : ''}`,
            title: group?.lag === null ? 'Redis cannot tell after deletions' : '',
          },
          group ? formatNumber(group.lag) : '',
        ),
        el(
          'td',
          { className: `num pending${group?.pending > 0 ? ' warn' : ''}` },
          group ? formatNumber(group.pending) : '',
        ),
        el('td', { className: 'num oldest' }, group ? formatAge(group.oldestPendingAgeMs) : ''),
      );
      rows.push(row);
    });
  }
  $('streams').tBodies[0].replaceChildren(...rows);
}

function describeConsumers(group) {
  const names = group.consumers.map(
    (consumer) =>
      `${consumer.name} (${consumer.pending} pending, idle ${formatAge(consumer.idleMs)})`,
  );
  const more = group.consumerCount - group.consumers.length;
  if (more > 0) names.push(`and ${more} more`);
  return names.length > 0 ? names.join(', ') : 'none';
}

function renderStreamChoice(streams) {
  const select = $('dlq-stream');
  const names = streams.map((info) => info.stream);
  if (!state.deadLetters.stream || !names.includes(state.deadLetters.stream)) {
    state.deadLetters.stream = names[0] ?? '';
  }
  const current = [...select.options].map((option) => option.value);
  if (current.join('\n') !== names.join('\n')) {
    select.replaceChildren(...names.map((name) => el('option', { value: name }, name)));
  }
  select.value = state.deadLetters.stream;
}

// ---- Charts ----

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
function renderHistory(history) {
  const now = Date.now();
  const oldest = history.samples[0]?.at ?? now;
  const windowMs = Math.min(Math.max(now - oldest, CHART_WINDOW.minMs), CHART_WINDOW.maxMs);
  const { throughput, backlog } = toSeries(history);
  drawChart('throughput-chart', 'throughput-legend', throughput, windowMs, now);
  drawChart('backlog-chart', 'backlog-legend', backlog, windowMs, now);
}

// ---- Dead letters ----

/** The alert text when the entry has one (publisher payload or flat field), else its fields. */
function messageOf(fields) {
  try {
    const payload = JSON.parse(fields.payload ?? 'null');
    if (payload && typeof payload.message === 'string') return payload.message;
  } catch {
    // Not JSON: show the raw fields below.
  }
  if (typeof fields.message === 'string') return fields.message;
  return JSON.stringify(fields);
}

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function deadLetterPath(suffix = '') {
  return `/admin/streams/${encodeURIComponent(state.deadLetters.stream)}/dead-letters${suffix}`;
}

async function loadDeadLetters() {
  const view = state.deadLetters;
  if (!view.stream) return;
  const query = new URLSearchParams({ limit: String(DEAD_LETTER_PAGE) });
  const cursor = view.cursors[view.cursors.length - 1];
  if (cursor) query.set('cursor', cursor);
  if (view.group) query.set('group', view.group);
  if (view.error) query.set('error', view.error);
  const page = await api('GET', deadLetterPath(`?${query}`));
  view.next = page.next;
  renderDeadLetters(page.items);
}

function renderDeadLetters(letters) {
  const rows = letters.map((letter) => {
    const message = messageOf(letter.fields);
    const row = el(
      'tr',
      {},
      el('td', { className: 'failed-at' }, new Date(letter.failedAt).toLocaleString()),
      el('td', { className: 'event-id' }, el('code', {}, letter.eventId)),
      el('td', { className: 'group' }, letter.group),
      el('td', { className: 'num attempts' }, String(letter.attempts)),
      el('td', { className: 'reason', title: letter.error }, clip(letter.error, 300)),
      el('td', { className: 'message', title: message }, clip(message, 160)),
      el(
        'td',
        { className: 'actions' },
        el('button', {
          type: 'button',
          className: 'replay',
          textContent: 'Replay',
          title: `Append ${letter.eventId} to ${state.deadLetters.stream} again`,
          onclick: () => act(() => replayOne(letter)),
        }),
        el('button', {
          type: 'button',
          className: 'delete danger',
          textContent: 'Delete',
          title: `Delete the dead letter of ${letter.eventId} for good`,
          onclick: () => act(() => deleteOne(letter)),
        }),
      ),
    );
    row.dataset.id = letter.id;
    row.dataset.eventId = letter.eventId;
    return row;
  });
  $('dead-letters').tBodies[0].replaceChildren(...rows);
  $('dlq-empty').hidden = rows.length > 0;
  $('dlq-newest').disabled = state.deadLetters.cursors.length === 0;
  $('dlq-older').disabled = !state.deadLetters.next;
}

async function replayOne(letter) {
  const result = await api('POST', deadLetterPath(`/${encodeURIComponent(letter.id)}/replay`));
  setStatus(
    result.replayed.length > 0
      ? `Replayed ${letter.eventId} as ${result.replayed[0].newId}.`
      : `${letter.eventId} was no longer a dead letter (already replayed or deleted).`,
  );
}

async function deleteOne(letter) {
  if (!confirm(`Delete the dead letter of ${letter.eventId}? This cannot be undone.`)) return;
  const { deleted } = await api('DELETE', deadLetterPath(`/${encodeURIComponent(letter.id)}`));
  setStatus(deleted > 0 ? `Deleted the dead letter of ${letter.eventId}.` : 'Already gone.');
}

async function replayMatching() {
  const { stream, group, error } = state.deadLetters;
  const filter = {};
  if (group) filter.group = group;
  if (error) filter.errorContains = error;
  const described = [group && `group ${group}`, error && `reason containing "${error}"`]
    .filter(Boolean)
    .join(' and ');
  if (!confirm(`Replay every dead letter of ${stream}${described ? ` with ${described}` : ''}?`)) {
    return;
  }
  const result = await api('POST', deadLetterPath('/replay'), { filter });
  setStatus(`Replayed ${result.replayed.length} dead letter(s) to ${stream}.`);
}

/** Runs a user action, then shows the new state; one at a time. */
async function act(action, quiet = true) {
  if (state.busy) return;
  state.busy = true;
  try {
    await action();
    await refresh({ quiet });
  } catch (error) {
    showError(error);
  } finally {
    state.busy = false;
  }
}

// ---- Polling ----

async function refresh({ quiet = false } = {}) {
  const [streams, history] = await Promise.all([
    api('GET', '/admin/streams?limit=200'),
    api('GET', '/admin/history'),
  ]);
  document.body.classList.remove('needs-key');
  state.streams = streams.items;
  renderStreams(streams.items);
  renderStreamChoice(streams.items);
  renderHistory(history);
  await loadDeadLetters();
  if (!quiet) setStatus(`Updated ${new Date().toLocaleTimeString()} · every ${POLL_MS / 1_000} s`);
}

async function poll() {
  // A hidden tab costs nothing: it catches up when it is shown again.
  if (!document.hidden && !state.busy) {
    try {
      await refresh();
    } catch (error) {
      showError(error);
    }
  }
  setTimeout(poll, POLL_MS);
}

function wireForms() {
  const forget = $('forget-key');
  forget.hidden = !apiKey();
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('api-key');
    if (input.value.trim()) sessionStorage.setItem(KEY_STORAGE, input.value.trim());
    input.value = '';
    input.placeholder = 'key saved for this tab';
    forget.hidden = !apiKey();
    void act(async () => undefined, false);
  });
  forget.addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORAGE);
    forget.hidden = true;
    $('api-key').placeholder = 'x-api-key';
    setStatus('Key forgotten.');
  });

  $('dlq-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(state.deadLetters, {
      stream: $('dlq-stream').value,
      group: $('dlq-group').value.trim(),
      error: $('dlq-error').value.trim(),
      cursors: [],
    });
    void act(async () => undefined, false);
  });
  $('dlq-stream').addEventListener('change', () => $('dlq-filter').requestSubmit());
  $('replay-matching').addEventListener('click', () => void act(replayMatching));
  $('dlq-older').addEventListener('click', () => {
    if (!state.deadLetters.next) return;
    state.deadLetters.cursors.push(state.deadLetters.next);
    void act(async () => undefined, false);
  });
  $('dlq-newest').addEventListener('click', () => {
    state.deadLetters.cursors = [];
    void act(async () => undefined, false);
  });
}

wireForms();
void poll();
