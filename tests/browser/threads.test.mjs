// The CPU backend's threads on the Lesson 2 page: the backend line names them; `threads=N` sets
// them; a host without the COOP/COEP headers gets them from the service worker
// (coi-serviceworker); and where no isolation is possible at all the page runs on one thread and
// says why. Screenshots: test-output/threads-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openKilnPage, openSite, outputDir, runInWorker, status } from './harness.mjs';

const LONG = { timeout: 300_000 };

/** The backend line once the learner's worker has started. */
async function backendLine(page) {
  await status(page, 'Backend in use').filter({ hasText: /^CPU/ }).waitFor({ timeout: 120_000 });
  return status(page, 'Backend in use').textContent();
}

/** Loads the sample photos, to show the page works on this build. */
async function loadSample(page) {
  await page.getByRole('button', { name: 'Use sample dataset' }).click();
  await status(page, 'Data status').filter({ hasText: /photos in/ }).waitFor({ timeout: 120_000 });
}

test('the backend line names the threads: one per core by default, threads=N otherwise', LONG, async () => {
  const site = await openSite();
  try {
    await site.page.goto(`${site.origin}/index.html?backend=cpu`);
    const cores = await site.page.evaluate(() => navigator.hardwareConcurrency);
    assert.equal(await backendLine(site.page), `CPU, ${cores} thread${cores === 1 ? '' : 's'}, WebAssembly SIMD128 + FMA`);
    assert.equal(await site.page.locator('#backend-notice').isHidden(), true, 'no notice: nothing to explain');
    await loadSample(site.page);
    await site.page.screenshot({ path: join(outputDir, 'threads-default.png') });
    await site.page.goto(`${site.origin}/index.html?backend=cpu&threads=1`);
    assert.equal(await backendLine(site.page), 'CPU, 1 thread, WebAssembly SIMD128 + FMA');
    await site.page.goto(`${site.origin}/index.html?backend=cpu&threads=lots`);
    assert.match(await site.page.getByRole('alert').textContent(), /threads=lots is not a number of threads from 1 to 256: using one per core/);
    assert.equal(await backendLine(site.page), `CPU, ${cores} thread${cores === 1 ? '' : 's'}, WebAssembly SIMD128 + FMA`);
    assert.deepEqual(site.pageErrors.map(String), []);
  } finally {
    await site.close();
  }
});

test('a host without the isolation headers: the service worker supplies them, and threads run', LONG, async () => {
  const site = await openSite({ isolated: false });
  try {
    await site.page.goto(`${site.origin}/index.html?backend=cpu`);
    // coi-serviceworker registers itself, then reloads the page once under its headers.
    await site.page.waitForFunction(() => window.crossOriginIsolated, null, { timeout: 60_000 });
    const cores = await site.page.evaluate(() => navigator.hardwareConcurrency);
    assert.equal(await backendLine(site.page), `CPU, ${cores} thread${cores === 1 ? '' : 's'}, WebAssembly SIMD128 + FMA`);
    await loadSample(site.page);
  } finally {
    await site.close();
  }
});

test('where isolation is impossible the page runs on one thread and says why', LONG, async () => {
  const site = await openSite({ isolated: false, serviceWorkers: 'block' });
  try {
    await site.page.goto(`${site.origin}/index.html?backend=cpu`);
    assert.equal(await site.page.evaluate(() => window.crossOriginIsolated), false);
    assert.equal(await backendLine(site.page), 'CPU, 1 thread, WebAssembly SIMD128');
    assert.equal(
      await status(site.page, 'Backend notice').textContent(),
      'The CPU backend uses one thread: this page is not cross-origin isolated, so the browser gives it no shared memory for threads.',
    );
    await loadSample(site.page);
    await site.page.screenshot({ path: join(outputDir, 'threads-not-isolated.png') });
  } finally {
    await site.close();
  }
});

test('running out of the shared memory gives an out-of-memory error with advice, and kiln carries on', LONG, async () => {
  const site = await openKilnPage();
  try {
    const { result } = await runInWorker(site.page, 'threads-fma', 2, async (kiln) => {
      // 256 MB a tensor, kept until the 4 GB that a wasm32 memory can hold run out.
      const a = kiln.Tensor.zeros([64, 1024, 1024]);
      const kept = [];
      let failure = null;
      while (!failure && kept.length < 40) {
        try {
          kept.push(a.add(1));
        } catch (error) {
          failure = { message: error.message, kind: error.kind };
        }
      }
      const held = kept.length;
      kept.forEach((t) => t.free());
      const after = await a.add(2).sum().item(); // kiln still works once memory is free again
      return { failure, held, after };
    });
    assert.ok(result.failure, 'memory ran out');
    assert.equal(result.failure.kind, 'out-of-memory');
    assert.match(result.failure.message, /^out of memory: could not get 256 MB more memory\. Use smaller images or a smaller batch size, or fewer photos, and try again$/);
    assert.ok(result.held >= 8, `${result.held} tensors of 256 MB fitted`);
    assert.equal(result.after, 2 * 64 * 1024 * 1024);
  } finally {
    await site.close();
  }
});
