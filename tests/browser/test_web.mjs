/*
 * test_web.mjs - the web app driven in Debian's chromium (headless) through playwright-core:
 * starts `fer serve` on a free port with a fresh SQLite store, uploads a photo with the file
 * picker (the server must get the file's own bytes and find the faces `fer predict` finds),
 * waits for the boxes and bars, corrects a face with "Wrong? Pick the right one" and marks
 * the other "not a face", and finds both in the store (the admin exports, FER2013 and
 * negatives, and sqlite3 when installed). Also: a photo larger than the display, drag and
 * drop on a phone-sized screen, the webcam mode on Chromium's fake camera, a second server
 * with small limits (a photo over them gives a clear error), Swagger UI at /docs, and that
 * the page loads nothing from outside the server. Screenshots go to build/test-artifacts/.
 * Run by tests/browser.sh; prints "N passed, N failed".
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FER = path.resolve(root, process.env.FER || 'build/fer');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(root, 'build/test-artifacts');
const TOKEN = 'browser-test-token';
// two faces, public domain (tests/data/README.md)
const PHOTO = path.join(root, 'tests/data/photos/two_portraits.jpg');

const { chromium } = await import(
  pathToFileURL(path.join(root, 'build/npm/node_modules/playwright-core/index.mjs')).href);

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.error(`FAIL ${name}${detail ? `: ${detail}` : ''}`);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fer_web_'));
const db = path.join(tmp, 'web.db');
const servers = []; /* every server started, stopped at the end */

/* Starts a server on an ephemeral port with its own store; resolves with its base URL. */
function startServer(name, extra = []) {
  const log = fs.openSync(path.join(ARTIFACTS, `${name}-server.log`), 'w');
  const proc = spawn(FER, ['serve', '--port', '0', '--db', `sqlite:${path.join(tmp, `${name}.db`)}`,
                           '--admin-token', TOKEN, '--web', path.join(root, 'web'),
                           '--threads', '2', ...extra],
                     { cwd: root, stdio: ['ignore', 'pipe', log] });
  servers.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the server did not start in 60 s')), 60000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/open (http:\/\/[^\s]+?)\/?\s/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, base: m[1] });
      }
    });
    proc.on('exit', (code) => reject(new Error(`fer serve exited with ${code}`)));
  });
}

async function exportRows(base, format = 'fer2013') {
  const res = await fetch(`${base}/v1/feedback/export?format=${format}`,
                          { headers: { Authorization: `Bearer ${TOKEN}` } });
  const text = await res.text();
  return { status: res.status, rows: text.trim().split('\n').slice(1) };
}

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const boxKey = (b) => `${b.x},${b.y},${b.w},${b.h}`;

/* The boxes `fer predict` finds in a file, as "x,y,w,h" strings. */
function cliBoxes(file) {
  const r = spawnSync(FER, ['predict', file], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fer predict ${file}: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  return (Array.isArray(out) ? out[0] : out).faces.map((f) => boxKey(f.box));
}

/*
 * Runs in every page before its scripts: records each POST /v1/predict the page makes, as
 * window.__predict[i] = {type, size, sha256} of the body it gave fetch, and {status, answer}.
 * (Playwright's own request and response bodies are not kept for uploads of blobs.)
 */
function recordPredictions() {
  const realFetch = window.fetch;
  window.__predict = [];
  window.fetch = async (url, init) => {
    const res = await realFetch(url, init);
    if (String(url).endsWith('/v1/predict') && init && init.method === 'POST') {
      const rec = { type: (init.headers || {})['Content-Type'], size: -1, sha256: '' };
      if (init.body instanceof Blob) {
        const bytes = new Uint8Array(await init.body.arrayBuffer());
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
        rec.size = bytes.length;
        rec.sha256 = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
      }
      rec.status = res.status;
      rec.answer = await res.clone().json().catch(() => null);
      window.__predict.push(rec);
    }
    return res;
  };
}

/* Chooses file with the picker; resolves with the record of the POST /v1/predict it made. */
async function upload(page, file) {
  const before = await page.evaluate(() => window.__predict.length);
  await page.setInputFiles('#file', file);
  await page.waitForFunction((n) => window.__predict.length > n, before, { timeout: 60000 });
  return page.evaluate((n) => window.__predict[n], before);
}

/* A JPEG made in the page: the photo scaled to width w, or noise (incompressible) when noise. */
async function makeJpeg(page, photo, w, noise, quality) {
  const b64 = await page.evaluate(async ([src, width, rnd, q]) => {
    const bytes = Uint8Array.from(atob(src), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }));
    const c = document.createElement('canvas');
    c.width = width;
    c.height = Math.round(bitmap.height * width / bitmap.width);
    const g = c.getContext('2d');
    g.drawImage(bitmap, 0, 0, c.width, c.height);
    if (rnd) {
      const d = g.getImageData(0, 0, c.width, c.height);
      for (let i = 0; i < d.data.length; i++) d.data[i] = (Math.random() * 256) | 0;
      g.putImageData(d, 0, 0);
    }
    const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', q));
    const buf = new Uint8Array(await blob.arrayBuffer());
    let s = '';
    for (let i = 0; i < buf.length; i += 0x8000) {
      s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }, [fs.readFileSync(photo).toString('base64'), w, noise, quality]);
  const file = path.join(tmp, `${noise ? 'noise' : 'photo'}-${w}.jpg`);
  fs.writeFileSync(file, Buffer.from(b64, 'base64'));
  return file;
}

/*
 * The fake camera's video: the two portraits on a 640x480 frame for one second at 30 frames a
 * second, as Y4M (Chromium loops it). null without the ffmpeg tool: Chromium's own test
 * pattern, which holds no face.
 */
function cameraVideo() {
  const out = path.join(tmp, 'camera.y4m');
  const r = spawnSync('ffmpeg', ['-v', 'error', '-loop', '1', '-i', PHOTO, '-vf',
                                 'scale=640:480:force_original_aspect_ratio=decrease,' +
                                 'pad=640:480:(ow-iw)/2:(oh-ih)/2,format=yuv420p',
                                 '-r', '30', '-t', '1', '-y', out], { encoding: 'utf8' });
  return r.status === 0 ? out : null;
}

let context = null;
try {
  if (!fs.existsSync(PHOTO)) {
    console.error(`FAIL no photo at ${PHOTO} (run from a checkout)`);
    console.log('0 passed, 1 failed, 0 skipped');
    process.exit(1);
  }
  const { base } = await startServer('web');
  const origin = new URL(base).origin;
  const origins = [origin]; /* the servers this test started */
  const camera = cameraVideo();
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run',
           '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
           ...(camera ? [`--use-file-for-fake-video-capture=${camera}`] : [])],
  });
  await context.grantPermissions(['camera'], { origin });
  await context.addInitScript(recordPredictions);
  const outside = [];
  const pageErrors = [];
  context.on('request', (r) => {
    const u = r.url();
    if (!origins.some((o) => u.startsWith(o)) && !u.startsWith('data:') && !u.startsWith('blob:')) {
      outside.push(u);
    }
  });

  /* ---- desktop: upload with the file picker, see boxes and bars, correct a face ---- */
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  let lostAnswers = 0; /* the 502s the test makes itself, which the browser logs */
  page.on('console', (m) => {
    if (m.type() !== 'error')
      return;
    if (lostAnswers > 0 && /status of 502/.test(m.text()))
      lostAnswers--;
    else
      pageErrors.push(m.text());
  });
  await page.goto(`${base}/`);
  check('page loads', (await page.title()).includes('fer'));
  const first = await upload(page, PHOTO);
  await page.waitForSelector('#faces li.face', { timeout: 60000 });
  /* the server gets the file's bytes, and so finds the faces the command line finds */
  const photoBytes = fs.readFileSync(PHOTO);
  check('the upload is the file itself', first.type === 'image/jpeg' &&
        first.size === photoBytes.length && first.sha256 === sha256(photoBytes),
        `${first.type}, ${first.size} bytes sent of ${photoBytes.length}`);
  const apiBoxes = (first.answer.faces || []).map((f) => boxKey(f.box)).join(' ');
  const cli = cliBoxes(PHOTO).join(' ');
  check('the same faces as fer predict', first.status === 200 && apiBoxes === cli,
        `web app ${apiBoxes}, fer predict ${cli}`);
  const nFaces = await page.locator('#faces li.face').count();
  check('both faces listed after upload', nFaces === 2, `${nFaces} faces`);
  const nBars = await page.locator('#faces li.face').first().locator('.bar').count();
  check('a probability bar per class', nBars === 7, `${nBars} bars`);
  const status = await page.textContent('#status');
  check('status tells the faces found', /face/.test(status), status);
  const drawn = await page.evaluate(() => {
    const c = document.getElementById('view');
    const card = document.querySelector('#faces li.face');
    return { w: c.width, h: c.height, id: card.dataset.faceId,
             emotion: card.querySelector('.label').textContent };
  });
  check('picture drawn at its size', drawn.w === 900 && drawn.h === 520, `${drawn.w}x${drawn.h}`);
  check('face card has an id', /^[0-9a-f]{32}$/.test(drawn.id || ''), drawn.id);
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  const card = page.locator('#faces li.face').first();
  const wrong = drawn.emotion === 'surprise' ? 'fear' : 'surprise';
  /* The first answer is lost on its way back (a proxy's 502 after the server stored it): the
   * app sends the feedback again with its Idempotency-Key, and the store keeps one row. */
  const feedbackSent = [];
  await page.route('**/v1/feedback', async (route) => {
    feedbackSent.push(route.request().headers()['idempotency-key']);
    if (feedbackSent.length > 1)
      return route.continue();
    lostAnswers++;
    const stored = await route.fetch();
    return route.fulfill({ status: 502, contentType: 'text/html',
                           body: `<h1>502 Bad Gateway</h1> (after ${stored.status()})` });
  });
  await card.locator('summary').click();
  await card.locator(`.choices button[data-emotion="${wrong}"]`).click();
  await card.locator('.feedback-status', { hasText: 'Thank you' }).waitFor({ timeout: 20000 });
  await page.unroute('**/v1/feedback');
  check('feedback acknowledged', (await card.getAttribute('data-feedback')) === wrong);
  check('a lost answer: sent again with the same Idempotency-Key',
        feedbackSent.length === 2 && feedbackSent[0] === `${drawn.id}.${wrong}` &&
        feedbackSent[1] === feedbackSent[0], JSON.stringify(feedbackSent));
  /* the other face: "not a face", kept as a negative */
  const other = page.locator('#faces li.face').nth(1);
  const otherId = await other.getAttribute('data-face-id');
  await other.locator('summary').click();
  await other.locator('.choices button[data-emotion="not_a_face"]').click();
  await other.locator('.feedback-status', { hasText: 'Thank you' }).waitFor({ timeout: 20000 });
  const saidNo = await other.locator('.feedback-status').textContent();
  check('"not a face" acknowledged', (await other.getAttribute('data-feedback')) === 'not_a_face' &&
        /not a face/.test(saidNo), saidNo);
  await page.screenshot({ path: path.join(ARTIFACTS, 'web.png'), fullPage: true });

  const exp = await exportRows(base);
  const label = { angry: 0, disgust: 1, fear: 2, happy: 3, sad: 4, surprise: 5, neutral: 6 }[wrong];
  check('feedback in the store once (export)', exp.status === 200 && exp.rows.length === 1 &&
        exp.rows[0].startsWith(`${label},`) && exp.rows[0].split(',')[1].split(' ').length === 2304,
        `status ${exp.status}, ${exp.rows.length} rows`);
  const neg = await exportRows(base, 'negatives');
  const negFields = neg.rows.length ? neg.rows[0].split(',') : [];
  check('"not a face" in the negatives export only', neg.status === 200 &&
        neg.rows.length === 1 && negFields[2] === otherId &&
        negFields[negFields.length - 1].split(' ').length === 2304,
        `status ${neg.status}, ${neg.rows.length} rows`);
  const sq = spawnSync('sqlite3', [db, 'SELECT face_id, label FROM feedback ORDER BY id;'],
                       { encoding: 'utf8' });
  if (sq.status === 0) {
    check('feedback in the store (sqlite3)',
          sq.stdout.trim() === `${drawn.id}|${wrong}\n${otherId}|not_a_face`, sq.stdout);
  } else {
    console.log('  (sqlite3 not installed: checked through the export only)');
  }

  /* ---- a photo larger than the display: sent whole, shown scaled down ---- */
  const big = await makeJpeg(page, PHOTO, 2400, false, 0.85);
  const large = await upload(page, big);
  await page.waitForFunction(() =>
    !/Analysing/.test(document.getElementById('status').textContent));
  const bigBoxes = (large.answer.faces || []).map((f) => boxKey(f.box)).join(' ');
  const bigCli = cliBoxes(big).join(' ');
  const shown = await page.evaluate(() => ({
    w: document.getElementById('view').width,
    cards: document.querySelectorAll('#faces li.face').length,
  }));
  check('a large photo is sent at its size', large.status === 200 && large.answer.image &&
        large.answer.image.width === 2400 && bigBoxes === bigCli,
        `${JSON.stringify(large.answer.image)}: web app ${bigBoxes}, fer predict ${bigCli}`);
  check('and shown scaled down',
        shown.w === 1600 && shown.cards === (large.answer.faces || []).length,
        JSON.stringify(shown));

  /* ---- phone-sized screen: drag and drop, no sideways scrolling ---- */
  const phone = await context.newPage();
  phone.on('pageerror', (e) => pageErrors.push(String(e)));
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(`${base}/`);
  const photo64 = fs.readFileSync(PHOTO).toString('base64');
  await phone.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'dropped.jpg', { type: 'image/jpeg' }));
    document.getElementById('drop').dispatchEvent(
      new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, photo64);
  await phone.waitForSelector('#faces li.face', { timeout: 60000 });
  check('drag and drop analyses the photo', (await phone.locator('#faces li.face').count()) === nFaces);
  const fits = await phone.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
    canvas: document.getElementById('view').getBoundingClientRect().width,
  }));
  check('fits a phone screen', fits.scroll <= fits.inner && fits.canvas <= fits.inner,
        JSON.stringify(fits));
  await phone.screenshot({ path: path.join(ARTIFACTS, 'web-phone.png'), fullPage: true });
  await phone.close();

  /* ---- webcam: Chromium's fake camera, frames streamed over a WebSocket ---- */
  const metricsText = async () => (await fetch(`${base}/metrics`)).text();
  const metricOf = (t, name) => Number((t.match(new RegExp(`^${name} (\\d+)`, 'm')) || [0, 0])[1]);
  const before = await metricsText();
  await page.click('#camera');
  await page.waitForFunction(() => /Live, [\d.]+ frames\/s \(streaming\)/.test(
    document.getElementById('status').textContent), null, { timeout: 30000 });
  /* frames keep arriving: wait for 30 (no rate is asserted: a loaded machine is slow) */
  let frames = 0;
  const t0 = Date.now();
  for (let waited = 0; waited < 60000 && frames < 30; waited += 250) {
    await page.waitForTimeout(250);
    frames = metricOf(await metricsText(), 'fer_stream_frames_total') -
             metricOf(before, 'fer_stream_frames_total');
  }
  const seconds = (Date.now() - t0) / 1000;
  check('webcam frames stream to the server', frames >= 30, `${frames} frames in ${seconds} s`);
  console.log(`     ${frames} streamed frames in ${seconds.toFixed(1)} s ` +
              `(${(frames / seconds).toFixed(1)}/s on this machine; bench/stream.sh measures it)`);
  if (camera) {
    const liveView = await page.evaluate(() => ({
      status: document.getElementById('status').textContent,
      cards: [...document.querySelectorAll('#faces li.face')].map((c) => ({
        id: c.dataset.faceId, hidden: c.querySelector('.feedback').hidden })),
    }));
    check('streamed frames show the camera\'s two faces, tracked', /2 faces found/.test(liveView.status) &&
          liveView.cards.length === 2 && liveView.cards.every((c) => /^\d+$/.test(c.id) && c.hidden),
          JSON.stringify(liveView));
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-webcam.png') });
    /* pause: the frame shown is analysed again and stored, and can be corrected */
    await page.click('#freeze');
    await page.waitForFunction(() => /^Paused: 2 faces/.test(
      document.getElementById('status').textContent), null, { timeout: 30000 });
    const paused = await page.evaluate(() => [...document.querySelectorAll('#faces li.face')]
      .map((c) => ({ id: c.dataset.faceId, hidden: c.querySelector('.feedback').hidden })));
    check('pausing stores the frame\'s faces for feedback', paused.length === 2 &&
          paused.every((c) => !c.hidden && !/^\d+$/.test(c.id)), JSON.stringify(paused));
    const rowsBefore = (await exportRows(base)).rows.length;
    const webcamCard = page.locator('#faces li.face').first();
    await webcamCard.locator('summary').click();
    await webcamCard.locator('button[data-emotion="angry"]').click();
    await webcamCard.locator('.feedback-status', { hasText: 'Thank you' })
      .waitFor({ timeout: 20000 });
    const stored = await exportRows(base);
    check('a paused webcam face can be corrected', stored.rows.length === rowsBefore + 1 &&
          stored.rows[stored.rows.length - 1].startsWith('0,'), `${stored.rows.length} rows`);
    await page.click('#freeze'); /* resume */
    await page.waitForFunction(() => /\(streaming\)/.test(
      document.getElementById('status').textContent), null, { timeout: 30000 });
  } else {
    check('streamed frames show faces', true, 'skipped: no ffmpeg tool for a camera video');
  }
  await page.click('#camera'); /* stop */
  let open = 1;
  for (let waited = 0; waited < 10000 && open !== 0; waited += 250) {
    await page.waitForTimeout(250);
    open = metricOf(await metricsText(), 'fer_streams_open');
  }
  check('stopping the webcam closes its stream', open === 0, `${open} streams open`);

  /* without WebSocket (an old proxy, say): one POST a frame instead */
  const noWs = await context.newPage();
  noWs.on('pageerror', (e) => pageErrors.push(String(e)));
  await noWs.addInitScript(() => { window.WebSocket = undefined; });
  await noWs.goto(`${base}/`);
  const posts = metricOf(await metricsText(), 'fer_images_analyzed_total');
  await noWs.click('#camera');
  await noWs.waitForFunction(() => /Live, [\d.]+ frames\/s \(one request a frame\)/.test(
    document.getElementById('status').textContent), null, { timeout: 30000 });
  await noWs.click('#camera');
  check('without WebSocket, frames go as requests',
        metricOf(await metricsText(), 'fer_images_analyzed_total') > posts);
  await noWs.close();

  /* ---- a server with small limits: a photo over them gives a clear error ---- */
  const small = await startServer('limits', ['--max-upload-mb', '1', '--max-megapixels', '2']);
  origins.push(new URL(small.base).origin);
  const lp = await context.newPage();
  lp.on('pageerror', (e) => pageErrors.push(String(e)));
  await lp.goto(`${small.base}/`);
  await lp.waitForFunction(() => /Model/.test(document.getElementById('model').textContent));
  const statusOf = () => lp.evaluate(() => {
    const st = document.getElementById('status');
    return { text: st.textContent, error: st.classList.contains('error'),
             cards: document.querySelectorAll('#faces li.face').length };
  });
  /* 2400 x 1387 is over 2 megapixels: the server decodes the header and answers 413 */
  const over = await upload(lp, big);
  await lp.waitForFunction(() => document.getElementById('status').classList.contains('error'));
  const tooMany = await statusOf();
  check('over the pixel limit: the server\'s 413, shown', fs.statSync(big).size < 1 << 20 &&
        over.status === 413 && tooMany.error && tooMany.cards === 0 &&
        /too large for this server: .*2400x1387.* limit of 2000000 pixels/.test(tooMany.text),
        `${over.status}: ${tooMany.text}`);
  /* over 1 MB: the page says so before sending anything */
  const noisy = await makeJpeg(lp, PHOTO, 2400, true, 0.95);
  let posted = 0;
  lp.on('request', (r) => { if (r.url().endsWith('/v1/predict')) posted++; });
  await lp.setInputFiles('#file', noisy);
  await lp.waitForFunction(() =>
    /takes pictures up to/.test(document.getElementById('status').textContent));
  const tooBig = await statusOf();
  check('over the upload limit: refused before sending, with the limit',
        fs.statSync(noisy).size > 1 << 20 && posted === 0 && tooBig.error &&
        /is [\d.]+ MB: this server takes pictures up to 1\.0 MB/.test(tooBig.text), tooBig.text);
  await lp.screenshot({ path: path.join(ARTIFACTS, 'web-too-large.png') });
  await lp.close();

  /* ---- Swagger UI from local files, on our OpenAPI document ---- */
  const docs = await context.newPage();
  await docs.goto(`${base}/docs`);
  await docs.waitForSelector('.swagger-ui .opblock', { timeout: 30000 });
  const ops = await docs.locator('.swagger-ui .opblock').count();
  check('Swagger UI lists the operations', ops >= 8, `${ops} operations`);
  await docs.screenshot({ path: path.join(ARTIFACTS, 'docs.png') });

  check('nothing loaded from outside the server', outside.length === 0, outside.join(' '));
  check('no errors in the page', pageErrors.length === 0, pageErrors.join(' | '));
} catch (e) {
  check('browser test ran to the end', false, e.stack || String(e));
} finally {
  if (context) await context.close().catch(() => {});
  for (const proc of servers) {
    proc.kill('SIGTERM');
    await new Promise((r) => { proc.on('exit', r); setTimeout(r, 5000); });
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
