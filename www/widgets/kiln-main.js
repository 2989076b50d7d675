// kiln on the page's main thread for the widgets that compute there (<kiln-sgd>,
// <kiln-lr-finder>, <kiln-schedule>): the single-threaded build, started once for all of them,
// on the CPU backend (their sums are small, and a shared backend must not change under another
// widget's tensors).
import init, * as kiln from '../../pkg/kiln.js';

let started = null;

/** kiln's module, initialised, on its CPU backend. */
export function kilnReady() {
  started ??= init().then(() => kiln.useBackend('cpu')).then(() => kiln);
  return started;
}
