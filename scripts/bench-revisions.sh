#!/usr/bin/env bash
# Speed before and after a change, side by side: builds `cargo bench --bench speed` at a base
# revision (in a git worktree under target/) and at the working tree, then runs them in turn,
# ROUNDS times each, alternating so both see the same machine noise, and prints the median of each
# figure and the ratio new / base.
#   bash scripts/bench-revisions.sh 16ac17c          # 128 px training step and inference
#   ROUNDS=5 bash scripts/bench-revisions.sh HEAD~3 224
set -euo pipefail
cd "$(dirname "$0")/.."
# Resolved here, in this checkout: inside the worktree, HEAD~1 would mean the worktree's own
# HEAD~1 (each run would step one commit further back).
base="$(git rev-parse --verify "${1:?usage: bench-revisions.sh BASE_REVISION [image sizes...]}^{commit}")"
shift
sizes=("${@:-128}")
rounds="${ROUNDS:-3}"
tree="target/bench-base"
if [ -d "$tree" ]; then
  git -C "$tree" checkout --quiet --detach "$base"
else
  git worktree add --quiet --detach "$tree" "$base"
fi
echo "building the speed bench at $(git -C "$tree" rev-parse --short HEAD) and at the working tree"
(cd "$tree" && cargo bench --quiet --bench speed --no-run)
cargo bench --quiet --bench speed --no-run
results="$(mktemp -d)"
for round in $(seq "$rounds"); do
  (cd "$tree" && cargo bench --quiet --bench speed -- "${sizes[@]}" --json) >>"$results/base"
  cargo bench --quiet --bench speed -- "${sizes[@]}" --json >>"$results/new"
  echo "round $round of $rounds done"
done
node -e '
  const fs = require("fs");
  const read = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const [base, now] = [read(process.argv[1]), read(process.argv[2])];
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  console.log(`${base[0].backend}; medians of ${base.length} alternating runs`);
  console.log("figure        base      new   new/base");
  for (const key of Object.keys(base[0]).filter((k) => k !== "backend")) {
    const [b, n] = [median(base.map((r) => r[key])), median(now.map((r) => r[key]))];
    console.log(`${key.padEnd(10)} ${b.toFixed(2).padStart(8)} ${n.toFixed(2).padStart(8)} ${(n / b).toFixed(3).padStart(9)}`);
  }' "$results/base" "$results/new"
