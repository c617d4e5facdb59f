// onnx_ort.mjs - ONNX Runtime's side of bench/onnx.sh: a model fer export wrote, on random
// faces, with the thread count given (intra-op threads; inter-op 1, sequential execution,
// every graph optimisation). After a warm-up: the median time of one face (batch 1, each
// call timed from JavaScript, the binding's call included) and faces per second at batch 128.
// Prints one JSON line.
//
//   node bench/onnx_ort.mjs MODEL.onnx THREADS SECONDS
import path from 'node:path';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const require = createRequire(path.join(root, 'build/npm-onnx/package.json'));
const ort = require('onnxruntime-node');

const [model, threadsArg, secondsArg] = process.argv.slice(2);
const threads = Number(threadsArg ?? 1), seconds = Number(secondsArg ?? 4);
const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
});
const [, c, h, w] = session.inputMetadata[0].shape;
const input = session.inputNames[0];

function faces(n) {
    const data = new Float32Array(n * c * h * w);
    let s = 1;
    for (let i = 0; i < data.length; i++) { s = (s * 1103515245 + 12345) >>> 0; data[i] = (s >>> 8) / (1 << 24); }
    return { [input]: new ort.Tensor('float32', data, [n, c, h, w]) };
}

const one = faces(1), batch = faces(128);
for (let i = 0; i < 20; i++) await session.run(one);
const lat = [];
let t0 = performance.now();
while (lat.length < 50 || performance.now() - t0 < seconds * 500) {
    const s = performance.now();
    await session.run(one);
    lat.push(performance.now() - s);
}
lat.sort((a, b) => a - b);
await session.run(batch);
let runs = 0;
t0 = performance.now();
while (runs < 3 || performance.now() - t0 < seconds * 500) {
    await session.run(batch);
    runs++;
}
const rate = (runs * 128) / ((performance.now() - t0) / 1000);
console.log(JSON.stringify({ peer: 'onnxruntime', model, threads, b1_ms: lat[lat.length >> 1],
                             b1_runs: lat.length, b128_faces_s: rate, version: ort.env.versions?.node ?? '1.30.0' }));
