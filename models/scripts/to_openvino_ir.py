"""Convert a model folder's ONNX file to OpenVINO IR (model.xml + model.bin) beside it.

    python models/scripts/to_openvino_ir.py models/shapes [models/other ...]

Uses the `openvino` PyPI package (openvino.convert_model + openvino.save_model). Weights stay f32
(no f16 compression) so the IR computes the same function as the ONNX file.
"""

import sys
from pathlib import Path

import openvino as ov


def convert(folder: Path) -> None:
    model = ov.convert_model(str(folder / "model.onnx"))
    ov.save_model(model, str(folder / "model.xml"), compress_to_fp16=False)
    print(f"{folder}/model.xml + model.bin (OpenVINO {ov.__version__})")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for arg in sys.argv[1:]:
        convert(Path(arg))
