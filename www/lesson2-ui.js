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

/** Sets the text of a role=status line (an empty text hides it). */
export function say(id, text, kind = '') {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle('bad', kind === 'bad');
  node.hidden = !text;
}

/**
 * Shows an error in the page's one role=alert region, with an optional button
 * `{label, run}` offering the way out (such as "Continue on CPU").
 */
export function showAlert(text, action = null) {
  const box = $('alert');
  $('alert-text').textContent = text;
  const button = $('alert-action');
  button.hidden = !action;
  button.textContent = action?.label ?? '';
  button.onclick = action ? () => { hideAlert(); action.run(); } : null;
  box.hidden = false;
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

/** kiln's errors start with the operation's name ("dataset: ..."): the person needs only the rest. */
export const plain = (message) => message.replace(/^(?:[\w.]+: )+/, '');

export const percent = (p) => `${(100 * p).toFixed(1)}%`;

/** Escapes a CSV field (quotes when it holds a comma, a quote or a line break). */
export const csvField = (text) => (/[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

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
