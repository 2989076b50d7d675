// <kiln-classifier size="64" epochs="2" lr="1e-2">: Lesson 2's image classifier in a box. Each
// class gets a name and photos, from the disk, from the webcam ("Take photo"), or the bundled
// sample photos (`classes`, `per-class`); "Train" fine-tunes the head of a pretrained MobileNetV2
// on them in the lesson page's Web Worker (www/learner-worker.js, through lesson2-client.js);
// then it classifies a photo, or what the camera sees, live. Nothing leaves the page.
import { KilnWidget, defineWidget, el } from './widget.js';
import { LearnerClient } from '../lesson2-client.js';
import { Op } from '../learner-protocol.js';
import { Camera, frame, goodClassName } from '../camera.js';
import { loadSampleFiles } from '../sample.js';
import { rankedProbabilities } from '../lesson2-use.js';
import { percent } from '../lesson2-ui.js';
import { plainMessageOf } from '../kiln-text.js';

/** Between two live predictions: the worker is never asked for more than one at a time anyway. */
const LIVE_PAUSE_MS = 250;

class KilnClassifier extends KilnWidget {
  static settings = {
    classes: { type: 'text', default: '' },
    'per-class': { type: 'integer', min: 2, max: 100, default: 10 },
    size: { type: 'integer', min: 32, max: 224, default: 64 },
    'batch-size': { type: 'integer', min: 2, max: 64, default: 8 },
    epochs: { type: 'integer', min: 1, max: 20, default: 2 },
    lr: { type: 'number', min: 1e-6, max: 1, default: 1e-2 },
    backend: { type: 'choice', choices: ['auto', 'cpu', 'webgpu'], default: 'cpu' },
  };

  build(root) {
    this.rows = [];
    this.video = el('video', { className: 'camera', muted: true, playsInline: true, hidden: true, ariaLabel: 'Camera' });
    this.camera = new Camera([this.video]);
    const button = (text, onclick, props = {}) => el('button', { type: 'button', onclick, ...props }, text);
    this.cameraButton = button('Start the camera', () => (this.camera.on ? this.stopCamera() : this.startCamera()), { className: 'secondary' });
    this.classRows = el('div', { className: 'classes', ariaLabel: 'Classes and their photos', role: 'group' });
    this.trainButton = button('Train', () => this.train());
    this.status = el('p', { role: 'status', ariaLabel: 'Classifier' }, 'Give each class a name and a few photos, then Train.');
    this.photoInput = el('input', { type: 'file', accept: 'image/*' });
    this.photoInput.addEventListener('change', () => {
      const [file] = this.photoInput.files;
      this.photoInput.value = '';
      if (file) this.classify(file, file.name).catch((error) => this.showProblem(`The photo could not be classified: ${plainMessageOf(error)}`));
    });
    this.liveButton = button('Classify from the camera', () => (this.live ? this.stopLive() : this.startLive()), { className: 'secondary' });
    this.preview = el('img', { className: 'preview', alt: '' });
    this.prediction = el('p', { role: 'status', ariaLabel: 'Prediction' });
    this.probabilities = el('ol', { className: 'probabilities', ariaLabel: 'Class probabilities' });
    this.use = el('div', { className: 'use', hidden: true },
      el('div', { className: 'controls' }, el('label', { className: 'file' }, 'Classify a photo', this.photoInput), this.liveButton),
      el('div', { className: 'result' }, this.preview, el('div', {}, this.prediction, this.probabilities)));
    root.append(el('h3', {}, 'Train an image classifier'),
      el('div', { className: 'controls' },
        button('Use sample photos', () => this.useSamples(), { className: 'secondary' }),
        this.cameraButton, button('Add a class', () => this.addClass(''), { className: 'secondary' })),
      this.video, this.classRows, el('div', { className: 'controls' }, this.trainButton), this.status, this.use);
    this.addClass('');
    this.addClass('');
  }

  update(settings) {
    this.settings = settings;
  }

  /** A class: its name field, "Add photos", "Take photo" and its thumbnails. */
  addClass(name, files = []) {
    const row = { files: [...files] };
    row.name = el('input', { type: 'text', value: name, placeholder: 'class name', ariaLabel: 'Class name' });
    const picker = el('input', { type: 'file', accept: 'image/*', multiple: true });
    picker.addEventListener('change', () => { row.files.push(...picker.files); picker.value = ''; this.showRow(row); });
    row.shoot = el('button', { type: 'button', className: 'secondary', disabled: !this.camera.on, onclick: () => this.takePhoto(row) }, 'Take photo');
    row.count = el('span', { className: 'count' });
    row.thumbs = el('div', { className: 'thumbs' });
    row.element = el('fieldset', { className: 'class' }, row.name, el('label', { className: 'file' }, 'Add photos', picker), row.shoot, row.count, row.thumbs);
    this.rows.push(row);
    this.classRows.append(row.element);
    this.showRow(row);
  }

  showRow(row) {
    row.count.textContent = `${row.files.length} photo${row.files.length === 1 ? '' : 's'}`;
    row.thumbs.replaceChildren(...row.files.map((file) => {
      const image = el('img', { alt: file.name, src: URL.createObjectURL(file) });
      image.addEventListener('load', () => URL.revokeObjectURL(image.src), { once: true });
      return image;
    }));
  }

  /** The sample photos (www/sample/), `per-class` of each of `classes` (all by default), as the classes. */
  async useSamples() {
    const { classes, perClass } = this.settings;
    this.say('Loading the sample photos…');
    try {
      const wanted = classes ? classes.split(',').map((c) => c.trim()) : undefined;
      const samples = await loadSampleFiles(undefined, { classes: wanted, perClass });
      if (!samples.length) throw new Error(`the sample photos have no class named ${classes}`);
      for (const row of this.rows) row.element.remove();
      this.rows = [];
      const byClass = Map.groupBy(samples, (s) => s.label);
      for (const [label, photos] of byClass) this.addClass(label, photos.map((p) => new File([p.bytes], p.name.split('/').pop())));
      this.say(`${samples.length} sample photos in ${byClass.size} classes. Train when ready.`);
    } catch (error) {
      this.showProblem(`The sample photos could not be loaded: ${plainMessageOf(error)}.`);
    }
  }

  async startCamera() {
    try {
      await this.camera.open();
    } catch (error) {
      this.showProblem(`The camera cannot be used: ${error.message}.`);
      return;
    }
    this.video.hidden = false;
    this.cameraButton.textContent = 'Stop the camera';
    for (const row of this.rows) row.shoot.disabled = false;
    this.say('The camera is on: name a class, then "Take photo" a few times; then the next class.');
  }

  stopCamera() {
    this.stopLive();
    this.camera.stop();
    this.video.hidden = true;
    this.cameraButton.textContent = 'Start the camera';
    for (const row of this.rows) row.shoot.disabled = true;
  }

  async takePhoto(row) {
    const label = row.name.value.trim();
    if (!goodClassName(label)) {
      this.showProblem('Type the name of the class these photos show first (without slashes), such as "thumbs up".');
      row.name.focus();
      return;
    }
    row.files.push(new File([await frame(this.video)], `camera-${row.files.length + 1}.jpg`, { type: 'image/jpeg' }));
    this.showRow(row);
  }

  /** The photos of every named class with photos, as the worker's LOAD takes them; throws when they cannot train. */
  photos() {
    const rows = this.rows.filter((row) => row.files.length);
    const labels = rows.map((row) => row.name.value.trim());
    if (rows.length < 2) throw new Error('Two classes or more need photos: add some, take some, or use the sample photos.');
    if (!labels.every(goodClassName)) throw new Error('Every class with photos needs a name, without slashes.');
    if (new Set(labels).size < labels.length) throw new Error('Two classes have the same name: give each its own.');
    return rows.flatMap((row, i) => row.files.map((file) => ({ file, name: `${labels[i]}/${file.name}`, label: labels[i] })));
  }

  async train() {
    const { size, batchSize, epochs, lr, backend } = this.settings;
    let files;
    try {
      files = this.photos();
    } catch (error) {
      this.showProblem(error.message);
      return;
    }
    this.stopLive();
    this.trainButton.disabled = true;
    this.showProblem('');
    this.client ??= new LearnerClient((event) => this.progress(event));
    try {
      this.say('Starting kiln…');
      await this.client.call(Op.START, { backend, size, batchSize });
      this.say(`Reading ${files.length} photos…`);
      // precompute: the frozen body's features are worked out once, so the head trains fast.
      const { summary } = await this.client.call(Op.LOAD, { source: { kind: 'files', files }, size, batchSize, precompute: true });
      this.vocab = summary.vocab;
      this.say(`Training on ${summary.items} photos in ${summary.vocab.length} classes…`);
      const { outcome, message } = await this.client.call(Op.TRAIN, { method: 'fit_one_cycle', epochs, lr });
      if (outcome === 'diverged') throw new Error(message);
      this.say(`Trained: ${this.lastEpoch ? `error rate ${percent(this.lastEpoch.errorRate)} on the photos kept aside. ` : ''}Now classify a photo, or what the camera sees.`);
      this.use.hidden = false;
    } catch (error) {
      this.showProblem(`Training failed: ${plainMessageOf(error)}`);
    } finally {
      this.trainButton.disabled = false;
    }
  }

  progress(event) {
    if (event.type === 'load') this.say(`Reading photos: ${event.done} of ${event.total}…`);
    if (event.type === 'batch') this.say(`Training: epoch ${event.epoch + 1}, batch ${event.batch + 1} of ${event.batches}…`);
    if (event.type === 'epoch') this.lastEpoch = event;
  }

  async classify(image, name) {
    const result = await this.client.call(Op.PREDICT, { file: image, name });
    if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
    this.previewUrl = URL.createObjectURL(image);
    this.preview.src = this.previewUrl;
    this.preview.alt = name;
    const { ranked, items } = rankedProbabilities(this.vocab, result.probabilities);
    this.probabilities.replaceChildren(...items);
    this.prediction.textContent = `${name}: ${result.label} (${percent(ranked[0].p)})`;
  }

  /** Classifies what the camera sees, over and over, until stopped. */
  async startLive() {
    if (!this.camera.on) await this.startCamera();
    if (!this.camera.on) return;
    this.live = true;
    this.liveButton.textContent = 'Stop classifying';
    try {
      while (this.live) {
        await this.classify(await frame(this.video), 'The camera');
        await new Promise((next) => setTimeout(next, LIVE_PAUSE_MS));
      }
    } catch (error) {
      this.showProblem(`Live classification stopped: ${plainMessageOf(error)}`);
    }
    this.stopLive();
  }

  stopLive() {
    this.live = false;
    this.liveButton.textContent = 'Classify from the camera';
  }

  say(text) {
    this.status.textContent = text;
  }
}

defineWidget('kiln-classifier', KilnClassifier);
