/*
 * app.js - fer's web app. A photo (file picker, drag and drop, paste) goes to POST /v1/predict
 * as the file's own bytes, so the server finds the same faces as `fer predict` on that file;
 * webcam frames go as JPEG over a WebSocket stream (GET /v1/stream). Each face comes back with a box, an emotion and its
 * probabilities, drawn over the picture (scaled down for display only) with an emoji and
 * listed with bars; "Wrong? Pick the right one" sends POST /v1/feedback with the face's id and
 * the right emotion, or "not_a_face" when the box holds no face (with an Idempotency-Key, so
 * that a retry is stored once). Plain browser JavaScript,
 * nothing from elsewhere.
 */
'use strict';

const EMOJI = {
  angry: '\u{1F620}', disgust: '\u{1F922}', fear: '\u{1F628}', happy: '\u{1F604}',
  sad: '\u{1F622}', surprise: '\u{1F62E}', neutral: '\u{1F610}', not_a_face: '\u{1F6AB}',
};
const COLOR = {
  angry: '#e53935', disgust: '#7cb342', fear: '#8e24aa', happy: '#fdd835',
  sad: '#1e88e5', surprise: '#fb8c00', neutral: '#90a4ae',
};
const MAX_SIDE = 1600;      /* pictures are shown at most this large (photos upload as they are) */
const NOT_A_FACE = 'not_a_face';  /* the feedback for a box that holds no face */
const LIVE_INTERVAL = 200;  /* ms between webcam frames at most: up to 5 per second */

const $ = (id) => document.getElementById(id);
const view = $('view');
const ctx = view.getContext('2d');
const statusLine = $('status');
let live = null;   /* the webcam loop's state while it runs */
let classes = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
let limits = null; /* the server's {max_upload_bytes, max_pixels}, from /v1/health */

function emojiFor(name) { return EMOJI[name] || '\u{1F642}'; }
function colorFor(name) { return COLOR[name] || '#26a69a'; }
function nameFor(label) { return label === NOT_A_FACE ? 'not a face' : label; }
function megabytes(n) { return `${(n / 1048576).toFixed(1)} MB`; }

function setStatus(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', !!isError);
}

/* The JSON body of a response, or an Error carrying the server's {"error"} message and status. */
async function readJson(res) {
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = new Error((body && body.error) || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

/* Sends the picture's bytes unchanged, as the raw body with its own type (JPEG, PNG or WebP). */
async function predict(blob) {
  let res;
  try {
    res = await fetch('/v1/predict', {
      method: 'POST', headers: { 'Content-Type': blob.type || 'image/jpeg' }, body: blob,
    });
  } catch (e) {
    /* a server refusing a body too large may close the connection before it is all sent */
    const limit = limits ? `; this server takes up to ${megabytes(limits.max_upload_bytes)}` : '';
    throw new Error(`the upload of ${megabytes(blob.size)} failed (${e.message})${limit}`);
  }
  return readJson(res);
}

/* The faces with their boxes scaled from the server's picture to the one shown. */
function scaleFaces(result, picture) {
  const sent = result.image && result.image.width ? result.image.width : picture.width;
  const k = picture.width / sent;
  if (k === 1) return result;
  const faces = (result.faces || []).map((f) => ({
    ...f,
    box: { x: Math.round(f.box.x * k), y: Math.round(f.box.y * k),
           w: Math.round(f.box.w * k), h: Math.round(f.box.h * k) },
  }));
  return { ...result, faces };
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
    const no = result.frame !== undefined ? f.id : i + 1; /* a stream's faces: their track ids */
    const label = `${no}. ${f.emotion} ${Math.round(f.confidence * 100)}%`;
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

/*
 * POSTs a feedback, sent again (three tries in all, 0.5 s then 1 s apart) when no answer
 * comes or a proxy says the server is gone (502/503/504). Its Idempotency-Key, the face and
 * the emotion, makes a retry of one the server stored already answer "already stored".
 */
async function postFeedback(face, emotion) {
  const request = {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `${face.id}.${emotion}` },
    body: JSON.stringify({ face_id: face.id, emotion }),
  };
  for (let attempt = 0; ; attempt++) {
    let res = null;
    try {
      res = await fetch('/v1/feedback', request);
    } catch (e) {
      if (attempt >= 2) throw new Error(`the server did not answer (${e.message})`);
    }
    if (res && (![502, 503, 504].includes(res.status) || attempt >= 2)) return readJson(res);
    await new Promise((done) => { setTimeout(done, 500 * 2 ** attempt); });
  }
}

async function sendFeedback(card, face, emotion, buttons) {
  const status = card.querySelector('.feedback-status');
  buttons.forEach((b) => { b.disabled = true; });
  status.classList.remove('error');
  status.textContent = 'Sending...';
  try {
    await postFeedback(face, emotion);
    status.textContent = `Thank you: saved as ${emojiFor(emotion)} ${nameFor(emotion)}.`;
    card.querySelector('details').open = false;
    card.dataset.feedback = emotion;
    card.classList.toggle('not-face', emotion === NOT_A_FACE);
  } catch (e) {
    status.classList.add('error');
    status.textContent = `Not saved: ${e.message}`;
    buttons.forEach((b) => { b.disabled = false; });
  }
}

/*
 * One card per face: its crop, the emotion, a bar per class and the feedback control (not
 * while streaming: streamed faces are not stored; pausing stores the frame shown).
 */
function renderFaces(picture, result, streaming) {
  const list = $('faces');
  list.replaceChildren();
  const tpl = $('face-card');
  (result.faces || []).forEach((f, i) => {
    const card = tpl.content.firstElementChild.cloneNode(true);
    card.dataset.faceId = f.id;
    if (streaming) {
      card.querySelector('.feedback').hidden = true;
      card.querySelector('.feedback-status').textContent = 'Pause to correct this face.';
    }
    card.style.setProperty('--face-color', colorFor(f.emotion));
    const crop = card.querySelector('.crop');
    crop.getContext('2d').drawImage(picture, f.box.x, f.box.y, f.box.w, f.box.h, 0, 0,
                                    crop.width, crop.height);
    card.querySelector('.emoji').textContent = emojiFor(f.emotion);
    card.querySelector('.label').textContent = f.emotion;
    card.querySelector('.confidence').textContent = `${Math.round(f.confidence * 100)}%`;
    card.querySelector('.face-no').textContent = `Face ${result.frame !== undefined ? f.id : i + 1}`;
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
    [...(names.length ? names : classes), NOT_A_FACE].forEach((name) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.emotion = name;
      if (name === NOT_A_FACE) b.className = 'not-face';
      const e = document.createElement('span');
      e.className = 'emoji';
      e.textContent = emojiFor(name);
      b.append(e, ` ${nameFor(name)}`);
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

/* The picture upright, for display only: the server reads the file itself. */
async function displayCopy(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  try {
    return await toCanvas(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

/* Clears the last result, so that an error is not shown beside another picture's faces. */
function clearResult(text) {
  $('faces').replaceChildren();
  view.width = 640;
  view.height = 360;
  ctx.fillStyle = '#11151c';
  ctx.fillRect(0, 0, view.width, view.height);
  ctx.fillStyle = '#8b95a5';
  ctx.font = '20px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.fillText(text, view.width / 2, view.height / 2);
  ctx.textAlign = 'start';
}

function uploadError(file, e) {
  const what = file.name ? `${file.name} (${megabytes(file.size)})` : 'The picture';
  if (e.status === 413) return `${what} is too large for this server: ${e.message}.`;
  return `Could not analyse ${file.name || 'the picture'}: ${e.message}`;
}

async function analyzeFile(file) {
  if (!file) return;
  if (!/^image\/(jpeg|png|webp)$/.test(file.type)) {
    setStatus(`${file.name || 'That file'} is not a JPEG, PNG or WebP picture.`, true);
    return;
  }
  stopCamera();
  if (limits && file.size > limits.max_upload_bytes) {
    clearResult('Not analysed: the file is too large');
    setStatus(`${file.name || 'The picture'} is ${megabytes(file.size)}: this server takes ` +
              `pictures up to ${megabytes(limits.max_upload_bytes)} (fer serve ` +
              '--max-upload-mb). Send a smaller copy.', true);
    return;
  }
  setStatus('Analysing...');
  /* the server answers first: its error says more than the browser's about a bad file */
  const [sent, shown] = await Promise.allSettled([predict(file), displayCopy(file)]);
  if (sent.status === 'rejected') {
    clearResult('Not analysed');
    setStatus(uploadError(file, sent.reason), true);
    return;
  }
  if (shown.status === 'rejected') {
    clearResult('This browser cannot show the picture');
    setStatus(`${describe(sent.value)} This browser cannot show the picture ` +
              `(${shown.reason.message}).`, true);
    return;
  }
  const result = scaleFaces(sent.value, shown.value);
  drawResult(shown.value, result);
  renderFaces(shown.value, result);
  showModel(result);
  setStatus(describe(result));
}

/* ---- webcam -------------------------------------------------------------------------------
 * Frames stream over a WebSocket (GET /v1/stream): each goes as a JPEG binary message, at most
 * STREAM_IN_FLIGHT at once, and each answer (faces tracked across frames, with stable ids) is
 * drawn over the frame it belongs to. Where no stream opens (a proxy without WebSocket, an old
 * server), frames go one POST /v1/predict at a time, at most every LIVE_INTERVAL ms. Pause
 * sends the frame on screen to POST /v1/predict, whose faces feedback can name.
 */

const STREAM_IN_FLIGHT = 2; /* frames sent and not yet answered, at most */
const STREAM_OPEN_TIMEOUT = 5000;
const CARDS_INTERVAL = 250; /* ms between redraws of the face cards while live */

/* A stream that answered its hello, or an Error. */
function openStream() {
  return new Promise((resolve, reject) => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let ws;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/v1/stream`);
    } catch (e) {
      reject(e);
      return;
    }
    const timer = setTimeout(() => { ws.close(); reject(new Error('no answer')); }, STREAM_OPEN_TIMEOUT);
    const fail = (e) => {
      clearTimeout(timer);
      reject(new Error(e && e.reason ? e.reason : 'the server opened no stream'));
    };
    ws.onerror = fail;
    ws.onclose = fail;
    ws.onmessage = (e) => {
      clearTimeout(timer);
      ws.onerror = ws.onclose = ws.onmessage = null;
      resolve({ ws, hello: JSON.parse(e.data) });
    };
  });
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus('This browser gives no webcam access here (it needs https or localhost).', true);
    return;
  }
  const video = $('video');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
    video.srcObject = stream;
    await video.play();
  } catch (e) {
    setStatus(`No webcam: ${e.message}`, true);
    return;
  }
  const state = { stream, paused: false, frames: 0, started: performance.now(), times: [],
                  ws: null, transport: 'post' };
  live = state;
  $('camera').textContent = 'Stop the webcam';
  $('freeze').hidden = false;
  $('freeze').textContent = 'Pause';
  setStatus('Live: looking for faces...');
  try {
    const { ws, hello } = await openStream();
    if (live !== state) { ws.close(1000); return; }
    state.ws = ws;
    state.transport = 'stream';
    showModel(hello);
    streamLoop(state);
  } catch (e) {
    if (live === state) liveLoop(state);
  }
}

function stopCamera() {
  if (!live) return;
  live.stream.getTracks().forEach((t) => t.stop());
  if (live.ws) live.ws.close(1000);
  live = null;
  $('video').srcObject = null;
  $('camera').textContent = 'Use the webcam';
  $('freeze').hidden = true;
}

/* Frames a second over the last two seconds. */
function liveRate(state) {
  const now = performance.now();
  state.times.push(now);
  while (state.times.length > 2 && now - state.times[0] > 2000) state.times.shift();
  const span = (now - state.times[0]) / 1000;
  return span > 0 ? (state.times.length - 1) / span : 0;
}

function showLive(state, frame, result) {
  drawResult(frame, result);
  state.frames++;
  state.shown = frame;
  const now = performance.now();
  if (!state.listed || now - state.listed >= CARDS_INTERVAL) {
    renderFaces(frame, result, state.transport === 'stream');
    state.listed = now;
  }
  const how = state.transport === 'stream' ? 'streaming' : 'one request a frame';
  setStatus(`Live, ${liveRate(state).toFixed(1)} frames/s (${how}): ${describe(result)}`);
}

/* The stream: a new camera frame goes out whenever fewer than STREAM_IN_FLIGHT are unanswered. */
function streamLoop(state) {
  const video = $('video');
  const ws = state.ws;
  const sent = []; /* the frames in flight, oldest first: answers come in order */
  let fresh = true; /* the camera has a frame not sent yet */
  let encoding = 0;
  const pump = async () => {
    while (live === state && !state.paused && fresh && video.videoWidth &&
           sent.length + encoding < STREAM_IN_FLIGHT && ws.readyState === WebSocket.OPEN) {
      fresh = !('requestVideoFrameCallback' in video);
      encoding++;
      const frame = await toCanvas(video, video.videoWidth, video.videoHeight);
      const blob = await canvasBlob(frame, 0.8);
      encoding--;
      if (live !== state || ws.readyState !== WebSocket.OPEN) return;
      sent.push(frame);
      ws.send(blob);
    }
  };
  if ('requestVideoFrameCallback' in video) {
    const onFrame = () => {
      if (live !== state) return;
      fresh = true;
      pump();
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }
  ws.onmessage = (e) => {
    const frame = sent.shift();
    if (live !== state || !frame) return;
    const result = JSON.parse(e.data);
    if (result.error) setStatus(`Live: ${result.error}`, true);
    else if (!state.paused) showLive(state, frame, result);
    pump();
  };
  ws.onclose = (e) => {
    if (live !== state) return;
    setStatus(`Live: the stream ended (${e.code}${e.reason ? `: ${e.reason}` : ''})`, true);
    stopCamera();
  };
  state.resume = pump;
  pump();
}

/* Without a stream: one POST /v1/predict a frame, at most every LIVE_INTERVAL ms. */
async function liveLoop(state) {
  const video = $('video');
  state.resume = () => {};
  while (live === state) {
    const t0 = performance.now();
    if (!state.paused && video.videoWidth) {
      try {
        const frame = await toCanvas(video, video.videoWidth, video.videoHeight);
        const result = await predict(await canvasBlob(frame, 0.8));
        if (live !== state || state.paused) continue;
        showLive(state, frame, result);
      } catch (e) {
        setStatus(`Live: ${e.message}`, true);
      }
    }
    const wait = LIVE_INTERVAL - (performance.now() - t0);
    await new Promise((r) => setTimeout(r, Math.max(wait, state.paused ? 100 : 0)));
  }
}

/* Pause: the frame on screen goes to POST /v1/predict, so that its faces can be corrected. */
async function pauseLive(state) {
  state.paused = true;
  $('freeze').textContent = 'Resume';
  const frame = state.shown;
  if (!frame) { setStatus('Paused.'); return; }
  try {
    const result = await predict(await canvasBlob(frame, 0.92));
    if (live !== state || !state.paused) return;
    drawResult(frame, result);
    renderFaces(frame, result);
    setStatus(`Paused: ${describe(result)} Correct a face below, then resume.`);
  } catch (e) {
    setStatus(`Paused: ${e.message}`, true);
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
  if (!live.paused) {
    pauseLive(live);
    return;
  }
  live.paused = false;
  $('freeze').textContent = 'Pause';
  live.resume();
});

/* An empty stage until the first picture. */
clearResult('Your picture appears here');
fetch('/v1/health').then(readJson).then((h) => {
  $('model').textContent = `Model ${h.model.name}, version ${h.model.version}`;
  limits = h.limits || null;
}).catch(() => {});
