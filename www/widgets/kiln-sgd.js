// <kiln-sgd lr="0.1" steps="100" autorun>: Lesson 2's "SGD from scratch" (the line fit of
// sgd.html, www/sgd-fit.js): 100 noisy points around y = 3x + 2, a line fitted from a = (-1, 1)
// by `steps` steps of gradient descent at rate `lr`, animated. The rate and steps can be changed
// in the widget too; a rate too high makes the loss explode, and the widget says so.
import { KilnWidget, defineWidget, el } from './widget.js';
import { kilnReady } from './kiln-main.js';
import { START_A, drawLineFit, fitLine, formatA, makeLineData } from '../sgd-fit.js';
import { messageOf } from '../kiln-text.js';

class KilnSgd extends KilnWidget {
  static settings = {
    lr: { type: 'number', min: 0.001, max: 10, default: 0.1 },
    steps: { type: 'integer', min: 1, max: 1000, default: 100 },
    autorun: { type: 'choice', choices: ['', 'true', 'false'], default: 'false' },
  };

  build(root) {
    this.lrInput = el('input', { type: 'number', min: 0.001, max: 10, step: 'any', name: 'lr' });
    this.stepsInput = el('input', { type: 'number', min: 1, max: 1000, step: 1, name: 'steps' });
    this.runButton = el('button', { type: 'submit', disabled: true }, 'Run');
    this.stopButton = el('button', { type: 'button', className: 'secondary', disabled: true, onclick: () => { this.stopping = true; } }, 'Stop');
    const form = el('form', { className: 'controls' },
      el('label', {}, 'Learning rate', this.lrInput), el('label', {}, 'Steps', this.stepsInput), this.runButton, this.stopButton);
    // The fields set the attributes, so the element always says what it runs.
    this.lrInput.addEventListener('change', () => this.setAttribute('lr', this.lrInput.value));
    this.stepsInput.addEventListener('change', () => this.setAttribute('steps', this.stepsInput.value));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.run();
    });
    this.plotBox = el('div', { className: 'plot', role: 'img', ariaLabel: 'The points and the fitted line' });
    this.state = el('p', { role: 'status', ariaLabel: 'Line fit' }, 'Starting kiln…');
    root.append(el('h3', {}, 'SGD from scratch: fit a line'), form, this.plotBox, this.state);
    this.ready = kilnReady().then(async () => {
      this.data = await makeLineData();
      this.plot = drawLineFit(null, this.plotBox, this.data, START_A);
      this.runButton.disabled = false;
      this.state.textContent = `Step 0 · a = ${formatA(START_A)}. Press Run.`;
    }).catch((error) => this.showProblem(`kiln could not start: ${messageOf(error)}`));
  }

  update({ lr, steps, autorun }) {
    this.lrInput.value = String(lr);
    this.stepsInput.value = String(steps);
    this.settings = { lr, steps };
    if (autorun !== 'false' && !this.autoran) {
      this.autoran = true;
      this.ready.then(() => this.run());
    }
  }

  async run() {
    if (this.running || !this.data) return;
    const { lr, steps } = this.settings;
    this.running = true;
    this.stopping = false;
    this.runButton.disabled = true;
    this.stopButton.disabled = false;
    this.showProblem('');
    let loss = NaN;
    const onStep = (step, a) => {
      this.plot = drawLineFit(this.plot, this.plotBox, this.data, a);
      this.state.textContent = `Step ${step} · a = ${formatA(a)} · loss ${loss.toPrecision(4)}`;
    };
    try {
      const exploded = await fitLine(this.data, lr, steps, { onStep, onLoss: (step, value) => { loss = value; }, stopped: () => this.stopping });
      this.state.textContent += exploded ? '' : ' · done';
      if (exploded) this.showProblem(`The loss exploded: a learning rate of ${lr} is too high, each step overshoots further. Try a smaller one.`);
    } catch (error) {
      this.showProblem(`Training stopped: ${messageOf(error)}`);
    } finally {
      this.running = false;
      this.runButton.disabled = false;
      this.stopButton.disabled = true;
    }
  }
}

defineWidget('kiln-sgd', KilnSgd);
