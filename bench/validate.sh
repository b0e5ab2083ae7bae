#!/usr/bin/env bash
# `sealgate validate` on a generated tree of 10,000 objects (half workloads, half
# SealedSecrets), next to parsing the same files alone with the same YAML
# library (the floor: core/examples/parse_only.rs). Reports wall time and peak
# RSS of each, and the ratio. Targets: under 1 s, within 1.5x of parse-only.
#
#   bench/validate.sh            # OBJECTS=10000 ROUNDS=5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
objects=${OBJECTS:-10000}
rounds=${ROUNDS:-5}

cargo build --release -q -p sealgate
cargo build --release -q -p sealgate-core --example parse_only
sealgate=target/release/sealgate
parse_only=target/release/examples/parse_only

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
recipient=$("$sealgate" keygen -o "$work/key.txt")
echo "$recipient" >"$work/recipients.txt"
sealed=$(printf 'bench-value' | "$sealgate" seal -r "$recipient" --raw --namespace team-0 --key key0)
fingerprint=$("$sealgate" seal -r "$recipient" --name x --namespace x --from-literal a=b \
  | sed -n 's/.*sealgate.dev\/recipients: //p')
SEALED_VALUE=$sealed FINGERPRINT=$fingerprint python3 bench/gen-tree.py "$work/tree" "$objects" >&2

# Best wall time and the peak RSS of that run, in ms and KiB.
measure() {
  local best_ms="" best_kib=""
  for _ in $(seq "$rounds"); do
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>&1 || true
    read -r secs kib <"$work/time"
    ms=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000 }')
    if [ -z "$best_ms" ] || [ "$ms" -lt "$best_ms" ]; then best_ms=$ms; best_kib=$kib; fi
  done
  echo "$best_ms $best_kib"
}

read -r v_ms v_kib < <(measure "$sealgate" validate --recipients-file "$work/recipients.txt" "$work/tree")
tail -1 "$work/out" >&2
grep -q ' 0 errors, 0 warnings' "$work/out" || { echo "validate did not run clean:" >&2; head -20 "$work/out" >&2; exit 1; }
read -r p_ms p_kib < <(measure "$parse_only" "$work/tree")

awk -v n="$objects" -v vm="$v_ms" -v vk="$v_kib" -v pm="$p_ms" -v pk="$p_kib" 'BEGIN {
  printf "validate, %d objects:   %6d ms, peak RSS %6.1f MiB\n", n, vm, vk / 1024
  printf "parse only (floor):      %6d ms, peak RSS %6.1f MiB\n", pm, pk / 1024
  printf "ratio to parse-only: %.2fx time, %.2fx memory (targets: < 1 s, <= 1.5x)\n", vm / (pm > 0 ? pm : 1), vk / pk
}'
