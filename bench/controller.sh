#!/usr/bin/env bash
# sealgate-controller against the cluster named by SEALGATE_E2E_KUBECONFIG:
#  1. time for N SealedSecrets (default 1,000) applied at once to all be Ready,
#     next to kubectl creating the same N Secrets directly (the floor); target < 2x;
#  2. the controller's peak RSS while it holds M SealedSecrets (default 10,000); target < 64 MiB.
# Skips with a message when no cluster is configured. Cleans up its namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SEALGATE_E2E_KUBECONFIG:-}" ]; then
  echo "skipping: SEALGATE_E2E_KUBECONFIG is not set (this benchmark needs a cluster)"
  exit 0
fi
n=${COUNT:-1000}
m=${RSS_COUNT:-10000}
k() { kubectl --kubeconfig "$SEALGATE_E2E_KUBECONFIG" "$@"; }
cargo build --release -q -p sealgate -p sealgate-controller
id=$RANDOM
ctl=sg-bench-ctl-$id app=sg-bench-app-$id plain=sg-bench-plain-$id
work=$(mktemp -d)
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  k delete namespace "$ctl" "$app" "$plain" --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
target/release/sealgate-controller crd | k apply --server-side -f - >/dev/null
k create namespace "$ctl" >/dev/null; k create namespace "$app" >/dev/null; k create namespace "$plain" >/dev/null
port=18089
target/release/sealgate-controller --kubeconfig "$SEALGATE_E2E_KUBECONFIG" --namespace "$ctl" \
  --watch-namespaces "$app" --listen 127.0.0.1:$port --log-level warn 2>"$work/controller.log" &
pid=$!
for _ in $(seq 60); do curl -sf http://127.0.0.1:$port/v1/recipients >"$work/recipients.txt" && break; sleep 1; done

gen() { # gen COUNT PREFIX: a multi-document Secret manifest
  for i in $(seq 1 "$1"); do
    printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: %s-%d}\nstringData: {password: value-%d}\n---\n' "$2" "$i" "$i"
  done
}
gen "$n" s >"$work/secrets.yaml"
target/release/sealgate seal --recipients-file "$work/recipients.txt" -n "$app" -f "$work/secrets.yaml" >"$work/sealed.yaml"

now() { date +%s%N; }
t0=$(now); k apply -n "$plain" -f "$work/secrets.yaml" >/dev/null; floor=$(( $(now) - t0 ))
t0=$(now); k apply -f "$work/sealed.yaml" >/dev/null
until [ "$(k get secrets -n "$app" --no-headers 2>/dev/null | wc -l)" -ge "$n" ]; do sleep 0.2; done
k wait --for=condition=Ready sealedsecrets --all -n "$app" --timeout=600s >/dev/null
ours=$(( $(now) - t0 ))

gen "$m" r | target/release/sealgate seal --recipients-file "$work/recipients.txt" -n "$app" -f - >"$work/many.yaml"
k apply -f "$work/many.yaml" >/dev/null
peak=0
for _ in $(seq 120); do
  rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  [ "$rss" -gt "$peak" ] && peak=$rss
  ready=$(k get secrets -n "$app" --no-headers 2>/dev/null | wc -l)
  [ "$ready" -ge $((n + m)) ] && break
  sleep 2
done
awk -v n="$n" -v a="$ours" -v b="$floor" -v p="$peak" -v m="$m" 'BEGIN {
  printf "%d SealedSecrets to Ready: %.1f s; kubectl creating %d Secrets: %.1f s; ratio %.2fx (target < 2x)\n", n, a/1e9, n, b/1e9, a/b
  printf "controller peak RSS with %d SealedSecrets: %.1f MiB (target < 64 MiB)\n", m, p/1024
}'
