#!/usr/bin/env node
'use strict';
// ONNX Runtime (onnxruntime-node, CPU EP) helper for the peer baselines in scripts/peers/.
//
//   node ort_eval.js run      --model M --input X.f32 --shape 1,3,32,32 --output Y.f32
//       runs every sample (batch 1) and appends the model's first output to Y.f32 (float32 LE)
//   node ort_eval.js minmax   --model M --input X.f32 --shape 1,3,32,32 --output R.json
//       runs every sample and writes {output_name: [min, max]} over all samples and all outputs.
//       With a model whose intermediate tensors were added as graph outputs, this is what
//       onnxruntime.quantization's MinMaxCalibrater collects (calibrate.py: a ReduceMin/ReduceMax per
//       tensor per inference, then the min of the mins and the max of the maxes over the data set).
//   node ort_eval.js optimize --model M --output OPT.onnx [--level basic]
//       saves the graph ORT produces at that optimisation level (SessionOptions.optimizedModelFilePath),
//       i.e. the optimisation step of onnxruntime.quantization.quant_pre_process (shape_inference.py uses
//       GraphOptimizationLevel.ORT_ENABLE_BASIC for it).
// Sessions are single-threaded on purpose: the machine is shared.
const fs = require('fs');
const path = require('path');
let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  ort = require(path.join(__dirname, '..', 'ort', 'node_modules', 'onnxruntime-node'));
}

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--')) throw new Error(`bad argument ${argv[i]}`);
    o[argv[i].slice(2)] = argv[i + 1];
  }
  return o;
}

async function main() {
  const mode = process.argv[2];
  const a = args(process.argv.slice(3));
  if (mode === 'optimize') {
    const s = await ort.InferenceSession.create(a.model, {
      graphOptimizationLevel: a.level || 'basic', optimizedModelFilePath: a.output,
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential'});
    if (s.release) await s.release();
    return;
  }
  const shape = a.shape.split(',').map(Number);
  const per = shape.reduce((x, y) => x * y, 1);
  const buf = fs.readFileSync(a.input);
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const n = all.length / per;
  if (!Number.isInteger(n)) throw new Error('input size is not a multiple of the shape');
  const sess = await ort.InferenceSession.create(a.model, {
    graphOptimizationLevel: a.opt || 'all', intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential'});
  const inName = sess.inputNames[0];
  const t0 = Date.now();
  if (mode === 'run') {
    const fd = fs.openSync(a.output, 'w');
    for (let i = 0; i < n; i++) {
      const x = new ort.Tensor('float32', all.slice(i * per, (i + 1) * per), shape);
      const r = await sess.run({[inName]: x});
      const o = r[sess.outputNames[0]].data;
      fs.writeSync(fd, Buffer.from(o.buffer, o.byteOffset, o.byteLength));
    }
    fs.closeSync(fd);
  } else if (mode === 'minmax') {
    const rng = {};
    for (let i = 0; i < n; i++) {
      const x = new ort.Tensor('float32', all.slice(i * per, (i + 1) * per), shape);
      const r = await sess.run({[inName]: x});
      for (const name of sess.outputNames) {
        const d = r[name].data;
        let lo = Infinity, hi = -Infinity;
        for (let j = 0; j < d.length; j++) {
          const v = d[j];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        if (!(name in rng)) rng[name] = [lo, hi];
        else rng[name] = [Math.min(rng[name][0], lo), Math.max(rng[name][1], hi)];
      }
    }
    fs.writeFileSync(a.output, JSON.stringify(rng));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  process.stderr.write(`ort_eval ${mode}: ${n} samples, ${((Date.now() - t0) / 1000).toFixed(1)} s, ` +
                       `onnxruntime-node ${ort.env.versions ? ort.env.versions.node : '?'}\n`);
}
main().catch((e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
