#!/usr/bin/env bash
# Builds what the site needs: kiln's WebAssembly builds with their JS glue (wasm-bindgen --target
# web, with weak references so JS garbage collection frees tensors), the charting library in
# www/vendor/, and the service worker that gives static hosts cross-origin isolation.
#
# Three builds; the page loads the fastest one the browser can run (www/kiln-loader.js):
#   pkg/               one thread, SIMD128: every browser with WebAssembly SIMD (and wasm-bindgen-test)
#   pkg/threads/       rayon's pool on Web Workers sharing memory (needs cross-origin isolation)
#   pkg/threads-fma/   the same with relaxed SIMD, whose fused multiply-add the matrix products use
# The threaded builds need std compiled with atomics (-Z build-std, allowed on stable by
# RUSTC_BOOTSTRAP, and rust-src), so each keeps its own target directory.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release --lib --target wasm32-unknown-unknown
wasm-bindgen --target web --weak-refs --out-dir pkg target/wasm32-unknown-unknown/release/kiln.wasm

# Shared memory has a fixed maximum, reserved when the module starts: 4 GiB, all that wasm32 can
# address, so the threaded builds can hold as much as the single-threaded one.
MAX_MEMORY=$((4 << 30))
THREAD_FLAGS="-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals \
  -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=$MAX_MEMORY \
  -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size \
  -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
build_threaded() { # build_threaded NAME EXTRA_RUSTFLAGS
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="$THREAD_FLAGS $2" cargo build --quiet --release --lib \
    --target wasm32-unknown-unknown --features threads -Z build-std=panic_abort,std --target-dir "target/wasm-$1"
  wasm-bindgen --target web --weak-refs --out-dir "pkg/$1" "target/wasm-$1/wasm32-unknown-unknown/release/kiln.wasm"
}
build_threaded threads ""
build_threaded threads-fma "-C target-feature=+relaxed-simd"

mkdir -p www/vendor
cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css www/vendor/
# A service worker's scope is its own folder and below: it must sit beside index.html.
cp node_modules/coi-serviceworker/coi-serviceworker.min.js coi-serviceworker.js
