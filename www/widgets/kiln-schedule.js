// <kiln-schedule method="fit_one_cycle" lr="1e-3" epochs="4" div="25" pct-start="0.25">: the
// learning rate and momentum per batch that a fastai fit sets, worked out by kiln (the schedule
// its training loop follows: `kiln.schedule`) and drawn as on the lesson page (www/charts.js).
// Methods: fit_one_cycle (sliders for div, pct_start and epochs), cosine (one cosine annealing,
// fit_sgdr with one cycle as long as the epochs), fit_sgdr (cycles, cycle_len, cycle_mult),
// fine_tune and fit. `batches` is the number of batches an epoch.
import { KilnWidget, camel, defineWidget, el, slider } from './widget.js';
import { kilnReady } from './kiln-main.js';
import { drawSchedule } from '../charts.js';
import { describePlan } from '../lesson2-schedule.js';
import { messageOf } from '../kiln-text.js';

const METHODS = ['fit_one_cycle', 'cosine', 'fit_sgdr', 'fine_tune', 'fit'];

/** The sliders each method takes. */
const SLIDERS_OF = {
  fit_one_cycle: ['epochs', 'div', 'pct-start'],
  cosine: ['epochs'],
  fit_sgdr: ['cycles', 'cycle-len', 'cycle-mult'],
  fine_tune: ['epochs'],
  fit: ['epochs'],
};

/** kiln's method and options for the widget's settings (cosine is fit_sgdr with one cycle). */
function planOf({ method, lr, epochs, div, pctStart, cycles, cycleLen, cycleMult }) {
  if (method === 'cosine') return { method: 'fit_sgdr', lr, cycles: 1, cycleLen: epochs, cycleMult: 1 };
  if (method === 'fit_sgdr') return { method, lr, cycles, cycleLen, cycleMult };
  return { method, lr, epochs, div, pctStart };
}

class KilnSchedule extends KilnWidget {
  static settings = {
    method: { type: 'choice', choices: METHODS, default: 'fit_one_cycle' },
    lr: { type: 'number', min: 1e-7, max: 10, default: 1e-3 },
    epochs: { type: 'integer', min: 1, max: 50, default: 4 },
    div: { type: 'number', min: 1, max: 100, default: 25 },
    'pct-start': { type: 'number', min: 0.01, max: 0.99, default: 0.25 },
    cycles: { type: 'integer', min: 1, max: 8, default: 3 },
    'cycle-len': { type: 'integer', min: 1, max: 10, default: 1 },
    'cycle-mult': { type: 'integer', min: 1, max: 4, default: 2 },
    batches: { type: 'integer', min: 1, max: 1000, default: 20 },
  };

  build(root) {
    this.methodSelect = el('select', { name: 'method' }, ...METHODS.map((m) => el('option', { value: m }, m)));
    this.methodSelect.addEventListener('change', () => this.setAttribute('method', this.methodSelect.value));
    this.sliders = {
      epochs: slider(this, 'epochs', 'Epochs', { min: 1, max: 20, step: 1 }),
      div: slider(this, 'div', 'div', { min: 1, max: 100, step: 1 }),
      'pct-start': slider(this, 'pct-start', 'pct_start', { min: 0.05, max: 0.95, step: 0.05 }),
      cycles: slider(this, 'cycles', 'Cycles', { min: 1, max: 6, step: 1 }),
      'cycle-len': slider(this, 'cycle-len', 'cycle_len', { min: 1, max: 5, step: 1 }),
      'cycle-mult': slider(this, 'cycle-mult', 'cycle_mult', { min: 1, max: 4, step: 1 }),
    };
    this.plotBox = el('div', { className: 'plot', role: 'img', ariaLabel: 'The schedule: learning rate and momentum per batch' });
    this.caption = el('p', { role: 'status', ariaLabel: 'Schedule' }, 'Starting kiln…');
    root.append(el('h3', {}, 'Training schedules'),
      el('div', { className: 'controls' }, el('label', {}, 'Method', this.methodSelect), ...Object.values(this.sliders)),
      this.plotBox, this.caption);
  }

  async update(settings) {
    this.methodSelect.value = settings.method;
    for (const [name, field] of Object.entries(this.sliders)) {
      field.hidden = !SLIDERS_OF[settings.method].includes(name);
      field.show(settings[camel(name)]);
    }
    const { method, lr, ...options } = planOf(settings);
    try {
      const kiln = await kilnReady();
      const schedule = kiln.schedule(method, lr, settings.batches, options);
      this.plot = drawSchedule(this.plot, this.plotBox, [schedule.lrs.map((_, i) => i + 1), schedule.lrs, schedule.moms]);
      const call = settings.method === 'fit_one_cycle'
        ? describePlan(planOf(settings)).replace(/\)$/, `, div=${settings.div}, pct_start=${settings.pctStart})`)
        : describePlan(planOf(settings));
      this.caption.textContent = `${call}: ${schedule.epochs} epochs of ${schedule.batchesPerEpoch} batches, ${schedule.lrs.length} in all; the peak learning rate ${Math.max(...schedule.lrs).toPrecision(3)}.`;
      this.showProblem('');
    } catch (error) {
      this.showProblem(`No schedule: ${messageOf(error)}.`);
    }
  }
}

defineWidget('kiln-schedule', KilnSchedule);
