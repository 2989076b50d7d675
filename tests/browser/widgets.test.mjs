// The lesson widgets (www/widgets/), used as a person would: in the copyable pages of
// examples/web/ and alone in widget.html (as an iframe shows them), with their attributes set,
// their sliders moved, a bad attribute shown as a message; the classifier trained on sample
// photos and on Chromium's fake camera. Nothing may be requested outside the site's origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { checkClean, openKilnPage, openSite, outputDir, waitForStatus } from './harness.mjs';

const LONG = { timeout: 600_000 };
const FAKE_CAMERA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
/** The classifier small enough to train in seconds. */
const SMALL = 'size=32&batch-size=4&epochs=1';
const shot = (page, name) => page.screenshot({ path: join(outputDir, name), fullPage: true });

/** Runs `body(site)` on a fresh site, checks that it stayed clean, and closes it. */
async function withSite(body, options) {
  const site = await openSite(options);
  try {
    await body(site);
    checkClean(site);
  } finally {
    await site.close();
  }
}

test('kiln.schedule and kiln.lrSuggestions: what the schedule and lr-finder widgets draw', async () => {
  const site = await openKilnPage();
  try {
    const r = await site.page.evaluate(() => {
      const { schedule, lrSuggestions } = window.kiln;
      const failure = (call) => { try { call(); return 'returned'; } catch (e) { return `${e.kind}: ${e.message}`; } };
      const lrs = Array.from({ length: 100 }, (_, i) => 1e-7 * 1e8 ** (i / 99));
      // A bowl: lowest at index 70.
      const losses = lrs.map((_, i) => 1 + ((i - 70) / 30) ** 2);
      return {
        cycle: schedule('fit_one_cycle', 1e-3, 10, { epochs: 2, div: 10, pctStart: 0.3 }),
        sgdr: schedule('fit_sgdr', 1e-2, 5, { cycles: 3, cycleLen: 1, cycleMult: 2 }),
        suggestions: lrSuggestions(lrs, losses), lowest: lrs[70],
        noBatch: failure(() => schedule('fit', 1e-3, 0, {})),
        badMethod: failure(() => schedule('adam', 1e-3, 4, {})),
        uneven: failure(() => lrSuggestions(lrs, losses.slice(1))),
        negative: failure(() => lrSuggestions(lrs.map((lr) => -lr), losses)),
      };
    });
    assert.equal(r.cycle.lrs.length, 20);
    assert.equal(r.cycle.batchesPerEpoch, 10);
    assert.ok(Math.abs(r.cycle.lrs[0] - 1e-4) < 1e-9, `one-cycle starts at lr / div: ${r.cycle.lrs[0]}`);
    assert.ok(Math.abs(Math.max(...r.cycle.lrs) - 1e-3) < 1e-5, 'peaks at lr');
    assert.equal(r.cycle.lrs.indexOf(Math.max(...r.cycle.lrs)), 6, 'the peak after pct_start of the batches');
    assert.equal(r.sgdr.epochs, 7, 'cycles of 1, 2 and 4 epochs');
    assert.equal(r.sgdr.lrs.length, 35);
    for (const restart of [0, 5, 15]) assert.ok(Math.abs(r.sgdr.lrs[restart] - 1e-2) < 1e-9, `a restart at batch ${restart}`);
    assert.ok(Math.abs(r.suggestions.minimum - r.lowest / 10) < 1e-12, 'minimum: the lowest loss\'s rate / 10');
    for (const key of ['valley', 'steep', 'slide']) assert.ok(r.suggestions[key] > 1e-7 && r.suggestions[key] <= r.lowest, `${key} ${r.suggestions[key]}`);
    assert.match(r.noBatch, /^bad-input: schedule: an epoch needs at least one batch$/);
    assert.match(r.badMethod, /^bad-input: schedule: unknown method 'adam'/);
    assert.match(r.uneven, /^bad-input: lr_find: 100 rates but 99 losses$/);
    assert.match(r.negative, /^bad-input: lrSuggestions: every learning rate must be a positive number$/);
  } finally {
    await site.close();
  }
});

test('examples/web/widgets.html: the line fit, the finder, two schedules, a bad attribute', LONG, () => withSite(async (site) => {
  const { page } = site;
  await page.goto(`${site.origin}/examples/web/widgets.html`);
  const sgd = page.locator('kiln-sgd');
  await sgd.getByRole('status', { name: 'Line fit' }).filter({ hasText: /Press Run/ }).waitFor({ timeout: 60_000 });
  // A setting as a property reflects to the attribute and to the widget's field.
  await sgd.evaluate((widget) => { widget.steps = 40; });
  assert.equal(await sgd.getAttribute('steps'), '40');
  assert.equal(await sgd.getByLabel('Steps').inputValue(), '40');
  await sgd.getByRole('button', { name: 'Run' }).click();
  const fitted = await sgd.getByRole('status', { name: 'Line fit' }).filter({ hasText: /Step 40 .* done/ }).textContent({ timeout: 60_000 });
  const [a0, a1] = fitted.match(/a = \(([-\d.]+), ([-\d.]+)\)/).slice(1).map(Number);
  assert.ok(Math.abs(a0 - 3) < 1 && Math.abs(a1 - 2.5) < 0.5, `40 steps at 0.1 near (3, 2.5): ${fitted}`);
  await sgd.getByLabel('Learning rate').fill('1.1');
  await sgd.getByLabel('Learning rate').dispatchEvent('change');
  assert.equal(await sgd.getAttribute('lr'), '1.1', 'the field sets the attribute');
  await sgd.getByRole('button', { name: 'Run' }).click();
  await sgd.getByRole('alert').filter({ hasText: 'The loss exploded: a learning rate of 1.1 is too high' }).waitFor({ timeout: 60_000 });

  const finder = page.locator('kiln-lr-finder');
  const suggestions = finder.getByRole('list', { name: 'Suggestions' });
  await suggestions.getByRole('listitem').nth(3).waitFor();
  assert.deepEqual((await suggestions.getByRole('listitem').allTextContents()).map((t) => t.split(' ')[0]), ['valley', 'steep', 'minimum', 'slide']);
  const before = await suggestions.textContent();
  await finder.getByRole('slider', { name: 'Noise' }).fill('0.4');
  assert.equal(await finder.getAttribute('noise'), '0.4', 'the slider sets the attribute');
  await waitForStatus(finder, 'Learning rate finder', /^Suggestions on a made-up curve, noise 0\.4\./);
  assert.notEqual(await suggestions.textContent(), before, 'a noisier curve moves the suggestions');
  assert.match(await finder.getByRole('img').getAttribute('aria-label'), /suggestions: valley \d/);

  const [cycle, sgdr] = [page.locator('kiln-schedule').first(), page.locator('kiln-schedule').nth(1)];
  await waitForStatus(cycle, 'Schedule', /^fit_one_cycle\(4, 1e-3, div=25, pct_start=0\.25\): 4 epochs of 20 batches, 80 in all/, 60_000);
  await cycle.getByRole('slider', { name: 'div' }).fill('5');
  await waitForStatus(cycle, 'Schedule', /div=5, pct_start=0\.25/);
  assert.equal(await cycle.getAttribute('div'), '5');
  assert.equal(await cycle.getByRole('slider', { name: 'cycle_mult' }).isVisible(), false, 'one-cycle has no cycle_mult');
  await waitForStatus(sgdr, 'Schedule', /^fit_sgdr\(3, 1, 1e-3, cycle_mult=2\): 7 epochs of 20 batches, 140 in all/);
  await sgdr.getByRole('slider', { name: 'cycle_mult' }).fill('1');
  await waitForStatus(sgdr, 'Schedule', /cycle_mult=1\): 3 epochs of 20 batches, 60 in all/);
  await sgdr.getByRole('combobox', { name: 'Method' }).selectOption('cosine');
  await waitForStatus(sgdr, 'Schedule', /^fit_sgdr\(1, 4, 1e-3, cycle_mult=1\): 4 epochs/);
  await shot(page, 'widgets-example.png');

  // A bad value: a clear message in the widget, and its content hidden, never a blank box.
  await cycle.evaluate((widget) => widget.setAttribute('pct-start', '1.5'));
  const problem = cycle.getByRole('alert');
  assert.equal(await problem.textContent(), 'kiln-schedule: pct-start="1.5" is not allowed: pct-start must be a number from 0.01 to 0.99.');
  assert.equal(await cycle.getByRole('status', { name: 'Schedule' }).isVisible(), false);
  await problem.screenshot({ path: join(outputDir, 'widgets-bad-attribute.png') });
  await cycle.evaluate((widget) => widget.setAttribute('pct-start', '0.5'));
  await waitForStatus(cycle, 'Schedule', /pct_start=0\.5/);
  assert.equal(await problem.isVisible(), false);
}));

test('widget.html and examples/web/iframes.html: the settings in the URL, a bad one, an unknown widget', LONG, () => withSite(async (site) => {
  const { page } = site;
  await page.goto(`${site.origin}/examples/web/iframes.html`);
  const [sgd, cosine] = [page.frameLocator('iframe').first(), page.frameLocator('iframe').nth(1)];
  await sgd.locator('kiln-sgd').getByRole('alert').filter({ hasText: 'The loss exploded: a learning rate of 1.5' }).waitFor({ timeout: 60_000 });
  assert.match(await sgd.getByRole('status', { name: 'Line fit' }).textContent(), /^Step \d+ · a = /);
  await waitForStatus(cosine.locator('kiln-schedule'), 'Schedule', /^fit_sgdr\(1, 5, 1e-3, cycle_mult=1\): 5 epochs of 30 batches, 150 in all/);
  await shot(page, 'widgets-iframes.png');

  await page.goto(`${site.origin}/widget.html?name=lr-finder&noise=0.2&seed=3`);
  await page.locator('kiln-lr-finder').getByRole('listitem').nth(3).waitFor({ timeout: 60_000 });
  assert.equal(await page.getByRole('slider', { name: 'Noise' }).inputValue(), '0.2');
  await shot(page, 'widget-page-lr-finder.png');
  await page.goto(`${site.origin}/widget.html?name=lr-finder&src=missing.json`);
  await page.getByRole('alert').filter({ hasText: 'No curve: missing.json could not be loaded (HTTP 404).' }).waitFor({ timeout: 60_000 });
  await page.goto(`${site.origin}/widget.html?name=schedule&epochs=0`);
  assert.match(await page.getByRole('alert').textContent(), /epochs="0" is not allowed: epochs must be a whole number from 1 to 50/);
  await page.goto(`${site.origin}/widget.html?name=chart`);
  assert.match(await page.getByRole('alert').textContent(), /one of sgd, lr-finder, schedule, classifier .*\(not "chart"\)/);
  await shot(page, 'widget-page-unknown.png');
  // The browser logs the 404 of missing.json as a console error: that one was asked for.
  site.pageErrors.splice(0, site.pageErrors.length, ...site.pageErrors.filter((e) => !/404/.test(e.message)));
}));

test('the classifier trains on sample photos from its page, then classifies a photo from the disk', LONG, () => withSite(async (site) => {
  const { page } = site;
  await page.goto(`${site.origin}/widget.html?name=classifier&classes=fishes,tools&per-class=8&${SMALL}`);
  await page.getByRole('button', { name: 'Use sample photos' }).click();
  await waitForStatus(page, 'Classifier', /^16 sample photos in 2 classes/, 60_000);
  assert.deepEqual(await page.getByRole('textbox', { name: 'Class name' }).evaluateAll((fields) => fields.map((f) => f.value)), ['fishes', 'tools']);
  assert.equal(await page.getByRole('group', { name: 'Classes and their photos' }).locator('img').count(), 16);
  await page.getByRole('button', { name: 'Train' }).click();
  const trained = await waitForStatus(page, 'Classifier', /^Trained: error rate \d+\.\d%/);
  await page.getByLabel('Classify a photo').setInputFiles(new URL('../../www/sample/tools/wrench1.webp', import.meta.url).pathname);
  const said = await waitForStatus(page, 'Prediction', /^wrench1\.webp: (fishes|tools) \(\d+\.\d%\)$/, 60_000);
  assert.equal(await page.getByRole('list', { name: 'Class probabilities' }).getByRole('listitem').count(), 2);
  await page.getByLabel('Classify a photo').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a photo') });
  await page.locator('kiln-classifier').getByRole('alert').filter({ hasText: /^The photo could not be classified: notes\.txt/ }).waitFor({ timeout: 30_000 });
  console.log(`${trained} / ${said} / ${await page.locator('kiln-classifier').getByRole('alert').textContent()}`);
  await shot(page, 'widget-classifier-sample.png');
}));

test('the classifier from the webcam: photos per class, trained, then classifying live', LONG, () => withSite(async (site) => {
  const { page } = site;
  await page.goto(`${site.origin}/widget.html?name=classifier&${SMALL}`);
  await page.getByRole('button', { name: 'Start the camera' }).click();
  await waitForStatus(page, 'Classifier', /The camera is on/, 30_000);
  const rows = page.getByRole('group', { name: 'Classes and their photos' }).locator('fieldset');
  for (const [i, label] of ['pattern', 'clock'].entries()) {
    await rows.nth(i).getByRole('textbox', { name: 'Class name' }).fill(label);
    for (let n = 0; n < 6; n++) await rows.nth(i).getByRole('button', { name: 'Take photo' }).click();
    await rows.nth(i).getByText('6 photos').waitFor();
  }
  await shot(page, 'widget-classifier-camera-photos.png');
  await page.getByRole('button', { name: 'Train' }).click();
  await waitForStatus(page, 'Classifier', /^Trained/);
  await page.getByRole('button', { name: 'Classify from the camera' }).click();
  await waitForStatus(page, 'Prediction', /^The camera: (pattern|clock) \(\d+\.\d%\)$/, 60_000);
  const preview = () => page.locator('kiln-classifier img.preview').getAttribute('src');
  const first = await preview();
  await page.waitForFunction((seen) => document.querySelector('kiln-classifier').shadowRoot.querySelector('img.preview').src !== seen, first, { timeout: 60_000 });
  await shot(page, 'widget-classifier-camera-live.png');
  await page.getByRole('button', { name: 'Stop classifying' }).click();
  await page.getByRole('button', { name: 'Classify from the camera' }).waitFor();
}, { args: FAKE_CAMERA }));

for (const [why, args, message] of [
  ['no camera', ['--use-fake-ui-for-media-stream'], 'The camera cannot be used: no camera was found. Connect one, or use photos from a folder.'],
  ['the camera refused', ['--use-fake-device-for-media-stream', '--deny-permission-prompts'], /^The camera cannot be used: the camera was refused\. Allow it for this page/],
]) {
  test(`the classifier with ${why}: a clear message, and photos from the disk still work`, LONG, () => withSite(async (site) => {
    const { page } = site;
    await page.goto(`${site.origin}/examples/web/classifier.html`);
    await page.getByRole('button', { name: 'Start the camera' }).click();
    const alert = page.locator('kiln-classifier').getByRole('alert');
    await alert.filter({ hasText: message }).waitFor({ timeout: 30_000 });
    assert.equal(await page.getByRole('button', { name: 'Take photo' }).first().isDisabled(), true);
    await page.getByRole('group', { name: 'Classes and their photos' }).getByLabel('Add photos').first()
      .setInputFiles(new URL('../../www/sample/fishes/fish1.webp', import.meta.url).pathname);
    await page.getByText('1 photo', { exact: true }).waitFor();
    await shot(page, `widget-classifier-${why.replaceAll(' ', '-')}.png`);
  }, { args }));
}
