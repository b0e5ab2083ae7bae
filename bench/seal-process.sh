#!/usr/bin/env bash
# Whole-process cost of sealing a 1,000-key Secret with `sealgate seal`, next to
# 1,000 invocations of the Debian `age` command encrypting the same values
# (the baseline the issue names). Target: sealgate at least 10x faster.
#
#   bench/seal-process.sh            # builds sealgate in release mode first
#
# Installs `age` from Debian when it is missing (needs root and the Debian mirror).
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${KEYS:-1000}
rounds=${ROUNDS:-3}

if ! command -v age >/dev/null; then
  echo "installing Debian's age for the baseline" >&2
  (apt-get update -qq && apt-get install -y -qq age) >/dev/null
fi
cargo build --release -q -p sealgate
sealgate=target/release/sealgate

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
recipient=$("$sealgate" keygen -o "$work/key.txt")
for i in $(seq 1 "$keys"); do
  printf 'KEY_%04d=value-%04d-%s\n' "$i" "$i" "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
done >"$work/values.env"

now() { date +%s%N; }
best() { sort -n | head -1; }

ours=$(for _ in $(seq "$rounds"); do
  t0=$(now)
  "$sealgate" seal -r "$recipient" --name bench --namespace bench --from-env-file "$work/values.env" >"$work/sealed.yaml"
  echo $(( $(now) - t0 ))
done | best)

theirs=$(for _ in $(seq "$rounds"); do
  t0=$(now)
  while IFS= read -r line; do
    printf %s "${line#*=}" | age -r "$recipient" >/dev/null
  done <"$work/values.env"
  echo $(( $(now) - t0 ))
done | best)

# The sealed output must really hold every key.
test "$(grep -c '^    KEY_' "$work/sealed.yaml")" -eq "$keys"

awk -v k="$keys" -v a="$ours" -v b="$theirs" 'BEGIN {
  printf "sealgate seal, %d keys, one process: %8.1f ms\n", k, a / 1e6
  printf "age, %d invocations:                %8.1f ms\n", k, b / 1e6
  printf "speed-up: %.1fx (target >= 10x)\n", b / a
}'
