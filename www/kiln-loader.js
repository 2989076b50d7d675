// Loads the fastest of kiln's three WebAssembly builds (scripts/build.sh) that this browser can run,
// and only that one:
//   pkg/threads-fma/  threads + relaxed SIMD (fused multiply-add), e.g. Chromium 114 and later;
//   pkg/threads/      threads + SIMD128;
//   pkg/              one thread + SIMD128, when the page is not cross-origin isolated (browsers
//                     give shared memory, which threads need, only to isolated pages).
// Threads need a Web Worker to wait in (see initThreads); a page's main thread may load a threaded
// build and use it on one thread.

/** A tiny module whose one function uses f32x4.relaxed_madd: it validates only where relaxed SIMD exists. */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type: (v128, v128, v128) -> v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // its body
]);

/**
 * Which build to load: `{build, reason}`, `reason` saying why it is the single-threaded one.
 * A threaded build is taken even for one thread, for its fused multiply-add where there is one.
 */
export function pickBuild() {
  if (!globalThis.crossOriginIsolated || typeof SharedArrayBuffer !== 'function') {
    return {
      build: 'simd',
      reason: 'this page is not cross-origin isolated, so the browser gives it no shared memory for threads',
    };
  }
  return { build: WebAssembly.validate(RELAXED_SIMD_PROBE) ? 'threads-fma' : 'threads' };
}

const FOLDERS = { simd: '', threads: 'threads/', 'threads-fma': 'threads-fma/' };

/**
 * Loads and initialises kiln with `threads` threads for its CPU backend (default: one per
 * logical core). Returns `{kiln, build, cpu, memory, reason?}`: the module, the build's name,
 * `kiln.cpuInfo()`, its WebAssembly.Memory (whose size is what kiln holds), and why it runs on
 * one thread when it does. `build` forces a build.
 * A threaded build that fails to start (a browser that cannot reserve its shared memory, say)
 * gives way to the single-threaded one, and `reason` says what failed.
 */
export async function loadKiln({ threads = navigator.hardwareConcurrency || 1, build } = {}) {
  const picked = pickBuild();
  build ??= picked.build;
  let reason = build === 'simd' && threads > 1 ? picked.reason : undefined;
  if (build !== 'simd') {
    try {
      const kiln = await import(new URL(`../pkg/${FOLDERS[build]}kiln.js`, import.meta.url).href);
      const { memory } = await kiln.default();
      const cpu = await kiln.initThreads(threads);
      return { kiln, build, cpu, memory };
    } catch (error) {
      reason = `the threaded build did not start (${error?.message ?? error})`;
    }
  }
  const kiln = await import(new URL('../pkg/kiln.js', import.meta.url).href);
  const { memory } = await kiln.default();
  return { kiln, build: 'simd', cpu: kiln.cpuInfo(), memory, reason };
}
