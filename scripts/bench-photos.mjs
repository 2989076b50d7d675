// Thousands of photos, as a person would load them: generated photo-like JPEGs (examples/
// make_photos.rs) chosen with the page's folder input in headless Chromium, then one epoch of
// training at 128 px. For each set it prints the load time, photos decoded per second, the peak
// memory of the page's renderer process (sampled every 200 ms from /proc) and per 1,000 photos,
// and the seconds of the epoch; then writes the table into benches/RESULTS.md between the
// "bench-photos" markers. The soak trains 30 epochs on 2,000 photos in the page, then calls
// fit 200 times through the JavaScript API, sampling memory throughout ("soak" markers).
//
//     node scripts/bench-photos.mjs                 # 500, 2,000, 10,000 photos and 1,000 camera-size
//     node scripts/bench-photos.mjs 500 camera:100  # chosen sets; RESULTS.md left alone
//     node scripts/bench-photos.mjs --soak          # the soak (at 64 px, about 20 minutes here)
//
// The photos are made once into target/bench-photos/ (about 1.3 GB for 10,000 and 4 GB for
// 1,000 camera-size ones) and kept for the next run.
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openKilnPage, openSite } from '../tests/browser/harness.mjs';
import { writeSection } from './bench-results.mjs';

const root = new URL('..', import.meta.url).pathname;
const soak = process.argv.includes('--soak');
const asked = process.argv.slice(2).filter((a) => a !== '--soak');
const sets = (asked.length ? asked : ['500', '2000', '10000', 'camera:1000']).map((text) => {
  const [kind, count] = text.includes(':') ? text.split(':') : ['photo', text];
  const [width, height] = kind === 'camera' ? [4000, 3000] : [1024, 768];
  return { name: `${Number(count).toLocaleString('en')} photos, ${width}x${height}`, count: Number(count), width, height };
});

/** The folder of `set`'s photos, made if missing. */
function photos({ count, width, height }) {
  const dir = join(root, 'target/bench-photos', `${count}-${width}x${height}`);
  if (!existsSync(join(dir, 'done'))) {
    console.log(`making ${count} photos of ${width}x${height} in ${dir} ...`);
    execFileSync('cargo', ['run', '--quiet', '--release', '--example', 'make_photos', '--', dir, String(count), String(width), String(height)], { cwd: root, stdio: 'inherit' });
    writeFileSync(join(dir, 'done'), '');
  }
  return dir;
}

/** Resident memory in bytes of the renderer processes under the browser started with `userDataDir`. */
function rendererMemory(browserPid) {
  const children = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(Number(pid), parent);
    } catch { /* gone */ }
  }
  const under = (pid) => { for (let p = pid; p > 1; p = children.get(p) ?? 0) if (p === browserPid) return true; return false; };
  let total = 0;
  for (const pid of children.keys()) {
    if (!under(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      total += 1024 * Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
    } catch { /* gone */ }
  }
  return total;
}

/** The browser process the harness started: the chromium whose command line names its profile. */
function browserPid(userDataDir) {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(`--user-data-dir=${userDataDir}`) && !cmdline.includes('--type=')) return Number(pid);
    } catch { /* gone */ }
  }
  throw new Error('the browser process was not found');
}

const status = (page, name) => page.getByRole('status', { name });
async function waitFor(page, name, pattern, timeout) {
  await page.waitForFunction(({ name, source }) => {
    const alert = document.getElementById('alert');
    if (!alert.hidden) throw new Error(`the page says: ${alert.textContent}`);
    return new RegExp(source).test(document.querySelector(`[aria-label="${name}"]`)?.textContent ?? '');
  }, { name, source: pattern.source }, { timeout, polling: 250 });
  return status(page, name).textContent();
}

/** `site`'s renderer memory sampled every 200 ms: `peak()` since the start, `now()`. */
function sampler(site) {
  const pid = browserPid(site.userDataDir);
  let peak = 0;
  const timer = setInterval(() => { peak = Math.max(peak, rendererMemory(pid)); }, 200);
  return { peak: () => peak, now: () => rendererMemory(pid), stop: () => clearInterval(timer) };
}

/**
 * Loads `set` through the page's folder input at `size` px and trains `epochs` epochs; returns
 * the times, the renderer's memory when idle, its peak while loading and overall, and its size
 * after each epoch.
 */
async function measure(set, { size = 128, epochs = 1 } = {}) {
  const dir = photos(set);
  const site = await openSite();
  const memory = sampler(site);
  try {
    const { page } = site;
    await page.goto(`${site.origin}/index.html?backend=cpu&size=${size}&epochs=${epochs}&method=fit_one_cycle`);
    await waitFor(page, 'Data status', /Drop a folder/, 120_000);
    const idle = memory.now();
    let started = performance.now();
    await page.getByLabel('Choose a folder…').setInputFiles(dir);
    const loaded = await waitFor(page, 'Data status', /^[\d,]+ photos in \d+ classes/, 60 * 60_000);
    const loadSeconds = (performance.now() - started) / 1000;
    const loadPeak = memory.peak();
    started = performance.now();
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    const perEpoch = [];
    const rows = page.getByRole('table', { name: 'Results per epoch' }).locator('tbody tr');
    while (perEpoch.length < epochs) {
      await rows.nth(perEpoch.length).waitFor({ timeout: 60 * 60_000 });
      perEpoch.push(memory.now());
    }
    await waitFor(page, 'Training status', /Training finished/, 60 * 60_000);
    const epochSeconds = (performance.now() - started) / 1000 / epochs;
    const row = { ...set, loaded, loadSeconds, epochSeconds, idle, loadPeak, peak: memory.peak(), perEpoch };
    console.log(`${set.name}: ${loaded}\n  loaded in ${loadSeconds.toFixed(1)} s (${(set.count / loadSeconds).toFixed(1)} photos/s), ` +
      `${epochSeconds.toFixed(1)} s an epoch, renderer peak ${gb(row.peak)} (idle ${gb(idle)}, loading ${gb(loadPeak)})`);
    return row;
  } finally {
    memory.stop();
    await site.close();
  }
}

/** `calls` calls of fit(1) through the JavaScript API on 20 sample photos at 32 px, memory after every 20. */
async function fitCalls(calls) {
  const site = await openKilnPage();
  const memory = sampler(site);
  try {
    const wasm = () => site.page.evaluate(async () => (await window.kiln.default()).memory.buffer.byteLength);
    await site.page.evaluate(async () => {
      const sample = await import('/www/sample.js');
      const files = await sample.loadSampleFiles('/www/sample/', { perClass: 4 });
      const data = window.kiln.ImageDataset.fromFiles(files, { size: 32 });
      window.learn = await window.kiln.Learner.vision(data, { batchSize: 4, weightsUrl: '/www/models/mobilenet_v2.safetensors' });
    });
    const samples = [];
    for (let call = 1; call <= calls; call++) {
      await site.page.evaluate(() => window.learn.fit(1, 1e-3));
      if (call % 20 === 0) samples.push({ call, renderer: memory.now(), wasm: await wasm() });
    }
    return samples;
  } finally {
    memory.stop();
    await site.close();
  }
}

/**
 * What each 1,000 photos of the same size add to the renderer once loaded: the slope between the
 * smallest and the largest set of that size (the page, the network and the worker cost the same
 * in both, so they cancel out).
 */
function perThousand(rows) {
  const lines = [];
  for (const size of new Set(rows.map((r) => `${r.width}x${r.height}`))) {
    const same = rows.filter((r) => `${r.width}x${r.height}` === size).sort((a, b) => a.count - b.count);
    if (same.length < 2) continue;
    const [small, large] = [same[0], same.at(-1)];
    const slope = (large.loadPeak - small.loadPeak) / ((large.count - small.count) / 1000);
    lines.push(`Memory per 1,000 photos of ${size} once loaded (from the ${small.count} and ${large.count} sets): ${mb(slope)}.`, '');
  }
  return lines;
}

const gb = (bytes) => `${(bytes / 2 ** 30).toFixed(2)} GB`;
const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const today = new Date().toISOString().slice(0, 10);

console.log('building (scripts/build.sh) ...');
execSync('bash scripts/build.sh', { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
const chromium = execSync('/usr/bin/chromium --version', { encoding: 'utf8' }).trim();
const setting = `${chromium}, headless, this 2-core machine, the lesson page on the CPU backend, batch 16, photos chosen ` +
  "with the folder input; memory is the resident size of the page's renderer process (the page and its workers), sampled every 200 ms.";

if (soak) {
  const epochs = await measure(sets.find((s) => s.count === 2000) ?? sets[1], { size: 64, epochs: 30 });
  const calls = await fitCalls(200);
  const at = (i) => mb(epochs.perEpoch[i - 1]);
  const section = [
    `### Soak (${today}, \`node scripts/bench-photos.mjs --soak\`)`, '', setting, '',
    `- 30 epochs of fit_one_cycle on ${epochs.loaded.split(':')[0]} at 64 px (${epochs.epochSeconds.toFixed(1)} s an epoch): ` +
    `renderer ${at(1)} after epoch 1, ${at(10)} after 10, ${at(20)} after 20, ${at(30)} after 30; peak ${mb(epochs.peak)}.`,
    `- 200 calls of \`learner.fit(1, 1e-3)\` through the API (20 photos, 32 px): renderer ${calls.map((c) => mb(c.renderer)).join(', ')} ` +
    `after every 20 calls; kiln's WebAssembly memory ${calls.map((c) => mb(c.wasm)).join(', ')}.`,
    '',
  ].join('\n');
  console.log(section);
  writeSection('soak', section);
} else {
  const rows = [];
  for (const set of sets) rows.push(await measure(set));
  const section = [
    `### Thousands of photos (${today}, \`node scripts/bench-photos.mjs\`)`, '', `${setting} 128 px, one epoch of fit_one_cycle.`, '',
    '| photos | load | decoded/s | renderer after loading | renderer peak (training) | one epoch |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.loadSeconds.toFixed(1)} s | ${(r.count / r.loadSeconds).toFixed(1)} | ${gb(r.loadPeak)} | ` +
      `${gb(r.peak)} | ${r.epochSeconds.toFixed(1)} s |`),
    '',
    ...perThousand(rows),
  ].join('\n');
  console.log(section);
  if (!asked.length) writeSection('bench-photos', section);
}
