"""pytest options and shared fixtures of tests/serve/ (the integration test tests/serve.rs runs its files as
`python -m pytest -v tests/serve/test_serve.py --nnhost target/release/nnhost --hostile-plugin ...`)."""
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    g = parser.getgroup("nnhost serve")
    g.addoption("--nnhost", default=str(ROOT / "target/release/nnhost"), help="the nnhost binary")
    g.addoption("--backends", default="tract,onnxruntime,openvino", help="comma-separated backends to serve")
    g.addoption("--hostile-plugin", default=None, help="guests/hostile's component: also check a server whose "
                                                       "--classifier is it (tract)")
    g.addoption("--log-dir", default=None, help="where server stderr logs go [default: a temporary folder]")
    g.addoption("--serve-timeout", type=float, default=3600, help="whole run, seconds: a hung server fails the run")


@pytest.fixture(scope="module")
def work_dir(request) -> Path:
    """Where a test module's server logs and files go: --log-dir, else a temporary folder."""
    d = request.config.getoption("log_dir")
    d = Path(d) if d else Path(tempfile.mkdtemp(prefix=f"nnhost-{request.module.__name__}-"))
    d.mkdir(parents=True, exist_ok=True)
    return d
