// The page's side of the learner's Web Worker (www/learner-worker.js): each call is a Promise,
// matched to its answer by id; progress events go to one callback. The messages are those of
// learner-protocol.js.
import { Kind, Message, errorOf, request } from './learner-protocol.js';

export class LearnerClient {
  /**
   * @param {(progress: object) => void} onProgress called with the Learner's progress events
   * @param {{threads?: number}} options threads for the CPU backend (default: one per core)
   */
  constructor(onProgress, { threads } = {}) {
    this.pending = new Map();
    this.nextId = 1;
    const url = new URL('learner-worker.js', import.meta.url);
    if (threads) url.searchParams.set('threads', threads);
    this.worker = new Worker(url, { type: 'module' });
    this.worker.onmessage = ({ data }) => {
      if (data.type === Message.PROGRESS) {
        onProgress(data.progress);
        return;
      }
      const call = this.pending.get(data.id);
      if (!call) return;
      this.pending.delete(data.id);
      if (data.type === Message.ERROR) call.reject(errorOf(data));
      else call.resolve(data.result);
    };
    // A worker that cannot start, or dies (out of memory), fails every call still waiting.
    this.worker.onerror = (event) => {
      event.preventDefault();
      const message = `the learner's worker stopped (${event.message || 'it could not be started'})`;
      this.dead = errorOf({ message, kind: Kind.CRASHED });
      this.failAll(this.dead);
    };
  }

  /** Runs `op` (one of learner-protocol.js's `Op`) in the worker; resolves with its result or rejects with its error. */
  call(op, args = {}) {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const message = request(id, op, args);
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(message);
    });
  }

  failAll(error) {
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  /** Ends the worker and everything in it (its memory, its GPU device). */
  terminate() {
    this.worker.terminate();
    this.failAll(new Error('the learner was replaced'));
  }
}
