"""The page `nnhost serve` answers at `/`, in a real browser: headless Chromium driven through Debian's
chromedriver (tests/serve/webdriver.py; both installed by scripts/setup-browser). One server (tract, every
model and plugin) and one browser for the module; each test picks a model, gives the page a fixture image
through its file input, presses Run and reads what the page rendered: the labels in the DOM, the number
of boxes, quads and keypoints it drew (the canvas's data attributes), the pixels of a drawn box, and
the same numbers from a direct request with the Triton client.

    python -m pytest -v tests/serve/test_page.py [--nnhost target/release/nnhost] [--log-dir DIR]

Without chromium or chromedriver the tests skip, and fail when CI or NNHOST_REQUIRE_BACKENDS=1 is set.
Screenshots of each result are written beside the server log (--log-dir, else a temporary folder)."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from test_serve import FACES, PHOTOS, TEXT, Server, hclient, http_req
from webdriver import Browser, find_browser

BACKEND = "tract"  # always available: the page is what is tested here, not the engines
RESULT_TIMEOUT = 300  # seconds for one Run (OCR on a loaded CI machine is slow, not wrong)


def required() -> bool:
    ci = os.environ.get("CI", "")
    return (ci not in ("", "0") and ci.lower() != "false") or os.environ.get("NNHOST_REQUIRE_BACKENDS") == "1"


@pytest.fixture(scope="module")
def log_dir(work_dir) -> Path:
    return work_dir


@pytest.fixture(scope="module")
def server(request, log_dir):
    nnhost = str(Path(request.config.getoption("nnhost")).resolve())
    srv = Server(nnhost, BACKEND, ["--max-concurrency", "2", "--deadline-ms", "120000"], f"{BACKEND}-page", log_dir)
    srv.start()
    try:
        srv.ready_event = srv.wait_ready()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def browser(log_dir):
    found = find_browser()
    if found is None:
        why = "chromium and chromedriver are not installed (run scripts/setup-browser)"
        if required():
            pytest.fail(f"{why}; a missing browser fails the run under CI / NNHOST_REQUIRE_BACKENDS=1")
        pytest.skip(why)
    b = Browser(*found, log_dir / "chromedriver.log")
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def page(browser, server):
    """The browser on the page, once it has listed the models."""
    browser.get(f"http://{server.http}/")
    browser.wait("return document.body.dataset.loaded === 'true'", 120, "the page to list the models")
    return browser


def run_on_page(page, model: str, image: Path, params: dict | None = None, shot: Path | None = None) -> dict:
    """Pick `model` and `image`, press Run, wait for the result; the status and what was rendered."""
    page.click(f'#model option[value="{model}"]')
    page.script("const p = document.getElementById('params'); p.value = arguments[0];", json.dumps(params) if params else "")
    page.type("#file", str(image.resolve()))
    page.wait(f"return document.getElementById('filename').textContent.startsWith({json.dumps(image.name)})", 30,
              f"the page to read {image.name}")
    page.wait("return !document.getElementById('run').disabled", 30, "the Run button")
    page.click("#run")
    state = page.wait("const s = document.getElementById('status').dataset.state;"
                      "return s === 'done' || s === 'error' ? s : null", RESULT_TIMEOUT, f"{model}'s result")
    got = page.script("""
        const c = document.getElementById('canvas');
        const text = (li, cls) => { const e = li.querySelector('.' + cls); return e ? e.textContent : null; };
        return {
          status: document.getElementById('status').textContent, canvas: {...c.dataset}, width: c.width, height: c.height,
          rows: [...document.querySelectorAll('#results li.result')].map(li => ({
            label: text(li, 'label'), text: text(li, 'text'), score: text(li, 'score')})),
        };""")
    got["state"] = state
    if shot is not None:
        page.screenshot(shot)
    return got


def direct(server, model: str, image: Path, params: dict | None = None) -> dict:
    """The same request with the Triton client: {output name: numpy array}."""
    i = httpclient.InferInput("image", [1], "BYTES")
    i.set_data_from_numpy(np.array([image.read_bytes()], dtype=np.object_), binary_data=True)
    r = hclient(server).infer(model, [i], parameters=params or None)
    return {o["name"]: r.as_numpy(o["name"]) for o in r.get_response()["outputs"]}


def canvas_pixel(page, x: int, y: int) -> list[int]:
    return page.script("return [...document.getElementById('canvas').getContext('2d')"
                       ".getImageData(arguments[0], arguments[1], 1, 1).data].slice(0, 3)", x, y)


# ---------------------------------------------------------------- the tests

def test_the_page_is_served_from_the_binary_with_a_strict_content_security_policy(server):
    status, headers, body = http_req(server, "GET", "/")
    headers = {k.lower(): v for k, v in headers.items()}
    assert status == 200, body[:300]
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "connect-src 'self'" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert b"<title>nnhost serve</title>" in body
    # no library or font from elsewhere: everything the page needs is in it
    assert b"http://" not in body and b"https://" not in body


def test_the_repository_index_lists_every_served_model_ready(server):
    index = hclient(server).get_model_repository_index()
    assert sorted(m["name"] for m in index) == sorted(server.ready_event["models"])
    assert all(m["state"] == "READY" and m["version"] == "1" for m in index), index
    for want in ("face-detection", "ocr", "mobilenet-v2-classify", "mobilenet-v2"):
        assert want in [m["name"] for m in index]


def test_the_page_shows_health_the_models_and_their_metadata(page, server):
    shown = page.script("""
        return {
          live: document.getElementById('live').dataset.ok, ready: document.getElementById('ready').dataset.ok,
          server: document.getElementById('server').textContent,
          options: [...document.querySelectorAll('#model option')].map(o => [o.value, o.disabled]),
          backends: Object.fromEntries([...document.querySelectorAll('#models tbody tr')].map(
            tr => [tr.dataset.model, tr.children[1].textContent])),
        };""")
    assert (shown["live"], shown["ready"]) == ("true", "true")
    assert shown["server"].startswith("nnhost ")
    options = dict(shown["options"])
    assert sorted(options) == sorted(server.ready_event["models"])
    # what takes an image can be picked; a raw model (tensors) is listed but cannot
    assert options["face-detection"] is False and options["mobilenet-v2-classify"] is False
    assert options["mobilenet-v2"] is True
    assert shown["backends"] == server.ready_event["backends"]
    page.click('#model option[value="face-detection"]')
    table = page.script("return document.getElementById('metadata').textContent")
    for role in ("boxes", "keypoints", "scores"):
        assert role in table, table
    assert page.script("return document.getElementById('platform').textContent") == f"(nnhost_{BACKEND})"


def expected_label(model: str, photo: str) -> str:
    with open(PHOTOS / f"expected-{model}.csv") as f:
        return next(r["label"] for r in csv.DictReader(f) if r["image"] == f"photos/{photo}")


def test_a_classifier_shows_the_label_of_a_cat_photo(page, server, log_dir):
    photo = PHOTOS / "chelsea.png"
    got = run_on_page(page, "mobilenet-v2-classify", photo, {"top_k": 3}, log_dir / "page-classify.png")
    assert got["state"] == "done", got["status"]
    assert got["rows"][0]["label"] == expected_label("mobilenet-v2", photo.name) == "Egyptian cat"
    want = direct(server, "mobilenet-v2-classify", photo, {"top_k": 3})
    assert [r["label"] for r in got["rows"]] == [s.decode() for s in want["label"][0]]
    assert [float(r["score"]) for r in got["rows"]] == pytest.approx(want["score"][0].tolist(), abs=6e-4)
    assert got["canvas"]["rows"] == "3" and got["canvas"]["boxes"] == "0"
    assert (got["width"], got["height"]) == (451, 300)  # chelsea.png, drawn at its own size


def test_face_detection_draws_one_box_and_its_keypoints_on_the_astronaut(page, server, log_dir):
    image = FACES / "astronaut.png"
    got = run_on_page(page, "face-detection", image, None, log_dir / "page-face.png")
    assert got["state"] == "done", got["status"]
    assert (got["canvas"]["boxes"], got["canvas"]["keypoints"], got["canvas"]["quads"]) == ("1", "6", "0")
    want = direct(server, "face-detection", image)
    assert want["boxes"].shape == (1, 4)
    assert [float(r["score"]) for r in got["rows"]] == pytest.approx(want["scores"].tolist(), abs=6e-4)
    # the box is drawn where the server put it: at the middle of its left edge (a line 2 px wide, so
    # within a pixel of it) the canvas has the first result's colour
    x0, y0, _, y1 = want["boxes"][0].tolist()
    y = round((y0 + y1) / 2)
    edge = [canvas_pixel(page, x, y) for x in range(int(x0) - 1, int(x0) + 2)]
    assert [0xe6, 0x19, 0x4b] in edge, edge


def test_ocr_draws_a_quad_per_text_line_and_lists_the_text(page, server, log_dir):
    image = TEXT / "render_sign.png"
    got = run_on_page(page, "ocr", image, None, log_dir / "page-ocr.png")
    assert got["state"] == "done", got["status"]
    want = direct(server, "ocr", image)
    lines = [t.decode() for t in want["text"].tolist()]
    assert lines and [r["text"] for r in got["rows"]] == lines
    assert got["canvas"]["quads"] == str(len(lines)) and got["canvas"]["boxes"] == "0"


def test_a_request_the_server_refuses_shows_its_error(page, log_dir):
    got = run_on_page(page, "face-detection", FACES / "astronaut.png", {"min_score": "high"}, log_dir / "page-error.png")
    assert got["state"] == "error"
    assert "min_score" in got["status"], got["status"]
