// The camera (getUserMedia): in step 1, photos taken for each class and used like uploaded ones
// (Teachable Machine's way of making a dataset); in step 6, live classification of what the
// camera sees with the trained model. Nothing leaves the page: frames become JPEG files in memory
// and go to the learner's worker as the picked photos do.
import { Op } from './learner-protocol.js';
import { $, el, say, showAlert } from './lesson2-ui.js';
import { loadFiles } from './lesson2-data.js';
import { showPrediction } from './lesson2-use.js';
import { Camera, frame, goodClassName } from './camera.js';

/** Between two live predictions: the worker is never asked for more than one at a time anyway. */
const LIVE_PAUSE_MS = 250;

/** The photos taken, by class name, in the order the classes were started. */
const taken = new Map();
let live = false;

export function setupCamera(app) {
  $('camera-start').addEventListener('click', () => startPreview());
  $('camera-stop').addEventListener('click', () => stopCamera());
  $('camera-shoot').addEventListener('click', () => takePhoto());
  $('camera-use').addEventListener('click', () => usePhotos(app));
  $('camera-live').addEventListener('click', () => (live ? stopLive() : startLive(app)));
}

/** The camera, shown in the data step's preview and in step 6's live view. */
const camera = new Camera([$('camera-video'), $('live-video')]);

async function startPreview() {
  try {
    await camera.open();
  } catch (error) {
    showAlert(`The camera cannot be used: ${error.message}.`);
    return;
  }
  $('camera-view').hidden = false;
  $('camera-shoot').disabled = false;
  $('camera-stop').disabled = false;
  say('camera-status', 'The camera is on. Type a class name, then take photos of it; then another class.');
}

function stopCamera() {
  stopLive();
  camera.stop();
  $('camera-view').hidden = true;
  $('camera-shoot').disabled = true;
  $('camera-stop').disabled = true;
  say('camera-status', taken.size ? 'The camera is off; the photos taken are kept.' : '');
}

async function takePhoto() {
  const label = $('camera-class').value.trim();
  // The class becomes a folder name in the dataset (and in a saved CSV): no slashes.
  if (!goodClassName(label)) {
    showAlert('Type the name of the class these photos show first (without slashes), such as "thumbs up".');
    $('camera-class').focus();
    return;
  }
  const photos = taken.get(label) ?? [];
  taken.set(label, photos);
  photos.push(new File([await frame($('camera-video'))], `camera-${photos.length + 1}.jpg`, { type: 'image/jpeg' }));
  showTaken();
}

/** The photos taken, a row of thumbnails per class. */
function showTaken() {
  const rows = [...taken].map(([label, photos]) => el('div', { className: 'camera-class' },
    el('h3', {}, `${label}: ${photos.length} photo${photos.length === 1 ? '' : 's'}`),
    el('div', { className: 'thumbs' }, ...photos.map((file) => {
      const image = el('img', { alt: `${label}/${file.name}`, src: URL.createObjectURL(file) });
      image.addEventListener('load', () => URL.revokeObjectURL(image.src), { once: true });
      return image;
    }))));
  $('camera-shots').replaceChildren(...rows);
  const classes = [...taken.values()].filter((photos) => photos.length).length;
  $('camera-use').disabled = classes < 2;
  say('camera-status', classes < 2
    ? 'Now a second class: type its name and take its photos.'
    : `${classes} classes. Take more, or use these photos: a fifth of them, chosen at random, is kept aside to validate.`);
}

function usePhotos(app) {
  const files = [...taken].flatMap(([label, photos]) => photos.map((file) => ({ file, name: `${label}/${file.name}`, label })));
  return loadFiles(app, files);
}

/** Classifies what the camera sees, over and over, until stopped (or the learner gets busy). */
async function startLive(app) {
  if (!app.lastModel) say('predict-status', 'The head is not trained yet: train first, or these are guesses.');
  try {
    await camera.open();
  } catch (error) {
    showAlert(`The camera cannot be used: ${error.message}.`);
    return;
  }
  live = true;
  $('live-video').hidden = false;
  await $('live-video').play().catch(() => {});
  $('camera-live').textContent = 'Stop classifying';
  while (live && !app.busy) {
    const image = await frame($('live-video'));
    let result;
    try {
      result = await app.worker.call(Op.PREDICT, { file: image, name: 'camera.jpg' });
    } catch (error) {
      stopLive();
      showAlert(`Live classification stopped: ${error.message}`);
      return;
    }
    if (!live) break;
    showPrediction(app, image, 'The camera', result);
    await new Promise((next) => setTimeout(next, LIVE_PAUSE_MS));
  }
  stopLive();
}

function stopLive() {
  live = false;
  $('live-video').hidden = true;
  $('camera-live').textContent = 'Classify from the camera';
}
