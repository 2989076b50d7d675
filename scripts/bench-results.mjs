// benches/RESULTS.md is written by hand except for the sections the bench scripts own, each
// between `<!-- NAME:start -->` and `<!-- NAME:end -->`: a run replaces its own section only.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../benches/RESULTS.md', import.meta.url).pathname;

/** Puts `section` between the `name` markers of benches/RESULTS.md (appended the first time). */
export function writeSection(name, section) {
  const text = readFileSync(path, 'utf8');
  const [start, end] = [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`];
  const next = text.includes(start)
    ? text.slice(0, text.indexOf(start)) + `${start}\n${section}${end}` + text.slice(text.indexOf(end) + end.length)
    : `${text.trimEnd()}\n\n${start}\n${section}${end}\n`;
  writeFileSync(path, next);
  console.log('written to benches/RESULTS.md');
}
