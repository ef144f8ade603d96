"""A real local Flower deployment for tests: SuperLink + SuperNodes on 127.0.0.1, always torn down.

Every process is started in its own session with telemetry and update checks off; the harness
remembers every descendant it ever saw (SuperExec, ServerApp and ClientApp processes spawned by
Flower) and, on teardown, terminates then kills all of them and reports any survivor.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from zerofl_profiler.fl.flower.extra import FLOWER_ENV

# Before any test module imports flwr: telemetry, update checks and runtime installs off.
os.environ.update(FLOWER_ENV)

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "flower_app"


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalDeployment:
    """Start/stop Flower processes and track their whole process trees."""

    def __init__(self, root: Path) -> None:
        from zerofl_profiler.fl.flower.extra import quiet_env

        self.root = root
        self.home = root / "flwr-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = quiet_env()
        self.env["FLWR_HOME"] = str(self.home)
        self.env["PATH"] = f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.procs: list[subprocess.Popen] = []
        self.seen: set[int] = set()
        self.port: int | None = None

    # -------------------------------------------------------------- processes
    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "wb")
        p = subprocess.Popen([str(BIN / args[0]), *args[1:]], cwd=self.root, env=self.env, stdout=log,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs.append(p)
        self.seen.add(p.pid)
        return p

    def snapshot(self) -> None:
        """Remember every live descendant (Flower spawns SuperExec/App processes, some detached)."""
        import psutil

        for p in self.procs:
            try:
                self.seen.update(c.pid for c in psutil.Process(p.pid).children(recursive=True))
            except psutil.NoSuchProcess:
                pass

    def superlink(self) -> int:
        self.port = free_port()
        self.start("superlink", "flower-superlink", "--insecure", "--host", "127.0.0.1", "--port", str(self.port),
                   "--disable-runtime-dependency-installation")
        self._wait_health(self.port)
        (self.home / "config.toml").write_text(
            f'[superlink]\ndefault = "test"\n\n[superlink.test]\naddress = "127.0.0.1:{self.port}"\ninsecure = true\n',
            encoding="utf-8")
        return self.port

    def supernode(self, partition_id: int, num_partitions: int) -> None:
        assert self.port is not None
        self.start(f"supernode-{partition_id}", "flower-supernode", "--insecure", "--superlink",
                   f"127.0.0.1:{self.port}", "--host", "127.0.0.1", "--port", str(free_port()),
                   "--node-config", f"partition-id={partition_id} num-partitions={num_partitions}")

    def flwr_run(self, *overrides: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "flwr"), "run", str(APP_DIR), "test", "--run-config", " ".join(overrides)],
                              cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout)

    def _wait_health(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"a Flower process exited early:\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"SuperLink not healthy after {timeout:g} s:\n{self.logs()}")

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-tail:]}" for f in sorted(self.root.glob("*.log")))

    # -------------------------------------------------------------- teardown
    def alive(self) -> list[int]:
        import psutil

        out = []
        for pid in sorted(self.seen):
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    out.append(pid)
            except psutil.NoSuchProcess:
                pass
        return out

    def stop(self, grace_s: float = 10.0) -> list[int]:
        """Terminate everything started or seen, then kill what is left; return survivors (should be [])."""
        import psutil

        self.snapshot()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.alive():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            for p in self.procs:  # reap our direct children so they do not linger as zombies
                try:
                    p.wait(timeout=grace_s if sig == signal.SIGTERM else 5)
                except subprocess.TimeoutExpired:
                    pass
            psutil.wait_procs([psutil.Process(pid) for pid in self.alive() if psutil.pid_exists(pid)],
                              timeout=grace_s if sig == signal.SIGTERM else 5)
            if not self.alive():
                break
        return self.alive()


@pytest.fixture
def local_deployment(tmp_path: Path) -> Iterator[LocalDeployment]:
    """A LocalDeployment whose processes are all gone after the test, pass or fail (asserted)."""
    pytest.importorskip("flwr")
    pytest.importorskip("psutil")
    dep = LocalDeployment(tmp_path)
    try:
        yield dep
    finally:
        survivors = dep.stop()
        assert survivors == [], f"processes survived teardown: {survivors}"
