"""A small W3C WebDriver client for tests/serve/test_page.py: Debian's `chromedriver` driving headless
`chromium` (both installed by scripts/setup-browser), spoken to over plain HTTP with the standard library.
No Selenium: nothing is downloaded (no driver manager), and there is no package to keep in step with the
browser. Only what the page's test needs: open a URL, find elements, click, type (a file path into a file
input), run a script, wait for a condition, take a screenshot."""
from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference


def find_browser() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None when either is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


class WebDriverError(Exception):
    pass


class Browser:
    """One headless Chromium session under its own chromedriver process; close() ends both."""

    def __init__(self, chromium: str, chromedriver: str, log: Path, width: int = 1280, height: int = 1000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = open(log, "wb")
        self.driver = subprocess.Popen([chromedriver, f"--port={self.port}"], stdin=subprocess.DEVNULL,
                                       stdout=self.log, stderr=subprocess.STDOUT)
        self.session = None
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    break
            except OSError:
                pass
            if self.driver.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise WebDriverError(f"chromedriver did not start (exit {self.driver.poll()}); see {log}")
            time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--disable-background-networking", f"--window-size={width},{height}"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                 "goog:chromeOptions": {"binary": chromium, "args": args}}}}
        try:
            self.session = self._call("POST", "/session", caps)["sessionId"]
        except Exception:
            self.close()
            raise

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = 120):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
            r = conn.getresponse()
            payload = json.loads(r.read() or b"{}")
        finally:
            conn.close()
        value = payload.get("value")
        if r.status >= 400:
            err = value if isinstance(value, dict) else {}
            raise WebDriverError(f"{method} {path}: {err.get('error', r.status)}: {str(err.get('message', ''))[:600]}")
        return value

    def _s(self, method: str, path: str, body: dict | None = None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str):
        self._s("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        return self._s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css: str):
        self._s("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css: str, text: str):
        """Send keys to an element; into an <input type=file>, a path picks that file."""
        self._s("POST", f"/element/{self.find(css)}/value", {"text": text})

    def script(self, js: str, *args):
        """Run `js` as a function body in the page (`arguments` holds args); its return value."""
        return self._s("POST", "/execute/sync", {"script": js, "args": list(args)})

    def wait(self, js: str, timeout: float = 120, what: str = ""):
        """Poll `js` (a function body) until it returns something truthy; that value."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.script(js)
            if v:
                return v
            if time.monotonic() > deadline:
                raise WebDriverError(f"waited {timeout:.0f} s for {what or js}")
            time.sleep(0.1)

    def screenshot(self, path: Path):
        path.write_bytes(base64.b64decode(self._s("GET", "/screenshot")))

    def close(self):
        if self.session:
            try:
                self._s("DELETE", "")
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.driver.poll() is None:
            self.driver.terminate()
            try:
                self.driver.wait(10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
        self.log.close()
