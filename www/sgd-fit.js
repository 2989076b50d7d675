// Lesson 2's "SGD from scratch" with kiln's tensors: 100 noisy points around y = 3x + 2, and a
// line fitted from a = (-1, 1) by gradient descent on the mean squared error. Shared by the SGD
// page (www/sgd.js) and the <kiln-sgd> widget, which differ only in how they show it.
import { Tensor } from '../pkg/kiln.js';
import uPlot from './vendor/uPlot.esm.js';

const N = 100;
const TRUE_A = [3, 2];
export const START_A = [-1, 1];
/** The lesson's animation interval. */
export const FRAME_MS = 20;

/**
 * x = [U(-1, 1), 1]; y = x @ (3, 2) + U(0, 1): the lesson's data, from fixed seeds, as tensors on
 * the current backend (`x`, `y`) and as numbers to plot (`x0`, `ys`).
 */
export async function makeLineData() {
  const x0 = (await Tensor.rand([N], 1).toArray()).map((u) => 2 * u - 1);
  const xs = new Float32Array(2 * N);
  x0.forEach((v, i) => { xs[2 * i] = v; xs[2 * i + 1] = 1; });
  const x = Tensor.fromArray(xs, [N, 2]);
  const noise = Tensor.rand([N, 1], 2);
  const y = x.matmul(Tensor.fromArray(TRUE_A, [2, 1])).add(noise);
  return { x, y, x0: Array.from(x0), ys: Array.from(await y.toArray()) };
}

/** The points and the line x·a in `container`; updates `plot` when there is one, returns the chart. */
export function drawLineFit(plot, container, { x0, ys }, a) {
  // uPlot wants ascending x: draw the points sorted by x0, and the line through the same x.
  const order = x0.map((_, i) => i).sort((i, j) => x0[i] - x0[j]);
  const xs = order.map((i) => x0[i]);
  const table = [xs, order.map((i) => ys[i]), xs.map((v) => v * a[0] + a[1])];
  if (plot) {
    plot.setData(table);
    return plot;
  }
  const yMin = Math.min(...ys) - 1;
  const yMax = Math.max(...ys) + 1;
  return new uPlot({
    width: Math.max(320, container.clientWidth || 600), height: 360,
    scales: { x: { time: false, range: [-1.05, 1.05] }, y: { range: [Math.min(yMin, -3), yMax] } },
    axes: [{ label: 'x' }, { label: 'y' }],
    legend: { show: true },
    series: [
      { label: 'x' },
      { label: 'points', stroke: '#1d4ed8', paths: () => null, points: { show: true, size: 6, fill: '#1d4ed8' } },
      { label: 'x·a', stroke: '#c2410c', width: 3, points: { show: false } },
    ],
  }, table, container);
}

/** a as the lesson prints it: (2.998, 2.489). */
export function formatA(a) {
  const show = (v) => (!Number.isFinite(v) ? String(v) : Math.abs(v) < 1e4 ? v.toFixed(3) : v.toExponential(2));
  return `(${a.map(show).join(', ')})`;
}

/** A loss that has blown up: the rate was too high. */
export const exploded = (loss) => !Number.isFinite(loss) || loss > 1e6;

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/**
 * `steps` steps of gradient descent at rate `lr` on `data` (makeLineData's), one per `frameMs`:
 * `onStep(step, a)` after each, `onLoss(step, loss)` every 10 steps and at the end; `stopped()`
 * ends it early. Resolves to whether the loss exploded.
 */
export async function fitLine(data, lr, steps, { onStep, onLoss, stopped = () => false, frameMs = FRAME_MS }) {
  const { x, y } = data;
  const a = Tensor.fromArray(START_A, [2, 1], true);
  let step = 0;
  let diverged = false;
  try {
    for (let t = 0; t < steps && !stopped(); t++) {
      const frame = sleep(frameMs);
      const loss = x.matmul(a).sub(y).pow(2).mean(); // mse(y, x @ a)
      if (t % 10 === 0) onLoss(t, await loss.item());
      loss.backward();
      const grad = a.grad;
      a.sub_(grad.mul(lr)); // with torch.no_grad(): a.sub_(lr * a.grad)
      a.zeroGrad();
      grad.free(); loss.free();
      const values = Array.from(await a.toArray());
      step = t + 1;
      onStep(step, values);
      if (!values.every(Number.isFinite)) { diverged = true; break; }
      await frame;
    }
    const final = await x.matmul(a).sub(y).pow(2).mean().item();
    onLoss(step, final);
    return diverged || exploded(final);
  } finally {
    a.free();
  }
}
