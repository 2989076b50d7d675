// Documentation that cannot rot: every ```js block of every docs/*.md runs in headless Chromium,
// and the rendered docs page (docs.html) opens every topic with nothing fetched from elsewhere.
//
// How a document runs: its snippets, in order, are joined into one ES module, served at the site
// root (so `import ... from './pkg/kiln.js'` and relative URLs resolve as on the site) and
// imported by a fresh page with the site's headers (cross-origin isolated, under its
// Content-Security-Policy). So a snippet sees the variables of the snippets above it in the same
// document, and every document starts from a new page.
// A line `console.log(value); // → expected` is a check (the comment may also stand alone on the
// next line, for long values): `expected` is read as a JavaScript value (numbers match to the
// digits written: 0.25 means 0.245 to 0.255) or, when it is not one, as the text printed (a text
// ending in … matches any text it begins). A failure names the file, the snippet and the line.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { transform } from 'esbuild';
import { checkClean, openSite, outputDir } from './harness.mjs';

const docsDir = new URL('../../docs/', import.meta.url).pathname;
const documents = readdirSync(docsDir).filter((name) => name.endsWith('.md')).sort();
const ARROW = '// →';

/** The ```js blocks of a Markdown text: `{code, line}`, line being the first code line's number. */
function snippetsOf(markdown) {
  const snippets = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```js') continue;
    const start = i + 1;
    do i++; while (i < lines.length && lines[i].trim() !== '```');
    snippets.push({ code: lines.slice(start, i).join('\n'), line: start + 1 });
  }
  return snippets;
}

/**
 * One document as an ES module: `{source, owners, checks}`. `owners[k]` says which snippet and
 * Markdown line the module's line k + 1 comes from; `checks[n]` is the nth `// →` comment.
 */
function moduleOf(file, snippets) {
  const lines = `globalThis.__docs = { snippet: 0, shown: {} };\n__docs.show = ${show};`.split('\n');
  const owners = lines.map(() => null);
  const checks = [];
  snippets.forEach(({ code, line }, s) => {
    lines.push(`__docs.snippet = ${s + 1};`);
    owners.push(null);
    code.split('\n').forEach((text, j) => {
      lines.push(text);
      owners.push({ snippet: s + 1, line: line + j });
      const at = text.indexOf(ARROW);
      if (at < 0) return;
      // The comment ends the console.log's line, or stands alone on the next one (for long values).
      const k = text.trimStart().startsWith(ARROW) ? lines.length - 2 : lines.length - 1;
      assert.ok(owners[k] && lines[k].includes('console.log('), `${file}:${line + j}: a ${ARROW} comment belongs after a console.log(...), on its line or the next`);
      checks.push({ snippet: s + 1, line: owners[k].line, expected: text.slice(at + ARROW.length).trim() });
      lines[k] = lines[k].replace('console.log(', `__docs.show(${checks.length - 1}, `);
    });
  });
  return { source: lines.join('\n'), owners, checks };
}

/** Runs in the page: records what a checked console.log printed, as plain data, and prints it. */
function show(check, value) {
  const plain = (v) => {
    if (ArrayBuffer.isView(v)) return Array.from(v);
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    return v;
  };
  globalThis.__docs.shown[check] = plain(value);
  console.log(value);
}

/** A number written in a `// →` comment, with the precision its digits give it. */
class Written {
  constructor(text) {
    this.value = Number(text);
    const [mantissa, exponent = '0'] = text.toLowerCase().split('e');
    const decimals = (mantissa.split('.')[1] ?? '').length;
    // Half a unit of the last digit written: 0.25 means 0.245 to 0.255. Whole numbers are exact
    // (to float32's rounding, 1e-6 relative).
    this.tolerance = decimals === 0 && exponent === '0'
      ? 1e-6 * Math.max(1, Math.abs(this.value))
      : 0.5 * 10 ** (Number(exponent) - decimals) * (1 + 1e-9);
  }
}

/**
 * What a `// →` comment expects: `{value}` when it reads as a JavaScript value (its numbers, outside
 * quoted strings, as `Written`), else `{text}`.
 */
function expectation(text) {
  const parts = text.split(/('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")/);
  const source = parts.map((part, i) => (i % 2 ? part : part.replace(/(?<![\w.])-?\d+(\.\d+)?(e-?\d+)?(?![\w.])/gi, (n) => `new Written('${n}')`))).join('');
  try {
    return { value: new Function('Written', `return (${source});`)(Written) };
  } catch {
    return { text };
  }
}

function matches(actual, expected) {
  if (expected instanceof Written) return typeof actual === 'number' && Math.abs(actual - expected.value) <= expected.tolerance;
  if (Array.isArray(expected)) return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(actual[i], e));
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const keys = Object.keys(expected);
    return keys.length === Object.keys(actual).length && keys.every((key) => key in actual && matches(actual[key], expected[key]));
  }
  return Object.is(actual, expected);
}

function checkPrinted(file, checks, shown) {
  checks.forEach(({ snippet, line, expected }, n) => {
    const where = `${file}:${line} (snippet ${snippet})`;
    assert.ok(n in shown, `${where}: the checked console.log never ran`);
    const { value, text } = expectation(expected);
    const printed = shown[n];
    if (text === undefined) {
      assert.ok(matches(printed, value), `${where}: printed ${JSON.stringify(printed)}, the comment says ${expected}`);
    } else {
      const ok = text.endsWith('…') ? String(printed).startsWith(text.slice(0, -1)) : String(printed) === text;
      assert.ok(ok, `${where}: printed ${JSON.stringify(printed)}, the comment says ${expected}`);
    }
  });
}

let site;
before(async () => {
  site = await openSite();
  // The runner page and each document's module, at the site root, served by the test itself
  // with the headers the site's own pages get: isolation, and the Content-Security-Policy the
  // snippets must keep to (close() fails on any violation they report).
  const siteHeaders = (await fetch(`${site.origin}/docs.html`)).headers;
  const headers = Object.fromEntries(['Cross-Origin-Opener-Policy', 'Cross-Origin-Embedder-Policy', 'Content-Security-Policy']
    .map((name) => [name, siteHeaders.get(name)]));
  site.modules = new Map();
  await site.page.context().route(`${site.origin}/docs-run*`, (route) => {
    const path = new URL(route.request().url()).pathname;
    const body = path === '/docs-runner.html' ? '<!doctype html><meta charset="utf-8"><title>docs runner</title>' : site.modules.get(path);
    if (body === undefined) return route.fulfill({ status: 404, body: 'not found' });
    const contentType = path.endsWith('.html') ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8';
    return route.fulfill({ status: 200, contentType, headers, body });
  });
});
after(() => site.close());

test('docs/README.md lists every document, and every document has runnable snippets', () => {
  const index = readFileSync(join(docsDir, 'README.md'), 'utf8');
  const listed = [...index.matchAll(/\]\(([\w-]+\.md)\)/g)].map((m) => m[1]);
  assert.deepEqual([...listed].sort(), documents.filter((name) => name !== 'README.md'), 'docs/README.md links each topic once');
  for (const name of listed) assert.ok(snippetsOf(readFileSync(join(docsDir, name), 'utf8')).length > 0, `${name} has a js snippet`);
});

for (const file of documents) {
  const snippets = snippetsOf(readFileSync(join(docsDir, file), 'utf8'));
  if (snippets.length === 0) continue;
  test(`docs/${file}: its ${snippets.length} snippets run, in order, and print what their comments say`, async () => {
    const { source, owners, checks } = moduleOf(`docs/${file}`, snippets);
    // A syntax error (a name declared twice in one document, say) is found before the browser runs it.
    try {
      await transform(source, { format: 'esm', loader: 'js' });
    } catch (error) {
      const at = error.errors?.[0]?.location;
      const owner = at && owners[at.line - 1];
      assert.fail(`docs/${file}${owner ? `:${owner.line} (snippet ${owner.snippet})` : ''}: ${error.errors?.[0]?.text ?? error.message}`);
    }
    const url = `/docs-run-${file.replace(/\.md$/, '')}.mjs`;
    site.modules.set(url, source);
    await site.page.goto(`${site.origin}/docs-runner.html`);
    const started = performance.now();
    const result = await site.page.evaluate(async (url) => {
      try {
        await import(url);
        return { shown: globalThis.__docs.shown };
      } catch (error) {
        const kind = error?.kind ? ` (kind '${error.kind}')` : '';
        return { error: `${error?.stack ?? error}${kind}`, snippet: globalThis.__docs?.snippet, shown: globalThis.__docs?.shown };
      }
    }, url);
    console.log(`docs/${file}: ${snippets.length} snippets, ${checks.length} checked values, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (result.error) {
      const snippet = snippets[result.snippet - 1];
      assert.fail(`docs/${file}, snippet ${result.snippet} (line ${snippet?.line}) threw: ${result.error}`);
    }
    checkPrinted(`docs/${file}`, checks, result.shown);
    assert.deepEqual(site.pageErrors.map(String), [], 'no errors in the page');
  });
}

test('docs.html renders every topic from docs/, navigates between them, and asks for nothing elsewhere', async () => {
  const { page, origin } = site;
  await page.goto(`${origin}/docs.html`);
  const nav = page.getByRole('navigation', { name: 'Documentation topics' });
  const topics = nav.locator('ol > li > a');
  await topics.first().waitFor();
  const titles = await topics.allTextContents();
  assert.equal(titles.length, documents.length - 1, 'one entry per topic');
  await page.getByRole('heading', { level: 1, name: "kiln's documentation" }).waitFor();

  // Each topic, from the nav: its own title, its sections listed under it, code blocks rendered.
  for (const title of titles) {
    await nav.getByRole('link', { name: title, exact: true }).click();
    await page.locator('main h1').filter({ hasText: title }).waitFor();
    assert.equal(await page.getByRole('alert').count(), 0, `${title}: no error`);
    assert.ok(await page.locator('main pre code').count() > 0, `${title}: its snippets are shown`);
    assert.equal(await nav.locator('[aria-current="page"]').textContent(), title);
    assert.ok(await nav.locator('ul a').count() > 0, `${title}: its sections are listed`);
  }

  // A link in the overview, a section link, then Back.
  await page.goto(`${origin}/docs.html`);
  await page.locator('main').getByRole('link', { name: 'The Learner' }).click();
  await page.locator('main h1').filter({ hasText: 'The Learner' }).waitFor();
  assert.match(page.url(), /docs\.html\?topic=learner$/);
  await nav.getByRole('link', { name: 'Unfreezing and discriminative learning rates' }).click();
  assert.match(page.url(), /\?topic=learner#unfreezing-and-discriminative-learning-rates$/);
  await page.screenshot({ path: join(outputDir, 'docs-learner.png') });
  await page.goBack();
  await page.goBack();
  await page.locator('main h1').filter({ hasText: "kiln's documentation" }).waitFor();

  // A code block's Copy button puts its code on the clipboard.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  await page.goto(`${origin}/docs.html?topic=tensors-and-autograd`);
  await page.getByRole('button', { name: 'Copy' }).first().click();
  await page.getByRole('button', { name: 'Copied' }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, `${snippetsOf(readFileSync(join(docsDir, 'tensors-and-autograd.md'), 'utf8'))[0].code}\n`);

  await page.goto(`${origin}/docs.html?topic=errors`);
  await page.getByRole('table').waitFor();
  await page.screenshot({ path: join(outputDir, 'docs-errors.png'), fullPage: true });
  checkClean(site);
});
