// towerwatch dashboard: sign in with an API key, then see only what the tenant may see (the hub filters
// every response and the live stream by the key's services and regions). No external resources.
'use strict';
const $ = id => document.getElementById(id);
const esc = v => String(v ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const ns = 'http://www.w3.org/2000/svg';

const state = { key: null, me: null, sites: new Map(), alarms: new Map(), quakes: new Map(), smoke: [], fires: [],
  counts: [], changes: [], power: new Map(), es: null };

async function api(path, opts = {}) {
  const headers = Object.assign({ Authorization: 'Bearer ' + state.key }, opts.body ? { 'Content-Type': 'application/json' } : {});
  const r = await fetch(path, Object.assign({}, opts, { headers }));
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${r.status} ${body.reason || ''}`.trim());
  return body;
}
const can = svc => state.me && state.me.services.includes(svc);
const canChange = () => state.me && (state.me.role === 'operator' || state.me.role === 'admin');
const hhmmss = t => (t ? new Date(t).toISOString().slice(11, 19) : '');

// ------------------------------------------------------------------ map
function project(points) {
  const lats = points.map(p => p[0]), lons = points.map(p => p[1]);
  let [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const padLat = Math.max(0.3, (maxLat - minLat) * 0.1), padLon = Math.max(0.3, (maxLon - minLon) * 0.1);
  minLat -= padLat; maxLat += padLat; minLon -= padLon; maxLon += padLon;
  const k = Math.cos((minLat + maxLat) / 2 * Math.PI / 180);
  const s = Math.min(800 / ((maxLon - minLon) * k), 500 / (maxLat - minLat));
  return { x: lon => (lon - minLon) * k * s, y: lat => (maxLat - lat) * s, minLat, maxLat, minLon, maxLon };
}
function el(tag, attrs, parent, text) {
  const e = document.createElementNS(ns, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) { const t = document.createElementNS(ns, 'title'); t.textContent = text; e.appendChild(t); }
  parent.appendChild(e);
  return e;
}
function drawMap() {
  const svg = $('map');
  svg.innerHTML = '';
  const pts = [];
  state.sites.forEach(s => pts.push([s.lat, s.lon]));
  (state.me.regions || []).forEach(r => r.points.forEach(p => pts.push(p)));
  state.quakes.forEach(q => pts.push([q.payload.lat, q.payload.lon]));
  if (!pts.length) return;
  const p = project(pts);
  for (let lat = Math.ceil(p.minLat); lat <= p.maxLat; lat++) el('line', { class: 'grid', x1: 0, x2: 800, y1: p.y(lat), y2: p.y(lat) }, svg);
  for (let lon = Math.ceil(p.minLon); lon <= p.maxLon; lon++) el('line', { class: 'grid', y1: 0, y2: 500, x1: p.x(lon), x2: p.x(lon) }, svg);
  for (const r of state.me.regions || []) {
    el('polygon', { class: 'region', points: r.points.map(q => `${p.x(q[1])},${p.y(q[0])}`).join(' ') }, svg, r.name);
  }
  for (const f of state.fires.slice(-20)) {
    el('path', { class: 'fire', d: `M${p.x(f.payload.lon)},${p.y(f.payload.lat) - 9} l7,14 h-14 z` }, svg, 'fire');
  }
  for (const s of state.smoke.slice(-20)) {  // bearing rays from the tower
    const site = state.sites.get(s.site);
    if (!site) continue;
    const b = s.payload.bearing_deg * Math.PI / 180, len = 60;
    el('line', { class: 'bearing', x1: p.x(site.lon), y1: p.y(site.lat), x2: p.x(site.lon) + len * Math.sin(b), y2: p.y(site.lat) - len * Math.cos(b) }, svg);
  }
  state.quakes.forEach(q => {
    const m = q.payload.magnitude || 3;
    el('circle', { class: 'quake', r: 4 + 2 * m, cx: p.x(q.payload.lon), cy: p.y(q.payload.lat) }, svg, `M${m} ${q.payload.event_id}`);
  });
  for (const s of state.sites.values()) {
    el('circle', { class: 'site ' + (s.status || 'unknown'), r: 6, cx: p.x(s.lon), cy: p.y(s.lat) }, svg, s.name);
    const t = el('text', { class: 'site-label', x: p.x(s.lon) + 8, y: p.y(s.lat) + 4 }, svg);
    t.textContent = s.name;
  }
  const tbody = $('sites').querySelector('tbody');
  tbody.innerHTML = [...state.sites.values()].sort((a, b) => a.id.localeCompare(b.id))
    .map(s => `<tr><td>${esc(s.name)}</td><td>${esc(s.status ?? '—')}</td><td>${hhmmss(s.last_seen)}</td></tr>`).join('');
}

// ------------------------------------------------------------------ alarms
function renderAlarms() {
  const ul = $('alarms');
  const active = [...state.alarms.values()].filter(a => a.status.startsWith('active')).sort((a, b) => b.id - a.id);
  $('alarm-count').textContent = `(${active.length})`;
  ul.innerHTML = '';
  for (const a of active) {
    const li = document.createElement('li');
    li.className = 'alarm';
    li.dataset.id = a.id; li.dataset.type = a.type; li.dataset.status = a.status;
    li.innerHTML = `<span class="sev-${esc(a.severity)}">${esc(a.severity)}</span> <b>${esc(a.type)}</b> ${esc(a.message)} ` +
      `<span class="status">${esc(a.status.replace('_', ' '))}</span>` +
      (canChange() ? ` <button class="ack" ${a.status === 'active_ack' ? 'disabled' : ''}>acknowledge</button>` : '') +
      // An unconfirmed smoke alarm is dismissed from its smoke card, with a label of what was seen.
      (canChange() && !(a.type === 'smoke' && a.status === 'active_unack') ? ' <button class="clear">clear</button>' : '');
    if (canChange()) {
      li.querySelector('.ack').onclick = () => alarmAction(a.id, 'ack');
      li.querySelector('.clear')?.addEventListener('click', () => alarmAction(a.id, 'clear'));
    }
    ul.appendChild(li);
  }
  renderSmoke();
}
// What was seen instead of smoke, when an operator dismisses a smoke alarm (the hub accepts these labels).
const DISMISS_LABELS = ['cloud', 'fog', 'dust', 'industrial_smoke', 'glare', 'other'];
async function alarmAction(id, act, body) {
  try {
    const a = await api(`/api/v1/alarms/${id}/${act}`, { method: 'POST', body: JSON.stringify(body || {}) });
    state.alarms.set(a.id, a);
    renderAlarms();
  } catch (e) { alert(`${act} failed: ${e.message}`); }
}

// ------------------------------------------------------------------ events
function addEvent(e, live) {
  if (live) {
    const li = document.createElement('li');
    li.textContent = `${e.time.slice(11, 23)} ${e.site} ${e.kind}`;
    $('events').prepend(li);
    while ($('events').children.length > 200) $('events').lastChild.remove();
  }
  const s = state.sites.get(e.site);
  if (s && live) s.last_seen = e.received;
  switch (e.kind) {
    case 'quake': {
      const prev = state.quakes.get(e.payload.event_id);
      const versions = prev ? prev.versions : [];
      if (!versions.find(v => v.version === e.payload.version)) versions.push({ version: e.payload.version, magnitude: e.payload.magnitude, time: e.time });
      versions.sort((a, b) => a.version - b.version);
      if (!prev || e.payload.version >= prev.payload.version) state.quakes.set(e.payload.event_id, Object.assign({}, e, { versions }));
      renderQuakes();
      break;
    }
    case 'smoke': state.smoke.push(e); state.smoke = state.smoke.slice(-50); renderSmoke(); break;
    case 'fire': state.fires.push(e); state.fires = state.fires.slice(-50); renderFires(); break;
    case 'counts': state.counts.push(e); state.counts = state.counts.slice(-500); renderTraffic(); break;
    case 'change': state.changes.push(e); state.changes = state.changes.slice(-100); renderChanges(); break;
    case 'power': state.power.set(e.site, e); renderPower(); break;
  }
}

// Earthquakes: epicentre, magnitude updates, intensity per site, S-wave countdown per region.
function renderQuakes() {
  const box = $('quakes');
  const list = [...state.quakes.values()].sort((a, b) => b.ts - a.ts).slice(0, 10);
  box.innerHTML = list.map(q => {
    const p = q.payload;
    const inten = (p.intensities || []).slice().sort((a, b) => b.mmi - a.mmi);
    const regions = (state.me.regions || []).map(r => {
      const inside = inten.filter(i => inRegion(r, i.lat, i.lon) && i.s_arrival);
      const first = inside.map(i => Date.parse(i.s_arrival)).sort((a, b) => a - b)[0];
      return { name: r.name, first };
    });
    return `<div class="quake-card" data-event="${esc(p.event_id)}">
      <h3>M${Number(p.magnitude).toFixed(1)} ${p.alert ? '<span class="sev-critical">ALERT</span>' : ''} — ${esc(p.event_id)}</h3>
      <p>Epicentre ${Number(p.lat).toFixed(3)}, ${Number(p.lon).toFixed(3)}, depth ${Number(p.depth_km).toFixed(0)} km, origin ${esc(p.origin_time)}
      ${p.max_mmi ? `, max intensity ${Number(p.max_mmi).toFixed(1)}` : ''}</p>
      <p>Magnitude updates: ${q.versions.map(v => `v${v.version}: M${Number(v.magnitude).toFixed(1)}`).join(' → ')}</p>
      ${regions.length ? `<p>S-wave: ${regions.map(r => `<span class="countdown" data-t="${r.first || ''}">${esc(r.name)}: …</span>`).join(' · ')}</p>` : ''}
      <table><thead><tr><th>Site</th><th>km</th><th>MMI</th><th>PGA cm/s²</th><th>PGV cm/s</th><th>source</th><th>S-wave</th></tr></thead><tbody>
      ${inten.slice(0, 30).map(i => `<tr><td>${esc(i.site)}</td><td>${esc(i.distance_km)}</td><td>${Number(i.mmi).toFixed(1)}</td>
        <td>${Number(i.pga_cms2).toFixed(1)}</td><td>${Number(i.pgv_cms).toFixed(2)}</td><td>${esc(i.source)}</td>
        <td class="countdown" data-t="${i.s_arrival ? Date.parse(i.s_arrival) : ''}"></td></tr>`).join('')}
      </tbody></table></div>`;
  }).join('') || '<p>No earthquakes.</p>';
  tickCountdowns();
  if (state.me) drawMap();
}
function inRegion(r, lat, lon) {
  let inside = false;
  const P = r.points;
  for (let i = 0, j = P.length - 1; i < P.length; j = i++) {
    if ((P[i][0] > lat) !== (P[j][0] > lat) && lon < (P[j][1] - P[i][1]) * (lat - P[i][0]) / (P[j][0] - P[i][0]) + P[i][1]) inside = !inside;
  }
  return inside;
}
function tickCountdowns() {
  const now = Date.now();
  document.querySelectorAll('.countdown').forEach(c => {
    const t = Number(c.dataset.t);
    const label = c.textContent.includes(':') ? c.textContent.split(':')[0] + ': ' : '';
    c.textContent = label + (!t ? '—' : t > now ? `S-wave in ${((t - now) / 1000).toFixed(0)} s` : 'arrived');
  });
}

// Wildfire: smoke alerts with their redacted snapshot, bearings, confirm/dismiss with a reason.
function renderSmoke() {
  const box = $('smoke');
  const alarmsBySource = new Map([...state.alarms.values()].filter(a => a.type === 'smoke').map(a => [a.source, a]));
  box.innerHTML = '';
  for (const e of state.smoke.slice().reverse().slice(0, 12)) {
    const p = e.payload;
    const a = alarmsBySource.get(`${e.site}/${p.camera}`);
    const snap = p.snapshot && p.snapshot.redacted && p.snapshot.data_b64 ? `<img alt="redacted snapshot" src="data:image/jpeg;base64,${p.snapshot.data_b64}">` : '<div class="nosnap">no snapshot</div>';
    const div = document.createElement('div');
    div.className = 'smoke-card';
    div.innerHTML = `${snap}<div><b>${esc(e.site)}/${esc(p.camera)}</b> ${esc(e.time)}<br>bearing ${Number(p.bearing_deg).toFixed(1)}°, score ${Number(p.score).toFixed(2)}
      ${a ? `<br>alarm: ${esc(a.status.replace('_', ' '))}` : ''}
      ${a && canChange() && a.status === 'active_unack' ? `<br><input class="reason" placeholder="note" size="20"> <button class="confirm">confirm</button>
        <select class="label">${DISMISS_LABELS.map(l => `<option value="${l}">${l.replace('_', ' ')}</option>`).join('')}</select> <button class="dismiss">dismiss</button>` : ''}</div>`;
    if (a && canChange() && a.status === 'active_unack') {
      const note = () => div.querySelector('.reason').value;
      div.querySelector('.confirm').onclick = () => alarmAction(a.id, 'ack', { reason: 'confirmed' + (note() ? ': ' + note() : '') });
      div.querySelector('.dismiss').onclick = () => alarmAction(a.id, 'clear', { label: div.querySelector('.label').value, reason: note() });
    }
    box.appendChild(div);
  }
  if (!box.children.length) box.innerHTML = '<p>No smoke alerts.</p>';
}
function renderFires() {
  $('fires').querySelector('tbody').innerHTML = state.fires.slice().reverse().map(f =>
    `<tr><td>${esc(f.time)}</td><td>${Number(f.payload.lat).toFixed(4)}</td><td>${Number(f.payload.lon).toFixed(4)}</td><td>${esc((f.payload.sites || f.payload.towers || []).join?.(', ') ?? '')}</td></tr>`).join('');
  drawMap();
}

// Traffic: a bar chart per site/camera of the counts per interval (sum over lines and classes).
function lineTotal(l) {
  let n = 0;
  for (const [k, v] of Object.entries(l)) {
    if (typeof v === 'number' && k !== 'x1' && k !== 'y1' && k !== 'x2' && k !== 'y2') n += v;
    else if (v && typeof v === 'object') n += lineTotal(v);
  }
  return n;
}
function renderTraffic() {
  const groups = new Map();
  for (const e of state.counts) {
    const k = `${e.site}/${e.payload.camera}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push({ t: e.ts, n: (e.payload.lines || []).reduce((s, l) => s + lineTotal(l), 0) });
  }
  $('traffic').innerHTML = [...groups.entries()].map(([k, pts]) => {
    pts = pts.slice(-60);
    const max = Math.max(1, ...pts.map(p => p.n)), w = 600 / Math.max(pts.length, 1);
    const bars = pts.map((p, i) => `<rect class="bar" x="${i * w}" y="${150 - 140 * p.n / max}" width="${Math.max(w - 1, 1)}" height="${140 * p.n / max}"><title>${hhmmss(p.t)}: ${p.n}</title></rect>`).join('');
    return `<h3>${esc(k)}</h3><svg class="chart" viewBox="0 0 600 150">${bars}<text x="2" y="12" class="axis">max ${max}</text></svg>`;
  }).join('') || '<p>No counts yet.</p>';
}
function renderChanges() {
  $('changes').querySelector('tbody').innerHTML = state.changes.slice().reverse().map(e =>
    `<tr><td>${esc(e.time)}</td><td>${esc(e.site)}</td><td>${esc(e.payload.camera)}</td><td>${esc(e.payload.zone)}</td><td>${esc(e.payload.area_px)}</td></tr>`).join('');
}
function renderPower() {
  const rows = [...state.sites.values()].map(s => {
    const e = state.power.get(s.id);
    const p = e ? e.payload : {};
    const f = v => (typeof v === 'number' ? v.toFixed(1) : '');
    return `<tr><td>${esc(s.name)}</td><td class="st-${esc(s.status)}">${esc(s.status ?? '')}</td><td>${f(p.mains_v)}</td><td>${f(p.dc_bus_v)}</td><td>${f(p.battery_a)}</td><td>${f(p.soc_pct ?? p.soc)}</td><td>${e ? esc(e.time) : ''}</td></tr>`;
  });
  $('power').querySelector('tbody').innerHTML = rows.join('');
}

// ------------------------------------------------------------------ evidence
function setupEvidence() {
  const f = $('evidence-form');
  if (!f.since.value) { f.since.value = new Date(Date.now() - 7 * 86400e3).toISOString(); f.until.value = new Date(Date.now() + 3600e3).toISOString(); }
  const qs = () => new URLSearchParams(new FormData(f)).toString();
  f.onsubmit = async ev => {
    ev.preventDefault();
    try { $('evidence-out').textContent = JSON.stringify(await api('/api/v1/evidence?' + qs()), null, 2); } catch (e) { $('evidence-out').textContent = e.message; }
  };
  $('evidence-bundle').onclick = async () => {
    try {
      const b = await api('/api/v1/evidence/bundle?' + qs());
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([JSON.stringify(b)], { type: 'application/json' }));
      a.download = 'evidence-bundle.json'; a.click();
    } catch (e) { $('evidence-out').textContent = e.message; }
  };
}

// ------------------------------------------------------------------ navigation, login, live stream
function show(page) {
  document.querySelectorAll('.page').forEach(p => { p.hidden = p.id !== 'page-' + page; });
  document.querySelectorAll('#tabs button').forEach(b => b.classList.toggle('active', b.dataset.page === page));
}
async function loadAll() {
  const [{ sites }, { alarms }] = await Promise.all([api('/api/v1/sites'), api('/api/v1/alarms?limit=500')]);
  sites.forEach(s => state.sites.set(s.id, s));
  alarms.forEach(a => state.alarms.set(a.id, a));
  const { events } = await api('/api/v1/events?limit=1000');
  events.reverse().forEach(e => addEvent(e, false));
  renderAlarms(); renderPower(); drawMap();
}
function connect() {
  const es = new EventSource('/api/v1/stream?key=' + encodeURIComponent(state.key));
  state.es = es;
  es.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'badge on'; };
  es.onerror = () => { $('conn').textContent = 'reconnecting…'; $('conn').className = 'badge off'; };
  es.addEventListener('event', m => addEvent(JSON.parse(m.data), true));
  es.addEventListener('site', m => { const s = JSON.parse(m.data); state.sites.set(s.id, Object.assign(state.sites.get(s.id) || {}, s)); drawMap(); renderPower(); });
  es.addEventListener('alarm', m => { const a = JSON.parse(m.data); state.alarms.set(a.id, a); renderAlarms(); });
}
async function login(key) {
  state.key = key;
  try {
    state.me = await api('/api/v1/me');
  } catch (e) {
    state.key = null;
    $('login-error').textContent = e.message.startsWith('401') ? 'Unknown API key.' : 'Sign-in failed: ' + e.message;
    return;
  }
  sessionStorage.setItem('tw-key', key);
  $('login').hidden = true; $('app').hidden = false; $('tabs').hidden = false; $('logout').hidden = false;
  $('tenant-name').textContent = `${state.me.name || state.me.id} (${state.me.role})`;
  document.querySelectorAll('#tabs button[data-service]').forEach(b => { b.hidden = !can(b.dataset.service) && !(b.dataset.service === 'power' && can('site')); });
  $('tabs').querySelector('[data-page="evidence"]').hidden = !(can('quake') || can('wildfire') || can('site'));
  setupEvidence();
  show('overview');
  await loadAll();
  connect();
}
document.querySelectorAll('#tabs button').forEach(b => { b.onclick = () => show(b.dataset.page); });
$('login-form').onsubmit = ev => { ev.preventDefault(); login($('login-key').value.trim()); };
$('logout').onclick = () => { sessionStorage.removeItem('tw-key'); location.reload(); };
setInterval(tickCountdowns, 1000);
if (sessionStorage.getItem('tw-key')) login(sessionStorage.getItem('tw-key'));
