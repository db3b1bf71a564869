// End-to-end browser test of the dashboard: Playwright (playwright-core) drives Debian's Chromium.
//
//   node e2e.mjs TOWERWATCH_BIN OUT_DIR
//
// Starts the hub on a free loopback port and signs in with the earthquake agency's demo key; an
// earthquake alert must appear live (server-sent events), be acknowledged from the page, and no
// wildfire or traffic data may be visible. A screenshot is written to OUT_DIR/dashboard-quake.png.
//
// Where the data comes from (TW_E2E_SOURCE):
//   demo (default): `towerwatch demo`, waiting for the demo's own live replay of a recorded OpenEEW
//          earthquake (needs the seismic module in the build).
//   mqtt:  `towerwatch hub` with a real mosquitto on a free port, configured with the demo tenants; the
//          test publishes site status, smoke, counts and finally a quake message over MQTT (the product's
//          ingestion path) while the page is open.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [bin, outDir] = process.argv.slice(2);
if (!bin || !outDir) { console.error('usage: node e2e.mjs TOWERWATCH_BIN OUT_DIR'); process.exit(2); }
const source = process.env.TW_E2E_SOURCE || 'demo';
const QUAKE_KEY = 'demo-quake-agency-key-0001';  // printed by `towerwatch demo`, listed in docs/api.md
const ADMIN_KEY = 'demo-operator-admin-key-0006';
fs.mkdirSync(outDir, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-e2e-'));
const children = [];
const fail = msg => { throw new Error(msg); };

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}
function start(cmd, args, logName) {
  const log = fs.openSync(path.join(tmp, logName), 'a');
  const p = spawn(cmd, args, { stdio: ['ignore', log, log] });
  children.push(p);
  return p;
}
const sleep = ms => new Promise(r => setTimeout(r, ms));
async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch { /* not yet */ }
    if (Date.now() > end) fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}
async function getJson(port, p, key) {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, { headers: key ? { Authorization: 'Bearer ' + key } : {} });
  return { status: r.status, body: await r.json() };
}

// A minimal MQTT 3.1.1 publisher (QoS 1), enough to act as a tower site.
function mqttPublish(port, messages) {
  const str = s => { const b = Buffer.from(s, 'utf8'); const l = Buffer.alloc(2); l.writeUInt16BE(b.length); return Buffer.concat([l, b]); };
  const remLen = n => { const out = []; do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 128; out.push(d); } while (n > 0); return Buffer.from(out); };
  const packet = (type, body) => Buffer.concat([Buffer.from([type]), remLen(body.length), body]);
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let acked = 0, buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('connect', () => {
      const vh = Buffer.concat([str('MQTT'), Buffer.from([4, 2, 0, 30])]);  // level 4, clean session, keepalive 30
      sock.write(packet(0x10, Buffer.concat([vh, str('tw-e2e-' + process.pid + '-' + Date.now())])));
    });
    sock.on('data', d => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const type = buf[0] >> 4, len = buf[1];
        if (buf.length < 2 + len) break;
        buf = buf.subarray(2 + len);
        if (type === 2) {  // CONNACK: publish everything
          messages.forEach((m, i) => {
            const id = Buffer.alloc(2); id.writeUInt16BE(i + 1);
            sock.write(packet(0x32, Buffer.concat([str(m.topic), id, Buffer.from(m.payload, 'utf8')])));
          });
        } else if (type === 4 && ++acked === messages.length) {  // PUBACK of the last one
          sock.end(Buffer.from([0xe0, 0]));
          resolve();
        }
      }
    });
    setTimeout(() => reject(new Error('mqtt publish timed out')), 10000);
  });
}
let seq = 0;
function message(site, kind, payload, ts = Date.now()) {
  // ULID-shaped unique id (26 Crockford base32 chars): time part then a counter and randomness.
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let t = ts, time = '';
  for (let i = 0; i < 10; i++) { time = alphabet[t % 32] + time; t = Math.floor(t / 32); }
  let rnd = '';
  for (let i = 0; i < 16; i++) rnd += alphabet[i < 4 ? (seq >> (5 * (3 - i))) & 31 : Math.floor(Math.random() * 32)];
  seq++;
  const id = time + rnd;
  return { topic: `tw/v1/${site}/${kind}`, payload: JSON.stringify({ v: 1, id, site, kind, ts, payload }) };
}
const SITES = [
  { id: 'cdmx-centro', name: 'CDMX Centro', lat: 19.4326, lon: -99.1332 },
  { id: 'puebla', name: 'Puebla', lat: 19.0414, lon: -98.2063 },
  { id: 'oaxaca', name: 'Oaxaca', lat: 17.0732, lon: -96.7266 },
];

let browser;
try {
  if (!fs.existsSync('/usr/bin/chromium')) fail('Debian chromium is missing: apt-get install -y --no-install-recommends chromium');
  const httpPort = await freePort();
  let mqttPort = 0;
  if (source === 'mqtt') {
    mqttPort = await freePort();
    fs.writeFileSync(path.join(tmp, 'mosquitto.conf'), `listener ${mqttPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    start('/usr/sbin/mosquitto', ['-c', path.join(tmp, 'mosquitto.conf')], 'mosquitto.log');
    await waitFor(() => new Promise(res => { const s = net.connect(mqttPort, '127.0.0.1', () => { s.end(); res(true); }); s.on('error', () => res(false)); }), 10000, 'mosquitto');
    const hash = k => execFileSync(bin, ['tenant', 'hash-key', k]).toString().trim();
    const toml = `[hub]\nlisten = "127.0.0.1:${httpPort}"\nstore = "sqlite://${tmp}/hub.db"\n\n[broker]\nurl = "mqtt://127.0.0.1:${mqttPort}"\nclient_id = "tw-hub-e2e"\n\n` +
      `[[tenants]]\nid = "quake-agency"\nname = "National earthquake agency"\nrole = "operator"\nservices = ["quake"]\napi_key_hash = "${hash(QUAKE_KEY)}"\n` +
      `[[tenants.regions]]\nname = "central-mexico"\npoints = [14.5, -106.0, 14.5, -94.0, 22.5, -94.0, 22.5, -106.0]\n\n` +
      `[[tenants]]\nid = "operator-admin"\nname = "Tower operator"\nrole = "admin"\nservices = ["quake", "wildfire", "traffic", "landuse", "power", "site"]\napi_key_hash = "${hash(ADMIN_KEY)}"\n`;
    fs.writeFileSync(path.join(tmp, 'hub.toml'), toml);
    start(bin, ['hub', '--config', path.join(tmp, 'hub.toml')], 'towerwatch.log');
  } else {
    start(bin, ['demo', '--listen', `127.0.0.1:${httpPort}`, '--state-dir', path.join(tmp, 'state')], 'towerwatch.log');
  }
  await waitFor(async () => (await getJson(httpPort, '/api/v1/health')).status === 200, 15000, 'the hub to answer');

  if (source === 'mqtt') {
    // Sites, then wildfire and traffic data the quake agency must never see.
    await mqttPublish(mqttPort, [
      ...SITES.map(s => message(s.id, 'status', { state: 'online', name: s.name, lat: s.lat, lon: s.lon })),
      message('oaxaca', 'smoke', { camera: 'cam-e2e-smoke', score: 0.91, bearing_deg: 212.0 }),
      message('cdmx-centro', 'counts', { camera: 'cam-e2e-traffic', interval_s: 60, lines: [{ name: 'reforma', in: 42, out: 17 }] }),
    ]);
    await waitFor(async () => (await getJson(httpPort, '/api/v1/events?limit=100', ADMIN_KEY)).body.events.length >= 5, 10000, 'the seed messages');
  }

  // A fresh profile (Playwright passes it to Chromium as --user-data-dir).
  browser = await chromium.launchPersistentContext(path.join(tmp, 'chromium-profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] || await browser.newPage();
  const external = [];
  page.on('request', r => { if (!r.url().startsWith(`http://127.0.0.1:${httpPort}/`) && !r.url().startsWith('data:')) external.push(r.url()); });
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${httpPort}/`);
  // A wrong key is refused.
  await page.fill('#login-key', 'not-a-valid-key-123456');
  await page.click('#login-btn');
  await page.waitForSelector('#login-error:has-text("Unknown API key")', { timeout: 5000 });
  await page.fill('#login-key', QUAKE_KEY);
  await page.click('#login-btn');
  await page.waitForSelector('#tenant-name:has-text("National earthquake agency")', { timeout: 5000 });
  await page.waitForSelector('#conn:has-text("live")', { timeout: 10000 });

  if (source === 'mqtt') {
    // The 2017-09-19 Puebla-Morelos earthquake (Mw 7.1, 18.55 N 98.49 W, 57 km), replayed as live.
    const now = Date.now();
    const intensities = SITES.map(s => ({ site: s.id, lat: s.lat, lon: s.lon, mmi: s.id === 'oaxaca' ? 5.1 : 7.3,
      pga_cms2: s.id === 'oaxaca' ? 40 : 220, pgv_cms: s.id === 'oaxaca' ? 3 : 24, source: 'predicted',
      s_arrival: new Date(now + (s.id === 'oaxaca' ? 60000 : 25000)).toISOString() }));
    await mqttPublish(mqttPort, [message('puebla', 'quake', { event_id: 'e2e-puebla-2017', version: 1, origin_time: new Date(now - 8000).toISOString(),
      lat: 18.55, lon: -98.49, depth_km: 57, magnitude: 7.1, magnitude_type: 'Mw', alert: true, max_mmi: 7.3, intensities }, now)]);
  }
  // The alert appears live (no reload).
  const alarm = await page.waitForSelector('#alarms li.alarm[data-type="quake"]', { timeout: source === 'mqtt' ? 10000 : 240000 });
  const text = await alarm.textContent();
  if (!/earthquake/.test(text)) fail(`quake alarm text: ${text}`);
  await alarm.$eval('button.ack', b => b.click());
  await page.waitForSelector('#alarms li.alarm[data-type="quake"][data-status="active_ack"]', { timeout: 5000 });
  // The hub agrees.
  const { body } = await getJson(httpPort, '/api/v1/alarms?service=quake&active=true', QUAKE_KEY);
  const acked = body.alarms.filter(a => a.type === 'quake' && a.status === 'active_ack');
  if (!acked.length) fail('the hub has no acknowledged quake alarm: ' + JSON.stringify(body));

  // The earthquake page: epicentre, magnitude, intensities per site, S-wave countdown.
  await page.click('#tabs button[data-page="quake"]');
  await page.waitForSelector('.quake-card', { timeout: 5000 });
  const quakeText = await page.textContent('#page-quake');
  if (source === 'mqtt') {
    for (const want of ['M7.1', '18.550, -98.490', 'depth 57 km', 'cdmx-centro', 'S-wave']) {
      if (!quakeText.includes(want)) fail(`earthquake page lacks '${want}': ${quakeText.slice(0, 400)}`);
    }
  }
  await page.screenshot({ path: path.join(outDir, 'dashboard-quake.png'), fullPage: true });
  await page.click('#tabs button[data-page="overview"]');
  await page.screenshot({ path: path.join(outDir, 'dashboard-overview.png'), fullPage: true });

  // No wildfire or traffic anywhere: tabs hidden, nothing in the page, nothing the page could fetch.
  for (const tab of ['wildfire', 'traffic', 'landuse']) {
    if (await page.isVisible(`#tabs button[data-page="${tab}"]`)) fail(`the ${tab} tab is visible to the quake agency`);
  }
  const html = await page.content();
  for (const forbidden of ['cam-e2e-smoke', 'cam-e2e-traffic', 'reforma', '212.0']) {
    if (html.includes(forbidden)) fail(`the page contains wildfire/traffic data: ${forbidden}`);
  }
  for (const box of ['#smoke .smoke-card', '#fires tbody tr', '#traffic svg']) {
    if (await page.$(box)) fail(`wildfire/traffic content rendered: ${box}`);
  }
  const seen = await page.evaluate(async key => {
    const r = await fetch('/api/v1/events?limit=1000', { headers: { Authorization: 'Bearer ' + key } });
    return (await r.json()).events.map(e => e.kind);
  }, QUAKE_KEY);
  if (seen.some(k => k === 'smoke' || k === 'fire' || k === 'counts')) fail('wildfire/traffic events reached the quake agency: ' + seen.join(','));
  const forbiddenApi = await page.evaluate(async key => (await fetch('/api/v1/events?kind=smoke', { headers: { Authorization: 'Bearer ' + key } })).status, QUAKE_KEY);
  if (forbiddenApi !== 403) fail(`asking for smoke events gave ${forbiddenApi}, expected 403`);
  if (external.length) fail('the dashboard requested external resources: ' + external.join(', '));
  if (errors.length) fail('page errors: ' + errors.join('; '));
  console.log(`ok: quake alert live, acknowledged, no wildfire/traffic data; screenshots in ${outDir}`);
  process.exitCode = 0;
} catch (e) {
  console.error('FAIL:', e.message);
  for (const f of ['towerwatch.log', 'mosquitto.log']) {
    const p = path.join(tmp, f);
    if (fs.existsSync(p)) console.error(`--- ${f} (tail)\n` + fs.readFileSync(p, 'utf8').split('\n').slice(-30).join('\n'));
  }
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const c of children) { try { c.kill('SIGTERM'); } catch { /* gone */ } }
  await sleep(300);
  for (const c of children) { if (c.exitCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } } }
  fs.rmSync(tmp, { recursive: true, force: true });
}
