#!/usr/bin/env bash
# Re-vendors the Open Inference Protocol (KServe v2) gRPC definition from a kserve/kserve checkout,
# unchanged, and prints its sha256 (compare with README.md here; update both together).
#   proto/vendor.sh PATH/TO/kserve   # a work tree, or a bare git dir (then HEAD is read)
set -euo pipefail
src="${1:?usage: proto/vendor.sh PATH/TO/kserve-checkout}"
here="$(cd "$(dirname "$0")" && pwd)"
file=docs/predict-api/v2/grpc_predict_v2.proto
if [ -f "$src/$file" ]; then
    cp "$src/$file" "$here/grpc_predict_v2.proto"
    cp "$src/LICENSE" "$here/LICENSE"
    commit="$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)"
else
    git --git-dir="$src" cat-file blob "HEAD:$file" >"$here/grpc_predict_v2.proto"
    git --git-dir="$src" cat-file blob HEAD:LICENSE >"$here/LICENSE"
    commit="$(git --git-dir="$src" rev-parse HEAD)"
fi
echo "kserve commit: $commit"
(cd "$here" && sha256sum grpc_predict_v2.proto)
