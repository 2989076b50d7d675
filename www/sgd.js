// Lesson 2's "SGD from scratch", computed by kiln. The page picks WebGPU when the browser has it
// (or the backend named in ?backend=), falls back to the CPU backend with a plain message, and
// animates 100 steps of gradient descent on the mean squared error.
//
// For tests and lessons the page state is also readable as `window.lesson`.
import init, { useBackend, Tensor } from '../pkg/kiln.js';
import uPlot from './vendor/uPlot.esm.js';
import { describeBackend, messageOf, plain } from './kiln-text.js';

const N = 100;
const TRUE_A = [3, 2];
const START_A = [-1, 1];
const FRAME_MS = 20; // the lesson's animation interval
const $ = (id) => document.getElementById(id);

const lesson = { x0: [], y: [], a: [...START_A], losses: [], step: 0, running: false, done: false, backend: null };
window.lesson = lesson;

let data = null; // { x, y } tensors on the current backend
let plot = null;
let stopRequested = false;

/** Shows (or with '' hides) a message: training problems in #notice, backend news in #backend-notice. */
function showNotice(text, kind = 'info', id = 'notice') {
  const notice = $(id);
  notice.textContent = text;
  notice.className = kind === 'error' ? 'notice error' : 'notice';
  notice.hidden = !text;
}

/** Switches backend; without WebGPU, says so and runs on the CPU. */
async function selectBackend(name) {
  let info;
  try {
    info = await useBackend(name);
    showNotice('', 'info', 'backend-notice');
  } catch (error) {
    info = await useBackend('cpu');
    showNotice(`WebGPU is not available here: ${plain(messageOf(error))}. kiln runs on its CPU backend instead.`, 'info', 'backend-notice');
  }
  lesson.backend = info;
  $('backend-select').value = info.backend;
  $('backend-status').textContent = describeBackend(info);
  await makeData();
}

/** x = [U(-1, 1), 1]; y = x @ (3, 2) + U(0, 1): the lesson's data, from fixed seeds. */
async function makeData() {
  const x0 = (await Tensor.rand([N], 1).toArray()).map((u) => 2 * u - 1);
  const xs = new Float32Array(2 * N);
  x0.forEach((v, i) => { xs[2 * i] = v; xs[2 * i + 1] = 1; });
  const x = Tensor.fromArray(xs, [N, 2]);
  const noise = Tensor.rand([N, 1], 2);
  const y = x.matmul(Tensor.fromArray(TRUE_A, [2, 1])).add(noise);
  data = { x, y };
  lesson.x0 = Array.from(x0);
  lesson.y = Array.from(await y.toArray());
  drawPlot(START_A);
}

function drawPlot(a) {
  // uPlot wants ascending x: draw the points sorted by x0, and the line through the same x.
  const order = lesson.x0.map((_, i) => i).sort((i, j) => lesson.x0[i] - lesson.x0[j]);
  const xs = order.map((i) => lesson.x0[i]);
  const table = [xs, order.map((i) => lesson.y[i]), xs.map((v) => v * a[0] + a[1])];
  if (plot) {
    plot.setData(table);
    return;
  }
  const yMin = Math.min(...lesson.y) - 1;
  const yMax = Math.max(...lesson.y) + 1;
  const width = Math.max(320, $('plot').clientWidth || 600);
  plot = new uPlot({
    width, height: 360,
    scales: { x: { time: false, range: [-1.05, 1.05] }, y: { range: [Math.min(yMin, -3), yMax] } },
    axes: [{ label: 'x' }, { label: 'y' }],
    legend: { show: true },
    series: [
      { label: 'x' },
      { label: 'points', stroke: '#1d4ed8', paths: () => null, points: { show: true, size: 6, fill: '#1d4ed8' } },
      { label: 'x·a', stroke: '#c2410c', width: 3, points: { show: false } },
    ],
  }, table, $('plot'));
}

function formatA(a) {
  const show = (v) => (!Number.isFinite(v) ? String(v) : Math.abs(v) < 1e4 ? v.toFixed(3) : v.toExponential(2));
  return `(${a.map(show).join(', ')})`;
}

function logLoss(step, loss) {
  lesson.losses.push({ step, loss });
  const row = document.createElement('tr');
  const bad = !Number.isFinite(loss) || loss > 1e6;
  row.innerHTML = `<td>${step}</td><td class="${bad ? 'bad' : ''}">${Number.isFinite(loss) ? loss.toPrecision(4) : loss}</td>`;
  $('loss-table').tBodies[0].append(row);
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function run(lr, steps) {
  lesson.running = true; lesson.done = false; lesson.losses = []; stopRequested = false;
  $('loss-table').tBodies[0].replaceChildren();
  $('run').disabled = true; $('stop').disabled = false; $('backend-select').disabled = true;
  const { x, y } = data;
  const a = Tensor.fromArray(START_A, [2, 1], true);
  let diverged = false;
  try {
    for (let t = 0; t < steps && !stopRequested; t++) {
      const frame = sleep(FRAME_MS);
      const loss = x.matmul(a).sub(y).pow(2).mean(); // mse(y, x @ a)
      if (t % 10 === 0) logLoss(t, await loss.item());
      loss.backward();
      const grad = a.grad;
      a.sub_(grad.mul(lr)); // with torch.no_grad(): a.sub_(lr * a.grad)
      a.zeroGrad();
      grad.free(); loss.free();
      lesson.a = Array.from(await a.toArray());
      lesson.step = t + 1;
      $('step').textContent = String(t + 1);
      $('a-value').textContent = formatA(lesson.a);
      drawPlot(lesson.a);
      if (!lesson.a.every(Number.isFinite)) { diverged = true; break; }
      await frame;
    }
    const final = await x.matmul(a).sub(y).pow(2).mean().item();
    logLoss(lesson.step, final);
    diverged ||= !Number.isFinite(final) || final > 1e6;
    if (diverged) {
      showNotice(`The loss exploded: a learning rate of ${lr} is too high, each step overshoots further. Try a smaller one.`, 'error');
    } else {
      showNotice('');
    }
  } catch (error) {
    showNotice(`Training stopped: ${messageOf(error)}`, 'error');
  } finally {
    a.free();
    lesson.running = false; lesson.done = true;
    $('run').disabled = false; $('stop').disabled = true; $('backend-select').disabled = false;
  }
}

async function main() {
  await init();
  const params = new URLSearchParams(location.search);
  if (params.has('lr')) $('lr').value = params.get('lr');
  if (params.has('steps')) $('steps').value = params.get('steps');
  await selectBackend(params.get('backend') === 'cpu' ? 'cpu' : 'webgpu');

  $('backend-select').addEventListener('change', (event) => selectBackend(event.target.value));
  $('stop').addEventListener('click', () => { stopRequested = true; });
  $('controls').addEventListener('submit', (event) => {
    event.preventDefault();
    const lr = Number($('lr').value);
    const steps = Math.round(Number($('steps').value));
    if (!(lr > 0) || !(steps >= 1)) {
      showNotice('The learning rate must be a positive number and steps at least 1.', 'error');
      return;
    }
    run(lr, steps);
  });
  if (params.get('autorun') !== '0') $('controls').requestSubmit();
}

main().catch((error) => showNotice(`kiln could not start: ${messageOf(error)}`, 'error'));
