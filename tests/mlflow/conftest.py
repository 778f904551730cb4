"""Fixtures for the mlflow reporter tests: a real local store and a real ``mlflow server``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from trainscope import environment_variables as core_env

SERVER_START_TIMEOUT = 240.0
"""Seconds the server may take to answer (it imports all of MLflow first)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def local_store_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store for the session (creating its tables takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow-local') / 'mlflow.db'}"


@contextlib.contextmanager
def mlflow_server(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``mlflow server`` on 127.0.0.1, a free port, a SQLite backend and a local artifact folder.

    Yields its URI and process, the leader of its own process group (the server and its
    workers stop together).
    """
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    log = (folder / "server.log").open("w")
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'server.db'}"]
    command += ["--artifacts-destination", str(folder / "artifacts")]
    server = subprocess.Popen(
        command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start:\n{(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield uri, server
    finally:
        with contextlib.suppress(ProcessLookupError):  # a test may have killed it already
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture(scope="session")
def server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``mlflow server`` for the session."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as (uri, _):
        yield uri


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """An ``mlflow server`` for one test, which may kill it (its process group)."""
    folder = tmp_path / "mlflow-server"
    folder.mkdir()
    with mlflow_server(folder) as started:
        yield started


@pytest.fixture
def server_down(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``MLFLOW_TRACKING_URI`` set to a port on 127.0.0.1 where nothing listens; its URI."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """A fresh working folder (MLflow's local artifacts go there) and an experiment of this test's own."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", f"trainscope-{request.node.name}-{time.time_ns()}")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    for name in (
        core_env.TRAINSCOPE_STRICT,
        core_env.TRAINSCOPE_PLUGINS,
        core_env.TRAINSCOPE_DISABLE_PLUGINS,
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def local_store(local_store_uri: str, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", local_store_uri)
    return local_store_uri


@pytest.fixture
def server_store(server_uri: str, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server_uri)
    return server_uri


class HoldingProxy:
    """An HTTP proxy to a tracking server that holds every ``log-batch`` call until released (a server
    that stopped answering); the other calls pass at once."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.held = threading.Semaphore(0)
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                if "log-batch" in self.path:
                    proxy.held.release()
                    proxy.release.wait(120)
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, method=self.command, headers=dict(self.headers)
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as answer:
                        status, payload, kind = (
                            answer.status,
                            answer.read(),
                            answer.headers.get("Content-Type"),
                        )
                except urllib.error.HTTPError as exc:
                    status, payload, kind = exc.code, exc.read(), exc.headers.get("Content-Type")
                self.send_response(status)
                self.send_header("Content-Type", kind or "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for_a_held_call(self, seconds: float = 120.0) -> bool:
        return self.held.acquire(timeout=seconds)


@pytest.fixture
def holding_proxy(server_uri: str) -> Iterator[HoldingProxy]:
    proxy = HoldingProxy(server_uri)
    thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.release.set()
        proxy.server.shutdown()
        proxy.server.server_close()
