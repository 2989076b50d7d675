#!/usr/bin/env bash
# Builds what the site needs: the wasm module and its JS glue in pkg/ (wasm-bindgen --target web,
# with weak references so JS garbage collection frees tensors), and the charting library in www/vendor/.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release --lib --target wasm32-unknown-unknown
wasm-bindgen --target web --weak-refs --out-dir pkg target/wasm32-unknown-unknown/release/kiln.wasm

mkdir -p www/vendor
cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css www/vendor/
