// The Web Worker of docs/backends.md: kiln with two threads for its CPU backend. A page's main
// thread cannot wait for a thread pool, so threaded kiln runs in a worker like this one.
import { loadKiln } from '../www/kiln-loader.js';

const { kiln, build, cpu, reason } = await loadKiln({ threads: 2 });
await kiln.useBackend('cpu');
const a = kiln.Tensor.randn([512, 512], 1);
const started = performance.now();
const total = await a.matmul(a).sum().item();
postMessage({ build, threads: cpu.threads, reason, total, ms: performance.now() - started });
