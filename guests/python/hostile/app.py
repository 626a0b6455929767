"""A hostile classifier plugin in Python, for the containment test (tests/languages.rs).

The image bytes the host passes name what to try: `file` (open a host file), `env` (read the
environment), `socket` (open a TCP connection), `clock` (read the wall and monotonic clocks) or
`memory` (allocate without bound). Each attempt's outcome comes back as a bad-image error whose text
says what the plugin got; the memory attempt never returns: the host's memory limit stops it.

Build: scripts/build-python-plugins (target/plugins/python-hostile.wasm).
"""

import os
import time

import wit_world
from componentize_py_types import Err
from wit_world.imports import types


def _try(what):
    try:
        return f"got {what()!r}"
    except BaseException as e:  # what the sandbox answered, whatever it is
        return f"{type(e).__name__}: {e}"


def _file():
    with open("/etc/passwd", "rb") as f:
        return f.read(64)


def _env():
    return {k: os.environ.get(k) for k in ("NNHOST_CANARY", "HOME", "PATH")}


def _socket():
    import socket

    s = socket.create_connection(("127.0.0.1", 80), timeout=1)
    return s.getpeername()


def _clock():
    return (time.time(), time.monotonic())


def _memory():
    hoard = []
    while True:
        hoard.append(bytearray(16 << 20))


ATTEMPTS = {b"file": _file, b"env": _env, b"socket": _socket, b"clock": _clock, b"memory": _memory}


class WitWorld(wit_world.WitWorld):
    def _attempt(self, image):
        what = ATTEMPTS.get(bytes(image).strip())
        if what is None:
            raise Err(types.PluginError_BadImage(f"no such attempt; try one of {sorted(k.decode() for k in ATTEMPTS)}"))
        raise Err(types.PluginError_BadImage(f"{bytes(image).strip().decode()}: {_try(what)}"))

    def classify(self, spec, image, top_k):
        self._attempt(image)

    def preprocess(self, spec, image):
        self._attempt(image)

    def infer(self, spec, image):
        self._attempt(image)
