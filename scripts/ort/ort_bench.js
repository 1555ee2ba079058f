#!/usr/bin/env node
'use strict';
// Latency benchmark of an ONNX model with ONNX Runtime (CPU), the speed peer for calibr8.
//
//   node scripts/ort/ort_bench.js --model M [--batch B] [--threads T] [--seconds S] [--warmup W] [--seed N]
//
// Input: seeded uniform random [-1,1) float32 tensor of the model's input shape with axis 0 set to B
// (default 1); other unknown (symbolic) dims default to 3 for axis 1 and 224 for spatial axes.
// Session: graph optimisation "all", intra-op threads T (default 1), inter-op 1, sequential.
// After W warm-up runs (default 10) it times session.run() for S seconds (default 5, at least 3 runs)
// and prints one JSON line:
//   {"median_ms","p90_ms","mean_ms","runs","throughput_ips","batch","threads", ...}
// throughput_ips = batch * runs / total timed seconds.

const {ort, die, parseArgs, parsePosInt, createSession, singleInput, mulberry32, numel} = require('./common');

const USAGE = 'usage: ort_bench.js --model M [--batch B] [--threads T] [--seconds S] [--warmup W] [--seed N]';

function percentile(sorted, p) {
  // linear interpolation between closest ranks
  if (sorted.length === 1) return sorted[0];
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

async function main() {
  const a = parseArgs(process.argv.slice(2),
      {model: undefined, batch: '1', threads: '1', seconds: '5', warmup: '10', seed: '0'}, USAGE);
  if (a.model === undefined) die(`--model is required\n${USAGE}`);
  const batch = parsePosInt('batch', a.batch);
  const threads = parsePosInt('threads', a.threads);
  const seconds = Number(a.seconds);
  if (!(seconds > 0)) die(`--seconds must be > 0 (got '${a.seconds}')`);
  const warmup = Number(a.warmup);
  if (!Number.isInteger(warmup) || warmup < 0) die(`--warmup must be an integer >= 0 (got '${a.warmup}')`);
  const seed = Number(a.seed);
  if (!Number.isInteger(seed)) die(`--seed must be an integer (got '${a.seed}')`);

  const session = await createSession(a.model, threads);
  const inp = singleInput(session, a.model);
  if (!inp.dims || inp.dims.length === 0) die(`model input '${inp.name}' has no known rank`);
  if (typeof inp.dims[0] === 'number' && inp.dims[0] > 0 && inp.dims[0] !== batch) {
    die(`model input '${inp.name}' has a fixed batch dim ${inp.dims[0]} ([${inp.dims}]); --batch ${batch} is not possible`);
  }
  const shape = inp.dims.map((d, i) => {
    if (i === 0) return batch;
    if (typeof d === 'number' && d > 0) return d;
    return i === 1 ? 3 : 224;
  });
  const rnd = mulberry32(seed);
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = rnd() * 2 - 1;
  const feeds = {[inp.name]: new ort.Tensor('float32', data, shape)};

  for (let i = 0; i < warmup; i++) await session.run(feeds);

  const lat = [];
  const budget = BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  for (;;) {
    const t0 = process.hrtime.bigint();
    const res = await session.run(feeds);
    const t1 = process.hrtime.bigint();
    for (const k of Object.keys(res)) if (typeof res[k].dispose === 'function') res[k].dispose();
    lat.push(Number(t1 - t0) / 1e6);
    if (t1 - start >= budget && lat.length >= 3) break;
  }
  const sorted = lat.slice().sort((x, y) => x - y);
  const sum = lat.reduce((x, y) => x + y, 0);
  const r = (x) => Number(x.toFixed(4));
  process.stdout.write(JSON.stringify({
    median_ms: r(percentile(sorted, 0.5)),
    p90_ms: r(percentile(sorted, 0.9)),
    mean_ms: r(sum / lat.length),
    runs: lat.length,
    throughput_ips: r(batch * lat.length / (sum / 1000)),
    batch,
    threads,
    input_shape: shape,
    model: a.model,
    ort_version: ort.env.versions ? ort.env.versions.node : undefined,
  }) + '\n');
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
