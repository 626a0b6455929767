"""An nnhost task plugin in Python: the size of a PNG image (a template; no model)."""
import struct

import wit_world
from wit_world.imports import task_types as t
from componentize_py_types import Err


class WitWorld(wit_world.WitWorld):
    def describe(self, config):
        return t.Signature(
            description="width and height of a PNG image",
            inputs=[t.IoSpec("image", t.Datatype.BYTES, [1], t.Role.TENSOR, "a PNG image")],
            outputs=[t.IoSpec("size", t.Datatype.INT64, [2], t.Role.TENSOR, "width, height")],
            parameters=[],
            models=[],
        )

    def run(self, config, inputs, parameters):
        png = inputs[0].data.value[0]
        if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
            raise Err(t.TaskError_BadInput("not a PNG image"))
        width, height = struct.unpack(">II", png[16:24])
        return [t.Value("size", [2], t.Data_Int64([width, height]))]
