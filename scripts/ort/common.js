'use strict';
// Shared helpers for the ONNX Runtime peer scripts (ort_run.js, ort_bench.js).

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  process.stderr.write(
      'error: onnxruntime-node is not installed; run `npm ci --ignore-scripts --prefix scripts/ort`\n' +
      `  (${e.message})\n`);
  process.exit(2);
}

function die(msg) {
  process.stderr.write(`error: ${msg}\n`);
  process.exit(1);
}

// Minimal --key value / --key=value parser. `spec` maps option names to defaults (undefined = required
// only if the caller checks). Unknown options are an error.
function parseArgs(argv, spec, usage) {
  const out = {};
  for (const k of Object.keys(spec)) out[k] = spec[k];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(usage + '\n');
      process.exit(0);
    }
    if (!a.startsWith('--')) die(`unexpected argument '${a}'\n${usage}`);
    a = a.slice(2);
    let v;
    const eq = a.indexOf('=');
    if (eq >= 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    } else {
      if (i + 1 >= argv.length) die(`option --${a} needs a value\n${usage}`);
      v = argv[++i];
    }
    if (!(a in spec)) die(`unknown option --${a}\n${usage}`);
    out[a] = v;
  }
  return out;
}

function parsePosInt(name, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) die(`--${name} must be a positive integer (got '${v}')`);
  return n;
}

async function createSession(modelPath, threads) {
  const opts = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  try {
    return await ort.InferenceSession.create(modelPath, opts);
  } catch (e) {
    die(`cannot load model '${modelPath}': ${e.message}`);
  }
}

// The (single) input's metadata: {name, dims (array of number|string|null), type}.
function singleInput(session, modelPath) {
  if (session.inputNames.length !== 1) {
    die(`model '${modelPath}' has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); ` +
        'only single-input models are supported');
  }
  const name = session.inputNames[0];
  let dims = null, type = 'float32';
  const meta = session.inputMetadata;
  if (meta) {
    const m = Array.isArray(meta) ? meta.find((x) => x.name === name) || meta[0] : meta[name];
    if (m && m.isTensor !== false) {
      if (m.shape) dims = m.shape.slice();
      if (m.type) type = m.type;
    }
  }
  if (type !== 'float32') die(`model input '${name}' has type ${type}; only float32 is supported`);
  return {name, dims, type};
}

// Deterministic PRNG (mulberry32) for seeded random inputs.
function mulberry32(seed) {
  let a = seed >>> 0;
  return function() {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function numel(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

module.exports = {ort, die, parseArgs, parsePosInt, createSession, singleInput, mulberry32, numel};
