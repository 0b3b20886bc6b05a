// The Capstan console: plain browser JavaScript, no build step. Everything it shows comes from the
// host's API with the session cookie; live changes arrive as server-sent events on /console/events.
const $ = (sel) => document.querySelector(sel);
const state = { me: null, recordings: new Map(), countdowns: new Map(), settings: { securePauseMaxSeconds: 120 }, selected: null, objectUrl: null };

async function api(path, options = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...options, headers: { ...(options.body ? { 'content-type': 'application/json' } : {}), ...options.headers } });
  if (res.status === 401) {
    showSignIn();
    throw new Error('signed out');
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(`${body.code ?? res.status}: ${body.message ?? res.statusText}`);
  }
  return res.status === 204 ? null : res.headers.get('content-type')?.includes('json') ? res.json() : res;
}

function text(value) {
  return document.createTextNode(value === null || value === undefined ? '' : String(value));
}

function cell(row, value) {
  const td = document.createElement('td');
  if (value instanceof Node) td.append(value);
  else td.append(text(value));
  row.append(td);
  return td;
}

function button(label, onClick, cls) {
  const b = document.createElement('button');
  b.textContent = label;
  b.dataset.action = label.toLowerCase().replace(/\s+/g, '-');
  if (cls) b.className = cls;
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await onClick();
    } catch (e) {
      alert(e.message);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function showSignIn() {
  state.me = null;
  $('#sign-in').hidden = false;
  $('#agent').hidden = true;
  $('#supervisor').hidden = true;
  $('#sign-out').hidden = true;
  $('#who').textContent = '';
}

async function start() {
  try {
    state.me = await api('/api/v1/me');
  } catch {
    return;
  }
  if (!state.me || state.me.name === 'anonymous') {
    showSignIn();
    return;
  }
  state.settings = await api('/api/v1/console/settings');
  $('#sign-in').hidden = true;
  $('#sign-out').hidden = false;
  $('#who').textContent = `${state.me.name} (${state.me.role})`;
  const agent = state.me.role === 'agent';
  $('#agent').hidden = !agent;
  $('#supervisor').hidden = agent;
  if (agent) await loadCalls();
  else await Promise.all([search(), loadMediaServers(), loadHandlers()]);
  listen();
}

function listen() {
  const events = new EventSource('/console/events');
  events.addEventListener('call', () => void loadCalls().catch(() => {}));
  events.addEventListener('recording', (e) => {
    const data = JSON.parse(e.data);
    const r = state.recordings.get(data.recordingId);
    if (r && (data.change === 'paused' || data.change === 'resumed' || data.change === 'completed')) r.state = data.change === 'resumed' ? 'recording' : data.change;
    if (data.change === 'resumed' || data.change === 'completed') stopCountdown(data.recordingId);
    if (state.me.role === 'agent') void loadCalls().catch(() => {});
    else if (data.change === 'stored' || data.change === 'started') void search().catch(() => {});
  });
  events.addEventListener('media-server', () => void loadMediaServers().catch(() => {}));
  events.addEventListener('handler', () => void loadHandlers().catch(() => {}));
}

// ---- agent: live calls ------------------------------------------------------------------------

async function loadCalls() {
  if (state.me?.role !== 'agent') return;
  const { items } = await api('/api/v1/calls');
  const body = $('#calls tbody');
  body.replaceChildren();
  $('#no-calls').hidden = items.length > 0;
  for (const summary of items) {
    const call = await api(`/api/v1/calls/${summary.callId}`).catch(() => null);
    if (!call) continue;
    const row = document.createElement('tr');
    row.dataset.callId = call.callId;
    cell(row, call.callId.slice(0, 8));
    cell(row, call.from);
    cell(row, call.to);
    cell(row, new Date(call.startedAt).toLocaleTimeString());
    const mine = call.recordings.find((r) => r.requester === 'client');
    const status = cell(row, '');
    status.className = 'recording-state';
    const actions = cell(row, '');
    if (!mine) {
      status.textContent = 'not recording';
      actions.append(
        button('Record', async () => {
          const r = await api(`/api/v1/calls/${call.callId}/recordings`, { method: 'POST', body: JSON.stringify({ requester: 'client' }) });
          state.recordings.set(r.recordingId, { state: 'recording' });
          await loadCalls();
        }),
      );
    } else {
      const r = state.recordings.get(mine.recordingId) ?? { state: 'recording' };
      state.recordings.set(mine.recordingId, r);
      status.textContent = r.state === 'paused' ? (state.countdowns.has(mine.recordingId) ? 'secure pause' : 'paused') : 'recording';
      if (state.countdowns.has(mine.recordingId)) {
        const span = document.createElement('span');
        span.className = 'countdown';
        span.dataset.recordingId = mine.recordingId;
        status.append(span);
        renderCountdown(mine.recordingId);
      }
      const id = mine.recordingId;
      if (r.state !== 'paused') {
        actions.append(
          button('Pause', async () => {
            await api(`/api/v1/recordings/${id}/pause`, { method: 'POST', body: JSON.stringify({ mode: 'skip' }) });
            r.state = 'paused';
            await loadCalls();
          }, 'secondary'),
          button('Secure pause', async () => {
            const answer = await api(`/api/v1/recordings/${id}/secure-pause`, { method: 'POST' });
            r.state = 'paused';
            startCountdown(id, Date.parse(answer.resumesAt));
            await loadCalls();
          }, 'secondary'),
        );
      } else {
        actions.append(
          button('Resume', async () => {
            await api(`/api/v1/recordings/${id}/resume`, { method: 'POST' });
            r.state = 'recording';
            stopCountdown(id);
            await loadCalls();
          }),
        );
      }
      actions.append(
        button('Stop', async () => {
          await api(`/api/v1/recordings/${id}/stop`, { method: 'POST' });
          r.state = 'completed';
          stopCountdown(id);
          await loadCalls();
        }),
      );
    }
    body.append(row);
  }
}

function startCountdown(recordingId, until) {
  stopCountdown(recordingId);
  const timer = setInterval(() => renderCountdown(recordingId), 250);
  state.countdowns.set(recordingId, { until, timer });
}

function stopCountdown(recordingId) {
  const c = state.countdowns.get(recordingId);
  if (c) clearInterval(c.timer);
  state.countdowns.delete(recordingId);
}

function renderCountdown(recordingId) {
  const c = state.countdowns.get(recordingId);
  const span = document.querySelector(`.countdown[data-recording-id="${recordingId}"]`);
  if (!c || !span) return;
  const left = Math.max(0, Math.ceil((c.until - Date.now()) / 1000));
  span.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')} left`;
  if (left === 0) {
    stopCountdown(recordingId);
    void loadCalls().catch(() => {});
  }
}

// ---- supervisor: search, playback, timeline ----------------------------------------------------

async function search() {
  const form = new FormData($('#search'));
  const query = new URLSearchParams();
  for (const [k, v] of form) {
    if (!v) continue;
    query.set(k, k === 'from' || k === 'to' ? new Date(v).toISOString() : v);
  }
  const { items } = await api(`/api/v1/recordings?${query}`);
  const body = $('#results tbody');
  body.replaceChildren();
  for (const r of items) {
    const row = document.createElement('tr');
    row.className = 'clickable';
    row.dataset.recordingId = r.id;
    if (state.selected === r.id) row.classList.add('selected');
    cell(row, new Date(r.startedAt).toLocaleString());
    cell(row, r.agent ?? '');
    cell(row, r.workgroup ?? '');
    cell(row, r.from);
    cell(row, r.to);
    cell(row, r.durationMs === null ? '' : `${(r.durationMs / 1000).toFixed(1)} s`);
    cell(row, r.status);
    row.addEventListener('click', () => void open(r.id).catch((e) => alert(e.message)));
    body.append(row);
  }
}

async function open(id, segment = 0) {
  state.selected = id;
  for (const tr of document.querySelectorAll('#results tbody tr')) tr.classList.toggle('selected', tr.dataset.recordingId === id);
  const rec = await api(`/api/v1/recordings/${id}`);
  $('#detail').hidden = false;
  $('#detail-title').textContent = `${rec.from} → ${rec.to}, ${new Date(rec.startedAt).toLocaleString()}${rec.agent ? `, agent ${rec.agent}` : ''}`;
  const picker = $('#segment-picker');
  picker.replaceChildren();
  if (rec.segments.length > 1) {
    for (const s of rec.segments) picker.append(button(`Segment ${s.index + 1}`, () => open(id, s.index), s.index === segment ? '' : 'secondary'));
  }
  drawTimeline(rec);
  // One fetch (one audited playback) feeds both the player and the waveform.
  const res = await api(`/api/v1/recordings/${id}/audio?segment=${segment}`);
  const blob = await res.blob();
  if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
  state.objectUrl = URL.createObjectURL(blob);
  const player = $('#player');
  player.dataset.recordingId = id;
  player.src = state.objectUrl;
  await drawWaveform(await blob.arrayBuffer());
}

function drawTimeline(rec) {
  const timeline = $('#timeline');
  timeline.replaceChildren();
  const last = rec.segments.at(-1);
  const total = Math.max(1, (last?.startMs ?? 0) + (last?.durationMs ?? rec.durationMs ?? 0));
  const place = (cls, startMs, endMs, title) => {
    const el = document.createElement('div');
    el.className = `mark ${cls}`;
    el.style.left = `${(100 * startMs) / total}%`;
    if (endMs !== null) el.style.width = `${Math.max(0.3, (100 * (endMs - startMs)) / total)}%`;
    el.title = title;
    timeline.append(el);
  };
  for (const s of rec.segments) place('segment', s.startMs, s.startMs + (s.durationMs ?? 0), `segment ${s.index + 1} on ${s.mediaServerId}${s.recovered ? ' (recovered)' : ''}`);
  for (const g of rec.gaps) place('gap', g.startMs, g.endMs, `gap ${Math.round(g.endMs - g.startMs)} ms: ${g.reason}`);
  for (const p of rec.pauses) place('pause', p.startMs, p.endMs, `${p.mode === 'silence' ? 'secure pause' : 'pause'}`);
  for (const d of rec.dtmf) place('dtmf', d.atMs, null, `DTMF ${d.digit} (${d.leg})`);
  const legend = $('#legend');
  legend.replaceChildren(
    ...[
      `${rec.segments.length} segment${rec.segments.length === 1 ? '' : 's'}`,
      `${rec.gaps.length} gap${rec.gaps.length === 1 ? '' : 's'}`,
      `${rec.pauses.length} pause${rec.pauses.length === 1 ? '' : 's'}`,
      `DTMF: ${rec.dtmf.map((d) => d.digit).join('') || 'none'}`,
    ].map((t) => {
      const li = document.createElement('li');
      li.textContent = t;
      return li;
    }),
  );
}

async function drawWaveform(bytes) {
  const canvas = $('#waveform');
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  let audio;
  try {
    audio = await new OfflineAudioContext(1, 1, 8000).decodeAudioData(bytes);
  } catch {
    return; // a format the browser cannot decode: the player says so
  }
  const channels = Array.from({ length: audio.numberOfChannels }, (_, c) => audio.getChannelData(c));
  const w = canvas.width;
  const lane = canvas.height / channels.length;
  channels.forEach((data, c) => {
    g.fillStyle = c === 0 ? '#7fb2ff' : '#9be3b4';
    const step = Math.max(1, Math.floor(data.length / w));
    for (let x = 0; x < w; x++) {
      let peak = 0;
      for (let i = x * step; i < Math.min(data.length, (x + 1) * step); i++) peak = Math.max(peak, Math.abs(data[i]));
      const h = Math.max(1, peak * lane);
      g.fillRect(x, c * lane + (lane - h) / 2, 1, h);
    }
  });
  canvas.dataset.drawn = 'true';
}

async function loadMediaServers() {
  if (state.me?.role === 'agent') return;
  const { items } = await api('/api/v1/media-servers');
  const body = $('#media-servers tbody');
  body.replaceChildren();
  for (const s of items) {
    const row = document.createElement('tr');
    cell(row, s.id);
    cell(row, s.location);
    cell(row, s.state).className = `state-${s.state}`;
    cell(row, `${Math.round(s.cpu * 100)} %`);
    cell(row, s.activeResources);
    cell(row, s.acceptsSessions ? 'yes' : 'no');
    body.append(row);
  }
}

async function loadHandlers() {
  if (state.me?.role === 'agent') return;
  const { items } = await api('/api/v1/handlers');
  const body = $('#handlers tbody');
  body.replaceChildren();
  for (const h of items) {
    const row = document.createElement('tr');
    cell(row, h.name);
    cell(row, h.version ?? '—');
    cell(row, h.status).className = h.status === 'running' ? 'state-up' : 'state-down';
    cell(row, h.lastError ? `${h.lastError.code}: ${h.lastError.message}` : '');
    cell(row, h.reloads.map((r) => `v${r.version ?? '?'} ${r.outcome ?? ''}`.trim()).join(', '));
    body.append(row);
  }
}

// ---- wiring -----------------------------------------------------------------------------------

$('#sign-in').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const res = await fetch('/console/sign-in', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: form.get('name'), password: form.get('password') }) });
  if (!res.ok) {
    $('#sign-in-error').textContent = 'Wrong name or password.';
    return;
  }
  $('#sign-in-error').textContent = '';
  await start();
});
$('#sign-out').addEventListener('click', async () => {
  await fetch('/console/sign-out', { method: 'POST' });
  location.reload();
});
$('#search').addEventListener('submit', (e) => {
  e.preventDefault();
  void search().catch((err) => alert(err.message));
});
void start();
