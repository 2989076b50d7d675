// The server README starts (scripts/serve.mjs): nothing outside the site is served however the
// path is encoded, a malformed URL gets 400 and leaves the server running, and pages carry the
// Content-Security-Policy (the page tests check that nothing breaks it: harness.mjs's close()).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { startServer } from '../../scripts/serve.mjs';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** GET `path` sent as is (no URL normalisation by the client): [status, body, headers]. */
function get(port, path) {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (response) => {
      let body = '';
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => done([response.statusCode, body, response.headers]));
    });
    req.on('error', fail);
    req.end();
  });
}

test('nothing outside the site is served, however the path is encoded', async () => {
  // A sibling of the checkout whose name starts with the checkout's own: the old prefix check let it through.
  const siblingDir = resolve(dirname(root), `${basename(root)}-notes`);
  mkdirSync(siblingDir, { recursive: true });
  writeFileSync(resolve(siblingDir, 'secret.txt'), 'secret');
  writeFileSync(`${root}-secret.txt`, 'secret');
  const server = await startServer(0);
  const port = server.address().port;
  try {
    const name = basename(root);
    for (const path of [
      `/..%2f${name}-secret.txt`,
      `/..%2f${name}-notes/secret.txt`,
      `/www/..%2f..%2f${name}-secret.txt`,
      `/%2e%2e/${name}-secret.txt`,
      `/%252e%252e%252f${name}-secret.txt`,
      `/www/..%5c..%5c${name}-secret.txt`,
      '/../../etc/passwd',
      '/www/%2e%2e/%2e%2e/etc/passwd',
      '/%2fetc%2fpasswd',
    ]) {
      const [status, body] = await get(port, path);
      assert.notEqual(status, 200, `${path} must not be served`);
      assert.doesNotMatch(body, /secret|root:/, path);
    }
    // Inside the checkout but not part of the site: sources, scripts, the git folder, tests.
    for (const path of ['/Cargo.toml', '/src/lib.rs', '/scripts/serve.mjs', '/.git/config', '/tests/browser/harness.mjs', '/www/..%2fCargo.toml', '/www/%2e%2e/Cargo.toml', '/pkg/..%2f..%2fscripts/serve.mjs']) {
      assert.equal((await get(port, path))[0], 404, path);
    }
  } finally {
    await new Promise((done) => server.close(done));
    rmSync(siblingDir, { recursive: true, force: true });
    rmSync(`${root}-secret.txt`, { force: true });
  }
});

test('a malformed URL gets 400 and the server keeps serving', async () => {
  const server = await startServer(0);
  const port = server.address().port;
  try {
    for (const path of ['/%ZZ', '/www/%E0%A4%A', '/%', '/%00']) {
      const [status] = await get(port, path);
      assert.ok(status === 400 || status === 404, `${path}: ${status}`);
    }
    assert.equal((await get(port, '/%ZZ'))[0], 400);
    const [status, body, headers] = await get(port, '/');
    assert.equal(status, 200, 'still serving after malformed requests');
    assert.match(body, /<html/i);
    assert.match(headers['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'/);
    assert.equal(headers['cross-origin-embedder-policy'], 'require-corp');
  } finally {
    await new Promise((done) => server.close(done));
  }
});

test('the site itself is served: pages, scripts, kiln, weights, sample photos, docs', async () => {
  const server = await startServer(0);
  const port = server.address().port;
  try {
    for (const path of ['/', '/index.html', '/sgd.html', '/bench.html', '/docs.html', '/docs/learner.md', '/www/lesson2.js', '/pkg/kiln.js', '/pkg/kiln_bg.wasm', '/www/sample/index.json']) {
      assert.equal((await get(port, path))[0], 200, path);
    }
    assert.equal((await get(port, '/pkg/kiln_bg.wasm'))[2]['content-type'], 'application/wasm');
    assert.equal((await get(port, '/docs/learner.md'))[2]['content-type'], 'text/markdown; charset=utf-8');
  } finally {
    await new Promise((done) => server.close(done));
  }
});
