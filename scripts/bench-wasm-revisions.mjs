// The browser's speed before and after a change, side by side in one page: builds kiln's
// single-threaded WebAssembly (wasm-release, no wasm-opt) at a base revision (in the git worktree
// under target/ that bench-revisions.sh uses too) and at the working tree, loads both builds into
// one headless Chromium page, and alternates them: a matmul, and MobileNetV2's training step and
// inference through `SpeedTest`. Prints the medians and the median of the per-pair ratios.
// The browser counterpart of scripts/bench-revisions.sh.
//
//     node scripts/bench-wasm-revisions.mjs HEAD~1
//     node scripts/bench-wasm-revisions.mjs 16ac17c --size 224 --rounds 9
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { openSite } from '../tests/browser/harness.mjs';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const size = option('--size', 128);
const rounds = option('--rounds', 7);
const baseArg = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!baseArg) throw new Error('usage: node scripts/bench-wasm-revisions.mjs BASE_REVISION [--size 128] [--rounds 7]');
const git = (...a) => execFileSync('git', a, { cwd: root, encoding: 'utf8' }).trim();
// Resolved here, in this checkout (inside the worktree HEAD~1 would mean the worktree's own).
const base = git('rev-parse', '--verify', `${baseArg}^{commit}`);
const tree = `${root}target/bench-base`;
if (existsSync(tree)) execFileSync('git', ['-C', tree, 'checkout', '--quiet', '--detach', base]);
else git('worktree', 'add', '--quiet', '--detach', tree, base);

const out = `${root}test-output/bench-wasm`;
function build(dir, name) {
  console.log(`building ${name} (${dir === root ? 'the working tree' : base.slice(0, 7)}) ...`);
  execFileSync('cargo', ['build', '--quiet', '--profile', 'wasm-release', '--lib', '--target', 'wasm32-unknown-unknown'], { cwd: dir, stdio: 'inherit' });
  rmSync(`${out}/${name}`, { recursive: true, force: true });
  const wasm = `${dir}/target/wasm32-unknown-unknown/wasm-release/kiln.wasm`;
  execFileSync('wasm-bindgen', ['--target', 'web', '--out-dir', `${out}/${name}`, wasm], { stdio: 'inherit' });
}
build(tree, 'base');
build(root, 'new');

const site = await openSite();
try {
  await site.page.goto(`${site.origin}/tests/browser/blank.html`);
  const report = await site.page.evaluate(async ({ size, rounds }) => {
    const load = async (name) => {
      const kiln = await import(`/test-output/bench-wasm/${name}/kiln.js`);
      await kiln.default();
      return kiln;
    };
    const builds = [await load('base'), await load('new')];
    const { median } = await import('/www/bench-timing.js');
    const product = (n) => (kiln) => {
      const [a, b] = [kiln.Tensor.randn([n, n], 1), kiln.Tensor.randn([n, n], 2)];
      return async () => { const c = a.matmul(b); await c.toArray(); c.free(); };
    };
    const cases = [
      ['matmul 512', product(512), 2 * rounds + 1],
      [`train ${size} px`, (kiln) => { const test = new kiln.SpeedTest(size, 16); return () => test.trainStep(); }, rounds],
      [`infer ${size} px`, (kiln) => { const test = new kiln.SpeedTest(size, 16); return () => test.infer(); }, rounds],
    ];
    const timed = async (run) => { const started = performance.now(); await run(); return performance.now() - started; };
    const lines = [`${navigator.userAgent.match(/(Headless)?Chrome\/[\d.]+/)[0]}, one thread, batch 16; medians of alternated runs (ms)`];
    for (const [name, make, count] of cases) {
      const [base, now] = builds.map(make);
      await base(); await now(); // compiled and warm
      const times = [[], []];
      for (let i = 0; i < count; i++) { times[0].push(await timed(base)); times[1].push(await timed(now)); }
      const ratio = median(times[0].map((b, i) => b / times[1][i]));
      lines.push(`${name.padEnd(14)} base ${median(times[0]).toFixed(1).padStart(8)}  new ${median(times[1]).toFixed(1).padStart(8)}  base/new ${ratio.toFixed(2)}`);
    }
    return lines.join('\n');
  }, { size, rounds });
  console.log(`base ${base.slice(0, 7)}, new: the working tree`);
  console.log(report);
} finally {
  await site.close();
}
