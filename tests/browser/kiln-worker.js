// For the browser tests only: a Web Worker that loads a kiln build through www/kiln-loader.js
// (`?build=threads-fma&threads=2` in its URL) and runs the functions the test sends it, as
// `(kiln, sample, arg) => result`, the way `inPage` runs them in the page. Threaded builds need a
// worker: only a worker may wait for the thread pool.
import { loadKiln } from '../../www/kiln-loader.js';
import { loadSampleFiles } from '../../www/sample.js';

const query = new URL(self.location.href).searchParams;
const ready = loadKiln({ build: query.get('build') ?? undefined, threads: Number(query.get('threads')) || undefined });
const sample = { loadSampleFiles };

self.onmessage = async ({ data: { source, arg } }) => {
  try {
    const { kiln, build, cpu, reason } = await ready;
    if (source === null) {
      postMessage({ result: { build, cpu, reason } });
      return;
    }
    postMessage({ result: await (0, eval)(`(${source})`)(kiln, sample, arg) });
  } catch (error) {
    postMessage({ error: error?.message ?? String(error), kind: error?.kind });
  }
};
