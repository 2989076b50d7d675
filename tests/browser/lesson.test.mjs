// End to end: the SGD-from-scratch page (sgd.html), opened and watched as a person would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSite, outputDir } from './harness.mjs';

/** The least-squares fit of y = a0 * x0 + a1, worked out here independently of the page. */
function leastSquares(x0, y) {
  const n = x0.length;
  const mx = x0.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0; let sxx = 0;
  for (let i = 0; i < n; i++) { sxy += (x0[i] - mx) * (y[i] - my); sxx += (x0[i] - mx) ** 2; }
  const slope = sxy / sxx;
  return [slope, my - slope * mx];
}

async function runLesson(site, query, screenshot) {
  const { page } = site;
  await page.goto(`${site.origin}/sgd.html${query}`);
  await page.waitForFunction(() => window.lesson?.done === true, null, { timeout: 120_000 });
  await page.screenshot({ path: `${outputDir}/${screenshot}`, fullPage: true });
  return page.evaluate(() => window.lesson);
}

for (const backend of ['webgpu', 'cpu']) {
  test(`the page fits the line on ${backend} within 0.1 of least squares`, async () => {
    const site = await openSite();
    try {
      const lesson = await runLesson(site, `?backend=${backend}`, `lesson-sgd-${backend}.png`);
      assert.equal(lesson.backend.backend, backend, 'runs on the backend asked for');
      assert.equal(lesson.step, 100);
      assert.equal(lesson.x0.length, 100);
      const [slope, intercept] = leastSquares(lesson.x0, lesson.y);
      assert.ok(Math.abs(lesson.a[0] - slope) < 0.1, `a0 ${lesson.a[0]} vs least squares ${slope}`);
      assert.ok(Math.abs(lesson.a[1] - intercept) < 0.1, `a1 ${lesson.a[1]} vs least squares ${intercept}`);
      // The loss is shown every 10 steps (0, 10, ..., 90) plus the final one, and falls.
      assert.deepEqual(lesson.losses.map((l) => l.step), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
      assert.ok(lesson.losses.at(-1).loss < lesson.losses[0].loss / 5);
      const rows = await site.page.locator('#loss-table tbody tr').count();
      assert.equal(rows, 11);
      const shown = await site.page.locator('#a-value').textContent();
      assert.equal(shown, `(${lesson.a.map((v) => v.toFixed(3)).join(', ')})`);
      const status = await site.page.getByRole('status', { name: 'Backend in use' }).textContent();
      assert.match(status, backend === 'webgpu' ? /^WebGPU · / : /^CPU/);
      assert.deepEqual(site.foreignRequests, [], 'the page requests nothing outside its origin');
      assert.deepEqual(site.pageErrors.map(String), []);
    } finally {
      await site.close();
    }
  });
}

test('a learning rate that is too high diverges and the page says so', async () => {
  const site = await openSite();
  try {
    const lesson = await runLesson(site, '?backend=cpu&lr=1.5&steps=40', 'lesson-sgd-diverging.png');
    assert.ok(!(lesson.losses.at(-1).loss < 1e6), `final loss ${lesson.losses.at(-1).loss} should explode`);
    const alert = await site.page.getByRole('alert').textContent();
    assert.match(alert, /learning rate of 1.5 is too high/);
  } finally {
    await site.close();
  }
});

test('the user can change the learning rate and steps with the keyboard and rerun', async () => {
  const site = await openSite();
  try {
    const { page } = site;
    await runLesson(site, '?backend=cpu&steps=5', 'lesson-sgd-short.png');
    await page.getByRole('spinbutton', { name: 'Learning rate' }).fill('0.3');
    await page.getByRole('spinbutton', { name: 'Steps' }).fill('30');
    await page.getByRole('spinbutton', { name: 'Steps' }).press('Enter');
    await page.waitForFunction(() => window.lesson.done && window.lesson.step === 30, null, { timeout: 60_000 });
    const lesson = await page.evaluate(() => window.lesson);
    assert.ok(lesson.losses.at(-1).loss < 0.2, `lr 0.3 for 30 steps converges (loss ${lesson.losses.at(-1).loss})`);
  } finally {
    await site.close();
  }
});

test('without WebGPU the page says so plainly and runs on the CPU backend', async () => {
  const site = await openSite({ webgpu: false });
  try {
    const lesson = await runLesson(site, '', 'lesson-sgd-no-webgpu.png');
    assert.equal(lesson.backend.backend, 'cpu');
    assert.equal(lesson.step, 100);
    const note = await site.page.getByRole('note').textContent();
    assert.match(note, /^WebGPU is not available here: this browser offers no WebGPU adapter \(.*\)\. kiln runs on its CPU backend instead\.$/);
    const rejected = await site.page.evaluate(async () => {
      const kiln = await import('/pkg/kiln.js');
      return kiln.useBackend('webgpu').then(() => 'resolved', (e) => e instanceof Error);
    });
    assert.equal(rejected, true, "useBackend('webgpu') rejects with an Error");
    assert.deepEqual(site.pageErrors.map(String), []);
  } finally {
    await site.close();
  }
});
