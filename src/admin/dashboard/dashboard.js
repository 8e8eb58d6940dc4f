// The dashboard's main script: polls the admin API of the service that served it, draws the
// tables (and, through charts.js, two small SVG charts), pauses and resumes consumer groups, and
// replays or deletes dead letters. No libraries, no network beyond this service. Everything that
// comes from the streams is written as text, never as HTML.
import { renderHistory } from './charts.js';
import { $, el, formatAge, formatNumber } from './dom.js';

const POLL_MS = 2_000;
const REQUEST_TIMEOUT_MS = 8_000;
const KEY_STORAGE = 'streams-dashboard.api-key';
const DEAD_LETTER_PAGE = 20;

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
        flowCell(info.stream, group),
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

/** What holds a group back, if anything: paused by hand, a busy destination, an open circuit. */
function describeFlow(flow) {
  const time = (iso) => new Date(iso).toLocaleTimeString();
  const held = [];
  if (flow.paused) held.push('paused');
  if (flow.busyUntil) held.push(`busy until ${time(flow.busyUntil)}`);
  if (flow.circuit === 'open') {
    held.push(`circuit open${flow.nextProbeAt ? `, next probe ${time(flow.nextProbeAt)}` : ''}`);
  }
  return held.length > 0 ? held.join(' · ') : 'flowing';
}

/** The group's flow and its Pause or Resume button; only groups this service handles have one. */
function flowCell(stream, group) {
  const flow = group?.flow;
  if (!flow) return el('td', { className: 'flow' }, group ? '—' : '');
  const text = describeFlow(flow);
  const button = el('button', {
    type: 'button',
    className: flow.paused ? 'resume' : 'pause',
    textContent: flow.paused ? 'Resume' : 'Pause',
    title: flow.paused
      ? `Resume ${group.name} on every instance`
      : `Stop ${group.name} from starting handler calls, on every instance, until resumed`,
    onclick: () => act(() => setPaused(stream, group.name, !flow.paused)),
  });
  const cell = el(
    'td',
    { className: `flow${text === 'flowing' ? '' : ' warn'}` },
    el('span', { className: 'flow-state' }, text),
    button,
  );
  cell.dataset.paused = String(flow.paused);
  return cell;
}

async function setPaused(stream, group, paused) {
  const action = paused ? 'pause' : 'resume';
  const path = `/admin/streams/${encodeURIComponent(stream)}/groups/${encodeURIComponent(group)}`;
  await api('POST', `${path}/${action}`);
  setStatus(
    paused
      ? `Paused ${group} on ${stream}: no handler call starts until it is resumed.`
      : `Resumed ${group} on ${stream}.`,
  );
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
