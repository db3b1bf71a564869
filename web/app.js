// towerwatch dashboard: sites on a map, active alarms and live events from the hub's API.
'use strict';
const api = (path, opts) => fetch(path, opts).then(r => { if (!r.ok) throw new Error(r.status); return r.json(); });
const sites = new Map();
const $ = id => document.getElementById(id);

function project(list) {
  const lats = list.map(s => s.lat), lons = list.map(s => s.lon);
  let [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const padLat = Math.max(0.5, (maxLat - minLat) * 0.15), padLon = Math.max(0.5, (maxLon - minLon) * 0.15);
  minLat -= padLat; maxLat += padLat; minLon -= padLon; maxLon += padLon;
  const k = Math.cos((minLat + maxLat) / 2 * Math.PI / 180);
  const sx = 800 / ((maxLon - minLon) * k), sy = 500 / (maxLat - minLat), s = Math.min(sx, sy);
  return { x: lon => (lon - minLon) * k * s, y: lat => (maxLat - lat) * s, minLat, maxLat, minLon, maxLon };
}

function drawMap() {
  const svg = $('map');
  const list = [...sites.values()];
  svg.innerHTML = '';
  if (!list.length) return;
  const p = project(list);
  const ns = 'http://www.w3.org/2000/svg';
  for (let lat = Math.ceil(p.minLat); lat <= p.maxLat; lat++) {
    const l = document.createElementNS(ns, 'line');
    l.setAttribute('class', 'grid'); l.setAttribute('x1', 0); l.setAttribute('x2', 800);
    l.setAttribute('y1', p.y(lat)); l.setAttribute('y2', p.y(lat)); svg.appendChild(l);
  }
  for (let lon = Math.ceil(p.minLon); lon <= p.maxLon; lon++) {
    const l = document.createElementNS(ns, 'line');
    l.setAttribute('class', 'grid'); l.setAttribute('y1', 0); l.setAttribute('y2', 500);
    l.setAttribute('x1', p.x(lon)); l.setAttribute('x2', p.x(lon)); svg.appendChild(l);
  }
  for (const s of list) {
    const c = document.createElementNS(ns, 'circle');
    c.setAttribute('class', 'site ' + s.status); c.setAttribute('r', 6);
    c.setAttribute('cx', p.x(s.lon)); c.setAttribute('cy', p.y(s.lat));
    const t = document.createElementNS(ns, 'title'); t.textContent = `${s.name} (${s.status})`; c.appendChild(t);
    svg.appendChild(c);
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('class', 'site-label'); label.setAttribute('x', p.x(s.lon) + 8); label.setAttribute('y', p.y(s.lat) + 4);
    label.textContent = s.name; svg.appendChild(label);
  }
  const tbody = $('sites').querySelector('tbody');
  tbody.innerHTML = '';
  for (const s of list.sort((a, b) => a.id.localeCompare(b.id))) {
    const tr = document.createElement('tr');
    tr.innerHTML = `<td>${esc(s.name)}</td><td>${esc(s.status)}</td><td>${s.last_seen ? new Date(s.last_seen).toISOString().slice(11, 19) : ''}</td>`;
    tbody.appendChild(tr);
  }
}

function esc(v) { return String(v).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c])); }

function addEvent(e) {
  const li = document.createElement('li');
  li.textContent = `${e.time.slice(11, 23)} ${e.site} ${e.kind} ${JSON.stringify(e.payload).slice(0, 120)}`;
  const ul = $('events');
  ul.prepend(li);
  while (ul.children.length > 200) ul.lastChild.remove();
  if (sites.has(e.site)) { sites.get(e.site).last_seen = e.received; }
}

async function loadAlarms() {
  const { alarms } = await api('/api/v1/alarms?active=true');
  const ul = $('alarms');
  ul.innerHTML = '';
  for (const a of alarms) {
    const li = document.createElement('li');
    li.innerHTML = `<span class="sev-${esc(a.severity)}">${esc(a.severity)}</span> ${esc(a.type)} ${esc(a.source)} — ${esc(a.message)} ` +
      `<button data-act="ack">ack</button> <button data-act="clear">clear</button>`;
    li.querySelectorAll('button').forEach(b => b.onclick = () => api(`/api/v1/alarms/${a.id}/${b.dataset.act}`, { method: 'POST' }).then(loadAlarms));
    ul.appendChild(li);
  }
  $('summary').textContent = `${sites.size} sites, ${alarms.length} active alarms`;
}

async function start() {
  const { sites: list } = await api('/api/v1/sites');
  list.forEach(s => sites.set(s.id, s));
  drawMap();
  const { events } = await api('/api/v1/events?limit=50');
  events.reverse().forEach(addEvent);
  await loadAlarms();
  const es = new EventSource('/api/v1/stream');
  es.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'badge on'; };
  es.onerror = () => { $('conn').textContent = 'reconnecting…'; $('conn').className = 'badge off'; };
  es.addEventListener('event', m => addEvent(JSON.parse(m.data)));
  es.addEventListener('site', m => { const s = JSON.parse(m.data); sites.set(s.id, s); drawMap(); });
  es.addEventListener('alarm', () => loadAlarms());
  setInterval(drawMap, 5000);
}
start().catch(err => { $('conn').textContent = 'error: ' + err.message; });
