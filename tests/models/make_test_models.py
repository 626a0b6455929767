"""Make the tiny ONNX models the integration tests use (each well under 2 KB; committed).

    python tests/models/make_test_models.py

- identity-<type>.onnx: input `x` [2, 3] of one wasi-nn tensor type, output `y` = x (every type
  round-trips through `nnhost run` on every backend that has it).
- double-<type>.onnx: y = x + x, to show values really pass through the engine.
- multi-io.onnx: inputs `a` f32 [2, 3] and `b` i64 [3]; outputs `sum` = a + float(b) (f32),
  `b_twice` = b + b (i64), and `scores/final:0` = -a (a name that is not a safe file name).
- bool-out.onnx: output `mask` = a > 0 (bool: wasi-nn has no bool tensor type).
- int8-in.onnx: input `q` int8 (no wasi-nn type either).
- slow-matmul.onnx: input `x` f32 [256, 256], 1200 chained MatMuls with itself (about 20 G
  multiply-adds, seconds of work, no weights): for the inference deadline tests.
"""

from pathlib import Path

import onnx
from onnx import TensorProto as TP
from onnx import helper

OUT = Path(__file__).resolve().parent
TYPES = {"f16": TP.FLOAT16, "f32": TP.FLOAT, "f64": TP.DOUBLE, "bf16": TP.BFLOAT16, "u8": TP.UINT8, "i32": TP.INT32, "i64": TP.INT64}


def save(graph, name: str, opset: int = 13) -> None:
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="nnhost tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, str(OUT / name))


def main() -> None:
    for t, tp in TYPES.items():
        x = helper.make_tensor_value_info("x", tp, [2, 3])
        y = helper.make_tensor_value_info("y", tp, [2, 3])
        save(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], f"identity_{t}", [x], [y]), f"identity-{t}.onnx")
        save(helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], f"double_{t}", [x], [y]), f"double-{t}.onnx", opset=14)

    a = helper.make_tensor_value_info("a", TP.FLOAT, [2, 3])
    b = helper.make_tensor_value_info("b", TP.INT64, [3])
    nodes = [
        helper.make_node("Cast", ["b"], ["bf"], to=TP.FLOAT),
        helper.make_node("Add", ["a", "bf"], ["sum"]),
        helper.make_node("Add", ["b", "b"], ["b_twice"]),
        helper.make_node("Neg", ["a"], ["scores/final:0"]),
    ]
    outs = [
        helper.make_tensor_value_info("sum", TP.FLOAT, [2, 3]),
        helper.make_tensor_value_info("b_twice", TP.INT64, [3]),
        helper.make_tensor_value_info("scores/final:0", TP.FLOAT, [2, 3]),
    ]
    save(helper.make_graph(nodes, "multi_io", [a, b], outs), "multi-io.onnx")

    zero = helper.make_tensor("zero", TP.FLOAT, [], [0.0])
    save(
        helper.make_graph(
            [helper.make_node("Greater", ["a", "zero"], ["mask"])], "bool_out", [a], [helper.make_tensor_value_info("mask", TP.BOOL, [2, 3])], [zero]
        ),
        "bool-out.onnx",
    )
    q = helper.make_tensor_value_info("q", TP.INT8, [4])
    save(
        helper.make_graph([helper.make_node("Cast", ["q"], ["f"], to=TP.FLOAT)], "int8_in", [q], [helper.make_tensor_value_info("f", TP.FLOAT, [4])]),
        "int8-in.onnx",
    )
    x = helper.make_tensor_value_info("x", TP.FLOAT, [256, 256])
    nodes, prev = [], "x"
    for i in range(1200):
        # Scale down each step so values stay finite.
        nodes.append(helper.make_node("MatMul", [prev, "x"], [f"m{i}"]))
        nodes.append(helper.make_node("Mul", [f"m{i}", "tiny"], [f"s{i}"]))
        prev = f"s{i}"
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    tiny = helper.make_tensor("tiny", TP.FLOAT, [], [1.0 / 256])
    save(helper.make_graph(nodes, "slow_matmul", [x], [helper.make_tensor_value_info("y", TP.FLOAT, [256, 256])], [tiny]), "slow-matmul.onnx")
    print(f"wrote test models to {OUT}")


if __name__ == "__main__":
    main()
