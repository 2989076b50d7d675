#!/usr/bin/env bash
# Sets everything up and runs every test:
#   0. `cargo fmt --check` and clippy with warnings as errors, native and wasm32;
#   1. native `cargo test`: every op on the CPU backend, every kernel on a real wgpu adapter
#      (Mesa's lavapipe where there is no GPU), gradient checks, SGD, the ONNX export run by ONNX
#      Runtime (tests/onnx.rs, with the Python environment scripts/setup.sh makes);
#   2. wasm-bindgen-test: the crate compiled to wasm, in headless Chromium with WebGPU (SwiftShader);
#   3. Playwright (node --test): the JS API and the lesson page in headless Chromium, with
#      screenshots under test-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" # silences a harmless Mesa warning when unset
mkdir -p target/tmp

echo "== formatting and lints"
cargo fmt --check
cargo clippy --quiet --all-targets -- -D warnings
cargo clippy --quiet --lib --test web --target wasm32-unknown-unknown -- -D warnings # the browser-side targets

echo "== native tests (CPU backend and wgpu on $(ls /usr/share/vulkan/icd.d/ 2>/dev/null | tr '\n' ' '))"
cargo test --quiet

echo "== wasm tests in headless Chromium"
# chromedriver leaves scoped folders in TMPDIR: keep them in target/.
TMPDIR="$PWD/target/tmp" CHROMEDRIVER="$(command -v chromedriver)" \
  cargo test --target wasm32-unknown-unknown --test web

echo "== browser tests (Playwright)"
node --test tests/browser/
