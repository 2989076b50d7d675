// The npm package as its users get it: `npm pack`'s tarball installed into a scratch project,
// then used from Node (an SGD fit of a line, MobileNetV2 naming a photo), from a plain
// <script type="module"> with an import map, from a module Web Worker, and from an esbuild bundle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { launchBrowser } from './harness.mjs';
import { CONTENT_TYPES } from '../../scripts/serve.mjs';

const repo = new URL('../../', import.meta.url).pathname;
const LONG = { timeout: 600_000 };

/** Fits y = 2x + 1 with SGD through the package's API; prints {a, b, loss} as JSON. */
const SGD_LINE = `
const xs = Array.from({ length: 20 }, (_, i) => i / 10);
const x = kiln.Tensor.fromArray(xs, [20, 1]);
const y = kiln.Tensor.fromArray(xs.map((v) => 2 * v + 1), [20, 1]);
const a = kiln.Tensor.fromArray([0], [1, 1], true);
const b = kiln.Tensor.fromArray([0], [1], true);
const sgd = new kiln.SGD([a, b], { lr: 0.1 });
let loss;
for (let step = 0; step < 300; step++) {
  loss = x.matmul(a).add(b).sub(y).pow(2).mean();
  sgd.zeroGrad();
  loss.backward();
  sgd.step();
}
const fit = { a: (await a.toArray())[0], b: (await b.toArray())[0], loss: (await loss.toArray())[0] };
`;

function serve(root) {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://host').pathname));
    const file = join(root, path.endsWith('/') ? join(path, 'index.html') : path);
    try {
      const body = readFileSync(file);
      response.writeHead(200, { 'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((ready) => server.listen(0, '127.0.0.1', () => ready(server)));
}

/**
 * The exports of a .d.ts (classes, functions, types, and each class's members) that have no
 * doc comment right above them. Left out: wasm-bindgen's own members (free, dispose, private
 * constructors), its init types after `InitInput`, and what wasm-bindgen-rayon exports for its
 * workers in the threaded builds (initThreadPool, wbg_rayon_*), which kiln's initThreads wraps.
 */
function undocumented(declarations) {
  const lines = declarations.split('\n');
  const end = lines.findIndex((line) => line.startsWith('export type InitInput'));
  let inRayonClass = false;
  return lines.slice(0, end === -1 ? undefined : end).flatMap((line, i, all) => {
    if (line.startsWith('export ')) inRayonClass = /^export class wbg_rayon_/.test(line);
    const exported = /^export (class|function|type|interface|enum) /.test(line) || /^ {4}(static |readonly )?[\w$]+[(:?]/.test(line);
    const generated = /^ {4}(free\(|\[Symbol|private constructor)/.test(line)
      || inRayonClass || /^export function (initThreadPool|wbg_rayon_)/.test(line);
    return exported && !generated && !/\*\/\s*$/.test(all[i - 1] ?? '') ? [`${i + 1}: ${line.trim()}`] : [];
  });
}

test('every export of the package has a doc comment in its type declarations', () => {
  for (const file of ['pkg/kiln.d.ts', 'pkg/threads/kiln.d.ts', 'npm/kiln-loader.d.ts']) {
    assert.deepEqual(undocumented(readFileSync(join(repo, file), 'utf8')), [], `undocumented exports in ${file}`);
  }
});

test('npm pack, installed in a scratch project: Node, a plain module script, a Web Worker and an esbuild bundle', LONG, async () => {
  const tarball = execFileSync('node', [join(repo, 'scripts/package.mjs')], { encoding: 'utf8' }).trim();
  const project = mkdtempSync(join(tmpdir(), 'kiln-package-'));
  try {
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    // The package has no dependencies: nothing is fetched.
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project, stdio: 'pipe' });

    // Node: the CPU backend, initialised on import.
    writeFileSync(join(project, 'node-use.mjs'), `
import * as kiln from 'kiln-ml';
import { readFileSync } from 'node:fs';
${SGD_LINE}
const model = await kiln.Model.mobilenetV2({ pretrained: false });
model.load(readFileSync(${JSON.stringify(join(repo, 'www/models/mobilenet_v2.safetensors'))}));
model.eval();
const [top] = await model.predict(readFileSync(${JSON.stringify(join(repo, 'tests/fixtures/images/eagle.jpg'))}), 1, 'eagle.jpg');
console.log(JSON.stringify({ fit, top, backend: kiln.backendInfo().backend }));
`);
    const node = JSON.parse(execFileSync('node', ['node-use.mjs'], { cwd: project, encoding: 'utf8' }).trim().split('\n').at(-1));
    assert.ok(Math.abs(node.fit.a - 2) < 0.05 && Math.abs(node.fit.b - 1) < 0.05, `y = 2x + 1 fitted as ${JSON.stringify(node.fit)}`);
    assert.equal(node.backend, 'cpu');
    assert.equal(node.top.index, 22, `ImageNet class 22 is the bald eagle: ${JSON.stringify(node.top)}`);

    // The browser: an import map, a module worker, and an esbuild bundle with the module beside it.
    const reports = `${SGD_LINE} postResult(fit);`;
    writeFileSync(join(project, 'index.html'), `<!doctype html>
<script type="importmap">{"imports": {"kiln-ml": "./node_modules/kiln-ml/pkg/kiln.js"}}</script>
<script type="module">
import init, * as kiln from 'kiln-ml';
const postResult = (fit) => { window.results = { ...window.results, page: fit }; };
await init();
${reports}
const worker = new Worker('worker.js', { type: 'module' });
worker.onmessage = (event) => { window.results = { ...window.results, worker: event.data }; };
</script>`);
    writeFileSync(join(project, 'worker.js'), `
import init, * as kiln from './node_modules/kiln-ml/pkg/kiln.js';
const postResult = (fit) => postMessage(fit);
await init();
${reports}`);
    writeFileSync(join(project, 'app.js'), `
import init, * as kiln from 'kiln-ml';
const postResult = (fit) => { window.results = { bundle: fit }; };
await init();
${reports}`);
    execFileSync(join(repo, 'node_modules/.bin/esbuild'), ['app.js', '--bundle', '--format=esm', '--platform=browser', '--outfile=bundle/app.js'], { cwd: project, stdio: 'pipe' });
    copyFileSync(join(project, 'node_modules/kiln-ml/pkg/kiln_bg.wasm'), join(project, 'bundle/kiln_bg.wasm'));
    writeFileSync(join(project, 'bundle/index.html'), '<!doctype html><script type="module" src="app.js"></script>');

    const server = await serve(project);
    const { context } = await launchBrowser();
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const errors = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      const origin = `http://127.0.0.1:${server.address().port}`;
      const close = (fit) => Math.abs(fit.a - 2) < 0.05 && Math.abs(fit.b - 1) < 0.05;
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => window.results?.page && window.results?.worker, null, { timeout: 120_000 });
      const plain = await page.evaluate(() => window.results);
      assert.ok(close(plain.page) && close(plain.worker), JSON.stringify(plain));
      await page.goto(`${origin}/bundle/`);
      await page.waitForFunction(() => window.results?.bundle, null, { timeout: 120_000 });
      assert.ok(close(await page.evaluate(() => window.results.bundle)));
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      server.close();
    }
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
});
