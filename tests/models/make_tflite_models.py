"""Make the tiny TFLite models the TFLite tests use (tests/tflite.rs; committed), without TensorFlow:
the flatbuffer is written with the `tflite` package's generated builders (`flatbuffers` runtime).

    .venv/bin/python tests/models/make_tflite_models.py

A BlazeFace-shaped toy, `tiny-face`: input `input` f32 [1, 8, 8, 3] (NHWC), then the operators
MediaPipe's BlazeFace uses: PAD, CONV_2D (fused RELU), DEPTHWISE_CONV_2D, ADD (fused RELU),
MAX_POOL_2D, 1x1 CONV_2D heads, RESHAPE and CONCATENATION; outputs `regressors` f32 [1, 80, 4] and
`classificators` f32 [1, 80, 1]. Weights are seeded random values, rounded to f16 so that:
- tiny-face.tflite keeps them as f32 constants (tract-tflite reads every operator);
- tiny-face-f16.tflite stores them as f16 with a DEQUANTIZE to f32 each, as BlazeFace does
  (tract-tflite has no DEQUANTIZE: tract refuses it and falls back to a model.onnx), and computes
  the same numbers;
- tiny-face.onnx is the same model written as ONNX (NCHW inside, transposes at the edges; the
  fallback's ONNX file);
- tiny-face-input.npy is a seeded input, and tiny-face-<output>.npy what Google's TFLite
  interpreter (`ai-edge-litert`) computes from it: the reference both backends are compared with.
"""

from pathlib import Path

import flatbuffers
import numpy as np
import onnx
import tflite
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

OUT = Path(__file__).resolve().parent
OPS = ["PAD", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "RESHAPE", "CONCATENATION", "DEQUANTIZE"]


class Graph:
    """Tensors, constant buffers and operators of one subgraph, written at the end."""

    def __init__(self, f16_weights: bool):
        self.f16 = f16_weights
        self.tensors = []  # (name, shape, type, buffer index)
        self.buffers = [None]  # buffer 0: the empty sentinel every schema reader expects
        self.ops = []  # (opcode, inputs, outputs, options kind, options writer)

    def tensor(self, name, shape, ty=tflite.TensorType.FLOAT32, data=None):
        buf = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data).tobytes())
            buf = len(self.buffers) - 1
        self.tensors.append((name, list(shape), ty, buf))
        return len(self.tensors) - 1

    def weight(self, name, values):
        values = np.asarray(values, np.float32)
        if not self.f16:
            return self.tensor(name, values.shape, data=values)
        half = self.tensor(name + "_f16", values.shape, tflite.TensorType.FLOAT16, values.astype(np.float16))
        out = self.tensor(name, values.shape)
        self.op("DEQUANTIZE", [half], [out])
        return out

    def op(self, code, inputs, outputs, kind=0, options=None):
        self.ops.append((OPS.index(code), inputs, outputs, kind, options))


def i32_vector(b, start, values):
    start(b, len(values))
    for v in reversed(values):
        b.PrependInt32(v)
    return b.EndVector()


def conv_options(stride, padding, act):
    def write(b):
        tflite.Conv2DOptionsStart(b)
        tflite.Conv2DOptionsAddPadding(b, padding)
        tflite.Conv2DOptionsAddStrideW(b, stride)
        tflite.Conv2DOptionsAddStrideH(b, stride)
        tflite.Conv2DOptionsAddDilationWFactor(b, 1)
        tflite.Conv2DOptionsAddDilationHFactor(b, 1)
        tflite.Conv2DOptionsAddFusedActivationFunction(b, act)
        return tflite.Conv2DOptionsEnd(b)

    return tflite.BuiltinOptions.Conv2DOptions, write


def depthwise_options(b):
    tflite.DepthwiseConv2DOptionsStart(b)
    tflite.DepthwiseConv2DOptionsAddPadding(b, tflite.Padding.SAME)
    tflite.DepthwiseConv2DOptionsAddStrideW(b, 1)
    tflite.DepthwiseConv2DOptionsAddStrideH(b, 1)
    tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, 1)
    tflite.DepthwiseConv2DOptionsAddDilationWFactor(b, 1)
    tflite.DepthwiseConv2DOptionsAddDilationHFactor(b, 1)
    return tflite.DepthwiseConv2DOptionsEnd(b)


def add_options(b):
    tflite.AddOptionsStart(b)
    tflite.AddOptionsAddFusedActivationFunction(b, tflite.ActivationFunctionType.RELU)
    return tflite.AddOptionsEnd(b)


def pool_options(b):
    tflite.Pool2DOptionsStart(b)
    tflite.Pool2DOptionsAddPadding(b, tflite.Padding.VALID)
    tflite.Pool2DOptionsAddStrideW(b, 2)
    tflite.Pool2DOptionsAddStrideH(b, 2)
    tflite.Pool2DOptionsAddFilterWidth(b, 2)
    tflite.Pool2DOptionsAddFilterHeight(b, 2)
    return tflite.Pool2DOptionsEnd(b)


def concat_options(b):
    tflite.ConcatenationOptionsStart(b)
    tflite.ConcatenationOptionsAddAxis(b, 1)
    return tflite.ConcatenationOptionsEnd(b)


HEADS = {"regressors": 4, "classificators": 1}


def weights() -> dict:
    """Seeded weights in TFLite layouts (conv OHWI, depthwise 1HWC), exactly representable in f16."""
    rng = np.random.default_rng(20261204)
    shapes = {"conv1_w": (4, 3, 3, 3), "conv1_b": (4,), "dw_w": (1, 3, 3, 4), "dw_b": (4,)}
    for head, channels in HEADS.items():
        for side in [4, 8]:
            shapes[f"{head}_{side}_w"] = (channels, 1, 1, 4)
            shapes[f"{head}_{side}_b"] = (channels,)
    return {k: rng.normal(0, 0.5, s).astype(np.float16).astype(np.float32) for k, s in shapes.items()}


def tiny_face(f16_weights: bool, W: dict) -> bytes:
    def w(name):
        return g.weight(name, W[name])

    g = Graph(f16_weights)
    x = g.tensor("input", [1, 8, 8, 3])
    pads = g.tensor("paddings", [4, 2], tflite.TensorType.INT32, np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    padded = g.tensor("padded", [1, 10, 10, 3])
    g.op("PAD", [x, pads], [padded])
    c1 = g.tensor("conv1", [1, 8, 8, 4])
    g.op("CONV_2D", [padded, w("conv1_w"), w("conv1_b")], [c1],
         *conv_options(1, tflite.Padding.VALID, tflite.ActivationFunctionType.RELU))
    dw = g.tensor("depthwise", [1, 8, 8, 4])
    g.op("DEPTHWISE_CONV_2D", [c1, w("dw_w"), w("dw_b")], [dw],
         tflite.BuiltinOptions.DepthwiseConv2DOptions, depthwise_options)
    block = g.tensor("block", [1, 8, 8, 4])
    g.op("ADD", [dw, c1], [block], tflite.BuiltinOptions.AddOptions, add_options)
    pooled = g.tensor("pooled", [1, 4, 4, 4])
    g.op("MAX_POOL_2D", [block], [pooled], tflite.BuiltinOptions.Pool2DOptions, pool_options)

    for head, channels in HEADS.items():
        parts = []
        for source, side in [(pooled, 4), (block, 8)]:
            tag = f"{head}_{side}"
            conv = g.tensor(tag + "_conv", [1, side, side, channels])
            g.op("CONV_2D", [source, w(tag + "_w"), w(tag + "_b")], [conv],
                 *conv_options(1, tflite.Padding.VALID, tflite.ActivationFunctionType.NONE))
            shape = g.tensor(tag + "_shape", [3], tflite.TensorType.INT32, np.array([1, side * side, channels], np.int32))
            flat = g.tensor(tag + "_flat", [1, side * side, channels])
            g.op("RESHAPE", [conv, shape], [flat])
            parts.append(flat)
        out = g.tensor(head, [1, 80, channels])
        g.op("CONCATENATION", parts, [out], tflite.BuiltinOptions.ConcatenationOptions, concat_options)
    outputs = [i for i, t in enumerate(g.tensors) if t[0] in HEADS]
    return write_model(g, [x], outputs)


def write_model(g: Graph, inputs, outputs) -> bytes:
    b = flatbuffers.Builder(4096)
    buffers = []
    for data in g.buffers:
        vec = None
        if data is not None:
            b.StartVector(1, len(data), 16)
            b.head = b.head - len(data)
            b.Bytes[b.head:b.head + len(data)] = data
            vec = b.EndVector()
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        buffers.append(tflite.BufferEnd(b))
    tensors = []
    for name, shape, ty, buf in g.tensors:
        n = b.CreateString(name)
        s = i32_vector(b, tflite.TensorStartShapeVector, shape)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, s)
        tflite.TensorAddType(b, ty)
        tflite.TensorAddBuffer(b, buf)
        tflite.TensorAddName(b, n)
        tensors.append(tflite.TensorEnd(b))
    ops = []
    for code, ins, outs, kind, options in g.ops:
        opt = options(b) if options else None
        i = i32_vector(b, tflite.OperatorStartInputsVector, ins)
        o = i32_vector(b, tflite.OperatorStartOutputsVector, outs)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, code)
        tflite.OperatorAddInputs(b, i)
        tflite.OperatorAddOutputs(b, o)
        if opt is not None:
            tflite.OperatorAddBuiltinOptionsType(b, kind)
            tflite.OperatorAddBuiltinOptions(b, opt)
        ops.append(tflite.OperatorEnd(b))

    def table_vector(start, items):
        start(b, len(items))
        for it in reversed(items):
            b.PrependUOffsetTRelative(it)
        return b.EndVector()

    tv = table_vector(tflite.SubGraphStartTensorsVector, tensors)
    ov = table_vector(tflite.SubGraphStartOperatorsVector, ops)
    iv = i32_vector(b, tflite.SubGraphStartInputsVector, inputs)
    outv = i32_vector(b, tflite.SubGraphStartOutputsVector, outputs)
    name = b.CreateString("main")
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tv)
    tflite.SubGraphAddInputs(b, iv)
    tflite.SubGraphAddOutputs(b, outv)
    tflite.SubGraphAddOperators(b, ov)
    tflite.SubGraphAddName(b, name)
    subgraph = tflite.SubGraphEnd(b)
    codes = []
    for op in OPS:
        code = getattr(tflite.BuiltinOperator, op)
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, code)
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, 1)
        codes.append(tflite.OperatorCodeEnd(b))
    cv = table_vector(tflite.ModelStartOperatorCodesVector, codes)
    sv = table_vector(tflite.ModelStartSubgraphsVector, [subgraph])
    bv = table_vector(tflite.ModelStartBuffersVector, buffers)
    desc = b.CreateString("nnhost tests: tiny-face (tests/models/make_tflite_models.py)")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, cv)
    tflite.ModelAddSubgraphs(b, sv)
    tflite.ModelAddDescription(b, desc)
    tflite.ModelAddBuffers(b, bv)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def tiny_face_onnx(W: dict) -> onnx.ModelProto:
    """tiny-face as ONNX: NHWC in and out like the TFLite model, NCHW convolutions inside."""
    inits = [numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")]

    def const(name, value):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    n = helper.make_node
    nodes = [
        n("Transpose", ["input"], ["x_nchw"], perm=[0, 3, 1, 2]),
        n("Pad", ["x_nchw", "pads"], ["padded"]),
        n("Conv", ["padded", const("conv1_w", W["conv1_w"].transpose(0, 3, 1, 2)), const("conv1_b", W["conv1_b"])], ["conv1_lin"]),
        n("Relu", ["conv1_lin"], ["conv1"]),
        n("Conv", ["conv1", const("dw_w", W["dw_w"].transpose(3, 0, 1, 2)), const("dw_b", W["dw_b"])], ["depthwise"],
          group=4, pads=[1, 1, 1, 1]),
        n("Add", ["depthwise", "conv1"], ["block_lin"]),
        n("Relu", ["block_lin"], ["block"]),
        n("MaxPool", ["block"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
    ]
    outputs = []
    for head, channels in HEADS.items():
        parts = []
        for source, side in [("pooled", 4), ("block", 8)]:
            tag = f"{head}_{side}"
            w, b = const(tag + "_w", W[tag + "_w"].transpose(0, 3, 1, 2)), const(tag + "_b", W[tag + "_b"])
            shape = const(tag + "_shape", np.array([1, side * side, channels], np.int64))
            nodes += [
                n("Conv", [source, w, b], [tag + "_conv"]),
                n("Transpose", [tag + "_conv"], [tag + "_nhwc"], perm=[0, 2, 3, 1]),
                n("Reshape", [tag + "_nhwc", shape], [tag + "_flat"]),
            ]
            parts.append(tag + "_flat")
        nodes.append(n("Concat", parts, [head], axis=1))
        outputs.append(helper.make_tensor_value_info(head, TP.FLOAT, [1, 80, channels]))
    graph = helper.make_graph(nodes, "tiny_face", [helper.make_tensor_value_info("input", TP.FLOAT, [1, 8, 8, 3])], outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="nnhost tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def main() -> None:
    W = weights()
    for name, f16 in [("tiny-face.tflite", False), ("tiny-face-f16.tflite", True)]:
        (OUT / name).write_bytes(tiny_face(f16, W))
    onnx.save(tiny_face_onnx(W), str(OUT / "tiny-face.onnx"))
    from ai_edge_litert.interpreter import Interpreter

    x = np.random.default_rng(7).uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)
    np.save(OUT / "tiny-face-input.npy", x)
    results = {}
    for name in ["tiny-face.tflite", "tiny-face-f16.tflite"]:
        it = Interpreter(model_path=str(OUT / name))
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        results[name] = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    for head, value in results["tiny-face.tflite"].items():
        assert np.array_equal(value, results["tiny-face-f16.tflite"][head]), f"{head}: the f16 variant computes other numbers"
        np.save(OUT / f"tiny-face-{head}.npy", value)


if __name__ == "__main__":
    main()
