// fast.ai Lesson 2 in the browser: load photos, find a learning rate, train, see what the model
// gets wrong, clean the data and use the model. The Learner lives in a Web Worker
// (learner-worker.js, reached through lesson2-client.js) so the page stays responsive; each step
// of the lesson has its own module:
//   lesson2-data.js       1. loading a folder or the sample photos
//   lesson2-train.js      2-3. lr_find, training, the epoch table, the plots and the diagnosis
//   lesson2-interpret.js  4-5. top losses, confusion matrix, the cleaner
//   lesson2-use.js        6. predict, save and load the model
// This module holds the shared state (`app`), the backend and the URL parameters.
import { LearnerClient } from './lesson2-client.js';
import { Kind, Op } from './learner-protocol.js';
import { describeBackend, explain, plain, plainMessageOf } from './kiln-text.js';
import { $, hideAlert, say, showAlert } from './lesson2-ui.js';
import { setupData, loadSample, loadArgs } from './lesson2-data.js';
import { setupTrain, findLearningRate, train } from './lesson2-train.js';
import { setupSchedule } from './lesson2-schedule.js';
import { setupInterpret } from './lesson2-interpret.js';
import { setupUse } from './lesson2-use.js';
import { setupCamera } from './lesson2-camera.js';
import { applyParams, readFields } from './lesson2-settings.js';

const params = new URLSearchParams(location.search);

/**
 * What every module shares. `summary` is the dataset as the worker describes it; `source` what
 * it was built from (to rebuild it on another backend); `edits` the cleaner's changes by name;
 * `lastModel` the weights at the end of the last good training, {weights: Blob, description}.
 */
const app = {
  params,
  worker: null,
  info: null,
  busy: null,
  source: null,
  summary: null,
  thumbs: null,
  edits: [],
  unfrozen: false,
  lastModel: null,
  events: new EventTarget(),
  emit(name, detail) { this.events.dispatchEvent(new CustomEvent(name, { detail })); },
  on(name, handler) { this.events.addEventListener(name, (event) => handler(event.detail)); },
  run,
  fail,
  refresh,
  rebuild,
};
window.lesson2 = app; // for the curious, in the browser's console

/**
 * Runs one long operation at a time (`name` says which, for the buttons), turning any error into
 * a message; the dataset and the model stay as they were.
 */
async function run(name, body) {
  if (app.busy) {
    showAlert(`Please wait: ${app.busy} is still running (or press Stop).`);
    return undefined;
  }
  app.busy = name;
  hideAlert();
  refresh();
  try {
    return await body();
  } catch (error) {
    fail(error);
    return undefined;
  } finally {
    app.busy = null;
    refresh();
  }
}

/**
 * Says what went wrong, by the error's kind. When the GPU went away, offers to carry on with the
 * CPU backend; when the worker crashed (a trap in WebAssembly, or the worker died), offers to
 * start it again. Either way the dataset comes back with the weights of the last finished
 * training. Any other error gets its message and the advice for its kind (kiln-text.js).
 */
function fail(error) {
  const text = plainMessageOf(error);
  const gpuLost = app.info?.backend === 'webgpu' && (error?.kind === Kind.DEVICE_LOST || error?.kind === Kind.NO_GPU);
  if (error?.kind === Kind.CRASHED || error?.fatal) {
    const advice = error.kind === Kind.OUT_OF_MEMORY ? ' Fewer photos, or a smaller image size, need less memory.' : '';
    showAlert(`The learner crashed (${text}).${advice} Your dataset and the weights from the last finished training are kept: start it again.`, {
      label: 'Start again',
      run: () => app.run('starting again', () => rebuild(app.info?.backend ?? 'auto')),
    });
  } else if (gpuLost) {
    showAlert(`The GPU stopped working (${text}). Your dataset and the weights from the last finished training are kept: continue on the CPU backend.`, {
      label: 'Continue on CPU',
      run: () => app.run('switching to the CPU', async () => {
        await rebuild('cpu');
        say('backend-notice', 'Continuing on the CPU backend with the weights from the last finished training.');
      }),
    });
  } else {
    showAlert(explain(error));
  }
}

/** Enables exactly the controls that make sense now. */
function refresh() {
  const loaded = Boolean(app.summary);
  const busy = Boolean(app.busy);
  for (const control of document.querySelectorAll('[data-needs="learner"]')) control.disabled = !loaded || busy;
  for (const control of document.querySelectorAll('[data-needs="idle"]')) control.disabled = busy;
  $('stop').disabled = !(app.busy === 'training' || app.busy === 'the learning rate finder');
  $('unfreeze').disabled = !loaded || busy || app.unfrozen;
  $('freeze').disabled = !loaded || busy || !app.unfrozen;
  $('save-model').disabled = !loaded || busy;
  document.body.classList.toggle('busy', busy);
}

function showBackend(info, asked) {
  app.info = info;
  $('backend-status').textContent = describeBackend(info);
  $('backend-select').value = asked === 'auto' ? 'auto' : info.backend;
  const notes = [];
  const where = info.backend === 'cpu' ? "kiln's CPU backend" : 'WebGPU';
  if (info.reason) notes.push(`Running on ${where}: ${plain(info.reason).replace(/\.$/, '')}.`);
  if (info.cpu.threadsReason) notes.push(`The CPU backend uses one thread: ${info.cpu.threadsReason}.`);
  say('backend-notice', notes.join(' '));
}

/** The `threads=N` URL parameter: the CPU backend's threads (default: one per core). */
function threadsParam() {
  const text = params.get('threads');
  if (text === null) return undefined;
  const threads = Number(text);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    showAlert(`threads=${text} is not a number of threads from 1 to 256: using one per core.`);
    return undefined;
  }
  return threads;
}

/**
 * The image size and batch size 'auto' times each backend's training step at: the fields', or
 * kiln's defaults while a field breaks its rule (the person is told about that field anyway).
 */
function raceSettings() {
  try {
    const { size, bs } = readFields('size', 'bs');
    return { size, batchSize: bs };
  } catch {
    return {};
  }
}

/**
 * A new worker on `backend`, the current dataset rebuilt in it (with the cleaner's edits, the
 * frozen state and the last trained weights); the old worker goes only once the new one works.
 */
async function rebuild(backend, { restore = false } = {}) {
  const worker = new LearnerClient((progress) => app.emit('progress', progress), { threads: threadsParam() });
  try {
    const info = await worker.call(Op.START, { backend, ...raceSettings() });
    const loaded = app.source ? await worker.call(Op.LOAD, loadArgs(app, { model: app.lastModel, restore })) : null;
    app.worker?.terminate();
    app.worker = worker;
    showBackend(info, backend);
    if (loaded) app.emit('dataset', { summary: loaded.summary, fresh: false });
    return loaded;
  } catch (error) {
    worker.terminate();
    throw error;
  }
}

/** The backend select: the learner is recreated from the current dataset on the chosen backend. */
async function switchBackend(event) {
  const name = event.target.value;
  await run('switching backend', async () => {
    await rebuild(name);
    const where = app.info.backend === 'cpu' ? 'the CPU' : 'WebGPU';
    say('backend-notice', app.source
      ? `Now on ${where}: the learner was recreated from the current dataset on the new backend${app.lastModel ? ', with the trained weights' : ''}.`
      : `Now on ${where}.`);
  });
  $('backend-select').value = app.info.backend === 'cpu' && name === 'webgpu' ? 'cpu' : name;
}

/**
 * ?size=128&epochs=2&lr=2e-3&method=fine_tune&numit=50&bs=16&precompute=1: the settings fields.
 * Returns what is wrong with the parameters that break their rules (lesson2-settings.js).
 */
function applySettings() {
  if (params.has('precompute')) $('precompute').checked = params.get('precompute') !== '0';
  return applyParams(params);
}

/** ?dataset=sample&classes=a,b&autorun=lrfind|train&section=train: for lessons and iframes. */
async function autorun() {
  if (params.get('dataset') === 'sample') await loadSample(app);
  const section = params.get('section');
  if (section) {
    const target = $(section) ?? $(`${section}-section`);
    target?.scrollIntoView();
    target?.querySelector('h2')?.focus();
  }
  if (!app.summary) return;
  for (const step of (params.get('autorun') ?? '').split(/[|,\s]+/).filter(Boolean)) {
    if (step === 'lrfind') await findLearningRate(app);
    else if (step === 'train') await train(app);
    if (!$('alert').hidden) break; // a step failed: stop there
  }
}

async function main() {
  const problems = applySettings();
  setupData(app);
  setupTrain(app);
  setupSchedule(app);
  setupInterpret(app);
  setupUse(app);
  setupCamera(app);
  $('backend-select').addEventListener('change', switchBackend);
  $('alert-close').addEventListener('click', hideAlert);
  refresh();
  const backend = ['cpu', 'webgpu', 'auto'].includes(params.get('backend')) ? params.get('backend') : 'auto';
  await run('starting', () => rebuild(backend));
  say('data-status', 'Drop a folder of photos, choose one, or use the sample dataset.');
  // A parameter that breaks its rule stops the lesson's autorun: nothing starts with a setting
  // the person did not ask for.
  if (problems.length) showAlert(`${problems.join(' ')} Nothing was started: correct the address, or the field.`);
  else await autorun();
}

main().catch((error) => showAlert(`kiln could not start: ${plainMessageOf(error)}`));
