"""An image-classifier plugin in Python that imports nnhost's imaging (world `imaging-classifier`).

The job of guests/python/classifier in a few lines: decoding, EXIF orientation, Pillow's resizing and
normalisation come from nnhost's imaging component (`imaging.preprocess`), and the softmax and top-k
from `imaging.rank`; both are Rust compiled to wasm that nnhost composes into this plugin when it
loads it, inside the same sandbox. Python only wires the steps and calls wasi-nn.

Build: scripts/build-python-plugins (target/plugins/python-imaging-classifier.wasm).
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports import graph, imaging, tensor, types

# Registry name -> (graph, execution context), kept while the instance lives.
_graphs = {}


def _nn_error(call, e):
    err = e.value
    try:
        code = "".join(w.capitalize() for w in err.code().name.split("_"))
        return types.PluginError_Inference(f"{call}: {code}: {err.data()}")
    except Exception:  # not a wasi-nn error resource
        return types.PluginError_Inference(f"{call}: {err!r}")


def compute(spec, value):
    """Run the model on one tensor value; its outputs as (name, tensor) pairs."""
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
        return ctx[1].compute([(spec.input_name, tensor.Tensor(value.dimensions, value.ty, value.data))])
    except Err as e:
        raise Err(_nn_error("compute", e)) from None


def ranked_output(spec, outputs):
    """The output the spec ranks (its output-name, else the first) as a plain tensor value."""
    if spec.output_name is not None:
        found = [t for n, t in outputs if n == spec.output_name]
        if not found:
            raise Err(types.PluginError_BadOutput(f"no output named `{spec.output_name}`"))
        out = found[0]
    elif outputs:
        out = outputs[0][1]
    else:
        raise Err(types.PluginError_BadOutput("the model returned no outputs"))
    return types.TensorValue(out.dimensions(), out.ty(), out.data())


class WitWorld(wit_world.WitWorld):
    def classify(self, spec, image, top_k):
        outputs = compute(spec, imaging.preprocess(spec, image))
        return imaging.rank(spec, ranked_output(spec, outputs), top_k)

    def preprocess(self, spec, image):
        return imaging.preprocess(spec, image)

    def infer(self, spec, image):
        outputs = compute(spec, imaging.preprocess(spec, image))
        return [types.NamedTensor(n, types.TensorValue(t.dimensions(), t.ty(), t.data())) for n, t in outputs]
