// ort_check.mjs - runs a model that `fer export` wrote in ONNX Runtime (onnxruntime-node, from
// build/npm-onnx) and compares it with fer.
//
//   node tests/onnx/ort_check.mjs classify MODEL.onnx FACES.csv[.gz] FER_PROBS.csv ROWS
//       The first ROWS faces of a FER2013 CSV, each cropped to the graph's input (the centre
//       of the 48x48 face) and scaled to [0, 1], through ONNX Runtime; their probabilities
//       against those `fer eval --tta none --probabilities FER_PROBS.csv` wrote for the same
//       rows. Prints one JSON line: faces, the largest absolute difference, how many top
//       classes agree, and the model's metadata.
//   node tests/onnx/ort_check.mjs detect MODEL.onnx WIDTH HEIGHT
//       A detector's graph on a WIDTHxHEIGHT image of noise: its outputs' names and shapes.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const require = createRequire(path.join(root, 'build/npm-onnx/package.json'));
const ort = require('onnxruntime-node');

function readText(file) {
    const bytes = fs.readFileSync(file);
    return (file.endsWith('.gz') ? zlib.gunzipSync(bytes) : bytes).toString('utf8');
}

// The first `rows` faces of a FER2013 CSV (emotion,pixels[,Usage]), 48x48 bytes each.
function readFaces(file, rows) {
    const lines = readText(file).split('\n').slice(1).filter((l) => l.trim() !== '');
    return lines.slice(0, rows).map((line) => {
        const pixels = line.split(',')[1].trim().split(' ').map(Number);
        if (pixels.length !== 48 * 48) throw new Error(`a row of ${pixels.length} pixels`);
        return pixels;
    });
}

function readProbabilities(file, rows) {
    const lines = readText(file).trim().split('\n');
    return lines.slice(1, rows + 1).map((l) => l.split(',').slice(1).map(Number));
}

async function classify(modelPath, facesPath, ferPath, rows) {
    const session = await ort.InferenceSession.create(modelPath);
    const faces = readFaces(facesPath, rows);
    const fer = readProbabilities(ferPath, rows);
    if (fer.length !== faces.length) throw new Error(`${faces.length} faces but ${fer.length} rows of fer's`);
    // the input's side from the graph: N x 1 x side x side
    const side = session.inputMetadata[0].shape[3];
    const off = (48 - side) / 2;
    let maxDiff = 0, agree = 0, at = -1;
    const batch = 100;
    for (let start = 0; start < faces.length; start += batch) {
        const n = Math.min(batch, faces.length - start);
        const data = new Float32Array(n * side * side);
        for (let b = 0; b < n; b++)
            for (let y = 0; y < side; y++)
                for (let x = 0; x < side; x++)
                    data[(b * side + y) * side + x] = faces[start + b][(y + off) * 48 + x + off] / 255;
        const out = await session.run({ face: new ort.Tensor('float32', data, [n, 1, side, side]) });
        const p = out.probabilities;
        const k = p.dims[1];
        for (let b = 0; b < n; b++) {
            const row = fer[start + b];
            if (row.length !== k) throw new Error(`fer wrote ${row.length} classes, ONNX ${k}`);
            let best = 0, bestFer = 0;
            for (let c = 0; c < k; c++) {
                const v = p.data[b * k + c];
                const d = Math.abs(v - row[c]);
                if (!(d <= maxDiff)) { maxDiff = d; at = start + b; }
                if (v > p.data[b * k + best]) best = c;
                if (row[c] > row[bestFer]) bestFer = c;
            }
            agree += best === bestFer;
        }
    }
    console.log(JSON.stringify({ faces: faces.length, max_abs_diff: maxDiff, worst_face: at,
                                 top_class_agrees: agree, inputs: session.inputNames,
                                 outputs: session.outputNames }));
}

async function detect(modelPath, width, height) {
    const session = await ort.InferenceSession.create(modelPath);
    const data = new Float32Array(3 * width * height);
    let s = 12345;
    for (let i = 0; i < data.length; i++) { s = (s * 1103515245 + 12345) >>> 0; data[i] = s % 256; }
    const out = await session.run({ image: new ort.Tensor('float32', data, [1, 3, height, width]) });
    const shapes = {};
    for (const name of session.outputNames) shapes[name] = out[name].dims;
    console.log(JSON.stringify({ inputs: session.inputNames, outputs: shapes }));
}

const [mode, ...args] = process.argv.slice(2);
try {
    if (mode === 'classify' && args.length === 4) await classify(args[0], args[1], args[2], Number(args[3]));
    else if (mode === 'detect' && args.length === 3) await detect(args[0], Number(args[1]), Number(args[2]));
    else { console.error('usage: ort_check.mjs classify MODEL.onnx FACES.csv FER_PROBS.csv ROWS | detect MODEL.onnx W H'); process.exit(2); }
} catch (e) {
    console.error(`ort_check: ${e.message}`);
    process.exit(1);
}
