"""Stopping the app with SIGTERM (a service manager, `docker stop`) or SIGINT (Ctrl-C) removes every temp folder it
made: its private Gradio folder with the uploads, and the segmentation downloads. `python app.py` runs in a
subprocess whose temp directory is a test folder, so what is left behind can be listed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from demos import segment
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent


def wait_until_served(url: str, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the app exited before serving"
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} was not served within {timeout} s")


def app_folders(temp: Path) -> list[str]:
    """The app's folders in `temp`, by kind; Gradio's shared "gradio" folder must not be among them either (torch
    may leave its compiler cache, which is not the app's)."""
    kinds = ["transformers-demo-suite", "demo-downloads", "gradio"]
    return [kind for path in temp.iterdir() for kind in kinds if path.name.startswith(kind)]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_removes_the_apps_temp_folders(tmp_path, cache_dir, stop):
    temp = tmp_path / "tmp"
    temp.mkdir()
    port = free_port()
    environment = {**os.environ, "TMPDIR": str(temp), "DEMO_CACHE_DIR": str(cache_dir)}
    environment.pop("GRADIO_TEMP_DIR", None)  # the test session's own folder
    process = subprocess.Popen(
        [sys.executable, "app.py", "--stand-ins", "tiny", "--device", "cpu", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Started as a background job of a non-interactive shell is: with SIGINT ignored, which Python keeps.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        wait_until_served(f"http://127.0.0.1:{port}/", process)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict(handle_file(str(segment.EXAMPLE_PHOTOS[1])), api_name="/segment")
        assert sorted(app_folders(temp)) == ["demo-downloads", "transformers-demo-suite"]
        (private,) = temp.glob("transformers-demo-suite-*")
        assert (private.stat().st_mode & 0o777) == 0o700 and any(private.rglob("*.*"))
        process.send_signal(stop)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert app_folders(temp) == [], f"left behind after {stop.name}"
