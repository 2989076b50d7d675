#!/usr/bin/env bash
# Installs everything kiln needs on a Debian/Ubuntu machine, idempotently:
# system packages (Chromium + ChromeDriver for browser tests, Mesa's lavapipe so native wgpu
# always finds a Vulkan adapter), the wasm32 Rust target, std's source (the threaded wasm build
# compiles std), the wasm-bindgen CLI pinned to the crate's version, the pinned Node packages
# (binaryen among them: scripts/build.sh runs its wasm-opt) and ONNX Runtime for the test of the ONNX
# export. Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen version in Cargo.lock

need_apt=()
for cmd_pkg in chromium:chromium chromedriver:chromium-driver node:nodejs npm:npm curl:curl python3:python3; do
  command -v "${cmd_pkg%%:*}" >/dev/null 2>&1 || need_apt+=("${cmd_pkg##*:}")
done
# Python's venv module (Debian ships it apart), for ONNX Runtime's environment below.
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# lavapipe: the Vulkan software driver (its ICD file) and the Vulkan loader.
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
ldconfig -p | grep -q 'libvulkan.so.1' || need_apt+=(libvulkan1)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  # dpkg sometimes reports a missing archive on the first try here: retry once.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" \
    || $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing Rust with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  . "$HOME/.cargo/env"
fi

rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
# The threaded WebAssembly builds compile std themselves, with atomics (scripts/build.sh).
rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
# The test command checks formatting and lints (rustup's minimal profile has neither).
for component in rustfmt clippy; do
  rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  echo "setup: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  cargo install -q wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --silent
fi

# ONNX Runtime, which tests/onnx.rs runs (through tests/onnx_runtime.py) on kiln's ONNX export: the
# Python wheel and its dependencies, pinned, in a virtual environment under target/. About 40 MB,
# where npm's onnxruntime-node is 113 MB and downloads more when installed.
ORT_ENV=target/onnxruntime-venv
ORT_PACKAGES=(onnxruntime==1.30.0 numpy==2.4.6 protobuf==7.36.2 flatbuffers==25.12.19 packaging==26.4)
if [ "$("$ORT_ENV/bin/python" -m pip freeze 2>/dev/null | grep -cxF -f <(printf '%s\n' "${ORT_PACKAGES[@]}"))" != "${#ORT_PACKAGES[@]}" ]; then
  echo "setup: installing ${ORT_PACKAGES[*]} in $ORT_ENV"
  python3 -m venv "$ORT_ENV"
  "$ORT_ENV/bin/python" -m pip install --quiet --disable-pip-version-check "${ORT_PACKAGES[@]}"
fi
