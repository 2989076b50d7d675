// Shared set-up for the browser tests: the site served on a free loopback port, and Debian's
// Chromium driven by playwright-core with WebGPU enabled (SwiftShader on machines without a GPU).
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';

export const outputDir = new URL('../../test-output/', import.meta.url).pathname;
mkdirSync(outputDir, { recursive: true });

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu', // the flag that gives headless Chromium a WebGPU adapter
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic', '--disable-dev-shm-usage',
];

/**
 * Debian's Chromium with a fresh profile (WebGPU unless `webgpu: false`); `serviceWorkers` as
 * Playwright takes it ('allow' or 'block'); `args`, more command-line switches (a fake camera).
 */
export async function launchBrowser({ webgpu = true, serviceWorkers = 'allow', args = [] } = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'kiln-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...(webgpu ? CHROMIUM_ARGS : [...CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'), '--disable-blink-features=WebGPU']), ...args],
    viewport: { width: 1200, height: 900 },
    serviceWorkers,
  });
  return { context, userDataDir };
}

/** A site whose page has kiln loaded and initialised as `window.kiln`, for API tests. */
export async function openKilnPage() {
  const site = await openSite();
  await site.page.goto(`${site.origin}/tests/browser/blank.html`);
  await site.page.evaluate(async () => {
    window.kiln = await import('/pkg/kiln.js');
    await window.kiln.default();
  });
  return site;
}

/**
 * Starts the server and a browser; returns helpers and a `close()` for both.
 * `webgpu: false` starts a browser without WebGPU (no navigator.gpu), as many still are.
 * `isolated: false` serves without the COOP/COEP headers (as a plain static host does), and
 * `serviceWorkers: 'block'` stops the page's service worker from supplying them instead; `args`
 * are more Chromium switches.
 */
export async function openSite({ webgpu = true, isolated = true, serviceWorkers = 'allow', args = [] } = {}) {
  const server = await startServer(0, { isolated, tests: true });
  const origin = `http://127.0.0.1:${server.address().port}`;
  const { context, userDataDir } = await launchBrowser({ webgpu, serviceWorkers, args });
  // Everything the pages ask for must come from the site itself.
  const foreignRequests = [];
  context.on('request', (request) => {
    if (!request.url().startsWith(origin) && !request.url().startsWith('data:')) foreignRequests.push(request.url());
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error));
  page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(new Error(message.text())); });
  return {
    origin, page, foreignRequests, pageErrors, server, userDataDir,
    /** Closes the browser and the server; fails if the page or a worker broke the site's CSP. */
    async close() {
      await context.close();
      await new Promise((done) => server.close(done));
      assert.deepEqual(server.cspViolations, [], 'no Content-Security-Policy violations');
    },
  };
}

/**
 * Asserts that the site's page asked for nothing outside its origin (its own blob: URLs aside),
 * logged no error, and broke no rule of the server's Content-Security-Policy (violations in the
 * page or its workers are reported to the server).
 */
export function checkClean(site) {
  const foreign = site.foreignRequests.filter((url) => !url.startsWith(`blob:${site.origin}/`));
  assert.deepEqual(foreign, [], 'the page requests nothing outside its origin');
  assert.deepEqual(site.pageErrors.map(String), [], 'no errors in the page');
  assert.deepEqual(site.server.cspViolations, [], 'no Content-Security-Policy violations');
}

/**
 * Runs `fn(kiln, sample, arg)` in a Web Worker of `page` (tests/browser/kiln-worker.js) on kiln's
 * `build` with `threads` threads; resolves with `{build, cpu, reason, result}`. Threaded builds
 * need a worker: only a worker may wait for the thread pool. A rejection carries the error's
 * message and `kind`.
 */
export function runInWorker(page, build, threads, fn, arg) {
  return page.evaluate(([build, threads, source, arg]) => {
    const call = (worker, message) => new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => (data.error ? reject(Object.assign(new Error(data.error), { kind: data.kind })) : resolve(data.result));
      worker.onerror = (event) => reject(new Error(event.message));
      worker.postMessage(message);
    });
    const worker = new Worker(`/tests/browser/kiln-worker.js?build=${build}&threads=${threads}`, { type: 'module' });
    return call(worker, { source: null })
      .then(async (loaded) => ({ ...loaded, result: await call(worker, { source, arg }) }))
      .finally(() => worker.terminate());
  }, [build, threads, fn.toString(), arg]);
}

/** The status line (role status) of the page named `name`. */
export const status = (page, name) => page.getByRole('status', { name });

/** Waits until the status line `name` says `text` (a RegExp); returns its text. */
export async function waitForStatus(page, name, text, timeout = 300_000) {
  await status(page, name).filter({ hasText: text }).waitFor({ timeout });
  return status(page, name).textContent();
}
