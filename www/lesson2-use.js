// Step 6 of the lesson: use the model. Classify one photo (dropped or picked), save the model
// (fastai's export: model.safetensors with PyTorch names + model.json; and model.onnx) and load it back.
import { Op } from './learner-protocol.js';
import { plainMessageOf, reworded } from './kiln-text.js';
import { $, dropZone, el, percent, say, showAlert, tooBig } from './lesson2-ui.js';

let previewUrl = null;

export function setupUse(app) {
  $('image-input').addEventListener('change', (event) => {
    const [file] = event.target.files;
    event.target.value = '';
    if (file) predict(app, file);
  });
  dropZone($('drop-image'), (transfer) => {
    const [file] = transfer.files;
    if (file) predict(app, file);
  });
  $('save-model').addEventListener('click', () => saveModel(app));
  $('model-input').addEventListener('change', (event) => {
    const files = [...event.target.files];
    event.target.value = '';
    loadModel(app, files);
  });
  app.on('dataset', ({ fresh }) => { if (fresh) forgetPrediction(); });
}

/** A new dataset has a new model: the last photo's prediction (from the old one) goes. */
function forgetPrediction() {
  $('prediction').hidden = true;
  $('probabilities').replaceChildren();
  $('predict-image').removeAttribute('src');
  $('predict-image').alt = '';
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  say('predict-status', '');
}

/** The class probabilities of one photo, most likely first. */
function predict(app, file) {
  if (!app.summary) return showAlert('Load a dataset and train a model first: the model needs to know the classes.');
  if (tooBig(file)) return showAlert(`${file.name}: ${tooBig(file)}. It was not opened.`);
  return app.run('predicting', async () => {
    say('predict-status', `Classifying ${file.name}…`);
    let result;
    try {
      result = await app.worker.call(Op.PREDICT, { file, name: file.name });
    } catch (error) {
      say('predict-status', '');
      throw error;
    }
    showPrediction(app, file, file.name, result);
  });
}

/**
 * The classes, most likely first (`ranked`: {label, p}), and a list item for each: its name, a
 * bar and its probability (`items`, for a `.probabilities` list). Also the classifier widget's.
 */
export function rankedProbabilities(vocab, probabilities) {
  const ranked = probabilities.map((p, i) => ({ label: vocab[i], p })).sort((a, b) => b.p - a.p);
  const items = ranked.map(({ label, p }) => el('li', {},
    el('span', { className: 'label' }, label),
    el('span', { className: 'bar', ariaHidden: 'true' }, el('span', { style: `width:${(100 * p).toFixed(1)}%` })),
    el('span', { className: 'value' }, percent(p))));
  return { ranked, items };
}

/**
 * Shows `image` (a photo File or Blob) named `name` with its classes, most likely first:
 * `result` is the worker's PREDICT answer. Also what the camera's live classification shows.
 */
export function showPrediction(app, image, name, result) {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(image);
  $('predict-image').src = previewUrl;
  $('predict-image').alt = name;
  const { ranked, items } = rankedProbabilities(app.summary.vocab, result.probabilities);
  $('probabilities').replaceChildren(...items);
  $('prediction').hidden = false;
  say('predict-status', `${name}: ${result.label} (${percent(ranked[0].p)})${app.lastModel ? '' : '. The head is not trained yet, so this is a guess: train first.'}`);
}

/** Downloads model.safetensors, model.json and model.onnx. */
function saveModel(app) {
  return app.run('saving the model', async () => {
    const { weights, description, onnx } = await app.worker.call(Op.EXPORT_MODEL);
    download(weights, 'model.safetensors');
    download(new Blob([description], { type: 'application/json' }), 'model.json');
    download(onnx, 'model.onnx');
    say('model-status', 'Saved model.safetensors (the weights, with PyTorch names) and model.json (the classes and image size): load both to use the model again. '
      + 'model.onnx is the whole model for ONNX Runtime and other runtimes where models are deployed.');
  });
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** model.safetensors + model.json, picked together; on any error the current model stays. */
function loadModel(app, files) {
  const weights = files.find((f) => f.name.endsWith('.safetensors'));
  const json = files.find((f) => f.name.endsWith('.json'));
  if (!app.summary) return showAlert('Load the dataset the model was trained on first: the model has to match its classes.');
  if (!weights || !json) return showAlert('Choose both files of a saved model together: model.safetensors and model.json.');
  return app.run('loading the model', async () => {
    const description = await json.text();
    try {
      const { model } = await app.worker.call(Op.LOAD_MODEL, { weights, description, name: weights.name });
      app.lastModel = model;
    } catch (error) {
      throw reworded(error, `The model could not be loaded: ${plainMessageOf(error)}. The current model is unchanged.`);
    }
    app.emit('trained', { outcome: 'loaded' });
    say('model-status', `Loaded ${weights.name}: predictions now use it.`);
  });
}
