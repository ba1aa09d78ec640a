"""The Ray Serve backend on a private Ray on loopback (token authentication left on), with the checked-in
serve_config.yaml's applications sized for two cores (sentiment on two replicas, generation on one that runs one
request and queues one, the others on one each): answers equal the in-process ones, concurrent requests spread over
the replicas and share forward passes, streamed generation gives the in-process tokens, a full queue is the busy
message, a killed replica fails only its own requests clearly while the next ones are served, and the app started
with the Ray backend answers every endpoint through gradio_client. One Ray for the module; every process it started
is stopped at the end."""

from __future__ import annotations

import copy
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client

from app import launch, models_on_ray
from clients import every_endpoint
from demos import TASKS
from demos.generate import write_continuation
from shared.backends import InProcess, ModelRequest
from shared.batching import run_pipeline
from shared.decoding import GREEDY, DecodingSettings
from shared.limits import MAX_NEW_TOKENS
from shared.runtime import Runtime
from shared.settings import Settings
from tests.helpers import free_port

# Read when Ray is imported: a single-machine Ray then uses 127.0.0.1, not the machine's address (shared/ray_serve.py).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")

from shared.ray_serve import (  # noqa: E402
    BackendBusy,
    BackendUnavailable,
    read_serve_config,
    tasks_of,
)

PROMPT = "Hello, I'm a language model,"
TEXTS = ["A wonderful, warm film.", "Dull and far too long.", "It was fine."]


def sized_for_tests(serve_config: dict) -> dict:
    """The checked-in applications, sized for a 2-core test machine: two sentiment replicas; one generation replica
    that runs one request and queues one more; one replica of each other application."""
    config = copy.deepcopy(serve_config)
    for application in config["applications"]:
        (deployment,) = application["deployments"]
        deployment.pop("autoscaling_config", None)
        deployment.update(num_replicas=1, ray_actor_options={"num_cpus": 0.25})
        if application["args"].get("task") == "sentiment":
            deployment.update(num_replicas=2, max_ongoing_requests=16, max_queued_requests=64)
        elif application["args"].get("task") == "generate":
            deployment.update(max_ongoing_requests=1, max_queued_requests=1)
    return config


def request_for(runtime: Runtime, task: str) -> ModelRequest:
    demo = TASKS[task]
    choice = runtime.choices(task, list(demo.models))[0]
    runtime.source_for(choice.model_id, choice.stand_in)  # build the stand-in once, before replicas look for it
    return ModelRequest(task, choice, demo.loader)


@pytest.fixture(scope="module")
def on_ray(cache_dir):
    runtime = Runtime(Settings(stand_ins="tiny", cache_dir=cache_dir, device="cpu", port=free_port()))
    requests = {task: request_for(runtime, task) for task in ("sentiment", "generate")}
    with models_on_ray(runtime, sized_for_tests(read_serve_config())):
        yield runtime, runtime.backend, requests
    assert not ray.is_initialized()
    assert isinstance(runtime.backend, InProcess)


def classify(backend, request: ModelRequest, texts: list[str]):
    with backend.hold(request) as held:
        batched = held.run_batched(run_pipeline, texts, top_k=None, truncation=True)
        return batched, held.served


def test_the_checked_in_serve_config_is_valid_for_serve_deploy_and_kuberay():
    from ray.serve.schema import ServeDeploySchema

    config = read_serve_config()
    ServeDeploySchema.model_validate(config)
    served = [task for application in config["applications"] for task in tasks_of(application["args"])]
    assert sorted(served) == sorted(TASKS), "each tab's task is served by exactly one application"


def test_a_replica_answers_as_the_in_process_backend_does(on_ray):
    runtime, backend, requests = on_ray
    remote, served = classify(backend, requests["sentiment"], TEXTS)
    local, _ = classify(InProcess(runtime), requests["sentiment"], TEXTS)
    assert [[item["label"] for item in result] for result in remote.results] == [
        [item["label"] for item in result] for result in local.results
    ]
    for remote_scores, local_scores in zip(remote.results, local.results, strict=True):
        assert [item["score"] for item in remote_scores] == pytest.approx([item["score"] for item in local_scores])
    assert served.where.startswith("Ray Serve replica `sentiment#") and served.stand_in


def test_concurrent_requests_reach_both_replicas_and_share_forward_passes(on_ray):
    _runtime, backend, requests = on_ray
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda index: classify(backend, requests["sentiment"], TEXTS), range(96)))
    replicas = {served.where for _batched, served in answers}
    assert len(replicas) == 2, replicas
    assert max(batched.batch_requests for batched, _served in answers) > 1


def replica_id(served) -> str:
    return served.where.rsplit("#", 1)[1].rstrip("`")


def test_a_killed_replica_fails_only_its_requests_clearly_and_the_next_are_served(on_ray):
    _runtime, backend, requests = on_ray
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
    runtime, backend, requests = on_ray
    greedy = DecodingSettings.checked(GREEDY, 24)
    remote, local = (
        written(backend, requests["generate"], greedy),
        written(InProcess(runtime), requests["generate"], greedy),
    )
    assert remote[-1].texts == local[-1].texts and remote[-1].new_tokens == local[-1].new_tokens == 24
    assert [update.text for update in remote if not update.finished], "the text arrives while it is written"


def test_a_full_queue_is_the_busy_message(on_ray):
    _runtime, backend, requests = on_ray
    long = DecodingSettings.checked(GREEDY, MAX_NEW_TOKENS)
    with backend.hold(requests["generate"]) as running:
        stream = running.stream(write_continuation, PROMPT, long, None, 0.0)
        next(stream)  # the replica's one request slot is taken
        with ThreadPoolExecutor(max_workers=1) as pool:
            queued = pool.submit(written, backend, requests["generate"], DecodingSettings.checked(GREEDY, 2))
            time.sleep(2)  # the second request waits in the one queue place
            with pytest.raises(BackendBusy, match=r"^Queue is full: every generate model server is busy"):
                written(backend, requests["generate"], DecodingSettings.checked(GREEDY, 2))
            stream.close()  # stops the long generation
            assert queued.result(timeout=120)[-1].new_tokens == 2  # the queued request is answered


@pytest.fixture(scope="module")
def ray_app_url(on_ray):
    runtime, _backend, _requests = on_ray
    app = launch(runtime, block=False)
    yield f"http://127.0.0.1:{runtime.settings.port}/"
    app.close()


def test_the_app_on_ray_answers_every_endpoint_through_gradio_client(ray_app_url):
    results = every_endpoint.main(ray_app_url)
    assert results["sentiment"]["label"] and results["generate"][-1]
    client = Client(ray_app_url, verbose=False)
    _label, _table, status = client.predict("Great film.", None, api_name="/sentiment")
    assert "Ray Serve replica `sentiment#" in status
    summary, models = client.predict(api_name="/system")
    assert "Ray Serve at" in summary
    assert {row[0] for row in models["data"]} >= {"sentiment", "generate"}
    assert all(row[-1].startswith("replica ") for row in models["data"])
