#!/usr/bin/env node
'use strict';
// Run an ONNX model with ONNX Runtime (CPU) on N raw float32 input tensors and dump the first output.
//
//   node scripts/ort/ort_run.js --model M --input IN.f32 --shape 1,3,224,224 --count N --output OUT.f32
//                               [--threads T]
//
// IN.f32 holds N consecutive float32 little-endian tensors of the given shape (shape[0] is the batch).
// Runs N inferences (graph optimisation "all", intra-op threads T (default 1), inter-op 1, sequential)
// and writes the first output's N tensors, concatenated, as float32 little-endian to OUT.f32.
// Prints one JSON line: {"output_name", "output_shape", "count", "ms_per_inference"}.
// ms_per_inference is the mean wall time of session.run() only (no file I/O).

const fs = require('fs');
const os = require('os');
const {ort, die, parseArgs, parsePosInt, createSession, singleInput, numel} = require('./common');

const USAGE = 'usage: ort_run.js --model M --input IN.f32 --shape 1,3,224,224 --count N --output OUT.f32 ' +
    '[--threads T]';

async function main() {
  if (os.endianness() !== 'LE') die('this script assumes a little-endian host');
  const a = parseArgs(process.argv.slice(2),
      {model: undefined, input: undefined, shape: undefined, count: undefined, output: undefined, threads: '1'},
      USAGE);
  for (const k of ['model', 'input', 'shape', 'count', 'output']) {
    if (a[k] === undefined) die(`--${k} is required\n${USAGE}`);
  }
  const shape = a.shape.split(/[,x]/).filter((s) => s.length).map((s) => parsePosInt('shape', s));
  if (shape.length === 0) die('--shape is empty');
  const count = parsePosInt('count', a.count);
  const threads = parsePosInt('threads', a.threads);
  const per = numel(shape);
  const perBytes = per * 4;

  let st;
  try {
    st = fs.statSync(a.input);
  } catch (e) {
    die(`cannot stat input '${a.input}': ${e.message}`);
  }
  if (st.size !== perBytes * count) {
    die(`input '${a.input}' has ${st.size} bytes, expected ${count} x ${perBytes} ` +
        `(count ${count} x shape [${shape}] float32)`);
  }

  const session = await createSession(a.model, threads);
  const inp = singleInput(session, a.model);
  if (inp.dims && inp.dims.length !== shape.length) {
    die(`--shape [${shape}] has rank ${shape.length} but model input '${inp.name}' has rank ${inp.dims.length} ` +
        `([${inp.dims}])`);
  }
  if (inp.dims) {
    inp.dims.forEach((d, i) => {
      if (typeof d === 'number' && d > 0 && d !== shape[i]) {
        die(`--shape [${shape}] does not match model input '${inp.name}' [${inp.dims}] at axis ${i}`);
      }
    });
  }
  const outName = session.outputNames[0];

  const inFd = fs.openSync(a.input, 'r');
  const tmpOut = `${a.output}.tmp${process.pid}`;
  const outFd = fs.openSync(tmpOut, 'w');
  const data = new Float32Array(per);
  const dataBuf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let outShape = null;
  let totalMs = 0;
  try {
    for (let i = 0; i < count; i++) {
      let got = 0;
      while (got < perBytes) {
        const r = fs.readSync(inFd, dataBuf, got, perBytes - got, i * perBytes + got);
        if (r <= 0) throw new Error(`short read from '${a.input}'`);
        got += r;
      }
      const feeds = {[inp.name]: new ort.Tensor('float32', data, shape)};
      const t0 = process.hrtime.bigint();
      const res = await session.run(feeds, [outName]);
      totalMs += Number(process.hrtime.bigint() - t0) / 1e6;
      const out = res[outName];
      if (out.type !== 'float32') throw new Error(`output '${outName}' has type ${out.type}; only float32 is supported`);
      const dims = Array.from(out.dims, Number);
      if (outShape === null) {
        outShape = dims;
      } else if (dims.join(',') !== outShape.join(',')) {
        throw new Error(`output shape changed between runs: [${outShape}] vs [${dims}]`);
      }
      const od = out.data;
      fs.writeSync(outFd, Buffer.from(od.buffer, od.byteOffset, od.byteLength));
      if (typeof out.dispose === 'function') out.dispose();
    }
  } catch (e) {
    fs.closeSync(outFd);
    fs.rmSync(tmpOut, {force: true});
    die(e.message);
  } finally {
    fs.closeSync(inFd);
  }
  fs.closeSync(outFd);
  fs.renameSync(tmpOut, a.output);
  process.stdout.write(JSON.stringify({
    output_name: outName,
    output_shape: outShape,
    count,
    ms_per_inference: Number((totalMs / count).toFixed(4)),
  }) + '\n');
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
