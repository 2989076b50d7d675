// Every input a new user can give, refused with a clear message before any work starts (issue
// 14): URL parameters and form fields under one set of rules (www/lesson2-settings.js), the
// JavaScript API's limits, too few photos for a batch, weights that are not numbers, kiln's
// operation names kept out of messages, the alert in the page's flow, a stale prediction, a
// backslash in a file name and the cleaner's CSV. Screenshots go to test-output/inputs-*.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkClean, openKilnPage, openSite, outputDir, status } from './harness.mjs';

const LONG = { timeout: 300_000 };
const WEIGHTS_URL = '/www/models/mobilenet_v2.safetensors';
const samplePhoto = new URL('../../www/sample/fishes/fish1.webp', import.meta.url).pathname;
const shot = (page, name) => page.screenshot({ path: join(outputDir, `inputs-${name}.png`), fullPage: true });
const alertText = (page) => page.locator('#alert-text').textContent();

/** `count` small PNGs drawn by the browser, as arrays of bytes. */
function drawPngs(page, count) {
  return page.evaluate(async (n) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const canvas = new OffscreenCanvas(40, 40);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = i % 2 ? '#1d4ed8' : '#dc2626';
      ctx.fillRect(0, 0, 40, 40);
      out.push([...new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer())]);
    }
    return out;
  }, count);
}

describe('the JavaScript API refuses settings a Learner cannot use', () => {
  let site;
  before(async () => { site = await openKilnPage(); });
  after(() => site.close());

  test('batchSize 1, an image size of 100000 (which crashed with "unreachable"), and setImageSize(100000)', LONG, async () => {
    const pngs = await drawPngs(site.page, 8);
    const r = await site.page.evaluate(async ([pngs, weightsUrl]) => {
      const { ImageDataset, Learner } = window.kiln;
      const files = () => pngs.map((bytes, i) => ({ name: `${i}.png`, label: i % 2 ? 'blue' : 'red', bytes: new Uint8Array(bytes) }));
      const failure = (error) => `${error.kind}: ${error.message}`;
      const refused = (body) => { try { body(); return 'accepted'; } catch (error) { return failure(error); } };
      const batchOfOne = refused(() => Learner.vision(ImageDataset.fromFiles(files(), { size: 32 }), { batchSize: 1, weightsUrl }));
      const learn = await Learner.vision(ImageDataset.fromFiles(files(), { size: 32 }), { batchSize: 2, weightsUrl });
      const resized = refused(() => learn.setImageSize(100000));
      const size = learn.dataset.size;
      const huge = refused(() => ImageDataset.fromFiles(files(), { size: 100000 }));
      return { batchOfOne, resized, size, huge };
    }, [pngs, WEIGHTS_URL]);
    assert.equal(r.batchOfOne, 'bad-input: Learner.vision: option batchSize: the batch size must be at least 2 to train (batch norm compares the images of a batch), got 1');
    assert.equal(r.resized, 'bad-input: dataset: the image size must be from 1 to 1024 pixels, got 100000');
    assert.equal(r.size, 32, 'the refused size changed nothing');
    assert.equal(r.huge, 'bad-input: dataset: the image size must be from 1 to 1024 pixels, got 100000');
  });

  test("the cleaner's CSV fields: quoted, and inert in a spreadsheet", async () => {
    const fields = await site.page.evaluate(async () => {
      const { csvField } = await import('/www/lesson2-ui.js');
      return ['cat.jpg', 'a,b', '=HYPERLINK("x")', '+1', '-1', '@SUM(A1)', '\tx', '\rx', undefined].map(csvField);
    });
    assert.deepEqual(fields, ['cat.jpg', '"a,b"', '"\'=HYPERLINK(""x"")"', "'+1", "'-1", "'@SUM(A1)", "'\tx", '"\'\rx"', '']);
  });
});

describe('URL parameters that break the rules: a message, and nothing started', () => {
  let site;
  before(async () => { site = await openSite(); });
  after(() => site.close());

  test('size=100000, bs=0, epochs=2.5 and method=evil with dataset=sample&autorun=train', LONG, async () => {
    const { page } = site;
    await page.goto(`${site.origin}/index.html?backend=cpu&dataset=sample&size=100000&bs=0&epochs=2.5&method=evil&lr=1e-3&autorun=train`);
    const alert = page.getByRole('alert');
    await alert.waitFor(LONG);
    const text = await alertText(page);
    assert.match(text, /In the address, size=100000: the image size in pixels must be a whole number from 32 to 1024, not "100000"\./);
    assert.match(text, /In the address, bs=0: the batch size must be a whole number from 2 to 256, not "0"\./);
    assert.match(text, /In the address, epochs=2\.5: the number of epochs must be a whole number from 1 to 1000, not "2\.5"\./);
    assert.match(text, /In the address, method=evil: the training method must be one of fit_one_cycle, fine_tune, fit, fit_sgdr, not "evil"\./);
    assert.match(text, /Nothing was started/);
    assert.match(await status(page, 'Data status').textContent(), /^Drop a folder/, 'the sample was not loaded');
    assert.equal(await page.getByRole('spinbutton', { name: 'Image size (px)' }).inputValue(), '224', 'the field keeps its default');
    assert.equal(await page.getByRole('textbox', { name: 'Learning rate' }).inputValue(), '1e-3', 'the good parameters apply');
    await shot(page, 'url');
    await page.goto(`${site.origin}/index.html?backend=cpu&size=5000`);
    await alert.waitFor(LONG);
    assert.match(await alertText(page), /size=5000: the image size in pixels must be a whole number from 32 to 1024/);
    checkClean(site);
  });
});

describe('the page with 16 sample photos: fields, too few photos, bad models, a stale prediction', () => {
  let site;
  let page;
  let alert;
  const dismiss = () => page.getByRole('button', { name: 'Dismiss the message' }).click();
  const field = (name) => page.getByRole('spinbutton', { name });
  const useSample = () => page.getByRole('button', { name: 'Use sample dataset' }).click();
  const loaded = () => status(page, 'Data status').filter({ hasText: /^16 photos in 2 classes/ }).waitFor(LONG);
  before(async () => {
    site = await openSite();
    page = site.page;
    alert = page.getByRole('alert');
    await page.goto(`${site.origin}/index.html?backend=cpu&classes=fishes,tools&perclass=8&size=32&bs=16&numit=10&epochs=1`);
    await status(page, 'Backend in use').filter({ hasText: /^CPU/ }).waitFor(LONG);
  });
  after(() => site.close());

  test('a batch size of 1 or an image size of 100000 in the fields: refused before loading', LONG, async () => {
    await field('Batch size').fill('1');
    await useSample();
    await alert.waitFor(LONG);
    assert.match(await alertText(page), /the batch size must be a whole number from 2 to 256, not "1"/);
    assert.doesNotMatch(await page.locator('#data-status').textContent(), /photos in/, 'nothing was loaded');
    await dismiss();
    await field('Batch size').fill('16');
    await field('Image size (px)').fill('100000');
    await field('Image size (px)').dispatchEvent('change');
    await alert.waitFor(LONG);
    assert.match(await alertText(page), /^The image size in pixels must be a whole number from 32 to 1024, not "100000"\./);
    await dismiss();
    await field('Image size (px)').fill('32');
    await useSample();
    await loaded();
  });

  test('fewer training photos than one batch: lr_find and Train refuse, in plain words', LONG, async () => {
    await page.getByRole('button', { name: 'Find learning rate' }).click();
    await alert.waitFor(LONG); // lr_find used to spin forever here
    assert.match(await alertText(page), /^\d+ training images are fewer than one batch of 16\./);
    assert.ok(await status(page, 'Learning rate finder status').isHidden(), 'no "Training 10 batches…" left behind');
    await dismiss();
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await alert.waitFor(LONG);
    assert.match(await alertText(page), /^\d+ training images are fewer than one batch of 16\./);
    assert.doesNotMatch(await alertText(page), /fit_one_cycle:/i);
    assert.ok(await status(page, 'Training status').isHidden(), 'no "Training: …" left behind');
    await dismiss();
  });

  test('an unknown method: refused; the alert sits in the Train step and covers nothing', LONG, async () => {
    // (A field such as Epochs 2.5 is stopped by the browser's own form validation, step="1".)
    const trainButton = page.getByRole('button', { name: 'Train', exact: true });
    await page.locator('#method').evaluate((select) => { select.value = 'evil'; });
    await trainButton.click();
    await alert.waitFor(LONG);
    assert.match(await alertText(page), /^The training method must be one of fit_one_cycle, fine_tune, fit, fit_sgdr\./);
    assert.ok(await status(page, 'Training status').isHidden(), 'training did not start');
    assert.equal(await alert.evaluate((box) => box.parentElement.id), 'train', 'at the top of the Train step');
    assert.equal(await alert.evaluate((node) => getComputedStyle(node).position), 'static', 'in the flow of the page');
    const [box, button] = [await alert.boundingBox(), await trainButton.boundingBox()];
    assert.ok(box.y + box.height <= button.y, `the alert (${JSON.stringify(box)}) is above the Train button (${JSON.stringify(button)})`);
    await page.locator('#train').screenshot({ path: join(outputDir, 'inputs-alert.png') });
    await page.getByRole('combobox', { name: 'Method' }).selectOption('fit_one_cycle');
    await dismiss();
  });

  test('a model whose weights are NaN is refused, loaded by hand or restored from the browser', LONG, async () => {
    // The model as Save model gives it (asked of the learner's worker), every value made NaN,
    // and also kept in IndexedDB as the worker keeps a trained model (as an older page could
    // have kept it), to be restored when the dataset loads again.
    const poisoned = await page.evaluate(async () => {
      const { weights, description } = await window.lesson2.worker.call('exportModel');
      const bytes = await weights.arrayBuffer();
      const view = new DataView(bytes);
      const headerEnd = 8 + Number(view.getBigUint64(0, true));
      for (let at = headerEnd; at + 4 <= bytes.byteLength; at += 4) view.setFloat32(at, NaN, true);
      const nan = new Blob([bytes]);
      const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open('kiln', 1);
        request.onupgradeneeded = () => request.result.createObjectStore('models');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      await new Promise((resolve, reject) => {
        const tx = db.transaction('models', 'readwrite');
        tx.objectStore('models').put({ weights: nan, description, savedAt: Date.now() }, 'latest');
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
      db.close();
      // Base64 crosses to the test far faster than an array of 14 million numbers.
      const url = await new Promise((resolve) => { const reader = new FileReader(); reader.onload = () => resolve(reader.result); reader.readAsDataURL(nan); });
      return { weights: url.slice(url.indexOf(',') + 1), description };
    });
    const nan = Buffer.from(poisoned.weights, 'base64');
    const description = Buffer.from(poisoned.description);
    const load = (bytes, json) => page.getByLabel('Load model…').setInputFiles([
      { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: bytes },
      { name: 'model.json', mimeType: 'application/json', buffer: json },
    ]);
    await load(nan, description);
    await alert.waitFor(LONG);
    assert.match(await alertText(page), /^The model could not be loaded: model\.safetensors: tensor '[\w.]+' has NaN or infinite values \(\d+ of \d+\)\. The current model is unchanged\./);
    await dismiss();
    // kiln's operation names stay out of the message ("load_safetensors:", "load:").
    await load(nan.subarray(0, 100), description);
    await alert.waitFor(LONG);
    assert.match(await alertText(page), /^The model could not be loaded: model\.safetensors: not a readable safetensors file/);
    await dismiss();
    await load(nan, Buffer.from('{not json'));
    await alert.waitFor(LONG);
    assert.match(await alertText(page), /^The model could not be loaded: model\.safetensors: the model description is not valid JSON/);
    await dismiss();
    // The NaN model kept in IndexedDB is not restored.
    await useSample();
    const restore = status(page, 'Saved model');
    await restore.filter({ hasText: /could not be restored/ }).waitFor(LONG);
    assert.match(await restore.textContent(), /could not be restored \(the saved model: tensor '[\w.]+' has NaN or infinite values/);
    checkClean(site);
  });

  test("a new dataset clears the last photo's prediction", LONG, async () => {
    await field('Batch size').fill('4');
    await useSample();
    await loaded();
    await page.getByLabel('Choose a photo…').setInputFiles(samplePhoto);
    await status(page, 'Prediction').filter({ hasText: /^fish1\.webp: / }).waitFor(LONG);
    assert.ok(await page.getByRole('list', { name: 'Class probabilities' }).isVisible());
    await useSample();
    await loaded();
    assert.ok(await status(page, 'Prediction').isHidden(), 'the old prediction is gone');
    assert.ok(await page.getByRole('list', { name: 'Class probabilities' }).isHidden());
  });

  test('a file named back\\slash.png is a photo of its folder\'s class, not a class "back"', LONG, async () => {
    const pngs = await drawPngs(page, 8);
    const root = mkdtempSync(join(tmpdir(), 'kiln-backslash-'));
    pngs.forEach((bytes, i) => {
      const dir = join(root, 'shapes', i % 2 ? 'blue' : 'red');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, i === 0 ? 'back\\slash.png' : `${i}.png`), Buffer.from(bytes));
    });
    await page.getByLabel('Choose a folder…').setInputFiles(join(root, 'shapes'));
    await status(page, 'Data status').filter({ hasText: /^8 photos in 2 classes/ }).waitFor(LONG);
    assert.deepEqual(await page.getByRole('table', { name: 'Photos per class' }).locator('tbody th').allTextContents(), ['blue', 'red']);
    const names = await page.evaluate(() => window.lesson2.summary.items.map((item) => item.name));
    assert.ok(names.includes('shapes/red/back\\slash.png'), names.join(', '));
    checkClean(site);
  });
});
