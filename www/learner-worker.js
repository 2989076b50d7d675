// The Web Worker that owns kiln's Learner, so that decoding, lr_find and training never freeze the
// page. The page talks to it with the messages of learner-protocol.js, where each operation's
// arguments and result are documented; each operation is one function of `ops` below.
//
// The worker also keeps the latest trained model in IndexedDB (the page restores it on reload
// when the same classes are loaded) and loads the sample photos itself, so their bytes are not
// copied from the page.
//
// It loads the fastest kiln build the browser can run (kiln-loader.js) and owns the CPU backend's
// thread pool: `?threads=N` in the worker's URL (default: one per core). The pool's workers wait
// on shared memory, which only a worker (never the page's main thread) may do.
import { loadKiln } from './kiln-loader.js';
import { loadSampleFiles } from './sample.js';
import { Kind, Message, Op, failure, progress, result } from './learner-protocol.js';
import { messageOf } from './kiln-text.js';

// Relative URLs in a worker resolve against the worker script, and kiln fetches with the URL it
// is given: pass an absolute one.
const WEIGHTS_URL = new URL('models/mobilenet_v2.safetensors', import.meta.url).href;

const asked = Number(new URL(self.location.href).searchParams.get('threads')) || undefined;
const ready = loadKiln({ threads: asked });
/** @type {Learner | null} */
let learner = null;

/** The page's training methods, each as kiln's Learner runs it (`plan` as Op.TRAIN's). */
const FITS = {
  fit_one_cycle: (learn, { epochs, lr }) => learn.fitOneCycle(epochs, lr, {}),
  fine_tune: (learn, { epochs, lr }) => learn.fineTune(epochs, lr),
  fit: (learn, { epochs, lr }) => learn.fit(epochs, lr),
  fit_sgdr: (learn, { cycles, cycleLen, lr, cycleMult }) => learn.fitSgdr(cycles, cycleLen, lr, cycleMult),
};

const ops = {
  /** `cpu` is kiln.cpuInfo(), with `threadsReason` when it runs on one thread. */
  async [Op.START]({ backend, size, batchSize }) {
    const { kiln, cpu, reason: threadsReason } = await ready;
    const info = await kiln.useBackend(backend, { size, batchSize }).catch(async (error) => ({
      ...(await kiln.useBackend('cpu')),
      reason: messageOf(error),
    }));
    return { ...info, cpu: { ...cpu, threadsReason } };
  },

  async [Op.LOAD]({ source, size, batchSize, precompute = false, edits = [], model = null, restore = false, unfrozen = false, oversample = false }) {
    const { Learner } = (await ready).kiln;
    const dataset = await decoded(source, size);
    const next = await Learner.vision(dataset, { weightsUrl: WEIGHTS_URL, batchSize, precompute });
    try {
      applyEdits(next, edits);
      next.oversample = oversample;
      if (unfrozen) next.unfreeze();
      let restored = null;
      if (model) {
        next.loadExported(new Uint8Array(await model.weights.arrayBuffer()), model.description, 'model.safetensors');
      } else if (restore) {
        // A kept model that no longer loads is not worth failing the dataset for: say so instead.
        restored = await restoreSaved(next).catch((error) => ({ failed: messageOf(error) }));
      }
      learner?.free();
      learner = next;
      learner.onProgress = (event) => postMessage(progress(event));
      return { summary: learner.dataset, restored };
    } catch (error) {
      next.free();
      throw error;
    }
  },

  [Op.LR_FIND]: ({ numIt }) => the().lrFind({ numIt }),

  async [Op.TRAIN](plan) {
    const learn = the();
    const outcome = await FITS[plan.method](learn, plan);
    // A diverged model is not worth keeping: the page's last good weights stay the ones to go back to.
    const model = outcome.outcome === 'diverged' ? null : await exported(learn);
    if (model) await save('latest', { ...model, savedAt: Date.now() }).catch(() => {});
    return { ...outcome, model };
  },

  [Op.STOP]: () => {
    if (loading) loading.cancelled = true;
    learner?.stop();
  },
  [Op.FREEZE]: () => the().freeze(),
  [Op.UNFREEZE]: () => the().unfreeze(),
  [Op.OVERSAMPLE]: ({ on }) => { the().oversample = on; },
  /** Smaller: from the pixels kiln keeps. Larger: the photos are decoded again at the new size. */
  async [Op.SET_IMAGE_SIZE]({ size, source }) {
    const learn = the();
    if (size <= learn.dataset.size) learn.setImageSize(size);
    else learn.setImages(await decoded(source, size));
    return learn.dataset;
  },
  [Op.SCHEDULE]: ({ method, lr, ...settings }) => the().schedule(method, lr, settings),
  [Op.INTERPRET]: () => the().interpret(),
  async [Op.TTA]() {
    const { errorRate, plainErrorRate } = await the().tta({});
    return { errorRate, plainErrorRate };
  },

  [Op.CLEAN]({ changes }) {
    for (const c of changes) {
      if (c.action === 'delete') the().deleteItem(c.item);
      else the().relabelItem(c.item, c.label);
    }
    return the().dataset;
  },

  async [Op.PREDICT]({ file, name }) {
    return the().predict(new Uint8Array(await file.arrayBuffer()), name);
  },

  async [Op.EXPORT_MODEL]() {
    const learn = the();
    const onnx = new Blob([await learn.exportOnnx()], { type: 'application/octet-stream' });
    return { ...(await exported(learn)), onnx };
  },

  async [Op.LOAD_MODEL]({ weights, description, name }) {
    the().loadExported(new Uint8Array(await weights.arrayBuffer()), description, name);
    const model = { weights, description };
    await save('latest', { ...model, savedAt: Date.now() }).catch(() => {});
    return { model };
  },

  [Op.FORGET]: () => save('latest', undefined),
};

/** Files handed to kiln at a time: enough to keep every thread decoding, few enough that only a
 * handful of files' bytes are ever in memory (camera photos are 3-5 MB each). */
const CHUNK = 8;
/** The load in progress, which Stop cancels: {cancelled}. */
let loading = null;

/**
 * The photos of `source` decoded at `size` into a kiln ImageDataset. Files are read and decoded a
 * chunk at a time (the next chunk is read from the disk while this one decodes), so memory holds
 * the decoded pixels and two chunks of files, never every file at once; progress events
 * ({type: 'load', done, total, skipped, seconds, memory}) follow each chunk.
 */
async function decoded(source, size) {
  const { kiln, memory } = await ready;
  if (source.kind === 'sample') {
    return kiln.ImageDataset.fromFiles(await loadSampleFiles(undefined, { classes: source.classes, perClass: source.perClass }), { size });
  }
  const files = source.files;
  const read = (chunk) => Promise.all(chunk.map(async (f) => {
    const bytes = await f.file.arrayBuffer().catch((error) => {
      throw Object.assign(new Error(`${f.name} could not be read (${messageOf(error)}): was it moved or deleted?`), { kind: Kind.BAD_INPUT });
    });
    return { name: f.name, label: f.label, valid: f.valid, bytes: new Uint8Array(bytes) };
  }));
  const builder = new kiln.ImageDatasetBuilder({ size });
  const started = performance.now();
  const load = { cancelled: false };
  loading = load;
  let next = read(files.slice(0, CHUNK));
  try {
    for (let at = 0; at < files.length; at += CHUNK) {
      const chunk = await next;
      if (load.cancelled) throw Object.assign(new Error('loading was cancelled'), { kind: Kind.CANCELLED });
      next = read(files.slice(at + CHUNK, at + 2 * CHUNK));
      builder.add(chunk);
      postMessage(progress({
        type: 'load', done: at + chunk.length, total: files.length, skipped: builder.skipped,
        seconds: (performance.now() - started) / 1000, memory: memory.buffer.byteLength,
      }));
    }
    return builder.finish();
  } finally {
    next.catch(() => {}); // a read still under way when loading stops is of no interest
    loading = null;
    builder.free();
  }
}

function the() {
  if (!learner) throw Object.assign(new Error('load a dataset first'), { kind: Kind.BAD_INPUT });
  return learner;
}

/** The cleaner's edits, recorded by item name, replayed on a freshly built dataset. */
function applyEdits(learn, edits) {
  if (!edits.length) return;
  const index = new Map(learn.dataset.items.map((item, i) => [item.name, i]));
  for (const edit of edits) {
    const i = index.get(edit.name);
    if (i === undefined) continue;
    if (edit.action === 'delete') learn.deleteItem(i);
    else learn.relabelItem(i, edit.label);
  }
}

/** The weights as a Blob (posted to the page by reference, not copied) and the JSON description. */
async function exported(learn) {
  const { weights, description } = await learn.export();
  return { weights: new Blob([weights], { type: 'application/octet-stream' }), description };
}

/** Loads the model kept in IndexedDB when it was trained on the same classes. */
async function restoreSaved(learn) {
  const saved = await open('latest').catch(() => undefined);
  if (!saved) return null;
  const vocab = JSON.parse(saved.description).vocab;
  if (JSON.stringify(vocab) !== JSON.stringify(learn.dataset.vocab)) return null;
  learn.loadExported(new Uint8Array(await saved.weights.arrayBuffer()), saved.description, 'the saved model');
  return { savedAt: saved.savedAt, model: { weights: saved.weights, description: saved.description } };
}

/**
 * A WebAssembly trap with kiln's memory near the 4 GB that wasm32 can address is, almost surely,
 * memory running out (Rust aborts when an allocation fails): said so, in words.
 */
async function outOfMemory(error) {
  if (!(error instanceof WebAssembly.RuntimeError)) return error;
  const bytes = (await ready).memory.buffer.byteLength;
  if (bytes < 3 * 2 ** 30) return error;
  const message = `kiln ran out of memory: it had ${(bytes / 2 ** 30).toFixed(1)} GB, close to the 4 GB a browser gives WebAssembly`;
  return Object.assign(new Error(message), { kind: Kind.OUT_OF_MEMORY, fatal: true });
}

// IndexedDB, the few lines of it needed here: one object store of models, by key.
function database() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open('kiln', 1);
    request.onupgradeneeded = () => request.result.createObjectStore('models');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transaction(mode, body) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction('models', mode);
    const request = body(tx.objectStore('models'));
    tx.oncomplete = () => { db.close(); resolve(request.result); };
    tx.onerror = () => { db.close(); reject(tx.error); };
  });
}

const save = (key, value) => transaction('readwrite', (store) => (value === undefined ? store.delete(key) : store.put(value, key)));
const open = (key) => transaction('readonly', (store) => store.get(key));

self.onmessage = async ({ data: { type, id, op, args } }) => {
  if (type !== Message.REQUEST) return;
  try {
    await ready;
    if (!(op in ops)) throw new Error(`unknown operation '${op}'`);
    postMessage(result(id, await ops[op](args ?? {})));
  } catch (error) {
    postMessage(failure(id, await outOfMemory(error)));
  }
};
