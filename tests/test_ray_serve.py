"""The Ray Serve backend, checked against `python app.py --backend ray --stand-ins tiny` run as a subprocess on
loopback (a free port, a private Ray started by the app, its token authentication left on): the app answers every
endpoint as the in-process app does (the checks of tests/test_clients.py) and says which replica served; this
module joins the app's Ray as a second front would and checks, against the in-process backend, that answers are
equal, concurrent requests spread over two sentiment replicas and share forward passes, streamed generation gives
the in-process tokens, a full queue is the busy message, and a killed replica fails only its own requests clearly
while the next ones are served by its replacement. Last, SIGTERM stops the app and every Ray process it started.
One Ray start for the module, with serve_config.yaml's applications cut to four replicas (the sizes below)."""

from __future__ import annotations

import contextlib
import copy
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml
from gradio_client import Client

from app import build_stand_ins
from clients import every_endpoint
from demos import TASKS
from demos.generate import write_continuation
from shared.backends import InProcess, ModelRequest
from shared.batching import run_pipeline
from shared.decoding import GREEDY, DecodingSettings
from shared.limits import PRIOR_SERVICE_SECONDS
from shared.runtime import Runtime
from shared.settings import Settings
from tests.helpers import free_port
from tests.test_clients import check_every_endpoint

# Read when Ray is imported: a single-machine Ray then uses 127.0.0.1, not the machine's address (shared/ray_serve.py).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")

from shared.ray_serve import (  # noqa: E402
    BackendBusy,
    BackendUnavailable,
    RayServe,
    capacity_of,
    ray_backend,
    ray_busy_message,
    read_serve_config,
    tasks_of,
)
from tests.ray_operations import held_until_released  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Hello, I'm a language model,"
TEXTS = ["A wonderful, warm film.", "Dull and far too long.", "It was fine."]
# Ray's start and four replicas' model loads; minutes when the two cores are shared with other test runs.
APP_START_SECONDS = 900
STOP_SECONDS = 120


def sized_for_tests(serve_config: dict) -> dict:
    """The checked-in applications cut to four replicas for a 2-core test machine: sentiment on two (16 requests at
    once each, so concurrent ones share forward passes); generation on one that runs one request and queues one
    more (the busy message); and one replica of one application for every other task."""
    applications = {application["name"]: application for application in copy.deepcopy(serve_config)["applications"]}
    sentiment, generate = applications.pop("sentiment"), applications.pop("generate")
    others = copy.deepcopy(next(iter(applications.values())))
    others.update(
        name="others",
        route_prefix="/others",
        args={"tasks": [task for application in applications.values() for task in tasks_of(application["args"])]},
    )
    sizes = [
        (sentiment, dict(num_replicas=2, max_ongoing_requests=16, max_queued_requests=64)),
        (generate, dict(num_replicas=1, max_ongoing_requests=1, max_queued_requests=1)),
        (others, dict(num_replicas=1, max_ongoing_requests=4, max_queued_requests=32)),
    ]
    for application, size in sizes:
        (deployment,) = application["deployments"]
        deployment.pop("autoscaling_config", None)
        deployment.update(ray_actor_options={"num_cpus": 0.25}, **size)
    return {**serve_config, "applications": [application for application, _size in sizes]}


@dataclass
class RayApp:
    """`python app.py --backend ray` in a subprocess, with its log."""

    process: subprocess.Popen
    url: str
    log: Path
    config: dict

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_for_page(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the app exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        pytest.fail(f"the app did not serve its page within {seconds:.0f} s:\n{self.log_tail()}")

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> list[str]:
        """SIGTERM, as a service manager stops it; return the processes it started that outlived it by
        STOP_SECONDS (then killed, so nothing is left running either way)."""
        started = self.descendants()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        _gone, alive = psutil.wait_procs(started, timeout=STOP_SECONDS if started else 0)
        left = [f"{process.pid} {process.name()}" for process in alive if process.is_running()]
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        return left


@pytest.fixture(scope="module")
def ray_app(cache_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray-app")
    config = sized_for_tests(read_serve_config())
    (folder / "serve_config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    settings = Settings(stand_ins="tiny", cache_dir=cache_dir, device="cpu")
    build_stand_ins(Runtime(settings))  # here, once, so this module's in-process models are the replicas' own
    port = free_port()
    command = [
        *(sys.executable, "app.py", "--backend", "ray", "--stand-ins", "tiny", "--device", "cpu"),
        *("--cache-dir", str(cache_dir), "--serve-config", str(folder / "serve_config.yaml"), "--port", str(port)),
    ]
    log = folder / "app.log"
    with open(log, "w") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    app = RayApp(process, f"http://127.0.0.1:{port}/", log, config)
    try:
        app.wait_for_page(APP_START_SECONDS)
        yield app
    finally:
        app.stop()


@dataclass
class JoinedRay:
    """This test process joined to the app's Ray as a second front: its own runtime, the Ray backend and the
    requests of the tasks it asks."""

    runtime: Runtime
    backend: Any
    requests: dict[str, ModelRequest]
    connection: ExitStack = field(default_factory=ExitStack)

    def leave(self) -> None:
        self.connection.close()


def ray_address_of(url: str) -> str:
    summary, _models = Client(url, verbose=False).predict(api_name="/system")
    match = re.search(r"Ray Serve at `([^`]+)`", summary)
    assert match, f"the System tab does not name the Ray cluster: {summary}"
    return match.group(1)


def request_for(runtime: Runtime, task: str) -> ModelRequest:
    demo = TASKS[task]
    choice = runtime.choices(task, list(demo.models))[0]
    return ModelRequest(task, choice, demo.loader)


@pytest.fixture(scope="module")
def on_ray(ray_app, cache_dir):
    settings = Settings(stand_ins="tiny", cache_dir=cache_dir, device="cpu", ray_address=ray_address_of(ray_app.url))
    runtime = Runtime(settings)
    requests = {task: request_for(runtime, task) for task in ("sentiment", "generate")}
    joined = JoinedRay(runtime, None, requests)
    with joined.connection:
        joined.backend = joined.connection.enter_context(ray_backend(runtime, ray_app.config))
        yield joined
    assert not ray.is_initialized()
    assert isinstance(runtime.backend, InProcess)


def classify(backend, request: ModelRequest, texts: list[str]):
    with backend.hold(request) as held:
        batched = held.run_batched(run_pipeline, texts, top_k=None, truncation=True)
        return batched, held.served


def test_the_checked_in_serve_config_is_valid_for_serve_deploy_and_kuberay():
    from ray.serve.schema import ServeDeploySchema

    for config in (read_serve_config(), sized_for_tests(read_serve_config())):
        ServeDeploySchema.model_validate(config)
        served = [task for application in config["applications"] for task in tasks_of(application["args"])]
        assert sorted(served) == sorted(TASKS), "each tab's task is served by exactly one application"


def test_a_replica_answers_as_the_in_process_backend_does(on_ray):
    runtime, backend, requests = on_ray.runtime, on_ray.backend, on_ray.requests
    remote, served = classify(backend, requests["sentiment"], TEXTS)
    local, _ = classify(InProcess(runtime), requests["sentiment"], TEXTS)
    assert [[item["label"] for item in result] for result in remote.results] == [
        [item["label"] for item in result] for result in local.results
    ]
    for remote_scores, local_scores in zip(remote.results, local.results, strict=True):
        assert [item["score"] for item in remote_scores] == pytest.approx([item["score"] for item in local_scores])
    assert served.where.startswith("Ray Serve replica `sentiment#") and served.stand_in


def test_concurrent_requests_reach_both_replicas_and_share_forward_passes(on_ray):
    backend, requests = on_ray.backend, on_ray.requests
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda index: classify(backend, requests["sentiment"], TEXTS), range(96)))
    replicas = {served.where for _batched, served in answers}
    assert len(replicas) == 2, replicas
    assert max(batched.batch_requests for batched, _served in answers) > 1


def replica_id(served) -> str:
    return served.where.rsplit("#", 1)[1].rstrip("`")


def test_a_killed_replica_fails_only_its_requests_clearly_and_the_next_are_served(on_ray):
    backend, requests = on_ray.backend, on_ray.requests
    _batched, served = classify(backend, requests["sentiment"], TEXTS)
    victim = replica_id(served)
    replicas = [actor["name"] for actor in ray.util.list_named_actors(all_namespaces=True)]
    replicas = [name for name in replicas if name.startswith("SERVE_REPLICA::sentiment#")]
    (name,) = [name for name in replicas if name.endswith(victim)]

    def one(index: int) -> str:
        try:
            return replica_id(classify(backend, requests["sentiment"], TEXTS * 20)[1])
        except BackendUnavailable as error:
            assert "stopped while answering" in str(error) or "not running" in str(error)
            return "clear error"

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(one, index) for index in range(48)]
        time.sleep(0.2)
        ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)
        outcomes = [future.result() for future in futures]  # every request answered or told clearly; none hangs
    assert set(outcomes) - {"clear error"}, outcomes

    # Serve starts a replacement; until then the other replica answers. The next requests are all served.
    known = {name.rsplit("#", 1)[1] for name in replicas}
    deadline = time.monotonic() + 240
    answered_by = set()
    while not answered_by - known and time.monotonic() < deadline:
        answered_by |= {replica_id(classify(backend, requests["sentiment"], TEXTS)[1]) for _ in range(4)}
        time.sleep(1)
    assert answered_by - known, f"no replacement replica answered within 240 s (answered: {answered_by})"
    assert victim not in answered_by


def written(backend, request: ModelRequest, settings: DecodingSettings) -> list:
    with backend.hold(request) as held:
        return list(held.stream(write_continuation, PROMPT, settings, None, 0.0))


def test_streamed_generation_gives_the_in_process_tokens(on_ray):
    runtime, backend, requests = on_ray.runtime, on_ray.backend, on_ray.requests
    greedy = DecodingSettings.checked(GREEDY, 24)
    remote, local = (
        written(backend, requests["generate"], greedy),
        written(InProcess(runtime), requests["generate"], greedy),
    )
    assert remote[-1].texts == local[-1].texts and remote[-1].new_tokens == local[-1].new_tokens == 24
    assert [update.text for update in remote if not update.finished], "the text arrives while it is written"


def test_a_full_queue_is_the_busy_message(on_ray, tmp_path):
    """The generation replica runs one request and queues one: with its slot held, of two more requests one waits
    and the other is refused at once with the in-process busy message; the waiting one is answered once the slot
    frees. Which of the two is refused is up to the race; that one of them is, is not."""
    backend, requests, gate = on_ray.backend, on_ray.requests, tmp_path / "release"
    with backend.hold(requests["generate"]) as holder:
        holding = holder.stream(held_until_released, str(gate))
        assert next(holding) == "holding"  # the replica's one request slot is taken until the gate opens
        with ThreadPoolExecutor(max_workers=2) as pool:
            short = DecodingSettings.checked(GREEDY, 2)
            attempts = [pool.submit(written, backend, requests["generate"], short) for _ in range(2)]
            done, waiting = wait(attempts, timeout=120, return_when=FIRST_COMPLETED)
            try:
                assert len(done) == 1, "neither request was refused while the slot was held"
                with pytest.raises(BackendBusy, match=r"^Busy: try again in about \d+ s\. Every generate model server"):
                    done.pop().result()
            finally:
                gate.touch()
            assert list(holding) == ["released"]
            assert waiting.pop().result(timeout=120)[-1].new_tokens == 2  # the waiting request is answered


def test_the_retry_time_is_the_wait_of_the_queue_ahead():
    """Serve's queue bound is per front: a refused request waits for the `max_queued_requests` ahead of it, served
    `max_ongoing_requests` per replica at a time at this front's measured service time."""
    application = {
        "args": {"task": "generate"},
        "deployments": [{"name": "TaskServer", "num_replicas": 2, "max_ongoing_requests": 1, "max_queued_requests": 6}],
    }
    backend = RayServe({}, "127.0.0.1:6379", {"generate": capacity_of(application)})
    assert backend.retry_after("generate") == 6 * PRIOR_SERVICE_SECONDS / 2  # before any answer, the prior
    backend.service_times.record("generate", 1.0)
    assert backend.retry_after("generate") == 6 * 1.0 / 2
    assert ray_busy_message("generate", 6).startswith("Busy: try again in about 6 s. Every generate model server")


def test_the_app_on_ray_answers_every_endpoint_as_the_in_process_app_does(ray_app):
    check_every_endpoint(every_endpoint.main(ray_app.url), streamed_updates=1)
    client = Client(ray_app.url, verbose=False)
    _label, _table, status = client.predict("Great film.", None, api_name="/sentiment")
    assert "Ray Serve replica `sentiment#" in status
    _text, status = client.submit(PROMPT, api_name="/generate", max_new_tokens=4).result()
    assert "Ray Serve replica `generate#" in status
    summary, models = client.predict(api_name="/system")
    assert "**models run:** Ray Serve at" in summary
    assert {row[0] for row in models["data"]} >= {"sentiment", "generate", "segment", "tokens", "evaluate"}
    assert all(row[-1].startswith("replica ") for row in models["data"])


def test_sigterm_stops_the_app_and_every_ray_process_it_started(ray_app, on_ray):
    on_ray.leave()  # this process's own connection to the app's Ray first, as a second front would leave
    names = {process.name() for process in ray_app.descendants()}
    assert {"raylet", "gcs_server"} <= names, f"the app's private Ray is not among its processes: {names}"
    left = ray_app.stop()
    assert ray_app.process.returncode == 0, ray_app.log_tail()
    assert not left, f"still running {STOP_SECONDS} s after the app stopped: {left}"
