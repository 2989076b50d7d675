// The lesson's two charts, drawn with uPlot, shared by the Lesson 2 page and the lesson widgets
// (www/widgets/): lr_find's loss curve with fastai's four suggestions, and a training schedule
// (the head's learning rate and the momentum per batch).
import uPlot from './vendor/uPlot.esm.js';
import { keepSized, rate, widthOf } from './lesson2-ui.js';

/** fastai's four suggestions, in the order lr_find reports them, with their colours and meaning. */
export const SUGGESTIONS = [
  { key: 'valley', colour: '#c2410c', what: "fastai's default: the middle of the longest downhill stretch" },
  { key: 'steep', colour: '#1d4ed8', what: 'where the loss falls fastest' },
  { key: 'minimum', colour: '#047857', what: 'the lowest loss, divided by 10' },
  { key: 'slide', colour: '#7c3aed', what: 'where the slope stops changing much' },
];

/** Axis ticks at the powers of ten only (uPlot's log axis also marks 2, 3, ... 9 of each decade). */
function decades(u, axis, min, max) {
  const out = [];
  for (let e = Math.ceil(Math.log10(min) - 1e-9); e <= Math.floor(Math.log10(max) + 1e-9); e++) out.push(10 ** e);
  return out;
}

/**
 * lr_find's curve in `container` (replacing `plot`, the chart drawn before, if any), with the four
 * suggestions marked on it; `onPick(lr)` is called with the rate under a click. Returns
 * `{plot, marks}`: marks are SUGGESTIONS with their rate (`lr`) and the loss there.
 */
export function drawFinder(plot, container, { lrs: allLrs, losses: allLosses, suggestions }, onPick) {
  // fastai's plot_lr_find leaves out the last 5 points (skip_end=5), where the loss shoots up and
  // would squash the interesting part of the curve.
  const shownPoints = allLrs.length > 10 ? allLrs.length - 5 : allLrs.length;
  const lrs = allLrs.slice(0, shownPoints);
  const losses = allLosses.slice(0, shownPoints);
  // The loss at a suggested rate: the recorded point nearest to it on the log scale.
  const lossAt = (lr) => losses[lrs.reduce((best, l, i) => (Math.abs(Math.log(l / lr)) < Math.abs(Math.log(lrs[best] / lr)) ? i : best), 0)];
  const marks = SUGGESTIONS.map((s) => ({ ...s, lr: suggestions[s.key], loss: lossAt(suggestions[s.key]) }));
  const drawMarks = (u) => {
    const { ctx } = u;
    const px = devicePixelRatio;
    ctx.save();
    ctx.font = `${14 * px}px system-ui, sans-serif`;
    marks.forEach((m, i) => {
      const x = u.valToPos(m.lr, 'x', true);
      const y = u.valToPos(m.loss, 'y', true);
      ctx.fillStyle = m.colour;
      ctx.beginPath();
      ctx.arc(x, y, 7 * px, 0, 2 * Math.PI);
      ctx.fill();
      // Labels alternately above and below the curve, so that neighbours do not overlap.
      ctx.textAlign = 'center';
      ctx.fillText(m.key, x, i % 2 ? y + 24 * px : y - 12 * px);
    });
    ctx.restore();
  };
  plot?.destroy();
  const chart = new uPlot({
    width: widthOf(container),
    height: 340,
    scales: { x: { time: false, distr: 3, log: 10 } },
    axes: [{ label: 'learning rate (log scale)', splits: decades, values: (u, splits) => splits.map(rate) }, { label: 'loss (smoothed)' }],
    legend: { show: false },
    series: [{}, { label: 'loss', stroke: '#1d232b', width: 2, points: { show: false } }],
    hooks: { draw: [drawMarks] },
  }, [lrs, losses], container);
  keepSized(chart, container, 340);
  chart.over.addEventListener('click', () => {
    const lr = chart.posToVal(chart.cursor.left, 'x');
    if (lr > 0) onPick(lr);
  });
  container.setAttribute('aria-label', `Smoothed loss against learning rate from ${rate(lrs[0])} to ${rate(lrs.at(-1))}; suggestions: ${marks.map((m) => `${m.key} ${rate(m.lr)}`).join(', ')}`);
  return { plot: chart, marks };
}

/** Whole batches on the x axis: no 1.5 or 2.5 ticks. */
export const BATCH_AXIS = { label: 'batches', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000] };

/**
 * The chart of a schedule (batches; the head's learning rate and the momentum): `data` is
 * [batches, rates, momenta]. Updates `plot` when there is one; returns the chart.
 */
export function drawSchedule(plot, container, data) {
  if (plot) {
    plot.setData(data);
    return plot;
  }
  const chart = new uPlot({
    width: widthOf(container),
    height: 280,
    scales: { x: { time: false }, mom: { range: [0.8, 1] } },
    legend: { live: false },
    axes: [BATCH_AXIS, { label: 'learning rate', values: (u, splits) => splits.map((v) => (v == null ? '' : rate(v))), size: 70 },
      { scale: 'mom', side: 1, label: 'momentum', grid: { show: false } }],
    series: [{ label: 'batch' },
      { label: 'lr (head)', stroke: '#c2410c', width: 2, points: { show: false }, value: (u, v) => (v == null ? '–' : rate(v)) },
      { label: 'momentum', scale: 'mom', stroke: '#047857', width: 2, points: { show: false } }],
  }, data, container);
  keepSized(chart, container, 280);
  return chart;
}
