// TensorFlow.js 4.22 timings of MobileNetV2 (+ a fastai-style head) for the benchmark page.
// No bundler and no CDN: everything is loaded from node_modules on this origin.
//
// Which dist files, and why:
// - tfjs/dist/tf.fesm.js is a self-contained ES module (tfjs-core, layers, converter, data and the
//   cpu + webgl backends in one file, no bare imports), so the browser can import it directly.
// - tfjs-backend-wasm's own ES build (tf-backend-wasm.fesm.js) imports the bare specifiers
//   '@tensorflow/tfjs-core', 'fs', 'path', ..., which a browser cannot resolve without an import
//   map. Its ES2017 UMD build (tf-backend-wasm.es2017.js) takes tfjs-core from `globalThis.tf`
//   instead and writes its exports to `globalThis.tf.wasm`. So we hand it a plain-object copy of
//   our tf namespace (a module namespace object is read-only) and import it for its side effect:
//   it registers the 'wasm' backend with the one tfjs-core engine that tf.fesm.js holds (no second
//   copy of tfjs-core). Not tf-backend-wasm.js: that UMD build is ES5, and its backend class fails
//   with "Class constructor KernelBackend cannot be invoked without 'new'" against ES2017 tfjs-core.
import * as tf from '../node_modules/@tensorflow/tfjs/dist/tf.fesm.js';
import { timed } from './bench-timing.js';

export { tf };

const WASM_DIR = new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).href;
let wasmApi = null; // the backend's exports (setWasmPaths, getThreadsCount, ...), once loaded
let wasmStarted = false; // whether tf.setBackend('wasm') has been called (it makes the pool)

async function loadWasmBackend() {
  if (wasmApi) return wasmApi;
  const previous = globalThis.tf;
  globalThis.tf = { ...tf };
  try {
    await import(`${WASM_DIR}tf-backend-wasm.es2017.js`);
    wasmApi = globalThis.tf.wasm;
  } finally {
    // The backend keeps its own reference to the copy; leave the global as we found it.
    if (previous === undefined) delete globalThis.tf;
    else globalThis.tf = previous;
  }
  // The .wasm files (plain, -simd, -threaded-simd) sit next to the UMD file. The threaded build's
  // worker script is inlined in the backend as a Blob, so nothing else is fetched.
  wasmApi.setWasmPaths(WASM_DIR);
  return wasmApi;
}

/**
 * Switches TensorFlow.js to `name` ('wasm' or 'webgl') and returns a one-line description, e.g.
 * "TensorFlow.js 4.22.0 wasm (2 threads, SIMD)". Build models after calling this: a model's
 * weights live on the backend that was current when it was built.
 *
 * wasm threads: on a cross-origin isolated page tfjs loads its threaded SIMD build, but its own
 * XNNPACK pool is capped at navigator.hardwareConcurrency / 2 (it assumes 2 hyperthreads per
 * core): 1 thread on a 2-core machine, where 2 threads infer about 1.5x faster. So by default we
 * lift the cap to `wasmThreads` = navigator.hardwareConcurrency; pass `wasmThreads: 0` for tfjs's
 * own choice. The pool is made once per page, on the first switch to wasm: later values are ignored.
 */
export async function useTfjsBackend(name, { wasmThreads = navigator.hardwareConcurrency } = {}) {
  if (name !== 'wasm' && name !== 'webgl') throw new Error(`unknown TensorFlow.js backend: ${name}`);
  let restore = () => {};
  if (name === 'wasm') {
    const api = await loadWasmBackend();
    // (Not tf.findBackend('wasm') to test this: it starts the backend as a side effect.)
    if (wasmThreads && !wasmStarted) {
      // The cap is read from navigator.hardwareConcurrency when the wasm module starts (in a C++
      // static initialiser), so report twice the wanted count for that moment only.
      api.setThreadsCount(wasmThreads);
      Object.defineProperty(navigator, 'hardwareConcurrency', { value: 2 * wasmThreads, configurable: true });
      restore = () => delete navigator.hardwareConcurrency; // back to the prototype's getter
    }
  }
  try {
    if (name === 'wasm') wasmStarted = true;
    if (!(await tf.setBackend(name))) throw new Error(`TensorFlow.js could not start its ${name} backend`);
    await tf.ready();
  } finally {
    restore();
  }
  let details = '';
  if (name === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = wasmApi.getThreadsCount();
    details = ` (${threads} thread${threads === 1 ? '' : 's'}${simd ? ', SIMD' : ''})`;
  } else {
    const gl = tf.backend().getGPGPUContext?.().gl;
    const info = gl?.getExtension('WEBGL_debug_renderer_info');
    let renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : '';
    // Headless Chromium with no GPU says "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device ...".
    if (/swiftshader/i.test(renderer)) renderer = 'SwiftShader, software';
    details = ` (WebGL ${tf.env().getNumber('WEBGL_VERSION')}${renderer ? `, ${renderer}` : ''})`;
  }
  return `TensorFlow.js ${tf.version.tfjs} ${name}${details}`;
}

// --- the model ----------------------------------------------------------------------------------

let layerCount = 0;
const uid = (kind) => `${kind}_${++layerCount}`; // unique layer names across several models

function convBn(x, filters, kernelSize, strides, relu6) {
  x = tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false, name: uid('conv') }).apply(x);
  // PyTorch's BatchNorm2d defaults (tfjs: epsilon 1e-3, momentum 0.99).
  x = tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9, name: uid('bn') }).apply(x);
  return relu6 ? tf.layers.reLU({ maxValue: 6, name: uid('relu6') }).apply(x) : x;
}

function depthwiseBn(x, strides) {
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding: 'same', useBias: false, name: uid('dw') }).apply(x);
  x = tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9, name: uid('bn') }).apply(x);
  return tf.layers.reLU({ maxValue: 6, name: uid('relu6') }).apply(x);
}

function invertedResidual(x, inChannels, outChannels, strides, expansion) {
  let y = x;
  if (expansion !== 1) y = convBn(y, inChannels * expansion, 1, 1, true);
  y = depthwiseBn(y, strides);
  y = convBn(y, outChannels, 1, 1, false); // linear bottleneck: no activation
  if (strides === 1 && inChannels === outChannels) y = tf.layers.add({ name: uid('add') }).apply([x, y]);
  return y;
}

// torchvision's inverted_residual_setting: [expansion t, channels c, repeats n, first stride s].
const SETTING = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/**
 * MobileNetV2 (width 1.0, random weights) on a `size` x `size` RGB input (NHWC), followed by
 * fastai's head: concat(global avg pool, global max pool) -> BN -> dropout 0.25 -> dense 512 ->
 * ReLU -> BN -> dropout 0.5 -> dense numClasses (softmax). Compiled with Adam (lr 1e-3) and
 * categorical cross-entropy. About 3.58 M parameters for 5 classes
 * (2.22 M in MobileNetV2, 1.3 M in the head's first dense layer).
 * Note: 'same' padding with stride 2 pads bottom/right only (PyTorch pads 1 on every side); the
 * output shapes and the amount of work are the same.
 */
export function mobilenetV2(size, numClasses = 5) {
  const input = tf.input({ shape: [size, size, 3], name: uid('input') });
  let x = convBn(input, 32, 3, 2, true);
  let channels = 32;
  for (const [t, c, n, s] of SETTING) {
    for (let i = 0; i < n; i++) {
      x = invertedResidual(x, channels, c, i === 0 ? s : 1, t);
      channels = c;
    }
  }
  x = convBn(x, 1280, 1, 1, true);

  const avg = tf.layers.globalAveragePooling2d({ name: uid('avgpool') }).apply(x);
  const max = tf.layers.globalMaxPooling2d({ name: uid('maxpool') }).apply(x);
  let h = tf.layers.concatenate({ name: uid('concat') }).apply([avg, max]); // 2560 features
  h = tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9, name: uid('bn') }).apply(h);
  h = tf.layers.dropout({ rate: 0.25, name: uid('drop') }).apply(h);
  // fastai's LinBnDrop puts the BN before the linear layer, and that linear layer has no bias.
  h = tf.layers.dense({ units: 512, useBias: false, activation: 'relu', name: uid('fc') }).apply(h);
  h = tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9, name: uid('bn') }).apply(h);
  h = tf.layers.dropout({ rate: 0.5, name: uid('drop') }).apply(h);
  // Softmax output: the layers API's 'categoricalCrossentropy' expects probabilities, not logits.
  const output = tf.layers.dense({ units: numClasses, useBias: false, activation: 'softmax', name: uid('fc') }).apply(h);

  const model = tf.model({ inputs: input, outputs: output, name: uid('mobilenet_v2') });
  // 'adam' by name is tf.train.adam(1e-3, 0.9, 0.999, 1e-7); named, the model owns it, so
  // model.dispose() frees it too (an optimizer passed as an object is left behind).
  model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
  return model;
}

// --- timings ------------------------------------------------------------------------------------

function randomImages(model, batch) {
  const [, height, width, channels] = model.inputs[0].shape;
  return tf.randomNormal([batch, height, width, channels]);
}

function randomOneHot(model, batch) {
  const numClasses = model.outputs[0].shape[1];
  return tf.tidy(() => tf.oneHot(tf.randomUniform([batch], 0, numClasses, 'int32'), numClasses).toFloat());
}

/**
 * Wall times in seconds of `reps` inference calls on one random batch, after one untimed warm-up
 * (which compiles the webgl shaders / sets up the wasm kernels). Each time includes reading the
 * output back, so the work is finished.
 */
export async function inferenceSeconds(model, batch, reps) {
  const x = randomImages(model, batch);
  const once = async () => {
    const y = model.predict(x, { batchSize: batch });
    await y.data();
    y.dispose();
  };
  try {
    return await timed(reps, once);
  } finally {
    x.dispose();
  }
}

// The backward pass of MobileNetV2's convolutions needs these kernels.
const GRADIENT_KERNELS = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
];

/**
 * Wall times in seconds of `reps` training steps (forward, backward, Adam update) with
 * model.trainOnBatch on one random batch with random one-hot labels, after one untimed warm-up.
 * trainOnBatch awaits the loss's data(); on webgl that read waits for every command queued
 * before it, the weight updates included, so the step is finished when it resolves.
 * Throws at once, before any work, if the current backend lacks the convolution gradient
 * kernels (tfjs's wasm backend does: it cannot train conv nets).
 */
export async function trainStepSeconds(model, batch, reps) {
  const backend = tf.getBackend();
  const missing = GRADIENT_KERNELS.filter((kernel) => !tf.getKernel(kernel, backend));
  // Checked up front because a failed trainOnBatch leaks every tensor of its forward pass.
  if (missing.length) {
    const kernels = `${missing.join(', ')} kernel${missing.length > 1 ? 's' : ''}`;
    throw new Error(`the ${backend} backend has no ${kernels}, so it cannot train convolutions`);
  }
  const x = randomImages(model, batch);
  const y = randomOneHot(model, batch);
  try {
    return await timed(reps, () => model.trainOnBatch(x, y));
  } finally {
    x.dispose();
    y.dispose();
  }
}
