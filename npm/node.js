// kiln under Node.js: the single-threaded build, its WebAssembly read from the file beside it
// (Node's fetch cannot read files) and initialised on import, so `await init()` is not needed
// (and harmless). Node has the CPU backend; WebGPU is the browser's. Files and weights are given
// as bytes: `Model.mobilenetV2({pretrained: false})`, then `model.load(readFileSync(path))`.
import { readFileSync } from 'node:fs';
import { initSync } from './pkg/kiln.js';

initSync({ module: readFileSync(new URL('./pkg/kiln_bg.wasm', import.meta.url)) });

export * from './pkg/kiln.js';
export { default } from './pkg/kiln.js';
