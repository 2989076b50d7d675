// End to end: the Lesson 2 page (index.html) with a folder of photos the browser draws itself,
// uploaded through the file input as a person picks one; bad folders and bad files; Stop and
// Unfreeze. Screenshots go to test-output/page-*.png. (The sample photos through every step:
// page.test.mjs.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkClean, openSite, outputDir, status, waitForStatus } from './harness.mjs';

const LONG = { timeout: 300_000 };
const shot = (page, name) => page.screenshot({ path: join(outputDir, `page-${name}.png`), fullPage: true });

describe('uploading a folder, and bad input', () => {
  let site;
  let page;
  let root;
  before(async () => {
    site = await openSite();
    page = site.page;
    await page.goto(`${site.origin}/index.html?backend=cpu&size=64&bs=4`);
    await waitForStatus(page, 'Backend in use', /^CPU/); // the page is ready: the learner's worker runs
    // Photos drawn by the browser itself: red discs and blue squares on noise, as PNG.
    const pngs = await page.evaluate(async () => {
      const out = [];
      for (let i = 0; i < 12; i++) {
        const canvas = new OffscreenCanvas(48 + i, 40 + 2 * i);
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = `hsl(${30 * i}, 20%, 85%)`;
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.fillStyle = i % 2 ? '#1d4ed8' : '#dc2626';
        if (i % 2) ctx.fillRect(10, 8, 24, 24);
        else { ctx.beginPath(); ctx.arc(24, 20, 14, 0, 7); ctx.fill(); }
        out.push([...new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer())]);
      }
      return out;
    });
    root = mkdtempSync(join(tmpdir(), 'kiln-upload-'));
    const folder = (...parts) => { const dir = join(root, ...parts); mkdirSync(dir, { recursive: true }); return dir; };
    pngs.forEach((bytes, i) => writeFileSync(join(folder('shapes', i % 2 ? 'squares' : 'discs'), `${i}.png`), Buffer.from(bytes)));
    writeFileSync(join(folder('shapes', 'discs'), 'notes.txt'), 'not a photo');
    writeFileSync(join(folder('shapes', 'squares'), 'huge.png'), Buffer.alloc(51e6));
    pngs.slice(0, 4).forEach((bytes, i) => writeFileSync(join(folder('cats', 'cats'), `${i}.png`), Buffer.from(bytes)));
    pngs.slice(0, 12).forEach((bytes, i) => writeFileSync(join(folder('lopsided', i < 9 ? 'many' : 'few'), `${i}.png`), Buffer.from(bytes)));
    folder('empty');
    writeFileSync(join(folder('junk', 'things'), 'a.txt'), 'text');
    writeFileSync(join(folder('junk', 'stuff'), 'b.txt'), 'text');
  });
  after(() => site.close());

  test('a picked folder: labels from the subfolders, the non-image and the 51 MB file listed as skipped', LONG, async () => {
    await page.getByLabel('Choose a folder…').setInputFiles(join(root, 'shapes'));
    const text = await waitForStatus(page, 'Data status', /photos in/);
    assert.match(text, /^12 photos in 2 classes/);
    const classes = await page.getByRole('table', { name: 'Photos per class' }).locator('tbody th').allTextContents();
    assert.deepEqual(classes, ['discs', 'squares']);
    await page.getByText('2 files skipped').click();
    const skipped = await page.locator('#skipped-list li').allTextContents();
    assert.equal(skipped.length, 2);
    assert.ok(skipped.some((s) => /shapes\/squares\/huge\.png: 51 MB, more than the 50 MB kiln reads: not opened/.test(s)), skipped.join('\n'));
    assert.ok(skipped.some((s) => /notes\.txt/.test(s)), skipped.join('\n'));
    assert.ok(await page.getByLabel('Example photos').getByRole('img').count() >= 2);
    await shot(page, 'upload');
  });

  test('a folder with one class, an empty folder, a folder of non-images: an error each, the dataset kept', LONG, async () => {
    const alert = page.getByRole('alert');
    await page.getByLabel('Choose a folder…').setInputFiles(join(root, 'cats'));
    await alert.waitFor(LONG);
    assert.match(await alert.textContent(), /at least two classes.*The previous dataset is still loaded/s);
    await shot(page, 'one-class');
    for (const [dir, message] of [['empty', /empty/], ['junk', /no readable images|not an image/]]) {
      await page.getByRole('button', { name: 'Dismiss the message' }).click();
      await page.getByLabel('Choose a folder…').setInputFiles(join(root, dir));
      await alert.waitFor(LONG);
      assert.match(await alert.textContent(), message);
    }
    // A photo dropped on its own, outside any class folder (a synthetic drop: the drop zone's handler).
    await page.getByRole('button', { name: 'Dismiss the message' }).click();
    const dropped = await page.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['not really a photo'], 'loose.png', { type: 'image/png' }));
      return transfer;
    });
    await page.dispatchEvent('#drop-data', 'drop', { dataTransfer: dropped });
    await alert.waitFor();
    assert.match(await alert.textContent(), /The file cannot be used \(not inside a class folder\).*previous dataset is still loaded/s);
    await page.getByRole('button', { name: 'Dismiss the message' }).click();
    assert.match(await status(page, 'Data status').textContent(), /^12 photos in 2 classes/);
    assert.deepEqual(await page.getByRole('table', { name: 'Photos per class' }).locator('tbody th').allTextContents(), ['discs', 'squares']);
    // The previous dataset still trains (batches of 4: ?bs=4).
    await page.getByRole('spinbutton', { name: 'Epochs' }).fill('1');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await waitForStatus(page, 'Training status', /Training finished/);
    await shot(page, 'upload-trained');
    checkClean(site);
  });

  test('Stop ends training after the batch; Unfreeze makes the whole network train', LONG, async () => {
    await page.getByRole('spinbutton', { name: 'Epochs' }).fill('200');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    // Losses are read a block of batches at a time (and at each epoch's end), so the batch line
    // may jump straight to "validating…": the first epoch's row is the sure sign training runs.
    await page.getByRole('table', { name: 'Results per epoch' }).locator('tbody tr').first().waitFor(LONG);
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    const text = await waitForStatus(page, 'Training status', /^Stopped/);
    assert.match(text, /weights trained so far are kept/);
    assert.ok(await page.getByRole('table', { name: 'Results per epoch' }).locator('tbody tr').count() < 200);
    assert.match(await status(page, 'What trains').textContent(), /only the new head trains/);
    await page.getByRole('button', { name: 'Unfreeze' }).click();
    await waitForStatus(page, 'What trains', /The whole network trains: all three layer groups/);
    assert.ok(await page.getByRole('button', { name: 'Unfreeze' }).isDisabled());
    assert.ok(await page.getByRole('button', { name: 'Freeze', exact: true }).isEnabled());
    await shot(page, 'unfrozen');
    checkClean(site);
  });

  test('unbalanced classes: a warning, and the Oversample box', LONG, async () => {
    await page.getByLabel('Choose a folder…').setInputFiles(join(root, 'lopsided'));
    await waitForStatus(page, 'Data status', /^12 photos in 2 classes/);
    assert.match(await page.getByRole('listitem').filter({ hasText: /unbalanced/ }).textContent(), /^The classes are unbalanced \(3 to 9 images\)/);
    await page.getByRole('checkbox', { name: /Oversample/ }).check();
    await waitForStatus(page, 'Data status', /Oversampling: rare classes are now drawn as often as common ones/);
    await shot(page, 'unbalanced');
    checkClean(site);
  });

  test('errors are explained by their kind: a file that is not a photo, out of memory, a crash', LONG, async () => {
    const alert = page.getByRole('alert');
    const dismiss = () => page.getByRole('button', { name: 'Dismiss the message' }).click();
    const restarts = () => alert.getByRole('button', { name: 'Start again' }).count();
    // Through the worker: kiln's decode error keeps its kind, and the page gives the advice for it.
    await page.getByLabel('Choose a photo…').setInputFiles(join(root, 'shapes', 'discs', 'notes.txt'));
    await alert.waitFor(LONG);
    assert.match(await alert.textContent(), /notes\.txt: is not an image kiln can read \(JPEG, PNG, WebP, GIF or BMP\)\. Choose a complete photo /i);
    assert.ok(await page.locator('#alert-action').isHidden(), 'nothing to restart or switch');
    await shot(page, 'decode-advice');
    const failWith = async (message, kind) => {
      await dismiss();
      await page.evaluate(([m, k]) => window.lesson2.fail(Object.assign(new Error(m), { kind: k })), [message, kind]);
    };
    await failWith('out of memory: could not get 256 MB more memory. Use smaller images, and try again', 'out-of-memory');
    assert.match(await alert.textContent(), /Out of memory: could not get 256 MB more memory\. Use smaller images, and try again\. Your dataset and the weights from the last finished training are kept\./);
    assert.equal(await restarts(), 0, 'kiln is still fine after its own out-of-memory error');
    await failWith('out of memory: unreachable', undefined); // the words alone are not taken for a crash
    assert.equal(await restarts(), 0);
    await failWith('unreachable', 'crashed');
    assert.match(await alert.textContent(), /The learner crashed \(unreachable\)\. Your dataset and the weights from the last finished training are kept/);
    assert.equal(await restarts(), 1);
    await dismiss();
    checkClean(site);
  });
});
