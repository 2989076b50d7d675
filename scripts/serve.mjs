// A small static file server for the site (the project root), on 127.0.0.1 only.
// Used by `scripts/serve.sh` and by the browser tests. Usage: node scripts/serve.mjs [port]
//
// It serves only what the site needs (the pages, www/, pkg/, docs/, the service worker, TensorFlow.js
// for the bench page; tests/browser/ and tests/fixtures/ only to the tests), never a path outside
// the checkout however it is encoded, answers a malformed URL with 400, and sends a
// Content-Security-Policy under which the page and its workers run with no violations; browsers
// report any violation to /csp-violation, which the tests read from `server.cspViolations`.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm', // required for WebAssembly.instantiateStreaming
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.ts': 'text/plain; charset=utf-8',
  '.webp': 'image/webp',
  '.webmanifest': 'application/manifest+json',
  '.md': 'text/markdown; charset=utf-8',
};

/** What the site is made of: these files, and everything under these folders. */
const SITE_FILES = ['/', '/index.html', '/sgd.html', '/docs.html', '/widget.html', '/bench.html', '/coi-serviceworker.js'];
const SITE_FOLDERS = ['/www/', '/pkg/', '/docs/', '/examples/web/', '/node_modules/@tensorflow/'];
/** What the browser tests also load (and scripts/bench-wasm-revisions.mjs, its two builds). */
const TEST_FOLDERS = ['/tests/browser/', '/tests/fixtures/', '/test-output/bench-wasm/'];

/**
 * Scripts and workers only from the site (kiln's thread pool starts its workers from blob: URLs),
 * WebAssembly compiled from them ('wasm-unsafe-eval'), the user's photos shown from blob: URLs,
 * nothing fetched or framed from elsewhere.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "img-src 'self' blob: data:",
  "style-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
  'report-uri /csp-violation',
].join('; ');
/** The browser tests' own pages and workers also run code the test runner sends them as text. */
const TEST_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'");
/**
 * The bench page runs TensorFlow.js's threaded wasm backend, whose threads (Emscripten's) each
 * `importScripts` a blob: copy of its script; they inherit the page's policy.
 */
const BENCH_CSP = CSP.replace("script-src 'self'", "script-src 'self' blob:");

/** The file a URL path names and its path in the site, or null when it is not part of what is served. */
function fileFor(path, folders) {
  const file = resolve(root, `.${path}`);
  // A separator after the root, so a sibling folder whose name starts with the root's is outside.
  if (file !== root && !file.startsWith(root + sep)) return null;
  // Judged by where the path leads once resolved, so www/..%2f.. cannot reach the sources.
  const site = `/${file.slice(root.length + 1).split(sep).join('/')}${path.endsWith('/') && file !== root ? '/' : ''}`;
  return SITE_FILES.includes(site) || folders.some((folder) => site.startsWith(folder)) ? { file, site } : null;
}

/**
 * Serves the site on 127.0.0.1:`port`. With `isolated` (the default) every response carries the
 * COOP/COEP headers that make the page cross-origin isolated, which WebAssembly threads need
 * (SharedArrayBuffer); `isolated: false` serves the page as a host that cannot set headers would.
 * `tests: true` also serves the browser tests' own pages and fixtures.
 */
export function startServer(port = 8000, { isolated = true, tests = false } = {}) {
  const isolation = isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
  const folders = tests ? [...SITE_FOLDERS, ...TEST_FOLDERS] : SITE_FOLDERS;
  const cspViolations = [];
  const server = createServer(async (request, response) => {
    let path;
    try {
      path = decodeURIComponent(new URL(request.url, 'http://localhost').pathname);
    } catch {
      response.writeHead(400, { 'Content-Type': 'text/plain' }).end('bad request: a malformed URL');
      return;
    }
    if (request.method === 'POST' && path === '/csp-violation') {
      let report = '';
      request.on('data', (chunk) => { report += chunk; });
      request.on('end', () => { cspViolations.push(report); response.writeHead(204).end(); });
      return;
    }
    const found = path.includes('\0') ? null : fileFor(path, folders);
    if (found === null) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    let { file } = found;
    const policy = found.site.startsWith('/tests/') ? TEST_CSP : found.site === '/bench.html' ? BENCH_CSP : CSP;
    try {
      if ((await stat(file)).isDirectory()) file = resolve(file, 'index.html');
      const body = await readFile(file);
      const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
      response.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache', 'Content-Security-Policy': policy, ...isolation });
      response.end(body);
    } catch {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
  });
  server.cspViolations = cspViolations;
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => done(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 8000);
  await startServer(port);
  console.log(`kiln is served at http://127.0.0.1:${port}/ (Ctrl-C stops it)`);
}
