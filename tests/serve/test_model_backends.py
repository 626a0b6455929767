"""One `nnhost serve` running each model on its own backend: `-b onnxruntime` for what nothing else
places, a model whose model.toml says `backend = "openvino"`, the face-detection plugin (MediaPipe's
BlazeFace, which OpenVINO reads from its .tflite file) moved with `--model-backend face-detection=openvino`
over its plugin.toml's `backend = "tract"`, and a copy of it, `faces-ov`, whose plugin.toml says
`backend = "openvino"`.
Every model answers with the numbers the CLI gives on that model's backend, and the ready event, the
metadata and /metrics say which backend each runs on. Also: a bad --model-backend is a usage error.

    python -m pytest -v tests/serve/test_model_backends.py [--nnhost target/release/nnhost] [--log-dir DIR]

Needs the ONNX Runtime and OpenVINO wheels in .venv (scripts/setup-native); tests/serve.rs skips it (a
failure under CI) without them."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from test_serve import FACES, PHOTOS, ROOT, Refs, Server, compare_raw, gclient, hclient, http_req, infer_classify, \
    infer_raw

WANT = {"shapes": "openvino", "shapes-classify": "openvino", "mobilenet-v2": "onnxruntime",
        "mobilenet-v2-classify": "onnxruntime", "face-detection": "openvino", "faces-ov": "openvino"}


@pytest.fixture(scope="module")
def work(work_dir) -> Path:
    return work_dir


@pytest.fixture(scope="module")
def nnhost(request) -> str:
    return str(Path(request.config.getoption("nnhost")).resolve())


@pytest.fixture(scope="module")
def folders(work):
    """A models folder: shapes copied with `backend = "openvino"` in its manifest; mobilenet-v2 and the
    BlazeFace models as links. A plugins folder with face-detection and faces-ov, copies of the
    face-detection plugin with `backend = "tract"` and `backend = "openvino"` in plugin.toml."""
    models, plugins = work / "models", work / "plugins"
    shutil.rmtree(models, ignore_errors=True)
    shutil.rmtree(plugins, ignore_errors=True)
    models.mkdir()
    plugins.mkdir()
    shutil.copytree(ROOT / "models" / "shapes", models / "shapes")
    manifest = models / "shapes" / "model.toml"
    manifest.write_text('backend = "openvino"\n' + manifest.read_text())
    for m in ("mobilenet-v2", "blazeface-short", "blazeface-full"):
        (models / m).symlink_to(ROOT / "models" / m, target_is_directory=True)
    # Two copies of face-detection: one whose plugin.toml's backend --model-backend overrides, one it does not.
    for name, backend in (("face-detection", "tract"), ("faces-ov", "openvino")):
        shutil.copytree(ROOT / "plugins" / "face-detection", plugins / name)
        manifest = plugins / name / "plugin.toml"
        manifest.write_text(f'backend = "{backend}"\n' + manifest.read_text())
    return models, plugins


@pytest.fixture(scope="module")
def server(nnhost, folders, work):
    models, plugins = folders
    srv = Server(nnhost, "onnxruntime", ["--models", str(models), "--plugins", str(plugins), "--max-concurrency", "2",
                                         "--model-backend", "face-detection=openvino"], "model-backends", work)
    srv.start()
    try:
        srv.ready_event = srv.wait_ready()
        yield srv
    finally:
        srv.close()


def cli(nnhost: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([nnhost, *args], cwd=ROOT, capture_output=True, timeout=600, env=os.environ.copy())


def test_the_ready_event_and_the_metadata_say_each_models_backend(server):
    assert server.ready_event["backends"] == WANT
    for model, backend in WANT.items():
        assert hclient(server).get_model_metadata(model)["platform"] == f"nnhost_{backend}"
        assert gclient(server).get_model_metadata(model, as_json=True)["platform"] == f"nnhost_{backend}"


@pytest.mark.parametrize("model, backend", [("shapes", "openvino"), ("mobilenet-v2", "onnxruntime")])
@pytest.mark.parametrize("proto", ["http-binary", "grpc"])
def test_raw_tensors_equal_nnhost_run_on_the_models_backend(server, nnhost, work, model, backend, proto):
    feeds, want = Refs(nnhost, backend, work / "refs").raw(model, 1)
    client = gclient(server) if proto == "grpc" else hclient(server)
    compare_raw(infer_raw(proto, client, model, feeds, list(want)), want)


def test_classify_on_onnxruntime_beside_shapes_on_openvino(server, nnhost, work):
    photos = [PHOTOS / "chelsea.png", PHOTOS / "coffee.png"]
    got, _ = infer_classify("http", hclient(server), "mobilenet-v2-classify", [p.read_bytes() for p in photos], top_k=1)
    assert [row[0] for row in got["label"]] == ["Egyptian cat", "espresso"]
    ref = Refs(nnhost, "onnxruntime", work / "refs").classify("mobilenet-v2", photos)
    assert got["score"][:, 0] == pytest.approx([r[0]["score"] for r in ref], abs=1e-5)


def detect_faces(server, image: Path, model: str = "face-detection"):
    i = httpclient.InferInput("image", [1], "BYTES")
    i.set_data_from_numpy(np.array([image.read_bytes()], dtype=np.object_), binary_data=True)
    return hclient(server).infer(model, [i])


@pytest.mark.parametrize("model", ["face-detection", "faces-ov"])
def test_face_detection_from_the_tflite_file_on_openvino_equals_nnhost_task(server, nnhost, model):
    image = FACES / "pair.jpg"
    p = cli(nnhost, "task", "face-detection", str(image), "--json", "-b", "openvino")
    assert p.returncode == 0, p.stderr.decode()
    want = json.loads(p.stdout.decode().splitlines()[0])["results"]
    r = detect_faces(server, image, model)
    assert len(want) == 2
    np.testing.assert_allclose(r.as_numpy("boxes"), [w["box"] for w in want], rtol=0, atol=1e-4)
    np.testing.assert_allclose(r.as_numpy("scores"), [w["score"] for w in want], rtol=0, atol=1e-5)


def test_metrics_are_labelled_with_each_models_backend(server, nnhost, work):
    for model, backend in (("shapes", "openvino"), ("mobilenet-v2", "onnxruntime")):
        feeds, want = Refs(nnhost, backend, work / "refs").raw(model, 1)
        infer_raw("http-binary", hclient(server), model, feeds, list(want))
    detect_faces(server, FACES / "astronaut.png")
    detect_faces(server, FACES / "astronaut.png", "faces-ov")
    status, _, body = http_req(server, "GET", "/metrics")
    assert status == 200
    lines = [ln for ln in body.decode().splitlines() if not ln.startswith("#") and 'model="' in ln]
    for model, backend in (("shapes", "openvino"), ("mobilenet-v2", "onnxruntime"), ("face-detection", "openvino"),
                           ("faces-ov", "openvino")):
        mine = [ln for ln in lines if f'model="{model}"' in ln]
        assert mine and all(f'backend="{backend}"' in ln for ln in mine), mine


@pytest.mark.parametrize("flag, message", [
    ("nope=openvino", "--model-backend `nope=openvino`: no model or plugin `nope` is served"),
    ("shapes", "--model-backend `shapes`: expected NAME=BACKEND"),
    ("shapes=cuda", "--model-backend `shapes=cuda`: unknown backend `cuda`"),
])
def test_a_bad_model_backend_is_a_usage_error(nnhost, folders, flag, message):
    models, plugins = folders
    p = cli(nnhost, "serve", "--models", str(models), "--plugins", str(plugins), "--http", "127.0.0.1:0", "--grpc",
            "127.0.0.1:0", "--model-backend", flag)
    assert p.returncode == 2
    assert message in p.stderr.decode(), p.stderr.decode()


def test_a_bad_backend_in_plugin_toml_leaves_that_plugin_out_and_says_why(nnhost, folders, work):
    """A plugin whose plugin.toml names an unknown backend is reported and not served; the rest is."""
    models, plugins = folders
    bad = work / "plugins-bad"
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(plugins, bad, symlinks=True)
    manifest = bad / "faces-ov" / "plugin.toml"
    manifest.write_text(manifest.read_text().replace('backend = "openvino"', 'backend = "cuda"'))
    srv = Server(nnhost, "onnxruntime", ["--models", str(models), "--plugins", str(bad), "--max-concurrency", "1",
                                         "--model-backend", "face-detection=openvino"], "model-backends-bad", work)
    srv.start()
    try:
        ready = srv.wait_ready()
        assert "faces-ov" not in ready["backends"] and ready["backends"]["face-detection"] == "openvino"
    finally:
        srv.close()
    log = srv.log_path.read_text()
    assert "not serving plugin `faces-ov`" in log and "backend" in log and "`cuda`" in log, log
