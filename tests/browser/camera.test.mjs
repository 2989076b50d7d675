// The camera on the lesson page, with Chromium's fake camera (a moving test pattern): photos
// taken for two classes become the dataset, the model trains on them, then classifies live what
// the camera sees. Without a camera, or with the camera refused, the page says so and what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { checkClean, openSite, outputDir, waitForStatus } from './harness.mjs';

const LONG = { timeout: 600_000 };
const FAKE_CAMERA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
const PAGE = '/index.html?backend=cpu&size=32&bs=4&precompute=1&epochs=1&lr=1e-2';

test('photos from the camera for two classes train a model that then classifies the camera live', LONG, async () => {
  const site = await openSite({ args: FAKE_CAMERA });
  try {
    const { page } = site;
    await page.goto(`${site.origin}${PAGE}`);
    await waitForStatus(page, 'Backend in use', /^CPU/);
    await page.getByRole('button', { name: 'Start the camera' }).click();
    await waitForStatus(page, 'Camera status', /The camera is on/);
    for (const label of ['pattern', 'clock']) {
      await page.getByRole('textbox', { name: 'Class' }).fill(label);
      for (let i = 0; i < 6; i++) await page.getByRole('button', { name: 'Take photo' }).click();
      await page.getByRole('heading', { name: `${label}: 6 photos` }).waitFor();
    }
    await waitForStatus(page, 'Camera status', /2 classes/);
    assert.equal(await page.getByLabel('Camera photos').locator('img').count(), 12);
    await page.screenshot({ path: join(outputDir, 'camera-photos.png'), fullPage: true });
    await page.getByRole('button', { name: 'Use these photos' }).click();
    await waitForStatus(page, 'Data status', /^12 photos in 2 classes/);
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await waitForStatus(page, 'Training status', /Training finished/);

    await page.getByRole('button', { name: 'Classify from the camera' }).click();
    const first = await waitForStatus(page, 'Prediction', /^The camera: (pattern|clock) \(\d+\.\d%\)/);
    // Live: the picture and its prediction keep coming.
    const image = () => page.locator('#predict-image').getAttribute('src');
    const before = await image();
    await page.waitForFunction((seen) => document.getElementById('predict-image').getAttribute('src') !== seen, before, { timeout: 60_000 });
    assert.equal(await page.getByRole('list', { name: 'Class probabilities' }).getByRole('listitem').count(), 2);
    await page.screenshot({ path: join(outputDir, 'camera-live.png'), fullPage: true });
    await page.getByRole('button', { name: 'Stop classifying' }).click();
    await page.getByRole('button', { name: 'Classify from the camera' }).waitFor();
    console.log(`live: ${first}`);
    checkClean(site);
  } finally {
    await site.close();
  }
});

for (const [why, args, message] of [
  ['no camera', ['--use-fake-ui-for-media-stream'], /The camera cannot be used: no camera was found\. Connect one, or use photos from a folder\./],
  ['the camera refused', ['--use-fake-device-for-media-stream', '--deny-permission-prompts'], /The camera cannot be used: the camera was refused\. Allow it for this page/],
]) {
  test(`${why}: a clear message, and the page carries on`, LONG, async () => {
    const site = await openSite({ args });
    try {
      const { page } = site;
      await page.goto(`${site.origin}${PAGE}`);
      await waitForStatus(page, 'Backend in use', /^CPU/);
      await page.getByRole('button', { name: 'Start the camera' }).click();
      const alert = page.getByRole('alert');
      await alert.filter({ hasText: message }).waitFor({ timeout: 30_000 });
      assert.equal(await page.getByRole('button', { name: 'Take photo' }).isDisabled(), true);
      await page.getByRole('button', { name: 'Use sample dataset' }).click();
      await waitForStatus(page, 'Data status', /photos in 5 classes/);
    } finally {
      await site.close();
    }
  });
}
