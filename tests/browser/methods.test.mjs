// Lesson 2's training methods on the page: fit_one_cycle, fine_tune, fit and fit_sgdr (cosine
// annealing with restarts, cycle_mult), each previewed as the schedule it will run before Train
// is pressed; fit_sgdr set from the URL and trained.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { checkClean, openSite, outputDir, status, waitForStatus } from './harness.mjs';

const LONG = { timeout: 600_000 };
const caption = (page) => status(page, 'Schedule preview');

test('each method previews its schedule; fit_sgdr from the URL trains its cycles', LONG, async () => {
  const site = await openSite();
  try {
    const { page } = site;
    await page.goto(`${site.origin}/index.html?backend=cpu&dataset=sample&classes=fishes,tools&perclass=8&size=32&bs=4&precompute=1&lr=1e-2`);
    await waitForStatus(page, 'Data status', /^16 photos in 2 classes: 13 to train on/);
    // 13 training photos in batches of 4: 3 batches an epoch (the last incomplete one is dropped).
    await waitForStatus(page, 'Schedule preview', /fit_one_cycle\(4, 1e-2\) will run: 4 epochs of 3 batches/);
    assert.equal(await page.getByRole('img', { name: 'The schedule that will run' }).isVisible(), true);
    const method = page.getByRole('combobox', { name: 'Method' });
    const fields = async () => Promise.all(['Epochs', 'Cycles', 'Cycle length', 'cycle_mult'].map((name) => page.getByRole('spinbutton', { name, exact: true }).isVisible()));

    await method.selectOption('fine_tune');
    await waitForStatus(page, 'Schedule preview', /fine_tune\(4, 1e-2\) will run: 5 epochs \(1 frozen epoch, then the rest unfrozen\) of 3 batches/);
    await method.selectOption('fit');
    await waitForStatus(page, 'Schedule preview', /fit\(4, 1e-2\) will run: 4 epochs of 3 batches/);
    assert.deepEqual(await fields(), [true, false, false, false]);

    await method.selectOption('fit_sgdr');
    assert.deepEqual(await fields(), [false, true, true, true], 'SGDR takes cycles, not epochs');
    await waitForStatus(page, 'Schedule preview', /fit_sgdr\(3, 1, 1e-2, cycle_mult=2\) will run: 7 epochs of 3 batches/);
    await page.getByRole('spinbutton', { name: 'Cycles', exact: true }).fill('0');
    await waitForStatus(page, 'Schedule preview', /No preview: the number of SGDR cycles must be a whole number from 1 to 8, not "0"/);
    await page.getByRole('spinbutton', { name: 'Cycles', exact: true }).fill('2');
    await waitForStatus(page, 'Schedule preview', /fit_sgdr\(2, 1, 1e-2, cycle_mult=2\) will run: 3 epochs/);
    await page.locator('#plan-figure').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(outputDir, 'methods-sgdr-preview.png'), fullPage: true });

    // The same settings from the address, and trained: one row per epoch of the two cycles.
    await page.goto(`${site.origin}/index.html?backend=cpu&dataset=sample&classes=fishes,tools&perclass=8&size=32&bs=4&precompute=1&lr=1e-2&method=fit_sgdr&cycles=2&cyclelen=1&cyclemult=2&autorun=train`);
    await waitForStatus(page, 'Training status', /Training finished/, 300_000);
    assert.equal(await page.getByRole('table', { name: 'Results per epoch' }).locator('tbody tr').count(), 3);
    assert.match(await caption(page).textContent(), /fit_sgdr\(2, 1, 1e-2, cycle_mult=2\) will run: 3 epochs/);
    await page.screenshot({ path: join(outputDir, 'methods-sgdr-trained.png'), fullPage: true });
    checkClean(site);
  } finally {
    await site.close();
  }
});
