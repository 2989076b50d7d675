// The bench page's TensorFlow.js side under the site's Content-Security-Policy: the threaded wasm
// backend starts its Emscripten threads from blob: scripts, which the page's policy must allow
// (it once did not, and `node scripts/bench-browser.mjs` hung after kiln's rounds). The timings
// themselves are the bench's business, not a test's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSite } from './harness.mjs';

test("bench.html starts TensorFlow.js's threaded wasm backend and computes with it", { timeout: 120_000 }, async () => {
  const site = await openSite();
  try {
    await site.page.goto(`${site.origin}/bench.html`);
    const { backend, product } = await site.page.evaluate(async () => {
      const { tf, useTfjsBackend } = await import('/www/bench-tfjs.js');
      const backend = await useTfjsBackend('wasm', { wasmThreads: 2 });
      // Large enough for XNNPACK to share it among its threads: [[1, 2], [3, 4]] @ itself, tiled.
      const a = tf.tile(tf.tensor2d([[1, 2], [3, 4]]), [64, 64]);
      const product = await tf.matMul(a, tf.eye(128)).slice([0, 0], [2, 2]).data();
      return { backend, product: [...product] };
    });
    assert.match(backend, /^TensorFlow\.js 4\.22\.0 wasm \(2 threads, SIMD\)$/);
    assert.deepEqual(product, [1, 2, 3, 4]);
  } finally {
    await site.close();
  }
});
