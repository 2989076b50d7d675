// The bench page (bench.html): kiln's builds and thread counts against each other and against
// TensorFlow.js, in this one page, the pairs alternated round by round so that a noisy machine
// slows them alike; medians over the rounds. scripts/bench-browser.mjs runs it headless and
// writes the table to benches/RESULTS.md; `?autorun=1` starts it at once, `?quick=1` does one
// round with fewer repetitions (a smoke test of the page).
import { inferenceSeconds, mobilenetV2, trainStepSeconds, useTfjsBackend } from './bench-tfjs.js';
import { median } from './bench-timing.js';

const params = new URLSearchParams(location.search);
const quick = params.has('quick');
const ROUNDS = quick ? 1 : 3;
const BATCH = 16;
const SIZES = [128, 224];
const MATMUL = [256, 512, 1024];
const cores = navigator.hardwareConcurrency || 1;

const $ = (id) => document.getElementById(id);
const say = (text) => { $('bench-status').textContent = text; };

/** A bench worker (www/bench-worker.js) for one build; `call(op, args)` resolves with its answer. */
function benchWorker(build, threads) {
  const worker = new Worker(new URL(`bench-worker.js?build=${build}&threads=${threads}`, import.meta.url), { type: 'module' });
  const pending = new Map();
  let nextId = 1;
  worker.onmessage = ({ data }) => {
    const call = pending.get(data.id);
    pending.delete(data.id);
    if ('error' in data) call.reject(new Error(data.error));
    else call.resolve(data.result);
  };
  return {
    call: (op, args) => new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, args });
    }),
    terminate: () => worker.terminate(),
  };
}

/** The kiln configurations compared: name → how to get there. */
function kilnConfigs() {
  const fma = benchWorker('threads-fma', cores);
  const plain = benchWorker('threads', cores);
  const single = benchWorker('simd', 1);
  return {
    workers: [fma, plain, single],
    configs: [
      { name: 'simd, 1 thread', worker: single, threads: 1 },
      { name: 'threads, 1 thread', worker: plain, threads: 1 },
      { name: `threads, ${cores} threads`, worker: plain, threads: cores },
      { name: 'threads-fma, 1 thread', worker: fma, threads: 1 },
      { name: `threads-fma, ${cores} threads`, worker: fma, threads: cores },
    ],
  };
}

/** What each configuration is timed on: [metric name, op, args, units of work per call]. */
function tasks() {
  const reps = quick ? 1 : 3;
  const list = [];
  for (const size of SIZES) {
    list.push([`train ${size} px`, 'train', { size, batch: BATCH, reps }, BATCH]);
    list.push([`infer ${size} px`, 'infer', { size, batch: BATCH, reps: reps + 2 }, BATCH]);
  }
  for (const n of MATMUL) list.push([`matmul ${n}`, 'matmul', { n, reps: quick ? 2 : 10 }, (2 * n ** 3) / 1e9]);
  return list;
}

/** Alternates the kiln configurations round by round; returns {metric: {config: rate}}. */
async function benchKiln(log) {
  const { workers, configs } = kilnConfigs();
  const samples = {};
  try {
    for (const config of configs) config.info = await config.worker.call('info');
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [metric, op, args, work] of tasks()) {
        for (const config of configs) {
          say(`Round ${round} of ${ROUNDS}: kiln ${config.name}, ${metric}`);
          await config.worker.call('threads', { threads: config.threads });
          const seconds = await config.worker.call(op, args);
          ((samples[metric] ??= {})[config.name] ??= []).push(...seconds.map((s) => work / s));
        }
      }
    }
    const best = configs.at(-1);
    say('kiln: fine_tune(2) on the sample photos');
    const fineTune = await best.worker.call('fineTune');
    log.fineTune = { config: best.name, ...fineTune };
    log.kilnBuilds = Object.fromEntries(configs.map((c) => [c.name, c.info.cpu]));
  } finally {
    workers.forEach((w) => w.terminate());
  }
  return Object.fromEntries(Object.entries(samples).map(([metric, byConfig]) => [metric, Object.fromEntries(Object.entries(byConfig).map(([c, rates]) => [c, median(rates)]))]));
}

/** TensorFlow.js: wasm inference at both sizes, and a few webgl training steps at 128 px. */
async function benchTfjs(log) {
  const rates = {};
  log.tfjs = {};
  log.tfjs.wasm = await useTfjsBackend('wasm', { wasmThreads: cores });
  for (const size of SIZES) {
    say(`TensorFlow.js wasm: infer ${size} px`);
    const model = mobilenetV2(size);
    rates[`infer ${size} px`] = { 'TF.js wasm': BATCH / median(await inferenceSeconds(model, BATCH, quick ? 1 : 5)) };
    try {
      rates[`train ${size} px`] = { 'TF.js wasm': BATCH / median(await trainStepSeconds(model, BATCH, 1)) };
    } catch (error) {
      log.tfjs.wasmTraining = error?.message ?? String(error);
    }
    model.dispose();
  }
  log.tfjs.webgl = await useTfjsBackend('webgl');
  say('TensorFlow.js webgl: train 128 px (tens of seconds a step here)');
  const model = mobilenetV2(128);
  (rates['train 128 px'] ??= {})['TF.js webgl'] = BATCH / median(await trainStepSeconds(model, BATCH, quick ? 1 : 2));
  model.dispose();
  return rates;
}

/** Runs everything; the results go to `window.benchResults` and into the page's table. */
async function run() {
  $('run').disabled = true;
  const log = { date: new Date().toISOString(), userAgent: navigator.userAgent, cores, isolated: crossOriginIsolated };
  try {
    const kiln = await benchKiln(log);
    const tfjs = await benchTfjs(log);
    for (const [metric, byPeer] of Object.entries(tfjs)) Object.assign((kiln[metric] ??= {}), byPeer);
    window.benchResults = { ...log, rates: kiln };
    show(kiln);
    say('Done.');
  } catch (error) {
    window.benchResults = { ...log, error: error?.message ?? String(error) };
    say(`The bench failed: ${window.benchResults.error}`);
  } finally {
    $('run').disabled = false;
  }
}

function show(rates) {
  const columns = [...new Set(Object.values(rates).flatMap((r) => Object.keys(r)))];
  const table = $('bench-table');
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const name of ['', ...columns]) head.appendChild(Object.assign(document.createElement('th'), { textContent: name }));
  const body = table.createTBody();
  for (const [metric, byConfig] of Object.entries(rates)) {
    const row = body.insertRow();
    row.insertCell().textContent = metric;
    for (const c of columns) row.insertCell().textContent = byConfig[c]?.toFixed(2) ?? '';
  }
}

$('run').addEventListener('click', run);
say(`Ready: ${cores} logical cores, ${crossOriginIsolated ? 'cross-origin isolated' : 'NOT cross-origin isolated (no threads)'}.`);
if (params.has('autorun')) run();
