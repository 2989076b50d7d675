// The timing loop of the bench page, shared by kiln's side (bench-worker.js) and TensorFlow.js's
// (bench-tfjs.js), so both are timed the same way, and the median every bench reports.

/** The median of `xs` (the upper one of an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Seconds of each of `reps` calls of the async `f`, after one untimed warm-up call. */
export async function timed(reps, f) {
  await f();
  const seconds = [];
  for (let i = 0; i < reps; i++) {
    const started = performance.now();
    await f();
    seconds.push((performance.now() - started) / 1000);
  }
  return seconds;
}
