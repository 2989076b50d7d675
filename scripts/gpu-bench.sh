#!/usr/bin/env bash
# kiln on a GPU against PyTorch on the same GPU, in one command (issue 13):
#   kiln natively on wgpu (Vulkan, Metal or DX12): matmul GFLOP/s and MobileNetV2 + fastai's head
#   (unfrozen, Adam) training step and inference images/s (`cargo bench --bench speed -- --gpu`);
#   PyTorch, FP32 with TF32 off, eager, the same shapes (benches/pytorch_speed.py);
#   then a markdown table with the ratios, ready for benches/RESULTS.md.
#
#   bash scripts/gpu-bench.sh                    # build, run both, print the table
#   bash scripts/gpu-bench.sh --build-only       # build target/gpu-bench/speed and stop
#   KILN_SPEED_BIN=target/gpu-bench/speed bash scripts/gpu-bench.sh
#                                                # a machine without Rust: the binary built elsewhere
# Shapes: BATCH (32), SIZES (128,224), MATMUL (1024,2048,4096); e.g. on a software adapter
# (lavapipe) BATCH=2 SIZES=32 MATMUL=256 keeps it to minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH="${BATCH:-32}"
SIZES="${SIZES:-128,224}"
MATMUL="${MATMUL:-1024,2048,4096}"
out=target/gpu-bench
mkdir -p "$out"

bin="${KILN_SPEED_BIN:-}"
if [ -z "$bin" ]; then
  echo "== building the bench (cargo bench --bench speed --no-run)"
  built=$(cargo bench --bench speed --no-run 2>&1 | tee /dev/stderr | grep -o 'target/release/deps/speed-[0-9a-f]*' | tail -1)
  cp "$built" "$out/speed"
  bin="$out/speed"
fi
[ "${1:-}" = "--build-only" ] && { echo "built $bin"; exit 0; }

echo "== kiln on wgpu: batch $BATCH, sizes $SIZES, matmul $MATMUL"
# shellcheck disable=SC2086 # the sizes are separate arguments
"$bin" --gpu --json --batch "$BATCH" ${SIZES//,/ } --matmul "$MATMUL" | tail -1 >"$out/kiln.json"
cat "$out/kiln.json"

echo "== PyTorch on the same GPU"
if python3 -c 'import torch, torchvision, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  python3 benches/pytorch_speed.py --device cuda --batch "$BATCH" --sizes "$SIZES" --matmul "$MATMUL" | tail -1 >"$out/pytorch.json"
  cat "$out/pytorch.json"
else
  echo "PyTorch with CUDA (and torchvision) is not installed here: kiln's figures only"
  echo '{}' >"$out/pytorch.json"
fi

python3 - "$out/kiln.json" "$out/pytorch.json" <<'EOF'
import json, sys, datetime, platform
kiln, torch = (json.load(open(path)) for path in sys.argv[1:3])
print(f"\n{datetime.date.today()}, {kiln['backend']}, batch {kiln['batch']}; "
      f"PyTorch: {torch.get('backend', 'not run')}; host {platform.node()}")
print("| figure | kiln (wgpu) | PyTorch | kiln / PyTorch |\n|---|---:|---:|---:|")
for key, value in kiln.items():
    if key in ("backend", "batch"):
        continue
    unit = "GFLOP/s" if key.startswith("matmul") else "images/s"
    other = torch.get(key)
    show = lambda v: "" if v is None else f"{v:,.1f}" if v >= 10 else f"{v:.3f}"
    ratio = f"{value / other:.2f}" if other else ""
    print(f"| {key} ({unit}) | {show(value)} | {show(other)} | {ratio} |")
EOF
