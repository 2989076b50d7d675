// Builds kiln's npm package from the WebAssembly builds (run scripts/build.sh first) and packs it:
//   target/npm/kiln-ml/            the package folder
//   target/npm/kiln-ml-VERSION.tgz what `npm publish` would upload, and what a project installs
// Layout: pkg/ (the single-threaded build, the default export, with its .d.ts), pkg/threads/ and
// pkg/threads-fma/ (the threaded builds), www/kiln-loader.js (picks the fastest build the browser
// can run: the `kiln-ml/loader` export), node.js (the Node entry), README.md and CHANGELOG.md.
// The version is Cargo.toml's.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'target/npm');
const folder = join(out, 'kiln-ml');
if (!existsSync(join(root, 'pkg/kiln_bg.wasm'))) throw new Error('pkg/ is missing: run bash scripts/build.sh first');

const cargo = readFileSync(join(root, 'Cargo.toml'), 'utf8');
const version = cargo.match(/^version = "([^"]+)"/m)[1];
const description = cargo.match(/^description = "([^"]+)"/m)[1];

rmSync(folder, { recursive: true, force: true });
mkdirSync(join(folder, 'www'), { recursive: true });
// wasm-bindgen's own package.json and the build stamps are not part of the package.
cpSync(join(root, 'pkg'), join(folder, 'pkg'), { recursive: true, filter: (path) => !/(\/\.[^/]*|package\.json)$/.test(path) });
cpSync(join(root, 'www/kiln-loader.js'), join(folder, 'www/kiln-loader.js'));
cpSync(join(root, 'npm/kiln-loader.d.ts'), join(folder, 'www/kiln-loader.d.ts'));
cpSync(join(root, 'npm/node.js'), join(folder, 'node.js'));
cpSync(join(root, 'npm/README.md'), join(folder, 'README.md'));
cpSync(join(root, 'CHANGELOG.md'), join(folder, 'CHANGELOG.md'));
const build = (dir) => ({ types: `./pkg/${dir}kiln.d.ts`, default: `./pkg/${dir}kiln.js` });
const manifest = {
  name: 'kiln-ml',
  version,
  description,
  license: 'MIT',
  type: 'module',
  exports: {
    '.': { types: './pkg/kiln.d.ts', node: './node.js', default: './pkg/kiln.js' },
    './threads': build('threads/'),
    './threads-fma': build('threads-fma/'),
    './loader': { types: './www/kiln-loader.d.ts', default: './www/kiln-loader.js' },
    './kiln_bg.wasm': './pkg/kiln_bg.wasm',
    './package.json': './package.json',
  },
  types: './pkg/kiln.d.ts',
  files: ['pkg', 'www', 'node.js', 'README.md', 'CHANGELOG.md'],
  sideEffects: ['./node.js'],
  keywords: ['deep-learning', 'fastai', 'webgpu', 'webassembly', 'autograd', 'mobilenet'],
};
writeFileSync(join(folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
const tarball = execFileSync('npm', ['pack', '--pack-destination', out, '--silent'], { cwd: folder, encoding: 'utf8' }).trim().split('\n').at(-1);
console.log(join(out, tarball));
