"""Helpers of the browser tests: free ports, servers started as a user starts them, a
recording loopback proxy, Chromium as CI has it."""

from __future__ import annotations

import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A localhost port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RecordingProxy(socketserver.ThreadingTCPServer):
    """An HTTP(S) proxy on loopback that forwards nothing: it records the first line of
    every request (``CONNECT pypi.org:443 ...``, ``GET http://...``) and answers 502."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(4096).decode("latin-1").strip()
                if line:
                    outer.requests.append(line)
                self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def proxy_env(proxy: RecordingProxy) -> dict[str, str]:
    """Environment that sends every outside request of a process (requests, urllib, httpx) to ``proxy``."""
    env = dict(os.environ)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = proxy.url
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 60.0) -> None:
    """Return once ``url`` answers 200; fail with the server's log if it dies or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"server did not answer {url} within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def serve(args: list[str], log: Path, env: dict[str, str], path: str = "/"):
    """``freemium-sim ARGS`` (a server) on a free port; yields its base URL."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sim.cli", *args, "--port", str(port)], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the test asks the server directly
        urllib.request.install_opener(opener)
        wait_for_server(base + path, proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def outside(url: str) -> bool:
    """Whether a browser request leaves this machine."""
    return not url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "http://localhost", "data:", "blob:", "about:"))


def launch(p):
    """Debian's Chromium, headless, as CI runs it (skips the test if it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium); CI installs it with apt")
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
