// Types of `kiln-ml/loader` (www/kiln-loader.js), which picks and loads one of kiln's builds.

/** One of kiln's three WebAssembly builds. */
export type Build = 'simd' | 'threads' | 'threads-fma';

/**
 * Which build this browser can run fastest: `{build, reason}`, `reason` saying why it is the
 * single-threaded one (the page is not cross-origin isolated).
 */
export function pickBuild(): { build: Build; reason?: string };

/**
 * Loads and initialises kiln with `threads` threads for its CPU backend (default: one per
 * logical core); `build` forces a build. Returns the module, the build's name, `kiln.cpuInfo()`,
 * its WebAssembly.Memory, and why it runs on one thread when it does (a threaded build that fails
 * to start gives way to the single-threaded one).
 */
export function loadKiln(options?: { threads?: number; build?: Build }): Promise<{
  kiln: typeof import('../pkg/threads/kiln.js');
  build: Build;
  cpu: { build: string; threads: number; poolSize: number; fma: boolean };
  memory: WebAssembly.Memory;
  reason?: string;
}>;
