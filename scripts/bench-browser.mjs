// The browser bench, in one command: native kiln first (cargo bench --bench speed, and the train
// example's fine_tune(2) timed as a whole), then bench.html in one headless Chromium page (kiln's
// builds, 1 thread and all threads, FMA or not, and TensorFlow.js), then the table, with ratios,
// written into benches/RESULTS.md between the "bench-browser" markers.
//
//     node scripts/bench-browser.mjs           # the full bench (about 10-15 minutes here)
//     node scripts/bench-browser.mjs --quick   # one short round, RESULTS.md left alone
import { execFileSync, execSync } from 'node:child_process';
import { cpus } from 'node:os';
import { openSite } from '../tests/browser/harness.mjs';
import { writeSection } from './bench-results.mjs';

const root = new URL('..', import.meta.url).pathname;
const quick = process.argv.includes('--quick');
const run = (command) => execSync(command, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

console.log('building (scripts/build.sh) ...');
run('bash scripts/build.sh');

console.log('native kiln: cargo bench --bench speed ...');
const native = JSON.parse(run('cargo bench --quiet --bench speed -- --json').trim().split('\n').at(-1));
console.log('native kiln: the train example, fine_tune(2) at 128 px ...');
run('cargo build --quiet --release --example train');
const started = performance.now();
execFileSync(`${root}target/release/examples/train`, ['www/sample', '--fine-tune', '--epochs', '2', '--size', '128'], { cwd: root, stdio: 'ignore' });
const nativeFineTune = (performance.now() - started) / 1000;

console.log('the browser: bench.html ...');
const site = await openSite();
let results;
try {
  site.page.on('console', (message) => console.log(`  page: ${message.text()}`));
  await site.page.goto(`${site.origin}/bench.html?autorun=1${quick ? '&quick=1' : ''}`);
  const status = site.page.locator('#bench-status');
  let last = '';
  const timer = setInterval(async () => {
    const text = await status.textContent().catch(() => '');
    if (text && text !== last) console.log(`  ${(last = text)}`);
  }, 2000);
  await site.page.waitForFunction(() => window.benchResults, null, { timeout: 60 * 60_000, polling: 1000 });
  clearInterval(timer);
  results = await site.page.evaluate(() => window.benchResults);
} finally {
  await site.close();
}
if (results.error) throw new Error(`the bench page failed: ${results.error}`);

const chromium = execSync('/usr/bin/chromium --version', { encoding: 'utf8' }).trim();
const section = report(results, native, nativeFineTune, chromium);
console.log(section);
if (!quick) {
  writeSection('bench-browser', section);
}

/** The markdown section: the rates, then the ratios the targets are about. */
function report({ date, cores, rates, fineTune, tfjs }, native, nativeFineTune, chromium) {
  const columns = [...new Set(Object.values(rates).flatMap((r) => Object.keys(r)))];
  const nativeKey = (metric) => metric.replace(/^(\w+) (\d+).*$/, '$1$2');
  const lines = [
    `## The browser against native kiln and TensorFlow.js (\`node scripts/bench-browser.mjs\`)`,
    '',
    `${date.slice(0, 10)}, ${cpus()[0].model}, ${cores} logical cores, no GPU; ${chromium} headless,`,
    `cross-origin isolated. One page; the configurations alternated over the rounds, medians. Batch 16,`,
    'MobileNetV2 + fastai head, unfrozen, Adam; images/s (matmul: GFLOP/s, n×n @ n×n).',
    `Native: ${native.backend} (\`cargo bench --bench speed\`, the same machine, just before).`,
    `TensorFlow.js: ${tfjs.wasm}; ${tfjs.webgl}.`,
    '',
    `| | ${columns.join(' | ')} | native kiln |`,
    `|---|${columns.map(() => '---:').join('|')}|---:|`,
  ];
  for (const [metric, byConfig] of Object.entries(rates)) {
    const cells = columns.map((c) => (byConfig[c] === undefined ? '' : byConfig[c].toFixed(2)));
    lines.push(`| ${metric} | ${cells.join(' | ')} | ${native[nativeKey(metric)]?.toFixed(2) ?? ''} |`);
  }
  const all = `threads-fma, ${cores} threads`;
  const ratio = (metric, a, b) => (rates[metric]?.[a] / rates[metric]?.[b]).toFixed(2);
  lines.push('', 'Ratios:', '');
  for (const metric of Object.keys(rates)) {
    const parts = [
      `${cores} threads / 1 thread ${ratio(metric, all, 'threads-fma, 1 thread')}`,
      `FMA / no FMA ${ratio(metric, all, `threads, ${cores} threads`)}`,
      `threads-fma / single-threaded build ${ratio(metric, all, 'simd, 1 thread')}`,
      `browser / native ${(rates[metric][all] / native[nativeKey(metric)]).toFixed(2)}`,
    ];
    if (rates[metric]['TF.js wasm']) parts.push(`kiln / TF.js wasm ${ratio(metric, all, 'TF.js wasm')}`);
    if (rates[metric]['TF.js webgl']) parts.push(`kiln / TF.js webgl ${ratio(metric, all, 'TF.js webgl')}`);
    lines.push(`- ${metric}: ${parts.join('; ')}`);
  }
  lines.push(
    `- fine_tune(2) on the sample photos at 128 px, decoding included: browser (${fineTune.config}) ${fineTune.seconds.toFixed(1)} s`
      + ` (error_rate ${fineTune.errorRate.toFixed(3)}), native example ${nativeFineTune.toFixed(1)} s: ${(fineTune.seconds / nativeFineTune).toFixed(2)}×.`
      + ` In the browser: the photos fetched from this site ${fineTune.fetched.toFixed(1)} s, decoded at ${fineTune.decoded.toFixed(1)} s,`
      + ` the Learner ready (weights) at ${fineTune.ready.toFixed(1)} s,`
      + ` epochs ${fineTune.epochs.map((s) => s.toFixed(1)).join(' + ')} s.`,
  );
  if (tfjs.wasmTraining) lines.push(`- TensorFlow.js wasm cannot train this network: "${tfjs.wasmTraining}".`);
  return `${lines.join('\n')}\n`;
}
