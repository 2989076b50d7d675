// Writes dist/: the site and nothing else, for any static host, at any path (a teacher's
// https://host/course/kiln/ as well as a domain's root). Run by scripts/build.sh after the builds.
//
//   dist/index.html, sgd.html       the lesson pages (every URL in them is relative)
//   dist/docs.html, dist/docs/      the documentation page and the Markdown it renders
//   dist/widget.html                one lesson widget alone, for an iframe (www/widgets/)
//   dist/www/                       their scripts, styles, charting library, weights, sample photos
//   dist/examples/web/              the copyable pages that embed the widgets
//   dist/pkg/                       the three WebAssembly builds (the page picks one at start-up)
//   dist/manifest.webmanifest       makes the site installable as an app
//   dist/sw.js                      the service worker (www/site-worker.js with the list of files
//                                   and a version): it keeps every file for offline use, and gives
//                                   the pages the cross-origin isolation that threads need
//
// The version is a hash of every file's bytes: a changed file makes a new sw.js, which the
// browser installs beside the old one, and the old cache is dropped once it takes over. So names
// need no hashes of their own: no file is ever served from an older version's cache.
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const PAGES = ['index.html', 'sgd.html', 'docs.html', 'widget.html'];
const FOLDERS = ['www', 'pkg', 'docs', 'examples/web'];
/** Under those folders, what the site does not load: the bench page's scripts, type declarations, build stamps. */
const LEFT_OUT = [/^www\/bench/, /^www\/site-worker\.js$/, /\.d\.ts$/, /\/\.[^/]*$/, /^pkg\/(.*\/)?package\.json$/, /\.gitignore$/];
/** dist's pages register sw.js, which does what the header-only coi-serviceworker.js does and more. */
const DIST_HEAD = '  <script src="www/site-register.js"></script>\n  <link rel="manifest" href="manifest.webmanifest">\n</head>';

/** Every file under `folder`, as paths relative to the project root with / separators. */
function filesUnder(folder) {
  return readdirSync(join(root, folder), { recursive: true })
    .map((name) => `${folder}/${name.split('\\').join('/')}`)
    .filter((path) => statSync(join(root, path)).isFile() && !LEFT_OUT.some((pattern) => pattern.test(path)))
    .sort();
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
const files = [...PAGES, ...FOLDERS.flatMap(filesUnder)];
const hash = createHash('sha256');
for (const path of files) {
  mkdirSync(join(dist, path, '..'), { recursive: true });
  if (PAGES.includes(path)) {
    const html = readFileSync(join(root, path), 'utf8');
    writeFileSync(join(dist, path), html.replace(/ *<script src="coi-serviceworker.js"><\/script>\n/, '').replace('</head>', DIST_HEAD));
  } else {
    cpSync(join(root, path), join(dist, path));
  }
  hash.update(path).update(readFileSync(join(dist, path)));
}

const manifest = {
  name: 'kiln: fast.ai Lesson 2 in your browser',
  short_name: 'kiln',
  description: 'Train an image classifier on your own photos, in the browser: lr_find, one-cycle, top losses, the cleaner.',
  start_url: './',
  scope: './',
  display: 'standalone',
  background_color: '#fbfaf8',
  theme_color: '#c2410c',
  icons: [{ src: 'www/icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
};
writeFileSync(join(dist, 'manifest.webmanifest'), `${JSON.stringify(manifest, null, 2)}\n`);
hash.update(JSON.stringify(manifest));

// The service worker caches the pages under their folder's URL too ('./' is index.html).
const cached = ['./', ...files, 'manifest.webmanifest'];
const worker = readFileSync(join(root, 'www/site-worker.js'), 'utf8');
hash.update(worker);
const version = hash.digest('hex').slice(0, 16);
writeFileSync(join(dist, 'sw.js'), `const VERSION = '${version}';\nconst FILES = ${JSON.stringify(cached, null, 1)};\n${worker}`);

const bytes = files.reduce((sum, path) => sum + statSync(join(dist, path)).size, 0);
console.log(`dist/: ${files.length + 2} files, ${(bytes / 1e6).toFixed(1)} MB, version ${version} (${relative(process.cwd(), dist) || '.'})`);
