// The published site (dist/, written by scripts/build.sh) as a teacher hosts it: a plain static
// server with no special headers, under a sub-path. After one visit the service worker has every
// file: with the server gone, the page opens again, with threads, and trains, and the docs open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { launchBrowser, outputDir, status } from './harness.mjs';
import { CONTENT_TYPES } from '../../scripts/serve.mjs';

const dist = new URL('../../dist/', import.meta.url).pathname;
const BASE = '/course/kiln/';

/** Serves dist/ under BASE with nothing but a content type: what a static host does. */
function staticHost() {
  const requests = [];
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://host').pathname);
    requests.push(path);
    const inside = path.startsWith(BASE) ? normalize(path.slice(BASE.length)) : null;
    if (inside === null || inside.startsWith('..')) return response.writeHead(404).end();
    const file = join(dist, inside === '.' || inside.endsWith('/') ? join(inside, 'index.html') : inside);
    try {
      const body = await readFile(file);
      response.writeHead(200, { 'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((ready) => server.listen(0, '127.0.0.1', () => ready({ server, requests })));
}


test('dist/ from a sub-path of a plain static host: isolated by its service worker, then offline it reloads, trains and shows the docs', async () => {
  const { server, requests } = await staticHost();
  const { context } = await launchBrowser();
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  try {
    const url = `http://127.0.0.1:${server.address().port}${BASE}`;
    await page.goto(url);
    // The first visit registers the worker, which takes control; the page reloads once, isolated.
    await page.waitForFunction(() => navigator.serviceWorker.controller && self.crossOriginIsolated, null, { timeout: 60_000 });
    await status(page, 'Backend in use').filter({ hasText: /CPU|WebGPU/ }).waitFor({ timeout: 120_000 });
    const manifest = await page.evaluate(async () => (await fetch(document.querySelector('link[rel=manifest]').href)).json());
    assert.equal(manifest.start_url, './');
    assert.ok(requests.every((path) => path.startsWith(BASE)), `every request under ${BASE}: ${requests.filter((p) => !p.startsWith(BASE))}`);

    // The network goes away: the host stops.
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    const seen = requests.length;
    await page.goto(`${url}?backend=cpu&dataset=sample&classes=fishes,tools&perclass=8&size=32&bs=4&precompute=1&epochs=1&lr=1e-2&autorun=train`);
    await status(page, 'Training status').filter({ hasText: /Training finished/ }).waitFor({ timeout: 300_000 });
    assert.equal(requests.length, seen, 'nothing reached the (stopped) host');
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
    assert.match(await status(page, 'Backend in use').textContent(), /CPU, \d+ threads?/);
    assert.equal(await page.getByRole('table', { name: 'Results per epoch' }).locator('tbody tr').count(), 1);
    await page.screenshot({ path: join(outputDir, 'dist-offline-trained.png'), fullPage: true });
    // The docs page too, from the service worker's cache.
    await page.goto(`${url}docs.html?topic=backends`);
    await page.locator('main h1').filter({ hasText: 'Choosing a backend' }).waitFor();
    assert.equal(requests.length, seen, 'the docs came from the cache, not the host');
    // The lesson widgets, their page and the examples are in dist/ and kept offline too.
    await page.goto(`${url}widget.html?name=schedule&method=fit_sgdr`);
    await status(page, 'Schedule').filter({ hasText: /^fit_sgdr\(3, 1, 1e-3, cycle_mult=2\): 7 epochs/ }).waitFor({ timeout: 60_000 });
    await page.goto(`${url}examples/web/widgets.html`);
    await status(page, 'Learning rate finder').filter({ hasText: /^Suggestions on a made-up curve/ }).waitFor({ timeout: 60_000 });
    assert.equal(requests.length, seen, 'nothing reached the (stopped) host');
    assert.deepEqual(errors, [], 'no errors in the page');
  } finally {
    await context.close();
    if (server.listening) await new Promise((done) => server.close(done));
  }
});
