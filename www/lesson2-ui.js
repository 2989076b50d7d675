// Small DOM and formatting helpers shared by the Lesson 2 page's modules.

export const $ = (id) => document.getElementById(id);

/** `el('p', {className: 'x', onclick}, 'text', child)`: an element with properties and children. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith('aria') || key.startsWith('data') || key === 'role' || key === 'for') node.setAttribute(key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/**
 * The largest file the page hands to kiln, in megabytes (10^6 bytes): a photo's file is far
 * smaller than its decoded pixels, and kiln refuses images over 50 megapixels anyway
 * (MAX_IMAGE_PIXELS in src/data/image.rs), so a bigger file is not even read.
 */
const MAX_FILE_MB = 50;

/** Why `file` is not read ("51 MB, more than the 50 MB kiln reads"), or null when it is small enough. */
export function tooBig(file) {
  if (file.size <= MAX_FILE_MB * 1e6) return null;
  return `${(file.size / 1e6).toFixed(0)} MB, more than the ${MAX_FILE_MB} MB kiln reads`;
}

/**
 * Makes `zone` a drop target: highlighted while something is dragged over it; `onDrop` gets the
 * drop's DataTransfer during the drop event itself (its entries can be read only then).
 */
export function dropZone(zone, onDrop) {
  zone.addEventListener('dragover', (event) => { event.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    onDrop(event.dataTransfer);
  });
}

/** Sets the text of a role=status line (an empty text hides it). */
export function say(id, text, kind = '') {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle('bad', kind === 'bad');
  node.hidden = !text;
}

/** The step (a <section>) the person last clicked, typed or picked a file in. */
let stepInUse = null;
for (const type of ['pointerdown', 'focusin', 'change']) {
  document.addEventListener(type, (event) => { stepInUse = event.target.closest?.('section') ?? stepInUse; }, true);
}

/**
 * Shows an error in the page's one role=alert region, with an optional button
 * `{label, run}` offering the way out (such as "Continue on CPU"). The region goes to the top of
 * the step in use (or of the page, before any), in the page's flow, so it hides no control.
 */
export function showAlert(text, action = null) {
  const box = $('alert');
  if (stepInUse) stepInUse.querySelector('h2').after(box);
  else document.querySelector('main').prepend(box);
  $('alert-text').textContent = text;
  const button = $('alert-action');
  button.hidden = !action;
  button.textContent = action?.label ?? '';
  button.onclick = action ? () => { hideAlert(); action.run(); } : null;
  box.hidden = false;
  box.scrollIntoView({ block: 'nearest' });
  if (action) button.focus();
}

export function hideAlert() {
  $('alert').hidden = true;
}

/** fastai's number format in the epoch table: six decimals. */
export const six = (v) => (Number.isFinite(v) ? v.toFixed(6) : String(v));

/** fastai's format_time: mm:ss (h:mm:ss past an hour). */
export function clock(seconds) {
  const s = Math.round(seconds);
  const two = (n) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${two(m)}:${two(s % 60)}`;
}

/** A learning rate the way the lesson writes them: 1e-3, 3.2e-4. */
export function rate(v) {
  if (v === 0) return '0';
  const [mantissa, exponent] = Number(v).toExponential(1).split('e');
  return `${mantissa.replace(/\.0$/, '')}e${exponent.replace('+', '')}`;
}

export const percent = (p) => `${(100 * p).toFixed(1)}%`;

/**
 * A CSV field. A text that a spreadsheet would run as a formula (one starting with =, +, -, @, a
 * tab or a carriage return: a file or class name can) gets a single quote in front, as OWASP
 * advises against CSV injection; then a field holding a comma, a quote or a line break is quoted.
 */
export function csvField(text = '') {
  const inert = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(inert) ? `"${inert.replaceAll('"', '""')}"` : inert;
}

/** Width of a plot's container, for uPlot, which draws at a fixed size. */
export const widthOf = (node) => Math.max(280, Math.floor(node.getBoundingClientRect().width || 600));

/** Redraws plots to their containers' widths when the window changes size. */
const sized = new Set();
export function keepSized(plot, container, height) {
  sized.add({ plot, container, height });
}
export function forgetSized(plot) {
  for (const entry of sized) if (entry.plot === plot) sized.delete(entry);
}
addEventListener('resize', () => {
  for (const { plot, container, height } of sized) plot.setSize({ width: widthOf(container), height });
});
