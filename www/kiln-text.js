// kiln's answers in a person's words, for every page: the backend in use, and errors, which kiln
// gives as "operation: what went wrong" with an `error.kind` (learner-protocol.js's `Kind`) that
// says what sort of failure it is. Pages pick their advice by that kind, never by the message.
import { Kind, messageOf } from './learner-protocol.js';

export { messageOf };

/** The backend line: "CPU, 8 threads, WebAssembly SIMD128 + FMA" or "WebGPU · <adapter>". */
export function describeBackend(info) {
  if (info.backend === 'cpu') return info.adapter;
  return `WebGPU · ${info.adapter}${info.fallback ? ' (software adapter)' : ''}`;
}

/**
 * A message without the name of the kiln operation that raised it ("decode_image: cut.jpg: is
 * damaged" → "cut.jpg: is damaged"): the person needs only the rest. Only that one name goes,
 * so a file name that follows it stays.
 */
export const plain = (message) => message.replace(/^[\w.]+: /, '');

/** The text of anything thrown, without the operation's name: what every message shown uses. */
export const plainMessageOf = (error) => plain(messageOf(error));

/** A clause as a sentence: a capital first letter and a full stop. */
export function sentence(text) {
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** What to do about each kind of error, after the error's own words. */
export const ADVICE = Object.freeze({
  [Kind.OUT_OF_MEMORY]: 'Your dataset and the weights from the last finished training are kept.',
  [Kind.DECODE]: 'Choose a complete photo (JPEG, PNG, WebP, GIF or BMP), or the model.safetensors and model.json this page saved: other files, and damaged ones, cannot be read.',
  [Kind.SHAPE]: 'The model and the data do not fit together: a saved model loads only with the classes it was trained on.',
  [Kind.DIVERGED]: 'The loss became infinite or not a number: the learning rate is too high for these weights. The weights from the last finished training are kept.',
});

/** The error's own words as a sentence, followed by the advice for its kind. */
export function explain(error) {
  const text = sentence(plainMessageOf(error));
  const advice = ADVICE[error?.kind];
  return advice ? `${text} ${advice}` : text;
}

/** `error` with other words, the same kind: for a message that says what was being done. */
export const reworded = (error, text) => Object.assign(new Error(text), { kind: error?.kind });
