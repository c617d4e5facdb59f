/*
 * app.js - fer's web app. A photo (file picker, drag and drop, paste) or webcam frames go to
 * POST /v1/predict; each face comes back with a box, an emotion and its probabilities, drawn
 * over the picture with an emoji and listed with bars; "Wrong? Pick the right one" sends
 * POST /v1/feedback with the face's id. Plain browser JavaScript, nothing from elsewhere.
 */
'use strict';

const EMOJI = {
  angry: '\u{1F620}', disgust: '\u{1F922}', fear: '\u{1F628}', happy: '\u{1F604}',
  sad: '\u{1F622}', surprise: '\u{1F62E}', neutral: '\u{1F610}',
};
const COLOR = {
  angry: '#e53935', disgust: '#7cb342', fear: '#8e24aa', happy: '#fdd835',
  sad: '#1e88e5', surprise: '#fb8c00', neutral: '#90a4ae',
};
const MAX_SIDE = 1600;      /* photos are scaled down to this before upload */
const LIVE_INTERVAL = 200;  /* ms between webcam frames at most: up to 5 per second */

const $ = (id) => document.getElementById(id);
const view = $('view');
const ctx = view.getContext('2d');
const statusLine = $('status');
let live = null;   /* the webcam loop's state while it runs */
let classes = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];

function emojiFor(name) { return EMOJI[name] || '\u{1F642}'; }
function colorFor(name) { return COLOR[name] || '#26a69a'; }

function setStatus(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', !!isError);
}

/* The JSON body of a response, or an Error carrying the server's {"error"} message. */
async function readJson(res) {
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    throw new Error((body && body.error) || `${res.status} ${res.statusText}`);
  }
  return body;
}

async function predict(blob) {
  const form = new FormData();
  form.append('image', blob, 'photo.jpg');
  const res = await fetch('/v1/predict', { method: 'POST', body: form });
  return readJson(res);
}

/* A canvas holding the picture upright, scaled so that its longer side is at most MAX_SIDE. */
async function toCanvas(source, width, height) {
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const c = document.createElement('canvas');
  c.width = Math.max(1, Math.round(width * scale));
  c.height = Math.max(1, Math.round(height * scale));
  const g = c.getContext('2d');
  g.fillStyle = '#fff'; /* transparent PNG areas become white, not black, in the JPEG */
  g.fillRect(0, 0, c.width, c.height);
  g.drawImage(source, 0, 0, c.width, c.height);
  return c;
}

function canvasBlob(canvas, quality) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('cannot encode the picture'))),
                  'image/jpeg', quality);
  });
}

/* Draws the picture and, over each face, its box, an emoji and the emotion's name. */
function drawResult(picture, result) {
  view.width = picture.width;
  view.height = picture.height;
  ctx.drawImage(picture, 0, 0);
  const unit = Math.max(2, Math.round(Math.max(view.width, view.height) / 320));
  (result.faces || []).forEach((f, i) => {
    const { x, y, w, h } = f.box;
    const color = colorFor(f.emotion);
    ctx.lineWidth = unit;
    ctx.strokeStyle = color;
    ctx.strokeRect(x, y, w, h);
    const size = Math.max(18, Math.round(w * 0.38));
    ctx.font = `${size}px "Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji", sans-serif`;
    /* above the box, or inside its top when the face touches the picture's top */
    ctx.textBaseline = y - unit >= size ? 'bottom' : 'top';
    ctx.fillText(emojiFor(f.emotion), x + unit, y - unit >= size ? y - unit : y + unit);
    const label = `${i + 1}. ${f.emotion} ${Math.round(f.confidence * 100)}%`;
    const fs = Math.max(12, Math.round(size * 0.45));
    ctx.font = `600 ${fs}px system-ui, sans-serif`;
    const tw = ctx.measureText(label).width + 2 * unit;
    const ty = Math.min(view.height - fs - 2 * unit, y + h);
    ctx.fillStyle = color;
    ctx.fillRect(x, ty, tw, fs + 2 * unit);
    ctx.fillStyle = f.emotion === 'happy' ? '#1d2330' : '#fff';
    ctx.textBaseline = 'top';
    ctx.fillText(label, x + unit, ty + unit);
  });
}

async function sendFeedback(card, face, emotion, buttons) {
  const status = card.querySelector('.feedback-status');
  buttons.forEach((b) => { b.disabled = true; });
  status.classList.remove('error');
  status.textContent = 'Sending...';
  try {
    const res = await fetch('/v1/feedback', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ face_id: face.id, emotion }),
    });
    await readJson(res);
    status.textContent = `Thank you: saved as ${emojiFor(emotion)} ${emotion}.`;
    card.querySelector('details').open = false;
    card.dataset.feedback = emotion;
  } catch (e) {
    status.classList.add('error');
    status.textContent = `Not saved: ${e.message}`;
    buttons.forEach((b) => { b.disabled = false; });
  }
}

/* One card per face: its crop, the emotion, a bar per class and the feedback control. */
function renderFaces(picture, result) {
  const list = $('faces');
  list.replaceChildren();
  const tpl = $('face-card');
  (result.faces || []).forEach((f, i) => {
    const card = tpl.content.firstElementChild.cloneNode(true);
    card.dataset.faceId = f.id;
    card.style.setProperty('--face-color', colorFor(f.emotion));
    const crop = card.querySelector('.crop');
    crop.getContext('2d').drawImage(picture, f.box.x, f.box.y, f.box.w, f.box.h, 0, 0,
                                    crop.width, crop.height);
    card.querySelector('.emoji').textContent = emojiFor(f.emotion);
    card.querySelector('.label').textContent = f.emotion;
    card.querySelector('.confidence').textContent = `${Math.round(f.confidence * 100)}%`;
    card.querySelector('.face-no').textContent = `Face ${i + 1}`;
    const bars = card.querySelector('.bars');
    const names = Object.keys(f.probabilities);
    names.forEach((name) => {
      const p = f.probabilities[name];
      const li = document.createElement('li');
      li.className = 'bar' + (name === f.emotion ? ' best' : '');
      li.dataset.emotion = name;
      const emoji = document.createElement('span');
      emoji.className = 'emoji';
      emoji.textContent = emojiFor(name);
      emoji.setAttribute('aria-hidden', 'true');
      const label = document.createElement('span');
      label.className = 'name';
      label.textContent = name;
      const track = document.createElement('span');
      track.className = 'track';
      const fill = document.createElement('span');
      fill.className = 'fill';
      fill.style.width = `${(p * 100).toFixed(1)}%`;
      fill.style.background = colorFor(name);
      track.appendChild(fill);
      const value = document.createElement('span');
      value.className = 'value';
      value.textContent = `${(p * 100).toFixed(1)}%`;
      li.append(emoji, label, track, value);
      bars.appendChild(li);
    });
    const choices = card.querySelector('.choices');
    const buttons = [];
    (names.length ? names : classes).forEach((name) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.emotion = name;
      const e = document.createElement('span');
      e.className = 'emoji';
      e.textContent = emojiFor(name);
      b.append(e, ` ${name}`);
      b.addEventListener('click', () => sendFeedback(card, f, name, buttons));
      buttons.push(b);
      choices.appendChild(b);
    });
    list.appendChild(card);
  });
}

function describe(result) {
  const n = (result.faces || []).length;
  const ms = Math.round(result.elapsed_ms);
  if (n === 0) return `No face found (${ms} ms). Try a photo where faces look at the camera.`;
  return `${n} face${n > 1 ? 's' : ''} found in ${ms} ms.`;
}

function showModel(result) {
  if (result.model) {
    classes = result.model.classes || classes;
    $('model').textContent = `Model ${result.model.name}, version ${result.model.version}`;
  }
}

async function analyzeFile(file) {
  if (!file) return;
  if (!/^image\/(jpeg|png|webp)$/.test(file.type)) {
    setStatus(`${file.name || 'That file'} is not a JPEG, PNG or WebP picture.`, true);
    return;
  }
  stopCamera();
  setStatus('Analysing...');
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    const picture = await toCanvas(bitmap, bitmap.width, bitmap.height);
    bitmap.close();
    const result = await predict(await canvasBlob(picture, 0.92));
    drawResult(picture, result);
    renderFaces(picture, result);
    showModel(result);
    setStatus(describe(result));
  } catch (e) {
    setStatus(`Could not analyse the picture: ${e.message}`, true);
  }
}

/* ---- webcam: frames go out one at a time, at most every LIVE_INTERVAL ms ---------------- */

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus('This browser gives no webcam access here (it needs https or localhost).', true);
    return;
  }
  const video = $('video');
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
    video.srcObject = stream;
    await video.play();
    live = { stream, paused: false, frames: 0, started: performance.now() };
    $('camera').textContent = 'Stop the webcam';
    $('freeze').hidden = false;
    $('freeze').textContent = 'Pause';
    setStatus('Live: looking for faces...');
    liveLoop(live);
  } catch (e) {
    setStatus(`No webcam: ${e.message}`, true);
  }
}

function stopCamera() {
  if (!live) return;
  live.stream.getTracks().forEach((t) => t.stop());
  live = null;
  $('video').srcObject = null;
  $('camera').textContent = 'Use the webcam';
  $('freeze').hidden = true;
}

async function liveLoop(state) {
  const video = $('video');
  while (live === state) {
    const t0 = performance.now();
    if (!state.paused && video.videoWidth) {
      try {
        const frame = await toCanvas(video, video.videoWidth, video.videoHeight);
        const result = await predict(await canvasBlob(frame, 0.8));
        if (live !== state || state.paused) continue;
        drawResult(frame, result);
        renderFaces(frame, result);
        showModel(result);
        state.frames++;
        const fps = state.frames / ((performance.now() - state.started) / 1000);
        setStatus(`Live, ${fps.toFixed(1)} frames/s: ${describe(result)}`);
      } catch (e) {
        setStatus(`Live: ${e.message}`, true);
      }
    }
    const wait = LIVE_INTERVAL - (performance.now() - t0);
    await new Promise((r) => setTimeout(r, Math.max(wait, state.paused ? 100 : 0)));
  }
}

/* ---- input: file picker, drag and drop, paste ------------------------------------------- */

$('file').addEventListener('change', (e) => {
  analyzeFile(e.target.files[0]);
  e.target.value = ''; /* choosing the same file again still fires */
});

const drop = $('drop');
['dragenter', 'dragover'].forEach((type) => document.addEventListener(type, (e) => {
  e.preventDefault();
  drop.classList.add('over');
}));
['dragleave', 'drop'].forEach((type) => document.addEventListener(type, (e) => {
  e.preventDefault();
  if (type === 'drop' || e.target === document.documentElement) drop.classList.remove('over');
}));
document.addEventListener('drop', (e) => {
  const file = [...(e.dataTransfer ? e.dataTransfer.files : [])].find((f) =>
    f.type.startsWith('image/'));
  if (file) analyzeFile(file);
  else setStatus('Drop a JPEG, PNG or WebP picture.', true);
});

document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) =>
    i.kind === 'file' && i.type.startsWith('image/'));
  if (item) analyzeFile(item.getAsFile());
});

$('camera').addEventListener('click', () => (live ? stopCamera() : startCamera()));
$('freeze').addEventListener('click', () => {
  if (!live) return;
  live.paused = !live.paused;
  $('freeze').textContent = live.paused ? 'Resume' : 'Pause';
  if (live.paused) setStatus('Paused: correct a face below, then resume.');
});

/* An empty stage until the first picture. */
ctx.fillStyle = '#11151c';
ctx.fillRect(0, 0, view.width, view.height);
ctx.fillStyle = '#8b95a5';
ctx.font = '20px system-ui, sans-serif';
ctx.textAlign = 'center';
ctx.fillText('Your picture appears here', view.width / 2, view.height / 2);
ctx.textAlign = 'start';
fetch('/v1/health').then(readJson).then((h) => {
  $('model').textContent = `Model ${h.model.name}, version ${h.model.version}`;
}).catch(() => {});
