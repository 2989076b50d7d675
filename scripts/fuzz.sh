#!/usr/bin/env bash
# Fuzzes what kiln reads from users (issue 14) with cargo-fuzz (libFuzzer) on the nightly toolchain:
#   decode_image  image files, alone and built into an ImageDataset;
#   load_weights  safetensors files and exported model descriptions (Model.load, Learner.load);
#   options       the JavaScript API's options objects, read and handed to their checks.
# Each target runs for a bounded time; prints its executions and crashes, and exits non-zero if any
# target crashed (the input is then under fuzz/artifacts/<target>/). Not part of scripts/test.sh:
# it is too slow for every run. Found inputs go into tests/fixtures/fuzz/ with a test in
# tests/fuzz_regressions.rs.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]    (default: FUZZ_SECONDS or 60, all)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${FUZZ_SECONDS:-60}}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode_image load_weights options)

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

# Seed corpora: the small files in fuzz/seeds, and a real JPEG (CMYK) and WebP from the project.
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  cp fuzz/seeds/"$target"/* "fuzz/corpus/$target/"
  [ "$target" != decode_image ] || cp tests/fixtures/images/cmyk.jpg www/sample/others/buffetset.webp fuzz/corpus/decode_image/
done

# Longest input per target: a few pictures' worth for images, a small model file for weights.
declare -A max_len=([decode_image]=65536 [load_weights]=16384 [options]=4096)

cargo +nightly fuzz build

crashed=0
summary=()
for target in "${targets[@]}"; do
  log="fuzz/artifacts/$target.log"
  mkdir -p "fuzz/artifacts/$target"
  before=$(ls "fuzz/artifacts/$target" | wc -l)
  # 2 GB of memory at most (MAX_IMAGE_PIXELS keeps a real picture well below), 10 s an input.
  dict=()
  [ ! -f "fuzz/$target.dict" ] || dict=(-dict="fuzz/$target.dict")
  status=0
  cargo +nightly fuzz run "$target" -- "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="${max_len[$target]}" \
    -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  # The final stats; a run stopped by a crash has none, then libFuzzer's last progress line counts.
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' ||
    grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
  crashes=$(($(ls "fuzz/artifacts/$target" | wc -l) - before))
  if [ "$status" -ne 0 ]; then
    crashed=1
    tail -n 40 "$log"
    [ "$crashes" -gt 0 ] || crashes="1 (no artifact)"
  fi
  summary+=("$target: ${executions} executions in ${seconds} s, ${crashes} crash(es); log $log")
done

echo "== fuzzing summary"
printf '%s\n' "${summary[@]}"
exit "$crashed"
