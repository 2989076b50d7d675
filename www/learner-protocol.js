// The messages between the Lesson 2 page (lesson2-client.js) and the learner's Web Worker
// (learner-worker.js), defined once for both sides. Four messages, each with a `type`:
//
//   page → worker  {type: 'request', id, op, args}     run the operation `op` (one of `Op`) on `args`
//   worker → page  {type: 'result', id, result}        the operation `id` finished with `result`
//   worker → page  {type: 'error', id, message, kind, fatal}  the operation `id` failed (see `Kind`);
//                                                      `fatal`: the worker must be started again
//   worker → page  {type: 'progress', progress}        a Learner progress event: {type: 'batch' |
//                                                      'epoch' | 'lrFind', ...}, as kiln's onProgress,
//                                                      or the worker's own {type: 'load', done, total,
//                                                      skipped, seconds, memory} while decoding files
//
// Build them with the functions below, never by hand.

export const Message = Object.freeze({ REQUEST: 'request', RESULT: 'result', ERROR: 'error', PROGRESS: 'progress' });

/** The operations the worker runs, page → worker; each names its `args` → `result`. */
export const Op = Object.freeze({
  /**
   * {backend: 'auto' | 'webgpu' | 'cpu', size?, batchSize?} → {backend, adapter, fallback,
   * reason?, cpu: {build, threads, poolSize, fma, threadsReason?}}: picks the backend, falling
   * back to the CPU (and saying why in `reason`) when WebGPU was asked for and cannot be had;
   * 'auto' on a real GPU times a training step at `size` and `batchSize` on both and keeps the
   * faster (`reason` gives both figures).
   */
  START: 'start',
  /**
   * {source: {kind: 'sample', classes?, perClass?} | {kind: 'files', files: [{file, name, label,
   * valid?}]}, size, batchSize, precompute?, edits?, model?, restore?, unfrozen?, oversample?} →
   * {summary, restored}: a dataset and a fresh Learner; the cleaner's `edits` replayed, then
   * `model` ({weights: Blob, description}) loaded or, with `restore`, the one kept in IndexedDB
   * (`restored`: {savedAt, model}, {failed: message} or null). On any error the previous learner
   * stays. Files are decoded a few at a time, with 'load' progress events; STOP cancels.
   */
  LOAD: 'load',
  /** {numIt} → {lrs, losses, suggestions: {valley, steep, minimum, slide}}: lr_find. */
  LR_FIND: 'lrFind',
  /**
   * A plan, {method: 'fit_one_cycle' | 'fine_tune' | 'fit', epochs, lr: number | [min, max]} or
   * {method: 'fit_sgdr', cycles, cycleLen, cycleMult, lr} → {outcome: 'finished' | 'stopped' |
   * 'diverged', message?, model}: `model` ({weights: Blob, description}) is the trained weights,
   * also kept in IndexedDB; null when training diverged.
   */
  TRAIN: 'train',
  /**
   * A plan as TRAIN's → {lrs, moms, epochs, batchesPerEpoch}: the head's learning rate and the
   * momentum before each batch of the training that plan would run (kiln's Learner.schedule).
   */
  SCHEDULE: 'schedule',
  /** {} → undefined: ends training or lr_find after the batch in progress, or cancels loading. */
  STOP: 'stop',
  /** {} → undefined: only the head trains. */
  FREEZE: 'freeze',
  /** {} → undefined: every layer group trains. */
  UNFREEZE: 'unfreeze',
  /** {on: boolean} → undefined: oversampling of rare classes. */
  OVERSAMPLE: 'oversample',
  /**
   * {size, source} → summary: progressive resizing, the weights kept; growing decodes the files
   * of `source` (as LOAD's) again at the new size, with 'load' progress events.
   */
  SET_IMAGE_SIZE: 'setImageSize',
  /** {} → {items, topLosses, confusion, mostConfused}: kiln's Learner.interpret(). */
  INTERPRET: 'interpret',
  /**
   * {} → {errorRate, plainErrorRate}: the validation error rate with fastai's tta (4 augmented
   * passes averaged, blended with the plain pass: beta 0.25) and without.
   */
  TTA: 'tta',
  /** {changes: [{item, action: 'delete' | 'relabel', label}]} → summary: the cleaner's decisions. */
  CLEAN: 'clean',
  /** {file: File, name} → {label, index, probabilities}: one photo classified. */
  PREDICT: 'predict',
  /** {} → {weights: Blob (model.safetensors), description: string (model.json), onnx: Blob (model.onnx)}. */
  EXPORT_MODEL: 'exportModel',
  /**
   * {weights: Blob, description: string, name} → {model: {weights, description}}: a saved model
   * loaded (and kept in IndexedDB); on any error the learner is unchanged.
   */
  LOAD_MODEL: 'loadModel',
  /** {} → undefined: forgets the model kept in IndexedDB. */
  FORGET: 'forget',
});

const OPS = new Set(Object.values(Op));

/**
 * What kind of failure an error message reports, for the page to act on: kiln's own error kinds
 * (`error.kind`, ErrorKind::name in src/error.rs), CRASHED for a WebAssembly trap or a worker
 * that died, after which the learner must be started again, and CANCELLED for a load the person stopped.
 */
export const Kind = Object.freeze({
  BAD_INPUT: 'bad-input',
  SHAPE: 'shape',
  DECODE: 'decode',
  OUT_OF_MEMORY: 'out-of-memory',
  NO_GPU: 'no-gpu',
  DEVICE_LOST: 'device-lost',
  DIVERGED: 'diverged',
  CRASHED: 'crashed',
  CANCELLED: 'cancelled',
});

/** The text of anything thrown. */
export const messageOf = (error) => error?.message ?? String(error);

/** Whether the worker must be started again after `error`: a trap, a dead worker, or memory gone. */
const fatalOf = (error) => Boolean(error?.fatal) || kindOf(error) === Kind.CRASHED;

/** The kind of any thrown value: kiln's `error.kind`, CRASHED for a WebAssembly trap, or undefined. */
export function kindOf(error) {
  if (error?.kind) return error.kind;
  return error instanceof WebAssembly.RuntimeError ? Kind.CRASHED : undefined;
}

/** page → worker: run `op` with `args`. Throws for an operation the worker does not have. */
export function request(id, op, args = {}) {
  if (!OPS.has(op)) throw new Error(`unknown learner operation '${op}'`);
  return { type: Message.REQUEST, id, op, args };
}

/** worker → page: operation `id` finished. */
export const result = (id, value) => ({ type: Message.RESULT, id, result: value });

/** worker → page: operation `id` failed with `error` (its message and its kind). */
export const failure = (id, error) => ({ type: Message.ERROR, id, message: messageOf(error), kind: kindOf(error), fatal: fatalOf(error) });

/** worker → page: a Learner progress event. */
export const progress = (event) => ({ type: Message.PROGRESS, progress: event });

/** The Error a failure message stands for, with its kind. */
export const errorOf = ({ message, kind, fatal = false }) => Object.assign(new Error(message), { kind, fatal });
