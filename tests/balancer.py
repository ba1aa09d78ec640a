"""Run the checked-in nginx balancer (deploy/nginx/demo-suite.conf) on 127.0.0.1 in front of given Gradio fronts:
the configuration is copied into a temp dir with the fronts' and the balancer's ports filled in, and nginx runs in
the foreground with its own pid, log and temp paths, stopped when the block ends."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from shared.runtime import Runtime
from shared.settings import Settings

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "demo-suite.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

MAIN_CONFIG = """\
{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/demo-suite.conf;
}}
"""


def render(config: str, fronts: Sequence[str], listen: str) -> str:
    """The balancer's configuration with its upstream servers replaced by `fronts` (host:port) and its `listen`."""
    upstream = re.search(r"upstream demo_fronts \{.*?\}", config, flags=re.DOTALL)
    assert upstream is not None, "deploy/nginx/demo-suite.conf has no upstream demo_fronts block"
    block = re.sub(r"\n\s*server [^;]+;", "", upstream.group(0))
    servers = "".join(f"\n    server {front};" for front in fronts)
    block = block.replace("{", "{" + servers, 1)
    config = config.replace(upstream.group(0), block)
    return re.sub(r"listen [^;]+;", f"listen {listen};", config)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nginx did not listen on {port} within {timeout} s")


@contextmanager
def nginx_balancer(fronts: Sequence[str], port: int, folder: Path) -> Iterator[str]:
    """Serve the checked-in balancer on 127.0.0.1:`port` in front of `fronts`; yield its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo-suite.conf").write_text(render(CONFIG.read_text(), fronts, f"127.0.0.1:{port}"))
    # The workers of a root master run as `nobody` unless told otherwise, and could not reach a private temp dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(MAIN_CONFIG.format(folder=folder, user=user))
    command = [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def two_fronts_behind_nginx(cache_dir: Path, folder: Path) -> Iterator[tuple[str, dict[str, Runtime]]]:
    """Two copies of the app (each its own runtime and queue, as two `python app.py` processes would have), served
    in this process on free ports behind the balancer; yield the balancer's URL and each front's runtime by address."""
    from app import launch
    from tests.helpers import free_port

    runtimes = {}
    apps = []
    try:
        for _ in range(2):
            runtime = Runtime(Settings(stand_ins="tiny", cache_dir=cache_dir, device="cpu", port=free_port()))
            apps.append(launch(runtime, block=False))
            runtimes[f"127.0.0.1:{runtime.settings.port}"] = runtime
        with nginx_balancer(list(runtimes), free_port(), folder) as url:
            yield url, runtimes
    finally:
        for app in apps:
            app.close()
