"""An image-classifier plugin in Python that imports nnhost's imaging (world `imaging-classifier`).

The job of guests/python/classifier in a few lines: decoding, EXIF orientation, Pillow's resizing and
normalisation come from nnhost's imaging component (`imaging.input_tensor`, which hands back the
wasi-nn tensor itself, so the pixels never become Python objects), and the softmax and top-k from
`imaging.top_k` (indices and scores; the labels stay here); both are Rust compiled to wasm that
nnhost composes into this plugin when it loads it, inside the same sandbox. Python only wires the
steps, calls wasi-nn and names the classes.

Build: scripts/build-python-plugins (target/plugins/python-imaging-classifier.wasm).
"""

import dataclasses

import wit_world
from componentize_py_types import Err
from wit_world.imports import graph, imaging, types

# Registry name -> (graph, execution context), kept while the instance lives.
_graphs = {}


def _nn_error(call, e):
    err = e.value
    try:
        code = "".join(w.capitalize() for w in err.code().name.split("_"))
        return types.PluginError_Inference(f"{call}: {code}: {err.data()}")
    except Exception:  # not a wasi-nn error resource
        return types.PluginError_Inference(f"{call}: {err!r}")


def compute(spec, input_tensor):
    """Run the model on one input tensor; its outputs as (name, tensor) pairs."""
    ctx = _graphs.get(spec.name)
    if ctx is None:
        try:
            g = graph.load_by_name(spec.name)
            ctx = (g, g.init_execution_context())
        except Err as e:
            raise Err(_nn_error("load", e)) from None
        _graphs.clear()
        _graphs[spec.name] = ctx
    try:
        return ctx[1].compute([(spec.input_name, input_tensor)])
    except Err as e:
        raise Err(_nn_error("compute", e)) from None


def ranked_output(spec, outputs):
    """The output tensor the spec ranks (its output-name, else the first)."""
    if spec.output_name is not None:
        found = [t for n, t in outputs if n == spec.output_name]
        if not found:
            raise Err(types.PluginError_BadOutput(f"no output named `{spec.output_name}`"))
        out = found[0]
    elif outputs:
        out = outputs[0][1]
    else:
        raise Err(types.PluginError_BadOutput("the model returned no outputs"))
    return out


def input_tensor(spec, image):
    """The model's input tensor for `image`; the spec goes without its labels (not needed there)."""
    return imaging.input_tensor(dataclasses.replace(spec, labels=[]), image)


class WitWorld(wit_world.WitWorld):
    def classify(self, spec, image, top_k):
        out = ranked_output(spec, compute(spec, input_tensor(spec, image)))
        best = imaging.top_k(out, spec.output_kind, len(spec.labels), top_k)
        return [types.Prediction(spec.labels[i], i, score) for i, score in best]

    def preprocess(self, spec, image):
        return imaging.preprocess(spec, image)

    def infer(self, spec, image):
        outputs = compute(spec, input_tensor(spec, image))
        return [types.NamedTensor(n, types.TensorValue(t.dimensions(), t.ty(), t.data())) for n, t in outputs]
