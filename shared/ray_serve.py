"""The Ray Serve backend: each task's models in a Serve application of its own (replicas, queue bounds, autoscaling
and CPU/GPU resources from serve_config.yaml), asked through deployment handles by one or more Gradio fronts.

A replica (`TaskServer`) holds its own `Runtime` (model cache and batcher) and runs the same module-level model
functions as the in-process backend (shared/backends.py); they travel by reference (module and name), so every Ray
node needs this project on its Python path. The Gradio front itself is never a Serve deployment: Gradio's queue
keeps a session's events in one process, and Serve's proxy has no session affinity (see deploy/nginx/).

Ray is imported only when this backend is used: `pip install -r requirements-ray.txt`.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from shared.backends import InProcess, ModelRequest, Operation, ServedModel
from shared.errors import UserError
from shared.queue_bounds import ServiceTimes, busy_message, retry_after_seconds
from shared.runtime import Runtime
from shared.settings import Settings

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVE_CONFIG = PROJECT_ROOT / "serve_config.yaml"
DEPLOYMENT = "TaskServer"
# Ray's start-up waits for its agents a fixed few seconds by default; on a busy machine they take longer.
SLOW_START_CONFIG = {"raylet_start_wait_time_s": 120, "agent_register_timeout_ms": 120_000}
# A private Ray whose raylet gave up waiting for its agents (about 16 s; seen with 8 busy processes on 2 cores), or
# whose node did not register within Ray's fixed 30 s (two starts in three at a load average of 25 on 2 cores)
# is started again, this many times in all.
START_ATTEMPTS = 5


class BackendBusy(UserError):
    """Every replica of a task is at its `max_ongoing_requests` and its queue at `max_queued_requests`."""


class BackendUnavailable(UserError):
    """The replica that held a request stopped (crashed, was killed, or was scaled down) before answering."""


@dataclass(frozen=True)
class Capacity:
    """What one task's application runs at once and holds waiting at one front (Serve's `max_queued_requests` is a
    bound per caller), from its `deployments:` options; -1 waiting places is Serve's "no bound"."""

    running: int = 5
    waiting: int = -1


def capacity_of(application: dict[str, Any]) -> Capacity:
    options = deployment_options(application)
    autoscaling = options.get("autoscaling_config") or {}
    replicas = autoscaling.get("max_replicas", 1) if autoscaling else options.get("num_replicas", 1)
    return Capacity(
        running=replicas * options.get("max_ongoing_requests", Capacity.running),
        waiting=options.get("max_queued_requests", Capacity.waiting),
    )


def ray_busy_message(task: str, retry_after: int) -> str:
    """The in-process full queue's message (shared/queue_bounds.py): when to come back first, then why."""
    return busy_message(
        retry_after,
        f"Every {task} model server is busy and its queue is full (an operator can add replicas in serve_config.yaml).",
    )


@dataclass
class Outcome:
    """What a replica sends back: the operation's value and who served it, or the visitor's error."""

    value: Any = None
    served: ServedModel | None = None
    error: str | None = None
    error_type: str = "UserError"


def raise_outcome_error(outcome: Outcome) -> None:
    if outcome.error is not None:
        kind = {"BackendBusy": BackendBusy, "BackendUnavailable": BackendUnavailable}.get(outcome.error_type)
        raise (kind or UserError)(outcome.error)


def replica_settings(settings: Settings) -> Settings:
    """The settings a replica runs with: the front's model choices, without the front's own serving options."""
    return replace(settings, host="127.0.0.1", port=0, share=False, auth=(), preload=False, download=False)


class TaskServer:
    """One replica of a task's Serve application: the in-process backend around its own runtime. Serve runs these
    sync methods in a thread pool, so concurrent requests share forward passes through the runtime's batcher."""

    def __init__(self, application: str, settings: Settings) -> None:
        from ray import serve

        self.replica = serve.get_replica_context().replica_id.unique_id
        self.backend = InProcess(Runtime(settings), where=f"Ray Serve replica `{application}#{self.replica}`")

    def run(self, request: ModelRequest, operation: Operation, args: tuple, kwargs: dict, how: str) -> Outcome:
        """`how`: "run", "run_batched" or "run_on_model", the `LocalModel` method that calls `operation`."""
        try:
            with self.backend.hold(request) as held:
                value = getattr(held, how)(operation, *args, **kwargs)
                return Outcome(value, held.served)
        except UserError as error:
            return Outcome(error=str(error), error_type=type(error).__name__)

    def stream(self, request: ModelRequest, operation: Operation, args: tuple, kwargs: dict) -> Iterator[Any]:
        """First an `Outcome` naming the model (or the visitor's error), then each item the operation yields."""
        try:
            with self.backend.hold(request) as held:
                yield Outcome(served=held.served)
                yield from held.stream(operation, *args, **kwargs)
        except UserError as error:
            yield Outcome(error=str(error), error_type=type(error).__name__)

    def loaded_models(self) -> list[dict]:
        """This replica's cache, as the System tab shows it."""
        return [
            dict(
                replica=self.replica,
                task=entry.task,
                model_id=entry.model_id,
                device=entry.device,
                precision=entry.precision,
                memory_bytes=entry.memory_bytes,
                load_seconds=entry.load_seconds,
                hits=entry.hits,
                in_use=entry.in_use,
                stand_in=entry.stand_in,
            )
            for entry in self.backend.runtime.cache.loaded_models()
        ]


def task_application(args: dict[str, Any]) -> Any:
    """The Serve application of one task, as serve_config.yaml's `import_path` names it: `serve run`, `serve deploy`
    and KubeRay's RayService build it from the file's `args` and apply its `deployments:` options themselves;
    `deploy_applications` passes the front's settings and the options it read from the same file."""
    from ray import serve

    settings = args.get("settings") or Settings(
        stand_ins=args.get("stand_ins"),
        device=args.get("device", "auto"),
        cpu_int8=bool(args.get("cpu_int8", False)),
        model_overrides=dict(args.get("model_overrides") or {}),
        max_memory_gb=args.get("max_memory_gb"),
        **({"cache_dir": Path(args["cache_dir"])} if args.get("cache_dir") else {}),
    )
    deployment = serve.deployment(TaskServer, name=DEPLOYMENT).options(**args.get("options", {}))
    return deployment.bind("+".join(tasks_of(args)), settings)


def tasks_of(args: dict[str, Any]) -> list[str]:
    """The tasks an application serves: `task: sentiment`, or `tasks: [tokens, fill_mask]` for several that share
    its replicas (small models that are rarely busy at once)."""
    return list(args.get("tasks") or [args["task"]])


def served_tasks(config: dict[str, Any]) -> set[str]:
    """Every task the applications of `config` (Serve's config format) serve."""
    return {task for application in config["applications"] for task in tasks_of(application["args"])}


def read_serve_config(path: Path = SERVE_CONFIG) -> dict[str, Any]:
    with open(path, encoding="utf-8") as file:
        return yaml.safe_load(file)


def deployment_options(application: dict[str, Any]) -> dict[str, Any]:
    """The `deployments:` entry of one application in Serve's config format, as `Deployment.options` keywords."""
    (options,) = [dict(item) for item in application.get("deployments", [])] or [{}]
    options.pop("name", None)
    return options


@contextmanager
def ray_connection(address: str | None, *, loopback: bool = True, num_cpus: int | None = None) -> Iterator[Any]:
    """Join the Ray cluster at `address`, or start a private one on this machine (its listeners on loopback only,
    when `loopback`); disconnect at the end, which stops a private cluster with every process it started."""
    if address is None and loopback:
        # Read when Ray is imported: with it off, a single-machine Ray uses 127.0.0.1 instead of the machine's IP.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if address is not None:
        send_auth_token()
    options: dict[str, Any] = dict(
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT)}},
    )
    if address is None:
        options.update(include_dashboard=False, num_cpus=num_cpus, _system_config=SLOW_START_CONFIG)
    context = start_ray(address, options)
    try:
        yield context
    finally:
        from ray import serve

        if address is None:
            serve.shutdown()
        ray.shutdown()


def send_auth_token() -> None:
    """Joining a cluster by its address, Ray 2.60 sends its token only with RAY_AUTH_MODE=token, and a cluster
    started with its defaults (token authentication on) refuses a driver without one: turn the mode on when a
    token is at hand (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token), as Ray itself does when it finds
    a local cluster without being given an address. An explicit RAY_AUTH_MODE is left as it is."""
    from ray._private.authentication.authentication_token_setup import maybe_enable_token_auth_if_token_available

    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def start_ray(address: str | None, options: dict[str, Any]) -> Any:
    import psutil
    import ray

    for attempt in range(1, START_ATTEMPTS + 1):
        before = {child.pid for child in psutil.Process().children(recursive=True)}
        try:
            return ray.init(address=address, **options)
        except Exception as error:
            if address is not None or "timed out during startup" not in str(error):
                raise
            # ray.shutdown() does not stop what a failed start left running (its GCS): stop our new children here.
            ray.shutdown()
            stop_processes([c for c in psutil.Process().children(recursive=True) if c.pid not in before])
            if attempt == START_ATTEMPTS:
                raise
            logger.warning("Ray did not start (attempt %d of %d): %s; starting again", attempt, START_ATTEMPTS, error)
    raise AssertionError("unreachable")


def stop_processes(processes: list[Any], timeout: float = 10.0) -> None:
    import psutil

    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def deploy_applications(
    settings: Settings, config: dict[str, Any], tasks: Sequence[str] | None = None
) -> dict[str, Any]:
    """Deploy (or reuse, when already running) one Serve application per task named in `config` (Serve's config
    format) and return a handle per task. Replicas run with the front's model settings."""
    from ray import serve
    from ray.serve.schema import ApplicationStatus

    serve.start(
        proxy_location=config.get("proxy_location", "Disabled"),
        http_options=config.get("http_options", {"host": "127.0.0.1"}),
    )
    running = {name for name, app in serve.status().applications.items() if app.status == ApplicationStatus.RUNNING}
    wanted = [
        application
        for application in config["applications"]
        if tasks is None or set(tasks_of(application["args"])) & set(tasks)
    ]
    targets = []
    for application in wanted:
        if application["name"] not in running:
            args = {**copy.deepcopy(application["args"]), "settings": replica_settings(settings)}
            app = task_application({**args, "options": deployment_options(application)})
            targets.append(serve.RunTarget(app, application["name"], application.get("route_prefix")))
    if targets:
        # All at once: their replicas start side by side instead of one application after the other.
        logger.info("Deploying the Serve applications %s", ", ".join(target.name for target in targets))
        serve.run_many(targets)
    handles = {}
    for application in wanted:
        handles.update(dict.fromkeys(tasks_of(application["args"]), serve.get_app_handle(application["name"])))
    return handles


class RemoteModel:
    """A task's Serve application, asked for one request; the model lives in whichever replica answers."""

    def __init__(self, backend: RayServe, handle: Any, request: ModelRequest) -> None:
        self.backend = backend
        self.handle = handle
        self.request = request
        self.served: ServedModel | None = None

    @property
    def model(self) -> Any:
        raise TypeError("On Ray Serve the model lives in a replica: run model work with served.run(operation, ...).")

    def _call(self, how: str, operation: Operation, args: tuple, kwargs: dict) -> Any:
        started = time.monotonic()
        with self.backend.translated_errors(self.request.task):
            outcome = self.handle.run.remote(self.request, operation, args, kwargs, how).result()
        raise_outcome_error(outcome)
        self.served = outcome.served
        self.backend.service_times.record(self.request.task, time.monotonic() - started)
        return outcome.value

    def run(self, operation: Operation, *args: Any, **kwargs: Any) -> Any:
        return self._call("run", operation, args, kwargs)

    def run_batched(self, operation: Operation, *args: Any, **kwargs: Any) -> Any:
        return self._call("run_batched", operation, args, kwargs)

    def run_on_model(self, operation: Operation, *args: Any, **kwargs: Any) -> Any:
        return self._call("run_on_model", operation, args, kwargs)

    def stream(self, operation: Operation, *args: Any, **kwargs: Any) -> Iterator[Any]:
        started = time.monotonic()
        with self.backend.translated_errors(self.request.task):
            items = self.handle.options(stream=True).stream.remote(self.request, operation, args, kwargs)
            try:
                first = next(items)
                raise_outcome_error(first)
                self.served = first.served
                for item in items:
                    if isinstance(item, Outcome):
                        raise_outcome_error(item)
                    yield item
            finally:
                items.cancel()  # a visitor who left stops the replica's generation too
        self.backend.service_times.record(self.request.task, time.monotonic() - started)


@contextmanager
def translated_errors(task: str, retry_after: int) -> Iterator[None]:
    """Serve's own failures as the short messages a visitor gets in-process; a full queue is told to come back in
    `retry_after` seconds."""
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
    from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError

    try:
        yield
    except BackPressureError as error:
        raise BackendBusy(ray_busy_message(task, retry_after)) from error
    except (ActorDiedError, ActorUnavailableError, RayActorError, ReplicaUnavailableError) as error:
        logger.warning("A %s replica stopped while answering: %s", task, str(error).splitlines()[0][:200])
        raise BackendUnavailable(
            f"The {task} model server stopped while answering this request (it is being replaced). Send it again."
        ) from error
    except DeploymentUnavailableError as error:
        raise BackendUnavailable(f"The {task} model servers are not running. Try again in a minute.") from error


class RayServe:
    """The backend that asks each task's Serve application through its deployment handle."""

    name = "Ray Serve"

    def __init__(self, handles: dict[str, Any], address: str, capacities: dict[str, Capacity] | None = None) -> None:
        self.handles = handles
        self.address = address
        self.capacities = capacities or {}
        self.service_times = ServiceTimes()  # of the answers this front received, per task

    def retry_after(self, task: str) -> int:
        """When a request refused by the task's full queue finds a place: the time the requests waiting ahead of
        it take, at the task's measured service time (whole seconds, 1 to MAX_RETRY_AFTER_SECONDS)."""
        capacity = self.capacities.get(task, Capacity())
        waiting = capacity.waiting if capacity.waiting >= 0 else capacity.running
        return retry_after_seconds(max(waiting, 1), self.service_times.average(task), capacity.running)

    def translated_errors(self, task: str) -> contextlib.AbstractContextManager[None]:
        return translated_errors(task, self.retry_after(task))

    @contextmanager
    def hold(self, request: ModelRequest) -> Iterator[RemoteModel]:
        handle = self.handles.get(request.task)
        if handle is None:
            raise UserError(f"No Ray Serve application serves {request.task}; add it to serve_config.yaml.")
        yield RemoteModel(self, handle, request)

    def is_loaded(self, request: ModelRequest) -> bool:
        return True  # the replicas load their models themselves; a first use is slower, not silent

    def describe(self) -> str:
        return f"Ray Serve at `{self.address}` for {', '.join(sorted(self.handles))}"

    def loaded_models(self) -> list[dict]:
        """Each application's models, as the replica that answers this call holds them."""
        rows = []
        asked = set()
        for task, handle in sorted(self.handles.items()):
            if id(handle) in asked:
                continue
            asked.add(id(handle))
            try:
                rows += handle.loaded_models.remote().result(timeout_s=10)
            except Exception as error:  # the System tab shows what it can; a busy or dead replica is no bug here
                logger.info("System tab: %s did not answer: %s", task, error)
        return rows


def reserved_cpus(config: dict[str, Any]) -> int:
    """CPUs the applications' smallest replica counts reserve, rounded up: a private Ray on one machine declares at
    least that many (Ray's CPUs are bookkeeping; the replicas share the real cores)."""
    total = 0.0
    for application in config["applications"]:
        options = deployment_options(application)
        autoscaling = options.get("autoscaling_config") or {}
        replicas = autoscaling.get("min_replicas", 1) if autoscaling else options.get("num_replicas", 1)
        total += replicas * options.get("ray_actor_options", {}).get("num_cpus", 1)
    return max(os.cpu_count() or 1, -int(-total // 1))


@contextmanager
def ray_backend(runtime: Runtime, config: dict[str, Any] | None = None) -> Iterator[RayServe]:
    """Run `runtime`'s model work on Ray Serve for the block: join `--ray-address` or start a private Ray, deploy the
    applications of `config` (serve_config.yaml unless given) that are not running, and make them the backend."""
    settings = runtime.settings
    config = config or read_serve_config(settings.serve_config)
    with ray_connection(settings.ray_address, num_cpus=reserved_cpus(config)):
        import ray

        address = settings.ray_address or ray.get_runtime_context().gcs_address
        capacities = {
            task: capacity_of(application)
            for application in config["applications"]
            for task in tasks_of(application["args"])
        }
        backend = RayServe(deploy_applications(settings, config), address, capacities)
        previous, runtime.backend = runtime.backend, backend
        try:
            yield backend
        finally:
            runtime.backend = previous
