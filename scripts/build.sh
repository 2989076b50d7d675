#!/usr/bin/env bash
# Builds what the site needs: kiln's WebAssembly builds with their JS glue (wasm-bindgen --target
# web, with weak references so JS garbage collection frees tensors), the charting library and the
# docs page's Markdown renderer in www/vendor/, the service worker that gives static hosts
# cross-origin isolation, and dist/ (the site alone, to publish: scripts/dist.mjs).
#
# Three builds; the page loads the fastest one the browser can run (www/kiln-loader.js):
#   pkg/               one thread, SIMD128: every browser with WebAssembly SIMD (and wasm-bindgen-test)
#   pkg/threads/       rayon's pool on Web Workers sharing memory (needs cross-origin isolation)
#   pkg/threads-fma/   the same with relaxed SIMD, whose fused multiply-add the matrix products use
# The threaded builds need std compiled with atomics (-Z build-std, allowed on stable by
# RUSTC_BOOTSTRAP, and rust-src), so each keeps its own target directory.
#
# Each is built with Cargo.toml's wasm-release profile (fat LTO, one codegen unit), then
# wasm-bindgen, then wasm-opt -O3 from the npm package binaryen (pinned in package.json; Debian's
# older binaryen corrupts wasm-bindgen's output). wasm-opt runs in the background while the next
# build compiles, and only when cargo's module is newer than the optimised one: an up-to-date
# build takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

SELF=scripts/build.sh
PROFILE=wasm-release
WASM_OPT=node_modules/.bin/wasm-opt
if [ ! -x "$WASM_OPT" ]; then
  echo "build: $WASM_OPT is missing: run bash scripts/setup.sh (npm ci installs it)" >&2
  exit 1
fi

# finish IN_WASM OUT_DIR WASM_OPT_FLAGS...: wasm-bindgen IN_WASM into OUT_DIR, then wasm-opt its
# module in place. A stamp written last marks success; while it is newer than the inputs
# (cargo's module, this script, binaryen's version) there is nothing to do.
finish() {
  local in=$1 out=$2 stamp="$2/.wasm-opt-stamp"
  shift 2
  if [ "$stamp" -nt "$in" ] && [ "$stamp" -nt "$SELF" ] && [ "$stamp" -nt node_modules/binaryen/package.json ] \
    && [ -f "$out/kiln_bg.wasm" ]; then
    return 0
  fi
  rm -f "$stamp"
  wasm-bindgen --target web --weak-refs --out-dir "$out" "$in"
  "$WASM_OPT" -O3 "$@" "$out/kiln_bg.wasm" -o "$out/kiln_bg.wasm.tmp"
  mv "$out/kiln_bg.wasm.tmp" "$out/kiln_bg.wasm"
  touch "$stamp"
}
# wasm-opt keeps what the module's target-features section lists; the flags say it again.
SIMD_FEATURES="--enable-simd --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
  --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue"
THREAD_FEATURES="$SIMD_FEATURES --enable-threads"
pids=()

cargo build --quiet --profile $PROFILE --lib --target wasm32-unknown-unknown
finish target/wasm32-unknown-unknown/$PROFILE/kiln.wasm pkg $SIMD_FEATURES &
pids+=($!)

# Shared memory has a fixed maximum, reserved when the module starts: 4 GiB, all that wasm32 can
# address, so the threaded builds can hold as much as the single-threaded one.
MAX_MEMORY=$((4 << 30))
THREAD_FLAGS="-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals \
  -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=$MAX_MEMORY \
  -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size \
  -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
build_threaded() { # build_threaded NAME EXTRA_RUSTFLAGS WASM_OPT_FLAGS...
  local name=$1 rustflags=$2
  shift 2
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="$THREAD_FLAGS $rustflags" cargo build --quiet --profile $PROFILE --lib \
    --target wasm32-unknown-unknown --features threads -Z build-std=panic_abort,std --target-dir "target/wasm-$name"
  finish "target/wasm-$name/wasm32-unknown-unknown/$PROFILE/kiln.wasm" "pkg/$name" "$@" &
  pids+=($!)
}
build_threaded threads "" $THREAD_FEATURES
build_threaded threads-fma "-C target-feature=+relaxed-simd" $THREAD_FEATURES --enable-relaxed-simd
for pid in "${pids[@]}"; do wait "$pid"; done

mkdir -p www/vendor
cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css www/vendor/
# marked without its source-map comment: the map is not copied, so nothing would answer it.
sed '/^\/\/# sourceMappingURL=/d' node_modules/marked/lib/marked.esm.js > www/vendor/marked.esm.js
# A service worker's scope is its own folder and below: it must sit beside index.html.
cp node_modules/coi-serviceworker/coi-serviceworker.min.js coi-serviceworker.js

# dist/: the site alone, for a static host at any path, working offline (scripts/dist.mjs).
node scripts/dist.mjs
