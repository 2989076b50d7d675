// Writes www/models/imagenet_classes.txt: the 1000 ImageNet class names, one per line in class
// index order, taken from the npm package @tensorflow-models/mobilenet@2.1.1 (Apache-2.0),
// file dist/imagenet_classes.js. Usage: node scripts/extract_imagenet_classes.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PACKAGE = '@tensorflow-models/mobilenet@2.1.1';
const work = mkdtempSync(join(tmpdir(), 'imagenet-classes-'));
const tarball = execFileSync('npm', ['pack', PACKAGE, '--silent'], { cwd: work }).toString().trim();
execFileSync('tar', ['xzf', tarball], { cwd: work });
const source = readFileSync(join(work, 'package/dist/imagenet_classes.js'), 'utf8');

// Entries look like `    22: 'bald eagle, American eagle, Haliaeetus leucocephalus',`; long ones are
// split into string literals joined with `+` across lines, and some use double quotes.
const literal = String.raw`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"`;
const entry = new RegExp(String.raw`^\s*(\d+): ((?:${literal})(?:\s*\+\s*(?:${literal}))*)`, 'gm');
const names = new Array(1000).fill('');
for (const [, index, literals] of source.matchAll(entry)) {
  const pieces = literals.match(new RegExp(literal, 'g'));
  names[Number(index)] = pieces.map((piece) => piece.slice(1, -1).replace(/\\(.)/g, '$1')).join('');
}
const missing = names.findIndex((name) => !name);
if (missing !== -1) throw new Error(`no class name found for index ${missing}`);
const out = new URL('../www/models/imagenet_classes.txt', import.meta.url);
writeFileSync(out, names.join('\n') + '\n');
console.log(`wrote ${names.length} names to ${out.pathname}`);
