// <kiln-lr-finder noise="0.05" seed="1" num-it="100">: fastai's learning-rate finder, read on a
// loss curve: a made-up one whose noise a slider changes (to see which suggestions are robust),
// or, with src="curve.json", a real one ({lrs, losses}, as kiln's `learn.lrFind()` returns it).
// The curve is drawn as on the lesson page (www/charts.js), with fastai's four suggestions
// (valley, steep, minimum, slide) that kiln computes (`kiln.lrSuggestions`); clicking the plot
// picks a rate.
import { KilnWidget, defineWidget, el, slider } from './widget.js';
import { kilnReady } from './kiln-main.js';
import { drawFinder } from '../charts.js';
import { rate } from '../lesson2-ui.js';
import { messageOf } from '../kiln-text.js';

/** A seeded PRNG (mulberry32): the same seed, the same noise. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A loss curve shaped like a real lr_find's: flat at tiny rates, falling from about 1e-5, lowest
 * near 1e-1 once smoothed, exploding past 1; with noise of relative size `noise` per batch, smoothed as
 * lr_find smooths it (an exponential moving average with fastai's debiasing, beta 0.98).
 */
export function syntheticCurve({ start, end, numIt, noise, seed }) {
  const next = random(seed);
  const lrs = [];
  const losses = [];
  let average = 0;
  for (let i = 0; i < numIt; i++) {
    const lr = start * (end / start) ** (i / (numIt - 1));
    const x = Math.log10(lr);
    const clean = 0.45 + 1.95 / (1 + Math.exp(3 * (x + 4.8))) + 0.15 * Math.exp(2 * (x + 1.5));
    const raw = clean * (1 + noise * (2 * next() - 1));
    average = 0.98 * average + 0.02 * raw;
    lrs.push(lr);
    losses.push(average / (1 - 0.98 ** (i + 1)));
  }
  return { lrs, losses };
}

class KilnLrFinder extends KilnWidget {
  static settings = {
    src: { type: 'text', default: '' },
    noise: { type: 'number', min: 0, max: 0.5, default: 0.05 },
    seed: { type: 'integer', min: 0, max: 2 ** 31, default: 1 },
    start: { type: 'number', min: 1e-10, max: 1e-3, default: 1e-7 },
    end: { type: 'number', min: 1e-2, max: 100, default: 10 },
    'num-it': { type: 'integer', min: 20, max: 1000, default: 100 },
  };

  build(root) {
    this.noiseSlider = slider(this, 'noise', 'Noise', { min: 0, max: 0.5, step: 0.01 });
    this.plotBox = el('div', { className: 'plot', role: 'img' });
    this.list = el('ul', { className: 'suggestions', ariaLabel: 'Suggestions' });
    this.picked = el('p', { role: 'status', ariaLabel: 'Learning rate finder' }, 'Starting kiln…');
    root.append(el('h3', {}, 'The learning rate finder'), this.noiseSlider, this.plotBox, this.list, this.picked);
  }

  async update(settings) {
    const ticket = (this.ticket ?? 0) + 1;
    this.ticket = ticket;
    this.noiseSlider.hidden = Boolean(settings.src);
    this.noiseSlider.show(settings.noise);
    try {
      const kiln = await kilnReady();
      const curve = settings.src ? await this.load(settings.src) : syntheticCurve(settings);
      const suggestions = kiln.lrSuggestions(curve.lrs, curve.losses);
      if (ticket !== this.ticket) return; // a newer setting is being drawn
      this.show({ ...curve, suggestions }, settings.src ? `the curve in ${settings.src}` : `a made-up curve, noise ${settings.noise}`);
    } catch (error) {
      if (ticket === this.ticket) this.showProblem(`No curve: ${messageOf(error)}.`);
    }
  }

  /** A recorded curve, {lrs, losses}, from a URL (relative to the page). */
  async load(src) {
    const response = await fetch(new URL(src, document.baseURI));
    if (!response.ok) throw new Error(`${src} could not be loaded (HTTP ${response.status})`);
    const { lrs, losses } = await response.json();
    if (!Array.isArray(lrs) || !Array.isArray(losses) || lrs.length !== losses.length || lrs.length < 20) {
      throw new Error(`${src} must hold {"lrs": [...], "losses": [...]}, two lists of the same length (20 or more)`);
    }
    return { lrs, losses };
  }

  show(found, what) {
    const pick = (lr) => { this.picked.textContent = `Picked ${rate(lr)} on the plot.`; };
    let marks;
    ({ plot: this.plot, marks } = drawFinder(this.plot, this.plotBox, found, pick));
    this.list.replaceChildren(...marks.map((m) => el('li', {},
      el('span', { className: 'swatch', style: `background:${m.colour}` }), el('strong', {}, `${m.key} ${rate(m.lr)}`), `: ${m.what}`)));
    this.picked.textContent = `Suggestions on ${what}. Click the plot to pick a rate.`;
  }
}

defineWidget('kiln-lr-finder', KilnLrFinder);
