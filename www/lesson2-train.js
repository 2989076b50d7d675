// Steps 2 and 3 of the lesson: the learning-rate finder and training. The finder's curve is
// drawn on a log axis with fastai's four suggestions; training fills fastai's epoch table as the
// epochs end, plots the smoothed loss and the schedule per batch, and says afterwards what the
// numbers mean (lesson2-diagnosis.js).
import uPlot from './vendor/uPlot.esm.js';
import { Op } from './learner-protocol.js';
import { $, el, clock, keepSized, rate, say, six, showAlert, widthOf } from './lesson2-ui.js';
import { diagnose } from './lesson2-diagnosis.js';
import { readFields } from './lesson2-settings.js';
import { describePlan, readPlan } from './lesson2-schedule.js';
import { BATCH_AXIS, drawFinder as drawFinderChart, drawSchedule } from './charts.js';
import { plain } from './kiln-text.js';

let lrPlot = null;
let lossPlot = null;
let schedPlot = null;
/** The training run on screen: per batch, and the epoch rows. */
let shown = null;

export function setupTrain(app) {
  $('lr-find-button').addEventListener('click', () => findLearningRate(app));
  $('train-form').addEventListener('submit', (event) => { event.preventDefault(); train(app); });
  $('stop').addEventListener('click', () => {
    app.worker.call(Op.STOP);
    say('train-status', 'Stopping after this batch…');
  });
  $('unfreeze').addEventListener('click', () => setFrozen(app, false));
  $('freeze').addEventListener('click', () => setFrozen(app, true));
  app.on('progress', (event) => (event.type === 'lrFind' ? lrProgress(event) : trainProgress(event)));
  app.on('dataset', ({ fresh }) => {
    if (!fresh) return;
    // New data, new learner: what was shown belonged to the previous one.
    showFrozen(app);
    $('lr-figure').hidden = true;
    $('suggestions').replaceChildren();
    $('training-view').hidden = true;
    say('lr-status', '');
    say('train-status', '');
  });
  app.on('restored', (restored) => {
    if (restored?.savedAt) {
      say('restore-status', `Restored the model you trained on ${new Date(restored.savedAt).toLocaleString()}, kept in this browser for these classes. Training goes on from it.`);
      $('forget').hidden = false;
    } else {
      say('restore-status', restored?.failed ? `A model kept in this browser could not be restored (${plain(restored.failed)}); starting from the ImageNet weights.` : '');
      $('forget').hidden = true;
    }
  });
  $('forget').addEventListener('click', () => app.run('forgetting', async () => {
    await app.worker.call(Op.FORGET);
    app.lastModel = null;
    await app.rebuild(app.info.backend);
    $('forget').hidden = true;
    say('restore-status', 'Forgotten: the learner starts again from the ImageNet weights and a new head.');
  }));
  showFrozen(app);
}

/** lr_find: a short run with the rate growing from 1e-7 to 10; the weights are restored afterwards. */
export function findLearningRate(app) {
  return app.run('the learning rate finder', async () => {
    const { numit: numIt } = readFields('numit');
    $('lr-progress').hidden = false;
    $('lr-progress').value = 0;
    say('lr-status', `Training ${numIt} batches with a growing learning rate…`);
    try {
      const found = await app.worker.call(Op.LR_FIND, { numIt });
      drawFinder(found);
      $('lr').value = rate(found.suggestions.valley);
      say('lr-status', `Suggested learning rate (valley): ${rate(found.suggestions.valley)}. It is in the learning rate field below; click the plot to pick another.`);
    } catch (error) {
      say('lr-status', ''); // the alert says what went wrong
      throw error;
    } finally {
      $('lr-progress').hidden = true;
    }
  });
}

function lrProgress(event) {
  $('lr-progress').max = event.iterations;
  $('lr-progress').value = event.iteration + 1;
}

function drawFinder(found) {
  $('lr-figure').hidden = false;
  const pick = (lr) => {
    $('lr').value = rate(lr);
    say('lr-status', `Learning rate set to ${rate(lr)}, picked on the plot.`);
  };
  let marks;
  ({ plot: lrPlot, marks } = drawFinderChart(lrPlot, $('lr-plot'), found, pick));
  $('suggestions').replaceChildren(...marks.map((m) => el('li', {},
    el('button', { type: 'button', className: 'link', onclick: () => { $('lr').value = rate(m.lr); $('lr').focus(); } }, `Use ${rate(m.lr)}`),
    ' ', el('span', { className: 'swatch', style: `background:${m.colour}` }), el('strong', {}, m.key), `: ${m.what}`)));
}

/** Trains with the settings in the form; the table and plots show this run. */
export function train(app) {
  return app.run('training', async () => {
    const plan = readPlan();
    const { method, lr } = plan;
    if (method === 'fine_tune' && Array.isArray(lr)) return showAlert('fine_tune takes one base learning rate (it makes its own slice). For a slice, use fit_one_cycle.');
    // kiln's schedule says how many epochs the method runs (fine_tune's frozen one included).
    const { epochs } = await app.worker.call(Op.SCHEDULE, plan);
    startShowing(epochs);
    say('train-status', `Training: ${describePlan(plan)}…`);
    $('diagnosis').replaceChildren();
    let result;
    try {
      result = await app.worker.call(Op.TRAIN, plan);
    } catch (error) {
      // The alert says what went wrong; "Training…" and the empty table are over.
      say('train-status', '');
      $('training-view').hidden = true;
      throw error;
    }
    if (result.model) app.lastModel = result.model;
    if (method === 'fine_tune') app.unfrozen = true;
    showFrozen(app);
    const last = shown.rows.at(-1);
    const summary = {
      finished: `Training finished${last ? `: error_rate ${last.errorRate.toFixed(4)} on the ${validCount(app)} validation photos` : ''}. The model is kept in this browser.`,
      stopped: 'Stopped: the weights trained so far are kept (the interrupted epoch has no row).',
      diverged: `Training stopped: ${result.message ?? 'the loss exploded'}.`,
    }[result.outcome];
    say('train-status', summary, result.outcome === 'diverged' ? 'bad' : '');
    $('batch-text').textContent = result.outcome === 'finished' ? 'done' : result.outcome;
    $('diagnosis').replaceChildren(...diagnose({ ...result, rows: shown.rows, lr, unfrozen: app.unfrozen, app }));
    app.emit('trained', result);
  });
}

const validCount = (app) => app.summary.items.filter((i) => i.split === 'valid').length;

/** A fresh table, progress bars and plots for a new run of `epochs` epochs. */
function startShowing(epochs) {
  shown = { epochs, epochsDone: 0, xs: [], train: [], valid: [], lrs: [], moms: [], rows: [], pending: false };
  $('epochs-table').tBodies[0].replaceChildren();
  $('training-view').hidden = false;
  $('epoch-progress').max = epochs;
  $('epoch-progress').value = 0;
  $('batch-progress').value = 0;
  $('epoch-text').textContent = `epoch 0 of ${epochs}`;
  $('batch-text').textContent = '';
  drawTraining();
}

function trainProgress(event) {
  if (!shown) return;
  if (event.type === 'batch') {
    shown.xs.push(shown.xs.length + 1);
    shown.train.push(event.smoothed);
    shown.valid.push(null);
    shown.lrs.push(event.lr);
    shown.moms.push(event.momentum);
    $('batch-progress').max = event.batches;
    $('batch-progress').value = event.batch + 1;
    $('epoch-progress').value = shown.epochsDone + (event.batch + 1) / event.batches;
    $('batch-text').textContent = event.batch + 1 === event.batches ? 'validating…' : `batch ${event.batch + 1} of ${event.batches}`;
  } else if (event.type === 'epoch') {
    if (shown.rows.length && event.epoch === 0) {
      // fine_tune's second fit: fastai prints a second table, here a labelled break in the one table.
      $('epochs-table').tBodies[0].append(el('tr', { className: 'phase' }, el('th', { colSpan: 5, scope: 'rowgroup' }, 'unfrozen')));
    }
    shown.rows.push(event);
    shown.epochsDone += 1;
    if (shown.valid.length) shown.valid[shown.valid.length - 1] = event.validLoss;
    $('epoch-progress').value = shown.epochsDone;
    $('epoch-text').textContent = `epoch ${shown.epochsDone} of ${shown.epochs}`;
    $('batch-text').textContent = '';
    $('epochs-table').tBodies[0].append(el('tr', {},
      el('td', {}, String(event.epoch)), el('td', {}, six(event.trainLoss)), el('td', {}, six(event.validLoss)),
      el('td', {}, six(event.errorRate)), el('td', {}, clock(event.seconds))));
  }
  // Redraw at most once a frame, however fast the batches come.
  if (!shown.pending) {
    shown.pending = true;
    requestAnimationFrame(() => { shown.pending = false; drawTraining(); });
  }
}

function drawTraining() {
  const loss = [shown.xs, shown.train, shown.valid];
  const sched = [shown.xs, shown.lrs, shown.moms];
  if (lossPlot) {
    lossPlot.setData(loss);
    schedPlot.setData(sched);
    return;
  }
  lossPlot = new uPlot({
    width: widthOf($('loss-plot')),
    height: 280,
    scales: { x: { time: false } },
    axes: [BATCH_AXIS, { label: 'loss' }],
    legend: { live: false },
    series: [{ label: 'batch' },
      { label: 'train (smoothed)', stroke: '#1d4ed8', width: 2, points: { show: false } },
      { label: 'valid', stroke: '#c2410c', width: 0, paths: () => null, points: { show: true, size: 10, fill: '#c2410c' } }],
  }, loss, $('loss-plot'));
  keepSized(lossPlot, $('loss-plot'), 280);
  schedPlot = drawSchedule(null, $('sched-plot'), sched);
}

/** Unfreeze: the whole network trains (every layer group); freeze: only the head again. */
function setFrozen(app, frozen) {
  return app.run(frozen ? 'freezing' : 'unfreezing', async () => {
    await app.worker.call(frozen ? Op.FREEZE : Op.UNFREEZE);
    app.unfrozen = !frozen;
    showFrozen(app);
    say('train-status', frozen
      ? 'Frozen again: only the head trains.'
      : 'Unfrozen: the whole network trains now, the pretrained body too. Find the learning rate again (the curve changes), then train with a slice such as 1e-5, 1e-3: small steps for the early layers, larger ones for the head.');
  });
}

/** The three layer groups, each marked frozen or training. */
function showFrozen(app) {
  const training = app.unfrozen ? [true, true, true] : [false, false, true];
  [...$('groups').children].forEach((li, i) => {
    li.className = training[i] ? 'training' : 'frozen';
    li.querySelector('.state').textContent = training[i] ? 'trains' : 'frozen';
  });
  $('freeze-status').textContent = app.unfrozen
    ? 'The whole network trains: all three layer groups.'
    : 'The pretrained body is frozen: only the new head trains (and the batch-norm layers).';
}
