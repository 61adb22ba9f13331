// The ONNX Runtime side of bench/cost/run.sh: runs WORK/kwt.onnx (exported by cost.py from
// the same weights) on WORK/windows.f32 with onnxruntime-node, one window [1, T, K] per
// call, single thread (intraOpNumThreads = interOpNumThreads = 1, sequential execution).
//
//   node ort.js WORK serve     each line on stdin is a window index; each answer a JSON line
//                              {"s": SECONDS, "logits": [...]} (cost.py drives it in lockstep
//                              with the Go engine and PyTorch); on EOF {"info": {...}}
//   node ort.js WORK count N   N calls, nothing written: for instruction counts under
//                              qemu-aarch64 (the difference of two N is per inference)
//
// The latency is the time around `await session.run(feeds)`: onnxruntime-node runs the
// session synchronously inside one setImmediate, so that is the inference plus a
// microsecond or so of event-loop and tensor wrapping, as a Node.js deployment pays it.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const [work, mode, arg] = process.argv.slice(2);
  if (!work || !mode) {
    console.error('usage: node ort.js WORK serve | node ort.js WORK count N');
    process.exit(2);
  }
  const meta = JSON.parse(fs.readFileSync(path.join(work, 'meta.json'), 'utf8'));
  const { windows: w, frames: t, coeffs: k } = meta;
  const buf = fs.readFileSync(path.join(work, 'windows.f32'));
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  if (all.length !== w * t * k) throw new Error(`windows.f32 holds ${all.length} values, want ${w * t * k}`);
  const session = await ort.InferenceSession.create(path.join(work, 'kwt.onnx'), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
  });
  const input = session.inputNames[0];
  const output = session.outputNames[0];
  const feeds = [];
  for (let i = 0; i < w; i++) {
    feeds.push({ [input]: new ort.Tensor('float32', all.slice(i * t * k, (i + 1) * t * k), [1, t, k]) });
  }

  if (mode === 'count') {
    const n = Number(arg);
    for (let i = 0; i < n; i++) await session.run(feeds[i % w]);
    console.log(`ort: ${n} inferences`);
    return;
  }
  if (mode !== 'serve') throw new Error(`unknown mode ${mode}`);
  // serve: each line on stdin is a window index; the answer is one JSON line with the time
  // of session.run and the logits.
  const rl = require('readline').createInterface({ input: process.stdin });
  for await (const line of rl) {
    const i = Number(line.trim());
    if (!Number.isInteger(i) || i < 0 || i >= w) throw new Error(`bad window index ${line}`);
    const t0 = process.hrtime.bigint();
    const out = await session.run(feeds[i]);
    const dt = process.hrtime.bigint() - t0;
    process.stdout.write(JSON.stringify({ s: Number(dt) / 1e9, logits: Array.from(out[output].data) }) + '\n');
  }
  const ver = require('onnxruntime-node/package.json').version;
  process.stdout.write(JSON.stringify({ info: { 'onnxruntime-node': ver, node: process.version } }) + '\n');
}

main().catch((e) => {
  console.error('ort.js:', e && e.stack ? e.stack : e);
  process.exit(1);
});
