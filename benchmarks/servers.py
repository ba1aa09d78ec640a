"""The servers a benchmark talks to: our app and the peer, each a subprocess on its own free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
SUBPROCESS_ENV = {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "TOKENIZERS_PARALLELISM": "false"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A Gradio server in a subprocess; `cold_start_seconds` is the time from spawn until `/` answers 200."""

    def __init__(self, name: str, args: list[str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self._args = [sys.executable, *args, "--port", str(self.port)]
        self.process: subprocess.Popen | None = None
        self.cold_start_seconds: float | None = None

    # Fifteen minutes: with other test runs on the same two cores the app has taken seven to serve its page.
    def start(self, timeout: float = 900.0) -> Server:
        return self.spawn().wait_until_served(timeout)

    def spawn(self) -> Server:
        """Start the process without waiting for it (several servers can then start side by side)."""
        self._spawned = time.perf_counter()
        env = {**os.environ, **SUBPROCESS_ENV}
        self.process = subprocess.Popen(self._args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def wait_until_served(self, timeout: float = 900.0) -> Server:
        started = self._spawned
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        self.cold_start_seconds = time.perf_counter() - started
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        tail = self.log_tail()  # before stop(), which deletes the log
        self.stop()
        raise TimeoutError(f"{self.name} did not serve {self.url} within {timeout:.0f} s:\n{tail}")

    def memory_mb(self) -> dict[str, float]:
        """Resident memory now, and the peak so far (Linux VmHWM; the current value elsewhere)."""
        rss = psutil.Process(self.process.pid).memory_info().rss / 2**20
        peak = rss
        status = Path(f"/proc/{self.process.pid}/status")
        if status.is_file():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
        return {"rss_mb": round(rss, 1), "peak_rss_mb": round(peak, 1)}

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def app_server(stand_ins: str, cache_dir: Path, extra: list[str] = (), name: str = "app") -> Server:
    return Server(name, ["app.py", "--device", "cpu", "--stand-ins", stand_ins, "--cache-dir", str(cache_dir), *extra])


def peer_server(
    sources: dict[str, Path], max_new_tokens: int, concurrency: dict[str, int], default_concurrency: int | None = None
) -> Server:
    args = ["-m", "benchmarks.peer", "--max-new-tokens", str(max_new_tokens)]
    if default_concurrency is not None:
        args += ["--default-concurrency-limit", str(default_concurrency)]
    for task, source in sources.items():
        args += ["--source", f"{task}={source}"]
    for task, limit in concurrency.items():
        args += ["--concurrency", f"{task}={limit}"]
    return Server("peer", args)
