"""{{name}}: an image-classifier plugin in Python (world `imaging-classifier`): the host passes the
image bytes and the model's spec (from its model.toml); nnhost's imaging, composed into this plugin
when nnhost loads it, decodes and preprocesses the image exactly as the built-in Rust plugin does and
ranks the output. Put your own steps between them (a different ranking, extra outputs...).
"""
import dataclasses

import wit_world
from componentize_py_types import Err
from wit_world.imports import graph, imaging, types

_graphs = {}  # registry name -> (graph, execution context), kept while the instance lives


def compute(spec, input_tensor):
    ctx = _graphs.get(spec.name)
    try:
        if ctx is None:
            g = graph.load_by_name(spec.name)
            ctx = _graphs[spec.name] = (g, g.init_execution_context())
        return ctx[1].compute([(spec.input_name, input_tensor)])
    except Err as e:
        raise Err(types.PluginError_Inference(f"{spec.name}: {e.value.code().name}: {e.value.data()}")) from None


def first_output(outputs):
    if not outputs:
        raise Err(types.PluginError_BadOutput("the model returned no outputs"))
    return outputs[0][1]


class WitWorld(wit_world.WitWorld):
    def classify(self, spec, image, top_k):
        # input_tensor: the wasi-nn tensor itself (the pixels never become Python objects); the
        # labels are not needed there. top_k: (index, score) pairs, named here.
        tensor = imaging.input_tensor(dataclasses.replace(spec, labels=[]), image)
        best = imaging.top_k(first_output(compute(spec, tensor)), spec.output_kind, len(spec.labels), top_k)
        return [types.Prediction(spec.labels[i], i, score) for i, score in best]

    def preprocess(self, spec, image):
        return imaging.preprocess(spec, image)

    def infer(self, spec, image):
        outputs = compute(spec, imaging.input_tensor(spec, image))
        return [types.NamedTensor(n, types.TensorValue(t.dimensions(), t.ty(), t.data())) for n, t in outputs]
