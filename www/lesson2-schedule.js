// The training method's settings and the schedule it will run: the fields that method takes
// (SGDR's cycles), and, before Train is pressed, the head's learning rate and the momentum per
// batch, from kiln's own schedule (the one the training loop follows), drawn with the same chart
// as during training.
import { Op } from './learner-protocol.js';
import { $, rate, say } from './lesson2-ui.js';
import { drawSchedule } from './charts.js';
import { readFields } from './lesson2-settings.js';

const FIELDS = ['method', 'epochs', 'lr', 'cycles', 'cycle-len', 'cycle-mult'];
let planPlot = null;
/** The preview asked for last: an older answer that arrives later is dropped. */
let asked = 0;

/** The method and the settings it takes, from the form (throws a bad-input Error for a bad field). */
export function readPlan() {
  const { method, lr } = readFields('method', 'lr');
  if (method === 'fit_sgdr') {
    const { cycles, cyclelen, cyclemult } = readFields('cycles', 'cyclelen', 'cyclemult');
    return { method, lr, cycles, cycleLen: cyclelen, cycleMult: cyclemult };
  }
  return { method, lr, epochs: readFields('epochs').epochs };
}

/** fastai's call for a plan: "fit_sgdr(3, 1, 1e-3, cycle_mult=2)". */
export function describePlan({ method, lr, epochs, cycles, cycleLen, cycleMult }) {
  const rates = Array.isArray(lr) ? `slice(${lr.map(rate).join(', ')})` : rate(lr);
  return method === 'fit_sgdr' ? `fit_sgdr(${cycles}, ${cycleLen}, ${rates}, cycle_mult=${cycleMult})` : `${method}(${epochs}, ${rates})`;
}

export function setupSchedule(app) {
  for (const id of FIELDS) $(id).addEventListener('input', () => preview(app));
  app.on('dataset', () => preview(app));
  app.on('trained', () => preview(app));
  showFieldsOf($('method').value);
}

/** Shows the fields the chosen method takes and hides the others. */
function showFieldsOf(method) {
  for (const field of document.querySelectorAll('[data-methods]')) field.hidden = !field.dataset.methods.split(' ').includes(method);
}

/** Redraws the preview for the form's settings; a field that breaks its rule says so instead. */
async function preview(app) {
  showFieldsOf($('method').value);
  if (!app.summary) return;
  const ticket = ++asked;
  let plan;
  try {
    plan = readPlan();
  } catch (error) {
    say('plan-caption', `No preview: ${error.message}.`);
    return;
  }
  try {
    const schedule = await app.worker.call(Op.SCHEDULE, plan);
    if (ticket !== asked) return;
    $('plan-figure').hidden = false;
    planPlot = drawSchedule(planPlot, $('plan-plot'), [schedule.lrs.map((_, i) => i + 1), schedule.lrs, schedule.moms]);
    const fine = plan.method === 'fine_tune' ? ' (1 frozen epoch, then the rest unfrozen)' : '';
    say('plan-caption', `The schedule ${describePlan(plan)} will run: ${schedule.epochs} epochs${fine} of ${schedule.batchesPerEpoch} batches, the head's learning rate and the momentum per batch.`);
  } catch (error) {
    // Busy training, or a learner being rebuilt: the preview follows with the next change.
    if (ticket === asked) say('plan-caption', `No preview: ${error.message}.`);
  }
}
