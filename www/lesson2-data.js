// Step 1 of the lesson: the photos. A dropped folder (walked with webkitGetAsEntry), a folder
// picked with <input webkitdirectory>, or the bundled sample photos; one subfolder per class, the
// folder's name the label (fastai's parent_label). The page reads nothing itself: it hands the
// File objects to the worker, which decodes them. Then: class counts, examples, what was skipped.
import { Kind, Op } from './learner-protocol.js';
import { messageOf, plain, reworded, sentence } from './kiln-text.js';
import { $, clock, dropZone, el, say, showAlert, tooBig } from './lesson2-ui.js';
import { check, readFields } from './lesson2-settings.js';

const EXAMPLES = 12;
/**
 * What the photos may take of kiln's memory: WebAssembly has 4 GB, and the network, its
 * gradients and a batch's activations need the rest (about 1 GB at 224 px, batch 16).
 */
const PHOTO_MEMORY_LIMIT = 2.5 * 2 ** 30;
/** Above this the page says, before loading, how much memory the photos will take. */
const PHOTO_MEMORY_NOTICE = 2 ** 30;

export function setupData(app) {
  $('sample').addEventListener('click', () => loadSample(app));
  $('folder-input').addEventListener('change', (event) => {
    const picked = [...event.target.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
    event.target.value = ''; // picking the same folder again still counts as a change
    loadPicked(app, picked);
  });
  dropZone($('drop-data'), async (transfer) => {
    // The entries must be taken during the drop event itself; they are walked afterwards.
    const entries = [...transfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
    // Without entries (a browser that has no webkitGetAsEntry) there are only the files themselves.
    const loose = [...transfer.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
    loadPicked(app, entries.length ? await filesOf(entries) : loose);
  });
  $('size').addEventListener('change', () => resize(app));
  $('precompute').addEventListener('change', (event) => {
    if (!app.summary) return;
    app.run('rebuilding the learner', async () => {
      await app.rebuild(app.info.backend);
      say('data-status', event.target.checked
        ? "Precompute: the frozen body's features are computed once, and only the head trains on them. Much faster, without augmentation; Unfreeze turns it off."
        : 'Precompute is off: every batch goes through the whole network, with augmentation.');
    });
  });
  $('oversample').addEventListener('change', (event) => app.run('oversampling', async () => {
    await app.worker.call(Op.OVERSAMPLE, { on: event.target.checked });
    say('data-status', event.target.checked
      ? 'Oversampling: rare classes are now drawn as often as common ones in training.'
      : 'Oversampling is off: every training photo is drawn once per epoch.');
  }));
  $('load-cancel').addEventListener('click', () => app.worker.call(Op.STOP));
  app.on('progress', (event) => { if (event.type === 'load') loadProgress(event); });
  app.on('dataset', ({ summary, fresh }) => {
    app.summary = summary;
    if (fresh) $('oversample').checked = false;
    show(app, summary);
  });
}

/**
 * What the worker needs to build the dataset and its learner. Throws, before anything is sent,
 * when the image size or batch size field breaks its rule (lesson2-settings.js).
 */
export function loadArgs(app, extra = {}) {
  const { size, bs } = readFields('size', 'bs');
  return {
    source: app.source,
    size,
    batchSize: bs,
    precompute: $('precompute').checked,
    edits: app.edits,
    unfrozen: app.unfrozen,
    oversample: $('oversample').checked,
    ...extra,
  };
}

/** The sample photos (all, or ?classes=fishes,tools and at most ?perclass=8 each), loaded in the worker. */
export function loadSample(app) {
  const classes = app.params.get('classes')?.split(',').map((c) => c.trim()).filter(Boolean);
  const perClass = Number(app.params.get('perclass')) || undefined;
  const names = (summary) => summary.items.map((item) => item.name);
  // The page keeps its own copy of the photos it shows, as blobs, so that once loaded it needs
  // nothing more from the server (it works offline).
  const thumbs = async (summary) => {
    const blobs = new Map(await Promise.all(names(summary).map(async (name) => {
      const response = await fetch(`www/sample/${name}`);
      if (!response.ok) throw new Error(`sample photo ${name} could not be loaded (HTTP ${response.status})`);
      return [name, await response.blob()];
    })));
    return new Thumbs([...blobs.keys()], (name) => URL.createObjectURL(blobs.get(name)), true);
  };
  return load(app, { kind: 'sample', classes, perClass }, thumbs, []);
}

/** Files from a drop or the folder picker: labelled by their folder, checked, then loaded. */
function loadPicked(app, picked) {
  if (!picked.length) {
    showAlert('The folder is empty: there are no files in it. Choose a folder with one subfolder of photos per class.');
    return;
  }
  const { files, skipped } = label(picked);
  if (!files.length) {
    const why = [...new Set(skipped.map((s) => s.reason))].join('; ');
    const none = picked.length === 1 ? 'The file cannot be used' : `None of the ${picked.length} files can be used`;
    showAlert(`${none} (${why}). Put the photos in one subfolder per class.${app.summary ? ' The previous dataset is still loaded.' : ''}`);
    return;
  }
  loadFiles(app, files, skipped);
}

/**
 * Builds the dataset from labelled files (`{file, name, label, valid?}`: a folder's, or the
 * camera's photos), as every source of photos does; `skipped` lists what was left out already.
 */
export function loadFiles(app, files, skipped = []) {
  const byName = new Map(files.map((f) => [f.name, f.file]));
  return load(app, { kind: 'files', files }, () => new Thumbs([...byName.keys()], (name) => URL.createObjectURL(byName.get(name)), true), skipped);
}

/**
 * Labels from the parent folder; a `train`/`valid` folder above the class folders is the split
 * (fastai's GrandparentSplitter), otherwise 20% chosen at random with a fixed seed. Hidden files,
 * files outside a class folder and files too big to read (`tooBig`) are skipped here, with the reason.
 */
function label(picked) {
  const files = [];
  const skipped = [];
  for (const { file, path } of picked) {
    // Chromium writes a backslash in a file's name as a slash in its path ("cls/back\slash.jpg"
    // becomes "cls/back/slash.jpg"), so the name is the File's own and the folders come before it.
    const seen = file.name.replaceAll('\\', '/');
    const folders = path.endsWith(seen) ? path.slice(0, -seen.length) : path.slice(0, path.lastIndexOf('/') + 1);
    const parts = [...folders.split('/').filter(Boolean), file.name];
    const name = parts.join('/');
    if (parts.at(-1).startsWith('.')) skipped.push({ name, reason: 'a hidden file' });
    else if (parts.length < 2) skipped.push({ name, reason: 'not inside a class folder' });
    else if (tooBig(file)) skipped.push({ name, reason: `${tooBig(file)}: not opened` });
    else files.push({ file, name, label: parts.at(-2), split: parts.slice(0, -2).findLast((p) => p === 'train' || p === 'valid') });
  }
  const given = files.some((f) => f.split === 'valid') && files.some((f) => f.split === 'train');
  for (const f of files) {
    if (given) f.valid = f.split === 'valid';
    delete f.split;
  }
  return { files, skipped };
}

/**
 * Bytes kiln keeps for `count` photos at `size` px: 8-bit RGB with the shorter side at `size`
 * (4:3 photos assumed, as cameras take them) and, with precompute, MobileNetV2's 1280 features
 * per 32x32 pixels as f32.
 */
function photoMemory(count, size, precompute) {
  const pixels = 3 * size * Math.ceil((size * 4) / 3);
  const features = precompute ? 1280 * Math.ceil(size / 32) ** 2 * 4 : 0;
  return count * (pixels + features);
}

const gigabytes = (bytes) => `${(bytes / 2 ** 30).toFixed(1)} GB`;

/** Why `count` photos at `size` px do not fit, and what would. */
function tooMuch(count, size, precompute, needed) {
  let smaller = size;
  while (smaller > 32 && photoMemory(count, smaller, precompute) > PHOTO_MEMORY_LIMIT) smaller -= 16;
  const fewer = Math.floor(PHOTO_MEMORY_LIMIT / photoMemory(1, size, precompute));
  const options = [`choose an image size of ${smaller} px or less`, `load at most ${fewer.toLocaleString('en')} photos at ${size} px`];
  if (precompute) options.push('turn Precompute off');
  return `${count.toLocaleString('en')} photos at ${size} px would need about ${gigabytes(needed)} of memory, more than the ${gigabytes(PHOTO_MEMORY_LIMIT)} ` +
    `a page can give them (the browser gives WebAssembly 4 GB in all): ${options.join(', or ')}.`;
}

/** Photos decoded so far, and an estimate of the time left from the rate so far. */
function loadProgress({ done, total, skipped, seconds, memory }) {
  $('load-bar').max = total;
  $('load-bar').value = done;
  const left = done < total ? Math.ceil((seconds / done) * (total - done)) : 0;
  $('load-text').textContent = `${done.toLocaleString('en')} of ${total.toLocaleString('en')}${left ? ` · about ${clock(left)} left` : ''}`;
  $('load-detail').textContent = `${(done / seconds).toFixed(0)} photos/s${skipped ? ` · ${skipped} skipped` : ''} · kiln holds ${gigabytes(memory)}`;
}

/** Every file under the dropped entries, with its path from the drop. */
async function filesOf(entries) {
  const out = [];
  const read = (reader) => new Promise((resolve, reject) => reader.readEntries(resolve, reject));
  async function walk(entry) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      out.push({ file, path: entry.fullPath.replace(/^\//, '') });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      // readEntries answers in chunks (100 at a time in Chromium) until it answers nothing.
      for (let chunk = await read(reader); chunk.length; chunk = await read(reader)) {
        for (const child of chunk) await walk(child);
      }
    }
  }
  for (const entry of entries) await walk(entry);
  return out;
}

/**
 * Builds the dataset and a fresh learner in the worker. Only when that works does the page
 * switch to it; otherwise the message says why and the previous dataset stays.
 */
function load(app, source, thumbsFor, skippedHere) {
  return app.run('loading the photos', async () => {
    let args;
    try {
      args = loadArgs(app, { source, edits: [], unfrozen: false, oversample: false, restore: true });
    } catch (error) {
      throw notLoaded(app, error); // a field that breaks its rule
    }
    const needed = source.kind === 'files' ? photoMemory(source.files.length, args.size, args.precompute) : 0;
    if (needed > PHOTO_MEMORY_LIMIT) {
      const kept = app.summary ? ': the previous dataset is still there' : '';
      throw Object.assign(new Error(`${tooMuch(source.files.length, args.size, args.precompute, needed)} Nothing was loaded${kept}.`), { kind: Kind.BAD_INPUT });
    }
    say('data-status', source.kind === 'sample'
      ? 'Loading the sample photos…'
      : `Reading and decoding ${source.files.length.toLocaleString('en')} files${needed > PHOTO_MEMORY_NOTICE ? `: they will take about ${gigabytes(needed)} of memory` : ''}…`);
    let loaded;
    try {
      loaded = await withProgress(source, () => app.worker.call(Op.LOAD, args));
    } catch (error) {
      if (app.summary) show(app, app.summary);
      else say('data-status', '');
      const kept = app.summary ? ' The previous dataset is still loaded.' : '';
      if (error?.kind === Kind.CANCELLED) {
        say('data-status', `Loading was cancelled.${kept}`);
        return;
      }
      throw notLoaded(app, error);
    }
    const thumbs = await thumbsFor(loaded.summary);
    app.thumbs?.revoke();
    app.thumbs = thumbs;
    Object.assign(app, { source, edits: [], unfrozen: false, lastModel: loaded.restored?.model ?? null, skippedHere });
    app.emit('dataset', { summary: loaded.summary, fresh: true });
    app.emit('restored', loaded.restored);
  });
}

/** `error` as the reason these photos could not be loaded, saying whether the previous dataset stays. */
function notLoaded(app, error) {
  const kept = app.summary ? ' The previous dataset is still loaded.' : '';
  return reworded(error, `These photos could not be loaded: ${plain(messageOf(error))}.${kept}`);
}

/** The progress bar and its Cancel button, shown while `body` decodes the files of `source`. */
async function withProgress(source, body) {
  $('load-progress').hidden = source.kind !== 'files';
  $('load-bar').removeAttribute('value'); // indeterminate until the first chunk is decoded
  $('load-text').textContent = '';
  $('load-detail').textContent = '';
  try {
    return await body();
  } finally {
    $('load-progress').hidden = true;
  }
}

/** Progressive resizing: the images get a new size, the weights stay. */
function resize(app) {
  const { value: size, message } = check('size', $('size').value);
  if (message) {
    showAlert(sentence(message));
    if (app.summary) $('size').value = app.summary.size;
    return;
  }
  if (!app.summary || size === app.summary.size) return;
  const precompute = $('precompute').checked;
  const needed = photoMemory(app.summary.items.length, size, precompute);
  if (needed > PHOTO_MEMORY_LIMIT) {
    showAlert(tooMuch(app.summary.items.length, size, precompute, needed));
    $('size').value = app.summary.size;
    return;
  }
  app.run('resizing', async () => {
    // Growing decodes the photos again (kiln keeps them only at the current size): with progress.
    const summary = await withProgress(size > app.summary.size ? app.source : {}, () => app.worker.call(Op.SET_IMAGE_SIZE, { size, source: app.source }));
    app.emit('dataset', { summary, fresh: false });
    say('data-status', `The photos are now ${size} px. The weights are kept: fastai calls this progressive resizing.`);
  });
}

/** Object URLs of the photos by item name, made when first shown. */
class Thumbs {
  constructor(names, make, revocable = false) {
    this.known = new Set(names);
    this.make = make;
    this.urls = new Map();
    this.revocable = revocable;
  }

  url(name) {
    if (!this.known.has(name)) return '';
    if (!this.urls.has(name)) this.urls.set(name, this.make(name));
    return this.urls.get(name);
  }

  revoke() {
    if (this.revocable) for (const url of this.urls.values()) URL.revokeObjectURL(url);
  }
}

/** A photo with a caption; long captions may break after a slash. */
export function photo(app, name, caption, extra = {}) {
  const parts = caption.split('/').flatMap((part, i) => (i ? ['/', el('wbr'), part] : [part]));
  return el('figure', { className: 'photo', ...extra },
    el('img', { src: app.thumbs?.url(name) ?? '', alt: caption, loading: 'lazy', decoding: 'async' }),
    el('figcaption', {}, ...parts));
}

/** Counts, warnings, skipped files and a few examples of the dataset. */
function show(app, summary) {
  const counts = summary.classCounts;
  const train = counts.reduce((s, c) => s + c.train, 0);
  const valid = counts.reduce((s, c) => s + c.valid, 0);
  $('data-view').hidden = false;
  const n = (count) => count.toLocaleString('en');
  say('data-status', `${n(train + valid)} photos in ${counts.length} classes: ${n(train)} to train on, ${n(valid)} set aside to validate. Images are cropped to ${summary.size} px squares.`);
  $('size').value = summary.size;

  $('class-counts').tBodies[0].replaceChildren(...counts.map((c) => el('tr', {}, el('th', { scope: 'row' }, c.class), el('td', {}, String(c.train)), el('td', {}, String(c.valid)))));
  $('class-counts').tFoot.replaceChildren(el('tr', {}, el('th', { scope: 'row' }, 'total'), el('td', {}, String(train)), el('td', {}, String(valid))));

  // kiln warns about classes too small to learn and about unbalanced classes (the largest three
  // times the smallest or more), which oversampling helps.
  const warnings = summary.warnings.map((w) => w.charAt(0).toUpperCase() + w.slice(1));
  $('warnings').hidden = !warnings.length && !$('oversample').checked;
  $('warning-list').replaceChildren(...warnings.map((w) => el('li', {}, w)));

  const skipped = [...(app.skippedHere ?? []), ...summary.skipped];
  $('skipped').hidden = !skipped.length;
  $('skipped-count').textContent = `${skipped.length} file${skipped.length === 1 ? '' : 's'} skipped`;
  // The reasons from kiln repeat the operation and the file's name; the list shows the name once.
  const reason = (s) => plain(s.reason.replace(`${s.name}: `, ''));
  $('skipped-list').replaceChildren(...skipped.map((s) => el('li', {}, el('code', {}, s.name), `: ${reason(s)}`)));

  // Examples: the classes in turn, so every class shows up.
  const byClass = summary.vocab.map((v) => summary.items.filter((item) => item.label === v && item.split !== 'deleted'));
  const examples = [];
  for (let round = 0; examples.length < EXAMPLES && round < 50; round++) {
    for (const items of byClass) if (items[round] && examples.length < EXAMPLES) examples.push(items[round]);
  }
  $('examples').replaceChildren(...examples.map((item) => photo(app, item.name, `${item.label} · ${item.split}`)));
}
