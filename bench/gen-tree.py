#!/usr/bin/env python3
"""Writes a GitOps-like tree of N objects for bench/validate.sh: about half
workloads (Deployments, StatefulSets, CronJobs) referencing Secrets, half
Secrets' providers (SealedSecrets with real-looking sealed values, a few
plain Secrets annotated as intentional). Every reference is satisfied, so the
benchmark measures a clean run, the common case in CI."""
import base64, os, random, sys

out, total = sys.argv[1], int(sys.argv[2])
random.seed(7)
apps = total // 2
per_file = 10

SEALED = os.environ.get("SEALED_VALUE", "")
FINGERPRINT = os.environ.get("FINGERPRINT", "0123456789abcdef")

def indent(text, n):
    return "\n".join((" " * n + l) if l else l for l in text.splitlines())

def sealed(ns, name, keys):
    data = "\n".join(f"    {k}: {SEALED}" for k in keys)
    return f"""apiVersion: sealgate.dev/v1alpha1
kind: SealedSecret
metadata:
  name: {name}
  namespace: {ns}
  annotations:
    sealgate.dev/recipients: {FINGERPRINT}
    sealgate.dev/scope: namespace
spec:
  encryptedData:
{data}
  template:
    type: Opaque
"""

def workload(i, ns, secret, keys):
    kind = ["Deployment", "StatefulSet", "CronJob"][i % 3]
    env = "\n".join(f"""  - name: {k.upper()}
    valueFrom:
      secretKeyRef: {{name: {secret}, key: {k}}}""" for k in keys)
    pod = f"""metadata:
  labels: {{app: app-{i}}}
spec:
  containers:
  - name: app
    image: registry.example.com/app:{i}
    env:
{indent(env, 2)}
    envFrom:
    - secretRef: {{name: {secret}}}
  volumes:
  - name: creds
    secret:
      secretName: {secret}
      items:
      - {{key: {keys[0]}, path: {keys[0]}}}"""
    if kind == "CronJob":
        api, spec = "batch/v1", f"""schedule: "0 * * * *"
jobTemplate:
  spec:
    template:
{indent(pod, 6)}"""
    else:
        api, spec = "apps/v1", f"""selector:
  matchLabels: {{app: app-{i}}}
template:
{indent(pod, 2)}"""
    return f"""apiVersion: {api}
kind: {kind}
metadata:
  name: app-{i}
  namespace: {ns}
spec:
{indent(spec, 2)}
"""

docs = []
for i in range(apps):
    ns = f"team-{i % 50}"
    keys = [f"key{j}" for j in range(3)]
    docs.append((f"apps/{ns}", sealed(ns, f"creds-{i}", keys)))
    docs.append((f"apps/{ns}", workload(i, ns, f"creds-{i}", keys)))
for start in range(0, len(docs), per_file):
    chunk = docs[start:start + per_file]
    d = os.path.join(out, chunk[0][0])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"part-{start // per_file:05}.yaml"), "w") as f:
        f.write("---\n".join(doc for _, doc in chunk))
print(f"{len(docs)} objects in {(len(docs) + per_file - 1) // per_file} files under {out}")
