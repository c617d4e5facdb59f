/*
 * stream.mjs - the web app's webcam in headless Chromium (playwright-core from build/npm):
 * the fake camera plays a Y4M clip, and the frames analysed and drawn per second are counted
 * in the page over SECONDS, first streamed over GET /v1/stream, then in the one-POST-a-frame
 * mode the app falls back to without WebSocket, both against the same server in one run.
 * Prints one JSON line per mode. Run by bench/stream.sh.
 *
 *   node bench/stream.mjs BASE_URL CAMERA.y4m SECONDS
 */
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [base, camera, seconds] = [process.argv[2], process.argv[3], Number(process.argv[4] || 10)];
const { chromium } = await import(
  pathToFileURL(path.join(root, 'build/npm/node_modules/playwright-core/index.mjs')).href);

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fer_bench_stream_'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream',
         '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${camera}`],
});
await context.grantPermissions(['camera'], { origin: new URL(base).origin });

/* Frames shown a second in one mode, after a warm-up of 2 s. */
async function measure(mode) {
  const page = await context.newPage();
  if (mode === 'post') await page.addInitScript(() => { window.WebSocket = undefined; });
  await page.goto(`${base}/`);
  await page.click('#camera');
  await page.waitForFunction(() => /Live, [\d.]+ frames\/s/.test(
    document.getElementById('status').textContent), null, { timeout: 60000 });
  await page.waitForTimeout(2000);
  const frames = () => page.evaluate(() => live.frames); // eslint-disable-line no-undef
  const f0 = await frames();
  const t0 = Date.now();
  await page.waitForTimeout(seconds * 1000);
  const n = (await frames()) - f0;
  const s = (Date.now() - t0) / 1000;
  const transport = await page.evaluate(() => live.transport); // eslint-disable-line no-undef
  await page.click('#camera');
  await page.close();
  return { mode, transport, frames: n, seconds: s, fps: n / s };
}

for (const mode of ['stream', 'post']) console.log(JSON.stringify(await measure(mode)));
await context.close();
fs.rmSync(profile, { recursive: true, force: true });
