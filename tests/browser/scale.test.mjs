// Many photos: the dataset built a chunk of files at a time (kiln.ImageDatasetBuilder), and the
// page loading a large folder with a progress bar, Cancel, a refusal before loading what memory
// cannot hold, and progressive resizing that decodes the photos again to grow them.
// Screenshots go to test-output/scale-*.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkClean, openKilnPage, openSite, outputDir, status, waitForStatus } from './harness.mjs';

const LONG = { timeout: 300_000 };
const sampleRoot = new URL('../../www/sample/', import.meta.url).pathname;
const sample = JSON.parse(readFileSync(join(sampleRoot, 'index.json'), 'utf8')).files;
const shot = (page, name) => page.screenshot({ path: join(outputDir, `scale-${name}.png`), fullPage: true });

/** A folder of `copies` links to each sample photo, one subfolder per class: many files, little disk. */
function manyPhotos(copies) {
  const root = mkdtempSync(join(tmpdir(), 'kiln-many-'));
  for (const file of sample) {
    mkdirSync(join(root, file.label), { recursive: true });
    const name = file.path.split('/').at(-1);
    for (let i = 0; i < copies; i++) linkSync(join(sampleRoot, file.path), join(root, file.label, `${i}-${name}`));
  }
  return root;
}

describe('ImageDatasetBuilder', () => {
  let site;
  before(async () => { site = await openKilnPage(); });
  after(() => site.close());

  test('fed in chunks, it gives the dataset fromFiles gives, holding only pixels at its size', LONG, async () => {
    const r = await site.page.evaluate(async () => {
      const { ImageDataset, ImageDatasetBuilder, Learner } = window.kiln;
      const sample = await import('/www/sample.js');
      const files = await sample.loadSampleFiles('/www/sample/', { perClass: 6 });
      const whole = ImageDataset.fromFiles(files, { size: 48 }).summary();
      const builder = new ImageDatasetBuilder({ size: 48 });
      const counts = [];
      for (let at = files.length - 5; at > -5; at -= 5) {
        builder.add(files.slice(Math.max(at, 0), at + 5));
        counts.push(builder.decoded + builder.skipped);
      }
      const bytesPerPhoto = builder.bytes / builder.decoded;
      const chunked = builder.finish();
      const chunkedSummary = chunked.summary();
      let again;
      try { builder.finish(); } catch (e) { again = `${e.kind}: ${e.message}`; }
      // Progressive resizing up: the same files decoded at 80 px replace the learner's photos.
      const learn = await Learner.vision(chunked, { batchSize: 4, weightsUrl: '/www/models/mobilenet_v2.safetensors' });
      let grow;
      try { learn.setImageSize(80); } catch (e) { grow = `${e.kind}: ${e.message}`; }
      learn.setImages(ImageDataset.fromFiles(files, { size: 80 }));
      const grown = learn.dataset.size;
      learn.setImageSize(40);
      const shrunk = learn.dataset.size;
      learn.free();
      return { whole, chunked: chunkedSummary, counts, bytesPerPhoto, again, grow, grown, shrunk, total: files.length };
    });
    assert.deepEqual(r.chunked.items, r.whole.items, 'same items, labels and split');
    assert.equal(r.counts.at(-1), r.total);
    // 48 px on the shorter side, 8-bit RGB: a few KB a photo, never the file's size.
    assert.ok(r.bytesPerPhoto >= 3 * 48 * 48 && r.bytesPerPhoto < 3 * 48 * 48 * 2.5, `${r.bytesPerPhoto} bytes a photo`);
    assert.match(r.again, /^bad-input: ImageDatasetBuilder\.finish: this builder has finished/);
    assert.match(r.grow, /^bad-input: .*kept at 48 px: to grow them to 80 px, decode the files again/);
    assert.deepEqual([r.grown, r.shrunk], [80, 40]);
  });
});

describe('the Lesson 2 page with many photos', () => {
  let site;
  let page;
  before(async () => {
    site = await openSite();
    page = site.page;
    await page.goto(`${site.origin}/index.html?backend=cpu&size=64`);
    await waitForStatus(page, 'Data status', /Drop a folder/);
  });
  after(() => site.close());

  test('too many photos for the memory: refused before loading, saying what would fit', LONG, async () => {
    const folder = manyPhotos(8); // 1,112 files
    await page.getByRole('spinbutton', { name: 'Image size (px)' }).fill('1024');
    await page.getByLabel('Choose a folder…').setInputFiles(folder);
    await page.getByRole('alert').waitFor(LONG);
    const alert = page.locator('#alert-text');
    assert.match(await alert.textContent(),
      /^1,112 photos at 1024 px would need about 4\.\d GB of memory, more than the 2\.5 GB a page can give them .*: choose an image size of (\d+) px or less, or load at most (\d+) photos at 1024 px\. Nothing was loaded\./);
    const [, size, count] = (await alert.textContent()).match(/size of (\d+) px .* at most (\d+) photos/);
    assert.ok(Number(size) < 1024 && Number(size) >= 512 && Number(count) < 1112 && Number(count) > 400, `${size} px, ${count} photos`);
    assert.equal(await page.locator('#data-view').isHidden(), true, 'nothing loaded');
    await shot(page, 'memory-refusal');
    await page.getByRole('button', { name: 'Dismiss the message' }).click();
    await page.getByRole('spinbutton', { name: 'Image size (px)' }).fill('64');
  });

  test('a large folder loads with a progress bar and time left; Cancel keeps the previous dataset', LONG, async () => {
    await page.getByRole('button', { name: 'Use sample dataset' }).click();
    await waitForStatus(page, 'Data status', /^139 photos in 5 classes/);
    const folder = manyPhotos(20); // 2,780 files: several seconds to decode, time to press Cancel
    await page.getByLabel('Choose a folder…').setInputFiles(folder);
    await page.locator('#load-text').filter({ hasText: /^[\d,]+ of 2,780 · about .* left$/ }).waitFor(LONG);
    assert.match(await page.locator('#load-detail').textContent(), /^\d+ photos\/s · kiln holds \d+\.\d GB$/);
    await shot(page, 'loading-progress');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await waitForStatus(page, 'Data status', /^Loading was cancelled\. The previous dataset is still loaded\.$/);
    assert.ok(await page.locator('#load-progress').isHidden());
    assert.deepEqual(await page.getByRole('table', { name: 'Photos per class' }).locator('tfoot td').allTextContents(), ['112', '27']);
    assert.ok(await page.getByRole('alert').isHidden(), 'a cancel is not an error');

    await page.getByLabel('Choose a folder…').setInputFiles(folder);
    await waitForStatus(page, 'Data status', /^2,780 photos in 5 classes: 2,224 to train on, 556 set aside/);
    assert.ok(await page.locator('#load-progress').isHidden());
    checkClean(site);
  });

  test('a larger image size decodes the photos again, with progress; a smaller one resizes what is kept', LONG, async () => {
    const size = page.getByRole('spinbutton', { name: 'Image size (px)' });
    await size.fill('96');
    await size.dispatchEvent('change');
    await waitForStatus(page, 'Data status', /The photos are now 96 px/);
    assert.equal(await page.evaluate(() => window.lesson2.summary.size), 96);
    await size.fill('48');
    await size.dispatchEvent('change');
    await waitForStatus(page, 'Data status', /The photos are now 48 px/);
    assert.equal(await page.evaluate(() => window.lesson2.summary.items.length), 2780);
    checkClean(site);
  });

  test('running out of memory crashes the learner: the page says so, what to do, and offers to start again', LONG, async () => {
    await page.evaluate(() => window.lesson2.fail(Object.assign(new Error('kiln ran out of memory: it had 3.9 GB, close to the 4 GB a browser gives WebAssembly'), { kind: 'out-of-memory', fatal: true })));
    const alert = page.getByRole('alert');
    assert.match(await alert.textContent(), /The learner crashed \(kiln ran out of memory: .*\)\. Fewer photos, or a smaller image size, need less memory\. Your dataset/);
    assert.equal(await alert.getByRole('button', { name: 'Start again' }).count(), 1);
    await page.getByRole('button', { name: 'Dismiss the message' }).click();
  });
});
