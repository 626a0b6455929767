#!/usr/bin/env bash
# Makes the real pretrained models (models/efficientnet-lite0, models/mobilenet-v2, models/ppocr-*) from the weights
# that scripts/requirements-models.txt installs. A model is (re)made only when one of its generated
# files is missing or its model.onnx is not the one the make script pins (its sha256 is in the
# script): a second run only checks. Called by scripts/setup-native.
#
#     models/scripts/make_models.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
FORCE=0
self_tested=0
[ "${1:-}" = "--force" ] && FORCE=1

current() { # $1 = model folder, $2 = make script: all files there and model.onnx the pinned one
    local f
    for f in model.onnx model.xml model.bin labels.txt; do
        [ -f "models/$1/$f" ] || return 1
    done
    grep -q "ONNX_SHA256 = \"$(sha256sum "models/$1/model.onnx" | cut -c1-64)\"" "$2"
}

for pair in efficientnet-lite0:make_efficientnet_lite0.py mobilenet-v2:make_mobilenet_v2.py; do
    model=${pair%%:*}
    script=models/scripts/${pair#*:}
    if [ "$FORCE" = 0 ] && current "$model" "$script"; then
        echo "make_models: models/$model is up to date" >&2
        continue
    fi
    if [ "$self_tested" = 0 ]; then # the checkpoint reader's refusals, before it reads real files
        "$PY" models/scripts/pth.py --self-test >/dev/null
        self_tested=1
    fi
    echo "make_models: making models/$model with $script" >&2
    "$PY" "$script"
done

# PP-OCRv4 (models/ppocr-det, ppocr-cls, ppocr-rec) and plugins/ocr/keys.txt: copied from the
# rapidocr-onnxruntime wheel; the script itself skips what is current (pinned sha256 per file).
if [ "$FORCE" = 1 ]; then
    "$PY" models/scripts/make_ppocr.py --force
else
    "$PY" models/scripts/make_ppocr.py
fi

# MediaPipe BlazeFace (models/blazeface-short, models/blazeface-full): the script checks its own pins
# and skips a model that is current.
if [ "$FORCE" = 1 ]; then
    "$PY" models/scripts/make_blazeface.py --force
else
    "$PY" models/scripts/make_blazeface.py
fi
