// The dashboard page: one EventSource to /api/events, rendering what the
// server's Rx pipelines send. No framework, no build step.
'use strict';

const FEED_LIMIT = 200;
const OPERATIONS = ['insert', 'update', 'replace', 'delete', 'drop', 'rename', 'dropDatabase', 'invalidate'];
const COLORS = ['#4cc38a', '#6cb6ff', '#f0b341', '#ef5b5b', '#c48cff', '#5fd3d3', '#ff8fb1', '#b3c46b'];

const $ = (id) => document.getElementById(id);

const state = {
  source: null,
  wanted: { ns: new Set(), op: new Set() },
  namespaces: new Set(),
  seen: new Set(),
  items: 0,
  primary: null,
  stepDownFrom: null,
  stepDownAt: 0,
  colors: new Map(),
  rates: [],
  failovers: [],
};

function el(tag, props, children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children || []) node.append(child);
  return node;
}

function connect() {
  if (state.source) state.source.close();
  const query = new URLSearchParams();
  if (state.wanted.ns.size > 0) query.set('ns', [...state.wanted.ns].join(','));
  if (state.wanted.op.size > 0) query.set('op', [...state.wanted.op].join(','));
  const qs = query.toString();
  const source = new EventSource('/api/events' + (qs ? '?' + qs : ''));
  state.source = source;
  setConnection('connecting', 'connecting');
  const on = (name, fn) => source.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  on('hello', (hello) => {
    setConnection('live', 'live');
    $('backend').textContent = `${hello.backend ? hello.backend.label : 'MongoDB'} · watching database ${hello.database}`;
    $('backend').title = hello.backend ? hello.backend.reason : '';
  });
  on('topology', renderTopology);
  on('backlog', (items) => {
    for (const item of items.slice().reverse()) addItem(item, false);
  });
  on('change', (item) => addItem(item, true));
  on('rates', renderRates);
  on('stats', renderStats);
  on('lag', renderLag);
  on('headroom', renderHeadroom);
  on('failure', (failure) => {
    if (failure.final) setConnection('down', failure.message);
    $('feed-status').textContent = failure.message;
  });
  source.onerror = () => setConnection('connecting', 'reconnecting…');
}

function setConnection(mode, text) {
  const node = $('connection');
  node.dataset.state = mode;
  node.textContent = text;
}

// Topology ----------------------------------------------------------------

function roleLabel(type) {
  return { RSPrimary: 'PRIMARY', RSSecondary: 'SECONDARY', RSArbiter: 'ARBITER', Standalone: 'STANDALONE', Mongos: 'MONGOS' }[type]
    || type.toUpperCase();
}

function renderTopology(view) {
  state.primary = view.primary;
  $('topology-type').textContent = `${view.type}${view.setName ? ' · ' + view.setName : ''}`;
  $('primary').textContent = view.primary || 'none (election in progress)';
  const maxRtt = Math.max(1, ...view.members.map((m) => m.rttMs || 0));
  $('members').replaceChildren(
    ...view.members.map((m) => {
      const bar = el('i');
      bar.style.width = `${Math.round(((m.rttMs || 0) / maxRtt) * 80)}px`;
      const row = el('tr', { className: m.address === view.primary ? 'primary' : '' }, [
        el('td', { textContent: m.address, title: m.error || '' }),
        el('td', {}, [el('span', { className: `role ${m.type}`, textContent: roleLabel(m.type) })]),
        el('td', {}, [el('span', { className: 'rtt' }, [m.rttMs === null ? '—' : `${m.rttMs.toFixed(1)} ms`, bar])]),
      ]);
      row.dataset.testid = 'member';
      row.dataset.address = m.address;
      row.dataset.type = m.type;
      return row;
    }),
  );
  const replicaSet = view.type === 'ReplicaSetWithPrimary' || view.type === 'ReplicaSetNoPrimary';
  $('step-down').disabled = !replicaSet || !view.primary || state.stepDownFrom !== null;
  if (state.stepDownFrom !== null && view.primary && view.primary !== state.stepDownFrom) {
    $('step-down-status').textContent = `new primary ${view.primary} within ${duration(Date.now() - state.stepDownAt)} of the click`;
    state.stepDownFrom = null;
    $('step-down').disabled = false;
  }
}

async function stepDown() {
  const from = state.primary;
  state.stepDownFrom = from;
  state.stepDownAt = Date.now();
  $('step-down').disabled = true;
  $('step-down-status').textContent = `asking ${from} to step down…`;
  try {
    const response = await fetch('/api/step-down', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    if (state.stepDownFrom !== null) $('step-down-status').textContent = `${body.steppedDown} stepped down; waiting for the election…`;
  } catch (error) {
    state.stepDownFrom = null;
    $('step-down').disabled = false;
    $('step-down-status').textContent = `step-down failed: ${error.message}`;
  }
}

// Stats -------------------------------------------------------------------

function renderStats(stats) {
  $('stat-events').textContent = stats.events;
  $('stat-sequenced').textContent = stats.sequencedInserts;
  $('stat-gaps').textContent = stats.gaps;
  $('stat-repeats').textContent = stats.repeats;
  $('stat-cursors').textContent = stats.openCursors;
  $('stat-tabs').textContent = stats.feedSubscriptions;
  $('stat-restarts').textContent = stats.restarts;
  $('stat-gaps-box').className = stats.gaps === 0 ? 'good' : 'bad';
  $('stat-repeats-box').className = stats.repeats === 0 ? 'good' : 'bad';
  $('failovers').replaceChildren(
    ...stats.failovers
      .slice()
      .reverse()
      .map((f) => el('li', { textContent: `${clock(f.at)} primary ${f.from} → ${f.to} (no primary for ${duration(f.noPrimaryMs)})` })),
  );
  state.failovers = stats.failovers;
}

// Lag and headroom ----------------------------------------------------------

function setMs(id, ms) {
  const node = $(id);
  node.dataset.ms = ms === null ? '' : String(Math.round(ms));
  node.textContent = ms === null ? '—' : duration(ms);
}

function renderLag(lag) {
  setMs('lag', lag.lagMs);
  if (lag.quiet) $('lag').append(el('small', { textContent: 'quiet' }));
  $('unacknowledged').textContent = lag.unacknowledged;
  $('lag-box').className = lag.lagMs !== null && lag.lagMs > 10000 ? 'warn' : '';
}

function renderHeadroom(headroom) {
  setMs('headroom', headroom.headroomMs);
  setMs('oplog-window', headroom.windowMs);
  $('position-age').textContent = headroom.positionAgeMs === null ? '—' : duration(headroom.positionAgeMs);
  const box = $('headroom-box');
  box.dataset.state = headroom.state;
  box.className = { ok: 'good', low: 'warn', lost: 'bad', unknown: '' }[headroom.state];
  const margin = `margin ${duration(headroom.marginMs)}`;
  $('headroom-note').textContent = headroom.note ? `${margin} · ${headroom.note}` : margin;
}

function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7200000) return `${(ms / 60000).toFixed(1)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

// Rates chart -------------------------------------------------------------

function colorOf(ns) {
  if (!state.colors.has(ns)) state.colors.set(ns, COLORS[state.colors.size % COLORS.length]);
  return state.colors.get(ns);
}

function renderRates(points) {
  state.rates = points;
  for (const point of points) for (const ns of Object.keys(point.counts)) noteNamespace(ns);
  drawRates();
}

function drawRates() {
  const canvas = $('rates');
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const points = state.rates;
  const namespaces = [...state.namespaces].sort();
  const max = Math.max(5, ...points.map((p) => Math.max(0, ...Object.values(p.counts))));
  const top = niceCeil(max);
  const divisions = String(top)[0] === '2' ? 4 : 5;
  const left = 32;
  const bottom = height - 18;
  const span = 60;
  const x = (i) => left + ((width - left - 6) * (i + span - points.length)) / (span - 1);
  const y = (v) => bottom - ((bottom - 8) * v) / top;

  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#7d8b99';
  g.strokeStyle = '#2a3440';
  g.lineWidth = 1;
  for (let i = 0; i <= divisions; i++) {
    const v = (top * i) / divisions;
    g.beginPath();
    g.moveTo(left, Math.round(y(v)) + 0.5);
    g.lineTo(width - 6, Math.round(y(v)) + 0.5);
    g.stroke();
    g.fillText(String(Math.round(v)), 4, y(v) + 4);
  }
  g.fillText('-60 s', left, height - 4);
  g.fillText('now', width - 28, height - 4);

  // Failovers in the window, as dashed verticals: the lines should run straight through them.
  if (points.length > 0) {
    const last = points[points.length - 1].t;
    g.strokeStyle = '#f0b341';
    g.setLineDash([4, 4]);
    for (const f of state.failovers) {
      const i = points.length - 1 - (last - f.at) / 1000;
      if (i < 0 || i > points.length - 1) continue;
      g.beginPath();
      g.moveTo(x(i), 8);
      g.lineTo(x(i), bottom);
      g.stroke();
      g.fillStyle = '#f0b341';
      const label = x(i) + 56 < width ? x(i) + 4 : x(i) - 52;
      g.fillText('failover', label, 18);
    }
    g.setLineDash([]);
  }

  g.lineWidth = 2;
  for (const ns of namespaces) {
    g.strokeStyle = colorOf(ns);
    g.beginPath();
    points.forEach((p, i) => {
      const px = x(i);
      const py = y(p.counts[ns] || 0);
      if (i === 0) g.moveTo(px, py);
      else g.lineTo(px, py);
    });
    g.stroke();
  }
  const last = points[points.length - 1];
  $('legend').replaceChildren(
    ...namespaces.map((ns) => {
      const swatch = el('i');
      swatch.style.background = colorOf(ns);
      return el('li', {}, [swatch, `${ns} ${last ? last.counts[ns] || 0 : 0}/s`]);
    }),
  );
}

function niceCeil(v) {
  const step = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * step >= v) return m * step;
  return 10 * step;
}

// Feed and filters --------------------------------------------------------

function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function addItem(item, fresh) {
  if (state.seen.has(item.id)) return;
  state.seen.add(item.id);
  noteNamespace(item.ns);
  const row = el('li', { className: fresh ? 'fresh' : '' }, [
    el('span', { className: 'time', textContent: clock(item.at) }),
    el('span', { className: `op ${item.op}`, textContent: item.op }),
    el('span', { textContent: item.ns }),
    el('span', { textContent: item.key || '', title: item.key || '' }),
    el('span', { className: 'muted', textContent: item.summary, title: item.summary }),
  ]);
  row.dataset.testid = 'event';
  row.dataset.ns = item.ns;
  row.dataset.op = item.op;
  const feed = $('feed');
  feed.prepend(row);
  state.items += 1;
  while (feed.childElementCount > FEED_LIMIT) {
    const gone = feed.lastElementChild;
    feed.removeChild(gone);
  }
  // The id set only has to outlive the backlog/live overlap of one connection.
  if (state.seen.size > 4 * FEED_LIMIT) state.seen = new Set([...state.seen].slice(-2 * FEED_LIMIT));
  $('feed-count').textContent = `${state.items} received since this filter was set`;
}

function noteNamespace(ns) {
  if (!ns || state.namespaces.has(ns)) return;
  state.namespaces.add(ns);
  renderChips($('ns-filters'), [...state.namespaces].sort(), state.wanted.ns);
}

function renderChips(container, values, selected) {
  const all = el('button', { type: 'button', className: 'chip', textContent: 'all' });
  all.setAttribute('aria-pressed', String(selected.size === 0));
  all.onclick = () => {
    selected.clear();
    refilter();
  };
  container.replaceChildren(
    all,
    ...values.map((value) => {
      const chip = el('button', { type: 'button', className: 'chip', textContent: value });
      chip.dataset.value = value;
      chip.setAttribute('aria-pressed', String(selected.has(value)));
      chip.onclick = () => {
        if (selected.has(value)) selected.delete(value);
        else selected.add(value);
        refilter();
      };
      return chip;
    }),
  );
}

function refilter() {
  renderChips($('ns-filters'), [...state.namespaces].sort(), state.wanted.ns);
  renderChips($('op-filters'), OPERATIONS, state.wanted.op);
  $('feed').replaceChildren();
  $('feed-status').textContent = '';
  state.seen.clear();
  state.items = 0;
  connect();
}

$('step-down').addEventListener('click', stepDown);
window.addEventListener('resize', drawRates);
renderChips($('ns-filters'), [], state.wanted.ns);
renderChips($('op-filters'), OPERATIONS, state.wanted.op);
connect();
