// The bench page's kiln side: one Web Worker per kiln build (`?build=threads-fma&threads=8`),
// timing inside the worker with performance.now(). Threaded builds need a worker to wait for their
// pool in; the single-threaded build runs here too, so every build is timed the same way.
// Messages: {id, op, args} → {id, result} | {id, error}; each op returns seconds per call.
import { loadKiln } from './kiln-loader.js';
import { loadSampleFiles } from './sample.js';
import { timed } from './bench-timing.js';

const query = new URL(self.location.href).searchParams;
const ready = loadKiln({ build: query.get('build'), threads: Number(query.get('threads')) || undefined });
const speedTests = new Map(); // one network per (size, batch), built once

function speedTest(kiln, size, batch) {
  const key = `${size}x${batch}`;
  if (!speedTests.has(key)) speedTests.set(key, new kiln.SpeedTest(size, batch));
  return speedTests.get(key);
}

const ops = {
  info: async (_, { build, cpu }) => ({ build, cpu }),
  /** Uses `threads` of the pool's threads from now on (the pool itself never shrinks). */
  threads: async ({ threads }, { kiln }) => kiln.initThreads(threads),
  train: ({ size, batch, reps }, { kiln }) => timed(reps, () => speedTest(kiln, size, batch).trainStep()),
  infer: ({ size, batch, reps }, { kiln }) => timed(reps, () => speedTest(kiln, size, batch).infer()),
  matmul: ({ n, reps }, { kiln }) => {
    const a = kiln.Tensor.randn([n, n], 1);
    const b = kiln.Tensor.randn([n, n], 2);
    return timed(reps, async () => {
      const c = a.matmul(b);
      await c.toArray();
      c.free();
    }).finally(() => { a.free(); b.free(); });
  },
  /** Lesson 2's fine_tune(2) at 128 px on the sample photos, from decoding them to the end. */
  fineTune: async (_, { kiln }) => {
    const started = performance.now();
    const since = () => (performance.now() - started) / 1000;
    const files = await loadSampleFiles();
    const fetched = since();
    const dataset = kiln.ImageDataset.fromFiles(files, { size: 128 });
    const decoded = since();
    const learn = await kiln.Learner.vision(dataset, { batchSize: 16, weightsUrl: new URL('models/mobilenet_v2.safetensors', import.meta.url).href });
    const ready = since();
    await learn.fineTune(2);
    const seconds = since();
    const { results } = learn;
    learn.free();
    // Where the time went, to set beside the native example's epoch table.
    return { seconds, errorRate: results.at(-1).errorRate, fetched, decoded, ready, epochs: results.map((r) => r.seconds) };
  },
};

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    postMessage({ id, result: await ops[op](args ?? {}, await ready) });
  } catch (error) {
    postMessage({ id, error: error?.message ?? String(error) });
  }
};
