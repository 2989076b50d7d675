// The Lesson 2 page's settings and the one set of rules for them, used for the URL parameters
// (?size=128&bs=16...) when the page opens and for the form fields before any work starts. A
// value that breaks a rule is refused with a message saying what is allowed; it is never
// rounded or replaced by a default behind the person's back.
import { Kind } from './learner-protocol.js';

/**
 * Each setting: its URL parameter (the key), its form field's id, and its rule: `integer` with
 * its range, `choice` with its choices, or `rate`, a learning rate: one positive number, or two,
 * smallest first (fastai's slice).
 */
export const SETTINGS = Object.freeze({
  // Above 1024 px every photo's copy takes gigabytes (size=100000 crashed the learner).
  size: { field: 'size', type: 'integer', min: 32, max: 1024, what: 'the image size in pixels' },
  // Batch norm normalises over the batch: a batch of one photo cannot train.
  bs: { field: 'batch-size', type: 'integer', min: 2, max: 256, what: 'the batch size' },
  numit: { field: 'num-it', type: 'integer', min: 10, max: 500, what: 'the number of lr_find iterations' },
  epochs: { field: 'epochs', type: 'integer', min: 1, max: 1000, what: 'the number of epochs' },
  lr: { field: 'lr', type: 'rate', what: 'the learning rate' },
  method: { field: 'method', type: 'choice', choices: ['fit_one_cycle', 'fine_tune', 'fit', 'fit_sgdr'], what: 'the training method' },
  // fit_sgdr's cycles: the last lasts cyclelen * cyclemult^(cycles - 1) epochs.
  cycles: { field: 'cycles', type: 'integer', min: 1, max: 8, what: 'the number of SGDR cycles' },
  cyclelen: { field: 'cycle-len', type: 'integer', min: 1, max: 100, what: 'the length of the first SGDR cycle in epochs' },
  cyclemult: { field: 'cycle-mult', type: 'integer', min: 1, max: 4, what: "SGDR's cycle_mult" },
});

const RULES = {
  integer: (text, { min, max }) => {
    const value = Number(text);
    return text.trim() !== '' && Number.isInteger(value) && value >= min && value <= max ? value : null;
  },
  choice: (text, { choices }) => (choices.includes(text) ? text : null),
  rate: parseRate,
};

/** What a setting allows, as the end of a sentence: "a whole number from 2 to 256". */
function allowed({ type, min, max, choices }) {
  return {
    integer: `a whole number from ${min} to ${max}`,
    choice: `one of ${choices?.join(', ')}`,
    rate: 'one positive number like 1e-3, or two, smallest first, like 1e-5, 1e-3',
  }[type];
}

/** "2e-3" → 2e-3; "1e-5, 1e-3" or "slice(1e-5, 1e-3)" → [1e-5, 1e-3]; anything else → null. */
function parseRate(text) {
  const parts = text.replace(/slice|[()]/g, ' ').split(/[\s,]+/).filter(Boolean).map(Number);
  if (parts.length < 1 || parts.length > 2 || !parts.every((v) => Number.isFinite(v) && v > 0)) return null;
  if (parts.length === 2 && parts[0] > parts[1]) return null;
  return parts.length === 1 ? parts[0] : parts;
}

/**
 * `{value}` for a text the setting `name` allows, or `{message}` saying what it allows (a clause:
 * kiln-text.js's `sentence` makes it one).
 */
export function check(name, text) {
  const setting = SETTINGS[name];
  const value = RULES[setting.type](String(text), setting);
  if (value !== null) return { value };
  return { message: `${setting.what} must be ${allowed(setting)}${text === '' ? '' : `, not "${text}"`}` };
}

/**
 * The form fields' values of the settings `names`, by name ({size: 128, bs: 16}); a field that
 * breaks its rule throws an Error of kind 'bad-input' with the message, before anything runs.
 */
export function readFields(...names) {
  const values = {};
  for (const name of names) {
    const { value, message } = check(name, document.getElementById(SETTINGS[name].field).value);
    if (message) throw Object.assign(new Error(message), { kind: Kind.BAD_INPUT });
    values[name] = value;
  }
  return values;
}

/**
 * Puts the settings given as URL parameters (?size=128&epochs=2...) into their fields. Returns
 * the messages for those that break their rules, whose fields keep their defaults.
 */
export function applyParams(params) {
  const problems = [];
  for (const [name, { field }] of Object.entries(SETTINGS)) {
    if (!params.has(name)) continue;
    const text = params.get(name);
    const { message } = check(name, text);
    if (message) problems.push(`In the address, ${name}=${text}: ${message}.`);
    else document.getElementById(field).value = text;
  }
  return problems;
}
