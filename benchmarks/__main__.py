"""`python -m benchmarks [--quick] [--client-kinds] [--stand-ins full|tiny] [--output PATH]`: see
benchmarks/__init__.py.

Sections, in the order they run: cold start (page served, first request per tab), resident memory with all five
default models loaded, app over bare model call per endpoint, ours vs. `gr.Interface.from_pipeline` (latency and
throughput at 1, 4 and 16 clients; for sentiment also with REST `/call` and gradio_client clients at 1 and 16),
streamed generation (time to first token, tokens/s), `--cpu-int8`, and the segmentation figures from
`benchmarks/segmentation.py`. `--client-kinds` runs only the client-kind rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import psutil  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from gradio_client import Client  # noqa: E402

from benchmarks import segmentation  # noqa: E402
from benchmarks.servers import Server, app_server, peer_server  # noqa: E402
from benchmarks.timing import (  # noqa: E402
    GradioClient,
    QueueClient,
    RestClient,
    client_pool,
    interleaved,
    ms,
    seconds_of,
    streamed,
    throughput,
)
from benchmarks.workloads import (  # noqa: E402
    CEILING_REQUESTS,
    TASKS,
    app_request,
    bare_calls,
    peer_request,
    stand_in_dirs,
)
from shared.batching import CONCURRENT_REQUESTS  # noqa: E402
from shared.limits import DEFAULT_CONCURRENCY_LIMIT  # noqa: E402
from shared.settings import default_cache_dir  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"
CLIENT_KINDS_OUTPUT = DEFAULT_OUTPUT.with_name("client_kinds.json")
PEER_TASKS = ("sentiment", "zero_shot", "generate")
# The endpoints measured with every client kind (browser protocol, REST /call, gradio_client), not the browser only.
CLIENT_KIND_TASKS = ("sentiment",)
# Our app: the production queue (shared/limits.py); /generate lets 16 requests share its running batch, /segment has
# concurrency_limit=1 (mask memory). The peer gets the same default, and 1 for generation.
APP_DEFAULT_CONCURRENCY = DEFAULT_CONCURRENCY_LIMIT
PEER_CONCURRENCY = {"generate": 1}
# Outputs whose files a browser fetches to show them: the photo and each mask of /segment's AnnotatedImage.
SHOWN_FILES = {"segment": (0,)}
# The overhead target: the app adds at most 15 ms or 10 % to the bare call, whichever is larger.
OVERHEAD_BUDGET_MS, OVERHEAD_BUDGET_SHARE = 15.0, 0.10


@dataclass(frozen=True)
class Plan:
    repeats: int  # interleaved requests per fast endpoint (sentiment, zero_shot, qa)
    slow_repeats: int  # for generate and segment
    throughput_seconds: float
    levels: tuple[int, ...] = (1, 4, 16)
    answers_per_client: int = 3  # throughput: at least this many answers per client are counted
    max_new_tokens: int = 16
    budget_s: float | None = 60.0  # per row: fewer requests (at least 3) when a loaded machine makes them slow
    # REST and gradio_client throughput: at 1 and 16 clients only (16 gradio_clients take the load generator, which
    # shares the two cores with the servers, several times the CPU of 16 browser-protocol clients).
    client_kind_levels: tuple[int, ...] = (1, 16)


QUICK = Plan(
    repeats=2,
    slow_repeats=1,
    throughput_seconds=0.5,
    levels=(1, 16),
    max_new_tokens=4,
    budget_s=None,
    answers_per_client=1,
    client_kind_levels=(1, 4),
)
DEFAULT = Plan(repeats=20, slow_repeats=20, throughput_seconds=6.0, budget_s=60.0)


def predict(client: Client, request: tuple[tuple, dict]) -> object:
    args, kwargs = request
    return client.predict(*args, **kwargs)


def fresh(task: str, max_new_tokens: int):
    """A function that makes a new numbered request to our app each time it is called: a repeated request would be
    answered from memory (shared/result_cache.py), which is not what these rows measure."""
    return lambda: app_request(task, max_new_tokens)


def ask(client, make_request, **extra) -> dict:
    """Send `make_request()`'s request with any client kind (QueueClient, RestClient, GradioClient)."""
    args, kwargs = make_request()
    return client.request(*args, **kwargs, **extra)


def new_tokens(status: str) -> int | None:
    found = re.search(r"(\d+) new tokens", status or "")
    return int(found.group(1)) if found else None


def cold_start(app: Server, client: Client, plan: Plan) -> dict:
    first = {
        task: round(seconds_of(lambda t=task: predict(client, app_request(t, plan.max_new_tokens))), 2)
        for task in TASKS
    }
    return {"page_served_s": round(app.cold_start_seconds, 2), "first_request_s": first}


def overhead(client: Client, queue: QueueClient, bare: dict, plan: Plan) -> dict:
    """Per endpoint: the bare call, the same request as a browser sends it, and through gradio_client, interleaved.
    The budget is checked on the browser's figure: gradio_client's 50 ms polling is the client's, not the app's.
    For /segment the browser's figure includes uploading the photo and fetching the masks it shows."""
    rows = {}
    for task in TASKS:
        repeats = plan.slow_repeats if task in ("generate", "segment") else plan.repeats
        make, shown = fresh(task, plan.max_new_tokens), SHOWN_FILES.get(task, ())
        calls = {
            "bare": bare[task].run,
            "gradio_client": lambda make=make: predict(client, make()),
            "browser": lambda make=make, s=shown: ask(queue, make, shown=s),
        }
        progress(f"  {task}...")
        times = interleaved(calls, repeats, budget_s=plan.budget_s)
        bare_ms, client_ms = ms(times["bare"]), ms(times["gradio_client"])
        app_ms = ms(times["browser"])
        extra = round(app_ms - bare_ms, 1)
        rows[task] = {
            "bare_ms": bare_ms,
            "app_ms": app_ms,
            "app_measured_with": "browser protocol",
            "gradio_client_ms": client_ms,
            "overhead_ms": extra,
            "ratio": round(app_ms / bare_ms, 3),
            "within_budget": extra <= max(OVERHEAD_BUDGET_MS, OVERHEAD_BUDGET_SHARE * bare_ms),
            "requests": len(times["bare"]),
            "bare_is": bare[task].what,
        }
    return rows


def round_trip(client: Client, queue: QueueClient, plan: Plan) -> dict:
    """The floor under every overhead figure: a request that runs no model (/system lists the loaded models)."""
    times = interleaved(
        {
            "browser": lambda: queue.request(api_name="/system"),
            "gradio_client": lambda: client.predict(api_name="/system"),
        },
        plan.repeats,
    )
    return {
        "browser_ms": ms(times["browser"]),
        "gradio_client_ms": ms(times["gradio_client"]),
        "requests": plan.repeats,
    }


def peer_comparison(
    ours: QueueClient, peer: QueueClient, app_url: str, peer_url: str, bare: dict, plan: Plan, tasks=PEER_TASKS
) -> dict:
    """Latency at one client, interleaved, then throughput with 1, 4 and 16 clients (browser protocol), and for the
    classifiers the ceiling: the model alone, in-process, on CEILING_REQUESTS requests in one batch. For
    CLIENT_KIND_TASKS the same latency and throughput rows with REST /call and gradio_client clients too."""
    ours_pool, peer_pool = client_pool(app_url, max(plan.levels)), client_pool(peer_url, max(plan.levels))
    rows = {}
    for task in tasks:
        repeats = plan.slow_repeats if task == "generate" else plan.repeats
        mine, theirs = fresh(task, plan.max_new_tokens), lambda task=task: peer_request(task)
        row = side_by_side(ours_pool, peer_pool, mine, theirs, repeats, plan.levels, plan)
        if f"{task}_ceiling" in bare:
            batch = ms(interleaved({"batch": bare[f"{task}_ceiling"].run}, max(plan.repeats // 4, 1))["batch"])
            ceiling = round(CEILING_REQUESTS / (batch / 1000), 3)
            top = row["throughput"][str(max(plan.levels))]
            row["model_alone_rps"] = ceiling
            row["ceiling_over_peer"] = round(ceiling / max(top["peer_rps"], 1e-9), 3)
            row["ours_over_ceiling"] = round(top["ours_rps"] / ceiling, 3)
        if task in CLIENT_KIND_TASKS:
            row["client_kinds"] = {"browser": {"measured": "the row above"}}
            for kind, pools in other_client_kinds(ours_pool, peer_pool, max(plan.client_kind_levels)):
                progress(f"  {task} with {kind} clients...")
                row["client_kinds"][kind] = side_by_side(*pools, mine, theirs, repeats, plan.client_kind_levels, plan)
                for connection in pools[0] + pools[1]:
                    connection.close()
        rows[task] = row
    for connection in ours_pool + peer_pool:
        connection.close()
    return rows


def other_client_kinds(ours_pool: list[QueueClient], peer_pool: list[QueueClient], size: int):
    """(kind, (our clients, the peer's clients)) for REST /call and gradio_client, `size` of each, made when asked
    for (32 gradio_client instances take a while to fetch their configs)."""
    yield "rest", ([RestClient(ours_pool[0]) for _ in range(size)], [RestClient(peer_pool[0]) for _ in range(size)])
    yield (
        "gradio_client",
        (
            [GradioClient(ours_pool[0].url.removesuffix("gradio_api/")) for _ in range(size)],
            [GradioClient(peer_pool[0].url.removesuffix("gradio_api/")) for _ in range(size)],
        ),
    )


def side_by_side(ours_pool: list, peer_pool: list, mine, theirs, repeats: int, levels, plan: Plan) -> dict:
    """Ours and the peer with one kind of client: median latency at one client (interleaved), then requests/s at
    each number of clients. `mine` and `theirs` make a request each time they are called."""
    times = interleaved(
        {"ours": lambda: ask(ours_pool[0], mine), "peer": lambda: ask(peer_pool[0], theirs)},
        repeats,
        budget_s=plan.budget_s,
    )
    row = {"ours_ms": ms(times["ours"]), "peer_ms": ms(times["peer"]), "requests": len(times["ours"])}
    row["ours_over_peer"] = round(row["ours_ms"] / row["peer_ms"], 3)
    row["throughput"] = {}
    for clients in levels:
        ours_level = throughput(ours_pool, mine, clients, plan.throughput_seconds, plan.answers_per_client)
        peer_level = throughput(peer_pool, theirs, clients, plan.throughput_seconds, plan.answers_per_client)
        row["throughput"][str(clients)] = {
            "ours_rps": ours_level["requests_per_s"],
            "peer_rps": peer_level["requests_per_s"],
            "ours_over_peer": round(ours_level["requests_per_s"] / max(peer_level["requests_per_s"], 1e-9), 3),
            "ours_errors": ours_level["errors"],
            "peer_errors": peer_level["errors"],
            "ours_counted": ours_level["completed"],
            "peer_counted": peer_level["completed"],
        }
    return row


def generation(ours: QueueClient, ours_client: Client, peer: QueueClient, bare: dict, plan: Plan) -> dict:
    """Time to first streamed token and tokens/s: ours (streams), the peer (answers whole), bare model.generate,
    taking turns. Ours is timed as a browser sees it, and also with gradio_client's `submit()` iterator."""
    tokens = plan.max_new_tokens
    peer_args, peer_kwargs = peer_request("generate")
    runs: dict[str, list] = {"ours": [], "ours_gradio_client": [], "peer": [], "bare": [], "bare_first": []}
    written = {"ours": set(), "bare": set()}
    began = time.perf_counter()
    for round_number in range(plan.slow_repeats):
        if plan.budget_s and time.perf_counter() - began > plan.budget_s and round_number >= 3:
            break
        answer = ask(ours, fresh("generate", tokens))
        runs["ours"].append(answer)
        written["ours"].add(new_tokens(answer["data"][1]))
        runs["ours_gradio_client"].append(streamed(ours_client, *app_request("generate", tokens)))
        runs["peer"].append(peer.request(*peer_args, **peer_kwargs)["total_s"])
        started = time.perf_counter()
        output = bare["generate"].run()
        runs["bare"].append(time.perf_counter() - started)
        written["bare"].add(int(output.shape[1]))
        runs["bare_first"].append(seconds_of(bare["generate_first_token"].run))
    ours_first = ms([r["first_update_s"] for r in runs["ours"]])
    ours_total = ms([r["total_s"] for r in runs["ours"]])
    peer_total, bare_total, bare_first = ms(runs["peer"]), ms(runs["bare"]), ms(runs["bare_first"])
    per_s = {
        name: round(tokens / (value / 1000), 2)
        for name, value in (("ours", ours_total), ("peer", peer_total), ("bare", bare_total))
    }
    return {
        "max_new_tokens": tokens,
        "new_tokens_written": {name: sorted(counts) for name, counts in written.items()},
        "settings": "greedy (do_sample=False, num_beams=1), repetition_penalty=1.0",
        "requests": len(runs["ours"]),
        "first_token_ms": {
            "ours": ours_first,
            "ours_gradio_client": ms([r["first_update_s"] for r in runs["ours_gradio_client"]]),
            "peer": peer_total,
            "bare_one_forward": bare_first,
        },
        "ours_first_token_over_bare_forward": round(ours_first / bare_first, 3),
        "total_ms": {"ours": ours_total, "peer": peer_total, "bare": bare_total},
        "tokens_per_s": per_s,
        "ours_tokens_per_s_over_bare": round(per_s["ours"] / per_s["bare"], 3),
        "updates_per_request": max(r["updates"] for r in runs["ours"]),
    }


def int8_rows(stand_ins: str, cache_dir: Path, fp32: QueueClient, plan: Plan) -> dict:
    """A second app with --cpu-int8, interleaved with the float32 one."""
    tasks = ("sentiment", "zero_shot", "qa", "generate")
    with app_server(stand_ins, cache_dir, ["--cpu-int8"], name="app-int8") as app:
        int8 = QueueClient(app.url)
        rows = {}
        for task in tasks:
            args, kwargs = app_request(task, plan.max_new_tokens)
            repeats = plan.slow_repeats if task == "generate" else plan.repeats
            times = interleaved(
                {
                    "fp32": lambda a=args, k=kwargs: fp32.request(*a, **k),
                    "int8": lambda a=args, k=kwargs: int8.request(*a, **k),
                },
                repeats,
                budget_s=plan.budget_s,
            )
            rows[task] = {"fp32_ms": ms(times["fp32"]), "int8_ms": ms(times["int8"]), "requests": len(times["fp32"])}
            rows[task]["int8_over_fp32"] = round(rows[task]["int8_ms"] / rows[task]["fp32_ms"], 3)
        rows["memory"] = app.memory_mb()
        int8.close()
    return rows


def segmentation_rows(stand_ins: str, cache_dir: Path, quick: bool) -> dict:
    """Ours vs. the stock image-segmentation pipeline at 5, 20 and 100 kept queries (benchmarks/segmentation.py)."""
    try:
        # repeats=1 keeps the whole run within its time bound (its own CLI takes more)
        return segmentation.measure(size=stand_ins, cache_dir=cache_dir, repeats=1, quick=quick)
    except Exception as error:  # a fault there must not lose the rest of the run
        return {"error": f"{type(error).__name__}: {error}"[:300]}


def app_concurrency() -> str:
    """The app's queue settings as they are in the code now (request batching raises some limits)."""
    return (
        f"ours: queue(default_concurrency_limit={APP_DEFAULT_CONCURRENCY}), /sentiment and /zero_shot "
        f"{CONCURRENT_REQUESTS} (request batching), /generate and /segment 1"
    )


def section(results: dict, name: str, server: Server | None, fn, *args) -> None:
    """Run one part of the benchmark; a failure is recorded (with the server's log) and the rest goes on."""
    try:
        results[name] = fn(*args)
    except Exception as error:
        detail = f"{type(error).__name__}: {error}"[:500]
        results[name] = {"error": detail, "server_log": server.log_tail(15) if server else None}
        print(f"{name} failed: {detail}")


def progress(message: str) -> None:
    print(message, flush=True)


def machine() -> str:
    return (
        f"{platform.machine()}, {psutil.cpu_count()} CPU cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}"
    )


def run_client_kinds(stand_ins: str, cache_dir: Path, plan: Plan, log=progress) -> dict:
    """Only the vs. peer rows of CLIENT_KIND_TASKS, with every client kind: the app and a peer serving those tasks
    (a few minutes, where the whole run takes fifteen)."""
    started = time.perf_counter()
    directories = stand_in_dirs(stand_ins, cache_dir, CLIENT_KIND_TASKS)
    results: dict = {
        "meta": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "stand_ins": stand_ins,
            "quick": plan is QUICK,
            "machine": machine(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "concurrency": f"{app_concurrency()}; peer: queue(default_concurrency_limit={APP_DEFAULT_CONCURRENCY})",
            "only": "client kinds",
        }
    }
    with (
        app_server(stand_ins, cache_dir) as app,
        peer_server(directories, plan.max_new_tokens, PEER_CONCURRENCY) as peer,
    ):
        ours, theirs = QueueClient(app.url), QueueClient(peer.url)
        log("ours vs. the peer with every client kind...")
        section(results, "vs_peer", app, peer_comparison, ours, theirs, app.url, peer.url, {}, plan, CLIENT_KIND_TASKS)
        ours.close(), theirs.close()
    results["meta"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["meta"]["run_seconds"] = round(time.perf_counter() - started, 1)
    return results


def run(stand_ins: str, cache_dir: Path, plan: Plan, quick: bool, log=progress, output: Path | None = None) -> dict:
    """Every section in turn; after each, what is measured so far is written to `output` (a run cut short still
    leaves its figures)."""
    started = time.perf_counter()

    def step(name: str, server: Server | None, fn, *args) -> None:
        section(results, name, server, fn, *args)
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(json.dumps(results, indent=1) + "\n")

    directories = stand_in_dirs(stand_ins, cache_dir)  # built before the clock starts for cold start
    results: dict = {
        "meta": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "stand_ins": stand_ins,
            "quick": quick,
            "machine": machine(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "concurrency": f"{app_concurrency()}; peer: queue(default_concurrency_limit={APP_DEFAULT_CONCURRENCY}), "
            "generation 1",
            "median_of": "median of interleaved requests; counts are in each row",
        }
    }
    with app_server(stand_ins, cache_dir) as app:
        client = Client(app.url, verbose=False)
        log(f"app served in {app.cold_start_seconds:.1f} s; first request per tab...")
        step("cold_start", app, cold_start, app, client, plan)
        results["memory_all_models_loaded"] = app.memory_mb()
        queue = QueueClient(app.url)
        log("loading the bare models in-process...")
        bare = bare_calls(directories, plan.max_new_tokens)
        log("app over bare model call...")
        step("overhead", app, overhead, client, queue, bare, plan)
        step("round_trip_without_model", app, round_trip, client, queue, plan)
        peer_dirs = {task: directories[task] for task in PEER_TASKS}
        with peer_server(peer_dirs, plan.max_new_tokens, PEER_CONCURRENCY) as peer:
            peer_queue = QueueClient(peer.url)
            results["peer_cold_start_s"] = round(peer.cold_start_seconds, 2)
            log("ours vs. gr.Interface.from_pipeline...")
            step("vs_peer", app, peer_comparison, queue, peer_queue, app.url, peer.url, bare, plan)
            log("streamed generation...")
            step("generation", app, generation, queue, client, peer_queue, bare, plan)
            peer_queue.close()
        log("int8 (a second app with --cpu-int8)...")
        step("int8", None, int8_rows, stand_ins, cache_dir, queue, plan)
        results["memory_at_end"] = app.memory_mb()
        queue.close()
        client.close()
    log("segmentation (benchmarks/segmentation.py)...")
    step("segmentation", None, segmentation_rows, stand_ins, cache_dir, quick)
    results["meta"]["run_seconds"] = round(time.perf_counter() - started, 1)
    return results


def table(results: dict) -> str:
    """The results as text: one line or Markdown table per section; a failed section says so."""
    meta = results["meta"]
    sections = SECTIONS if "only" not in meta else [("vs_peer", peer_text), ("vs_peer", client_kinds_text)]
    lines = [
        f"Benchmark ({meta['stand_ins']} stand-ins{', quick' if meta['quick'] else ''}) on {meta['machine']}; "
        f"{meta['concurrency']}"
    ]
    for name, render in sections:
        try:
            lines.append("\n" + render(results))
        except (KeyError, TypeError) as error:
            value = results.get(name)
            detail = value.get("error") if isinstance(value, dict) else f"missing {error}"
            lines.append(f"\n{name}: FAILED ({detail})")
    lines.append(
        f"\nRun took {meta['run_seconds']} s; load average at start {meta['load_average_at_start']} (other work on "
        "the machine makes absolute figures noisy; compare the ratios, measured side by side)."
    )
    return "\n".join(lines)


def cold_start_text(results: dict) -> str:
    cold, memory = results["cold_start"], results["memory_all_models_loaded"]
    return (
        f"Cold start: page served in {cold['page_served_s']} s; first request per tab (model load): "
        + ", ".join(f"{task} {s} s" for task, s in cold["first_request_s"].items())
        + f"\nApp memory with all five models loaded: {memory['rss_mb']:.0f} MB resident; peak over the run "
        f"{results['memory_at_end']['peak_rss_mb']:.0f} MB"
    )


def overhead_text(results: dict) -> str:
    lines = [
        "| endpoint | bare call ms | app over HTTP ms (browser protocol) | overhead ms | ratio | within 15 ms / 10 % "
        "| gradio_client ms | n |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for task, row in results["overhead"].items():
        lines.append(
            f"| {task} | {row['bare_ms']} | {row['app_ms']} | {row['overhead_ms']} | {row['ratio']} | "
            f"{'yes' if row['within_budget'] else 'NO'} | {row['gradio_client_ms']} | {row['requests']} |"
        )
    floor = results["round_trip_without_model"]
    lines.append(
        f"A request that runs no model (/system): {floor['browser_ms']} ms as a browser sends it, "
        f"{floor['gradio_client_ms']} ms with gradio_client (it polls for messages every 50 ms)."
    )
    return "\n".join(lines)


def peer_text(results: dict) -> str:
    levels = list(results["vs_peer"][PEER_TASKS[0]]["throughput"])
    lines = [
        "Ours vs. gr.Interface.from_pipeline (same stand-in): latency at 1 client (browser protocol, median ms), "
        "throughput in requests/s with N clients (browser protocol, one connection each, in steady state); the model "
        f"alone: in-process, {CEILING_REQUESTS} requests in one batch, no server",
        "| endpoint | ours ms | peer ms | ours/peer | "
        + " | ".join(f"@{n} ours / peer" for n in levels)
        + f" | @{levels[-1]} ours/peer | model alone req/s | model alone / peer |",
        "| --- | ---: | ---: | ---: |" + " ---: |" * (len(levels) + 3),
    ]
    for task, row in results["vs_peer"].items():
        rates = " | ".join(f"{v['ours_rps']} / {v['peer_rps']}" for v in row["throughput"].values())
        top = row["throughput"][str(levels[-1])]["ours_over_peer"]
        alone = f"{row['model_alone_rps']} | {row['ceiling_over_peer']}" if "model_alone_rps" in row else "– | –"
        lines.append(
            f"| {task} | {row['ours_ms']} | {row['peer_ms']} | {row['ours_over_peer']} | {rates} | {top} | {alone} |"
        )
    return "\n".join(lines)


def client_kinds_text(results: dict) -> str:
    """Per endpoint of CLIENT_KIND_TASKS: latency at one client and throughput, ours and the peer's, with each kind
    of client (the browser protocol's figures are the vs. peer table's)."""
    lines = [
        "By client kind: browser protocol (queue/join + event stream, one kept session per client), REST "
        "(POST /gradio_api/call/<api> + GET of its stream: a new session per call), gradio_client (Client.predict, "
        "one Client per simulated client)",
        "| endpoint | client kind | ours ms | peer ms | ours/peer | throughput req/s ours / peer (ours/peer) |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for task, row in results["vs_peer"].items():
        for kind, figures in row.get("client_kinds", {}).items():
            figures = row if kind == "browser" else figures
            rates = ", ".join(
                f"@{clients} {level['ours_rps']} / {level['peer_rps']} ({level['ours_over_peer']})"
                for clients, level in figures["throughput"].items()
                if kind != "browser" or clients in row["client_kinds"].get("rest", {}).get("throughput", {})
            )
            lines.append(
                f"| {task} | {kind} | {figures['ours_ms']} | {figures['peer_ms']} | {figures['ours_over_peer']} | "
                f"{rates} |"
            )
    return "\n".join(lines)


def generation_text(results: dict) -> str:
    gen = results["generation"]
    first, per_s = gen["first_token_ms"], gen["tokens_per_s"]
    return (
        f"Generation ({gen['settings']}, {gen['max_new_tokens']} new tokens, n={gen['requests']}): first token "
        f"ours {first['ours']} ms (gradio_client {first['ours_gradio_client']} ms; bare one forward "
        f"{first['bare_one_forward']} ms, ratio {gen['ours_first_token_over_bare_forward']}), peer (no streaming) "
        f"{first['peer']} ms; tokens/s ours {per_s['ours']}, peer {per_s['peer']}, bare model.generate "
        f"{per_s['bare']} (ours/bare {gen['ours_tokens_per_s_over_bare']})"
    )


def int8_text(results: dict) -> str:
    return "--cpu-int8 vs float32 (browser protocol, median ms): " + ", ".join(
        f"{task} {row['int8_ms']} vs {row['fp32_ms']} ({row['int8_over_fp32']}x)"
        for task, row in results["int8"].items()
        if task != "memory"
    )


def segmentation_text(results: dict) -> str:
    figures = results["segmentation"]
    if "cases" in figures:
        return segmentation.table(figures)
    return f"Segmentation (benchmarks/segmentation.py): {json.dumps(figures)[:600]}"


SECTIONS = [
    ("cold_start", cold_start_text),
    ("overhead", overhead_text),
    ("vs_peer", peer_text),
    ("vs_peer", client_kinds_text),
    ("generation", generation_text),
    ("int8", int8_text),
    ("segmentation", segmentation_text),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="A few requests per figure: a smoke test, not figures.")
    parser.add_argument("--stand-ins", choices=("full", "tiny"), default="full", help="Model sizes (default full).")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="Where stand-ins are built.")
    parser.add_argument(
        "--output", type=Path, help=f"JSON file (default {DEFAULT_OUTPUT}; with --client-kinds {CLIENT_KINDS_OUTPUT})."
    )
    parser.add_argument(
        "--client-kinds",
        action="store_true",
        help=f"Only ours vs. the peer for {', '.join(CLIENT_KIND_TASKS)} with every client kind (a few minutes).",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else DEFAULT
    args.output = args.output or (CLIENT_KINDS_OUTPUT if args.client_kinds else DEFAULT_OUTPUT)
    if args.client_kinds:
        results = run_client_kinds(args.stand_ins, args.cache_dir, plan)
    else:
        results = run(args.stand_ins, args.cache_dir, plan, args.quick, output=args.output)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(f"\nWrote {args.output}")


if __name__ == "__main__":
    main()
