// Lesson 2's "SGD from scratch", computed by kiln. The page picks WebGPU when the browser has it
// (or the backend named in ?backend=), falls back to the CPU backend with a plain message, and
// animates 100 steps of gradient descent on the mean squared error.
//
// For tests and lessons the page state is also readable as `window.lesson`.
import init, { useBackend } from '../pkg/kiln.js';
import { describeBackend, messageOf, plain } from './kiln-text.js';
import { START_A, drawLineFit, exploded, fitLine, formatA, makeLineData } from './sgd-fit.js';

const $ = (id) => document.getElementById(id);

const lesson = { x0: [], y: [], a: [...START_A], losses: [], step: 0, running: false, done: false, backend: null };
window.lesson = lesson;

let data = null; // makeLineData's: the tensors on the current backend and the numbers plotted
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

async function makeData() {
  data = await makeLineData();
  lesson.x0 = data.x0;
  lesson.y = data.ys;
  drawPlot(START_A);
}

function drawPlot(a) {
  plot = drawLineFit(plot, $('plot'), data, a);
}

function logLoss(step, loss) {
  lesson.losses.push({ step, loss });
  const row = document.createElement('tr');
  row.innerHTML = `<td>${step}</td><td class="${exploded(loss) ? 'bad' : ''}">${Number.isFinite(loss) ? loss.toPrecision(4) : loss}</td>`;
  $('loss-table').tBodies[0].append(row);
}

async function run(lr, steps) {
  lesson.running = true; lesson.done = false; lesson.losses = []; stopRequested = false;
  $('loss-table').tBodies[0].replaceChildren();
  $('run').disabled = true; $('stop').disabled = false; $('backend-select').disabled = true;
  try {
    const onStep = (step, a) => {
      lesson.a = a;
      lesson.step = step;
      $('step').textContent = String(step);
      $('a-value').textContent = formatA(a);
      drawPlot(a);
    };
    const diverged = await fitLine(data, lr, steps, { onStep, onLoss: logLoss, stopped: () => stopRequested });
    if (diverged) {
      showNotice(`The loss exploded: a learning rate of ${lr} is too high, each step overshoots further. Try a smaller one.`, 'error');
    } else {
      showNotice('');
    }
  } catch (error) {
    showNotice(`Training stopped: ${messageOf(error)}`, 'error');
  } finally {
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
