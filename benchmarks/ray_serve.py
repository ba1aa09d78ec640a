"""`python -m benchmarks.ray_serve [--seconds S] [--output PATH]`: the app in-process beside the app on Ray Serve on
this one machine, side by side in one run, on the full-size stand-ins.

Three fronts run at once on free loopback ports: `python app.py` (in-process), and two
`python app.py --backend ray --ray-address …` fronts on one private Ray that this benchmark starts (loopback, token
authentication on). One front deploys sentiment and generation on one replica each, the other on two each; the
other options are serve_config.yaml's (`max_ongoing_requests`, `max_queued_requests`, one CPU per replica, so Ray
gives each replica one torch thread). Measured: Ray's start, each front's start and first answer, memory (the
front, each replica, Ray's control plane) and Ray's idle CPU; then sentiment and generation (16 new tokens,
greedy) at 1 and 16 clients speaking the browser's queue protocol, each request new (numbered, so no answer comes
from memory), the three fronts taking turns at each level. Prints a Markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import psutil  # noqa: E402
import yaml  # noqa: E402

from benchmarks.servers import Server, app_server  # noqa: E402
from benchmarks.timing import QueueClient, client_pool  # noqa: E402
from benchmarks.workloads import app_request, stand_in_dirs  # noqa: E402
from shared.settings import default_cache_dir  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "ray_serve.json"
TASKS = ("sentiment", "generate")
LEVELS = (1, 16)
MAX_NEW_TOKENS = 16
REPLICAS = (1, 2)
START_SECONDS = 900.0
IDLE_SECONDS = 10.0


def fronts_config(serve_config: dict, replicas: int) -> dict:
    """serve_config.yaml's sentiment and generation applications on a fixed number of replicas, named apart so
    two fronts' applications live side by side in one Ray."""
    applications = []
    for application in copy.deepcopy(serve_config)["applications"]:
        if application["args"].get("task") not in TASKS:
            continue
        (deployment,) = application["deployments"]
        deployment.pop("autoscaling_config", None)
        deployment["num_replicas"] = replicas
        application["name"] = f"{application['name']}-{replicas}"
        application["route_prefix"] = f"/{application['name']}"
        applications.append(application)
    return {**serve_config, "applications": applications}


def closed_loop(pool: list[QueueClient], task: str, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` threads, each with its own session, sending new requests back to back for `seconds` after one
    untimed request each; answers per second over the window, and latency percentiles."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    window: dict[str, float] = {}

    def work(client: QueueClient) -> None:
        args, kwargs = app_request(task, MAX_NEW_TOKENS)
        client.request(*args, **kwargs)  # warm: every client's session built, the batch in its rhythm
        start.wait()
        while time.perf_counter() < window["end"]:
            args, kwargs = app_request(task, MAX_NEW_TOKENS)
            try:
                seconds_taken = client.request(*args, **kwargs)["total_s"]
            except Exception as error:  # a benchmark reports failures, it does not stop at them
                with lock:
                    errors.append(str(error)[:200])
                continue
            with lock:
                latencies.append(seconds_taken)

    threads = [threading.Thread(target=work, args=(client,), daemon=True) for client in pool[:clients]]
    for thread in threads:
        thread.start()
    window["end"] = float("inf")
    start.wait()
    began = time.perf_counter()
    window["end"] = began + seconds
    for thread in threads:
        thread.join(600)
    elapsed = time.perf_counter() - began  # requests under way at the end are answered and counted
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "answers_per_s": round(len(ordered) / elapsed, 3),
        "answered": len(ordered),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "median_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1) if ordered else None,
        "seconds": round(elapsed, 1),
    }


def memory_mb(process: psutil.Process) -> float:
    """Proportional set size: shared pages split between the processes that share them, so the parts add up."""
    try:
        return process.memory_full_info().pss / 2**20
    except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
        return 0.0


def ray_processes(fronts: list[Server]) -> list[psutil.Process]:
    """The processes of the Ray this benchmark started: its descendants, without the fronts."""
    front_pids = {server.process.pid for server in fronts}
    return [process for process in psutil.Process().children(recursive=True) if process.pid not in front_pids]


def memory_rows(fronts: dict[str, Server]) -> dict[str, float]:
    rows = {f"front {name}": memory_mb(psutil.Process(server.process.pid)) for name, server in fronts.items()}
    control_plane = 0.0
    for process in ray_processes(list(fronts.values())):
        try:
            name = " ".join(process.cmdline()) or process.name()
        except psutil.NoSuchProcess:
            continue
        # Ray names a replica's process after its actor: "ray::ServeReplica:<application>:TaskServer" in Ray 2.60.
        if match := re.search(r"(?:SERVE_REPLICA::|ServeReplica:)([^:\s]+)", name):
            replica = f"{match.group(1)} (pid {process.pid})"
            rows[f"replica {replica}"] = memory_mb(process)
        else:
            control_plane += memory_mb(process)
    rows["ray control plane (all other Ray processes)"] = control_plane
    return {name: round(value, 1) for name, value in rows.items()}


def idle_cpu_share(processes: list[psutil.Process], seconds: float) -> float:
    """CPU the processes use while nobody asks anything, as a share of one core."""

    def cpu_seconds() -> float:
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    before = cpu_seconds()
    time.sleep(seconds)
    return round((cpu_seconds() - before) / seconds, 3)


def first_answer_s(client: QueueClient, task: str) -> float:
    """The first request after start: in-process and on a replica alike, it loads the model."""
    args, kwargs = app_request(task, MAX_NEW_TOKENS)
    return round(client.request(*args, **kwargs)["total_s"], 2)


def run(seconds: float, cache_dir: Path, output: Path, log=print) -> dict[str, Any]:
    """Measure; `output` is rewritten after each step, so a run stopped early (a busy machine) keeps its figures."""
    from shared.ray_serve import ray_connection, read_serve_config

    def log_and_save(message: str) -> None:
        log(message)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")

    stand_in_dirs("full", cache_dir, TASKS)  # built before any clock starts
    serve_config = read_serve_config()
    results: dict[str, Any] = {"tasks": {}, "seconds_per_measurement": seconds, "cpus": os.cpu_count()}
    with ExitStack() as stack:
        started = time.perf_counter()
        # One CPU per replica as serve_config.yaml asks, for both fronts' replicas: Ray's CPUs are bookkeeping here,
        # the replicas share the machine's real cores.
        stack.enter_context(ray_connection(None, num_cpus=len(TASKS) * sum(REPLICAS)))
        import ray

        results["ray_init_s"] = round(time.perf_counter() - started, 2)
        address = ray.get_runtime_context().gcs_address
        log_and_save(f"Ray started in {results['ray_init_s']} s at {address}")
        fronts: dict[str, Server] = {}
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ray-")))
        fronts["in-process"] = stack.enter_context(app_server("full", cache_dir, name="in-process"))
        for replicas in REPLICAS:
            config_path = folder / f"serve_config_{replicas}.yaml"
            config_path.write_text(yaml.safe_dump(fronts_config(serve_config, replicas), sort_keys=False))
            extra = ["--backend", "ray", "--ray-address", address, "--serve-config", str(config_path)]
            server = app_server("full", cache_dir, extra, name=f"ray-{replicas}")
            stack.callback(server.stop)
            fronts[f"Ray, {replicas} replica{'s' if replicas > 1 else ''}"] = server.start(START_SECONDS)
        results["front_start_s"] = {name: round(server.cold_start_seconds, 2) for name, server in fronts.items()}
        log_and_save(f"Fronts serving their pages after (s): {results['front_start_s']}")
        pools = {name: client_pool(server.url, max(LEVELS)) for name, server in fronts.items()}
        results["first_answer_s"] = {
            task: {name: first_answer_s(pool[0], task) for name, pool in pools.items()} for task in TASKS
        }
        log_and_save(f"First answers (model loads) (s): {results['first_answer_s']}")
        results["memory_mb"] = memory_rows(fronts)
        results["ray_idle_cpu_share"] = idle_cpu_share(ray_processes(list(fronts.values())), IDLE_SECONDS)
        log_and_save(f"Memory (MB, PSS): {results['memory_mb']}; Ray idle: {results['ray_idle_cpu_share']} of a core")
        names = list(fronts)
        for task in TASKS:
            rows: dict[str, dict[str, Any]] = {name: {} for name in names}
            results["tasks"][task] = rows
            for turn, clients in enumerate(LEVELS):
                # The order rotates each level, so no front always goes first after a pause.
                for name in names[turn % len(names) :] + names[: turn % len(names)]:
                    rows[name][str(clients)] = closed_loop(pools[name], task, clients, seconds)
                    log_and_save(f"{task} {name} {clients} clients: {rows[name][str(clients)]}")
        for pool in pools.values():
            for client in pool:
                client.close()
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        "| task | clients | server | answers/s | median ms | p90 ms | errors |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for task, rows in results["tasks"].items():
        for clients in map(str, LEVELS):
            for name, levels in rows.items():
                level = levels.get(clients)
                if level is None:
                    continue  # not measured: the run was stopped early
                lines.append(
                    f"| {task} | {clients} | {name} | {level['answers_per_s']:.2f} | {level['median_ms']} | "
                    f"{level['p90_ms']} | {level['errors']} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="Length of each measurement (default 20).")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="Where stand-ins are built.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Where the JSON results go.")
    args = parser.parse_args()
    results = run(args.seconds, args.cache_dir, args.output)
    results["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    print(table(results))
    print(json.dumps({key: value for key, value in results.items() if key != "tasks"}, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
