"""`python -m benchmarks.classroom [--visitors 10,40,100] [--duration S] [--think S]`: a class using the app at once.

Each simulated visitor behaves as a browser tab: it opens the page (GET / and the config), then sends one request at
a time, thinking between them (exponential think time): mostly clicks on the task tabs' examples, some inputs of its
own (numbered, so no cache can answer them), greedy generation whose tokens stream, and photo uploads for
segmentation (demos/examples, or a numbered crop of one as its own photo). It speaks Gradio's browser protocol
(POST queue/join, then the queue/data event stream, with one session per visitor), on asyncio, so a hundred
visitors cost the load generator one thread; it shares the machine's cores with the servers.

Ours and the peer (benchmarks/peer.py with Gradio's defaults: one request per endpoint at a time, an unbounded
queue, no caching, no batching) serve the same full-size stand-ins. Each class size runs on ours, then on the peer
(the order alternates between sizes) with the same visitors making the same clicks, so each side has the machine to
itself while it is measured. A request still unanswered `GRACE_S` after the class ends is counted as unfinished
(its visitor leaves, which drops it from Gradio's queue) and enters the p95 at the age it had reached, a lower
bound. Prints one table per class size and writes benchmarks/results/classroom.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import platform
import random
import resource
import signal
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402
import psutil  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.servers import Server, app_server, peer_server  # noqa: E402
from benchmarks.timing import QueueClient, queue_message  # noqa: E402
from benchmarks.workloads import stand_in_dirs  # noqa: E402
from demos import generate as generate_tab  # noqa: E402
from demos import qa as qa_tab  # noqa: E402
from demos import segment as segment_tab  # noqa: E402
from demos import sentiment as sentiment_tab  # noqa: E402
from demos import zero_shot as zero_shot_tab  # noqa: E402
from shared.settings import default_cache_dir  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "classroom.json"
CLASS_TASKS = ("sentiment", "zero_shot", "qa", "generate", "segment")
# What a class clicks: the share of requests per tab, and of those, the share that are example clicks.
TAB_SHARE = {"sentiment": 0.3, "zero_shot": 0.2, "qa": 0.2, "generate": 0.2, "segment": 0.1}
EXAMPLE_SHARE = 0.75
MAX_NEW_TOKENS = 32
SEGMENT_THRESHOLD, SEGMENT_OVERLAP = 0.85, 0.8
GRACE_S = 15.0  # after the class ends, how long requests under way may still finish
ARRIVAL_S = 5.0  # visitors open the page at random moments within this many seconds of the start
# Texts a visitor types: each is sent with a number nobody else sends.
OWN_TEXTS = [
    "The plot dragged, but the soundtrack was great.",
    "Worst customer service I have ever had.",
    "The lecture today was clear and fun.",
    "My train was late again this morning.",
]
OWN_QUESTIONS = ["How tall is the tower?", "Who found the keys?", "Where is the tower?", "When did I leave them?"]
OWN_PROMPTS = ["Once upon a time,", "The best way to learn is", "In the classroom today we", "My favourite model is"]
# The peer serves one model per task, so visitors keep each tab's default model (examples naming another model
# are sent with the default one).
SENTIMENT_EXAMPLES = [row[0] for row in sentiment_tab.EXAMPLES]
ZERO_SHOT_EXAMPLES = [tuple(row) for row in zero_shot_tab.EXAMPLES]
QA_EXAMPLES = [(row[0], row[1]) for row in qa_tab.EXAMPLES]
PHOTOS = list(segment_tab.EXAMPLE_PHOTOS)


@dataclass(frozen=True)
class Click:
    """One request a visitor sends, as our app and as the peer take it: (api name, data by parameter name) for
    ours, (api name, positional data) for the peer; `photo` is uploaded first and takes the first input's place."""

    task: str
    kind: str  # "example" or "own"
    ours: dict[str, Any]
    peer: list[Any]
    photo: tuple[str, bytes] | None = None


def own_photo(number: int) -> tuple[str, bytes]:
    """An example photo cropped by a few pixels that depend on `number`: a photo no cache has seen."""
    with Image.open(PHOTOS[number % len(PHOTOS)]) as photo:
        left, top = 1 + number % 23, 1 + (number // 23) % 19
        cropped = photo.convert("RGB").crop((left, top, photo.width - 1, photo.height - 1))
    buffer = io.BytesIO()
    cropped.save(buffer, format="JPEG", quality=90)
    return f"own-{number}.jpg", buffer.getvalue()


def example_photo(index: int) -> tuple[str, bytes]:
    path = PHOTOS[index % len(PHOTOS)]
    return path.name, path.read_bytes()


def next_click(rng: random.Random, tag: str) -> Click:
    """The visitor's next request: a tab by TAB_SHARE, then an example or an input of its own tagged with `tag`."""
    task = rng.choices(list(TAB_SHARE), weights=list(TAB_SHARE.values()))[0]
    example = rng.random() < EXAMPLE_SHARE
    kind = "example" if example else "own"
    pick = rng.randrange(1000)
    if task == "sentiment":
        text = SENTIMENT_EXAMPLES[pick % len(SENTIMENT_EXAMPLES)] if example else f"{rng.choice(OWN_TEXTS)} ({tag})"
        return Click(task, kind, {"text": text}, [text])
    if task == "zero_shot":
        text, labels, multi_label, template = ZERO_SHOT_EXAMPLES[pick % len(ZERO_SHOT_EXAMPLES)]
        if not example:
            text = f"{rng.choice(OWN_TEXTS)} ({tag})"
        fields = {"text": text, "candidate_labels": labels, "multi_label": multi_label, "hypothesis_template": template}
        return Click(task, kind, fields, [text, labels, multi_label])
    if task == "qa":
        context, question = QA_EXAMPLES[pick % len(QA_EXAMPLES)]
        if not example:
            question = f"{rng.choice(OWN_QUESTIONS)} ({tag})"
        return Click(task, kind, {"context": context, "question": question, "top_k": 3}, [context, question])
    if task == "generate":
        prompt = generate_tab.PROMPT if example else f"{rng.choice(OWN_PROMPTS)} ({tag})"
        fields = {"prompt": prompt, "strategy": "greedy", "max_new_tokens": MAX_NEW_TOKENS}
        return Click(task, kind, fields, [prompt])
    photo = example_photo(pick) if example else own_photo(rng.randrange(10**6))
    fields = {"image": None, "threshold": SEGMENT_THRESHOLD, "overlap_mask_area_threshold": SEGMENT_OVERLAP}
    return Click(task, kind, fields, [None, SEGMENT_THRESHOLD, SEGMENT_OVERLAP], photo=photo)


@dataclass
class Endpoint:
    """The outcomes of one endpoint in one class."""

    answered: list[float] = field(default_factory=list)
    first_update: list[float] = field(default_factory=list)
    refused: int = 0
    refused_with_retry_time: int = 0
    errors: int = 0
    unfinished: list[float] = field(default_factory=list)  # ages reached when the class ended
    kinds: Counter = field(default_factory=Counter)


@dataclass
class Tally:
    endpoints: dict[str, Endpoint] = field(default_factory=lambda: defaultdict(Endpoint))
    refusal_samples: list[str] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)


class Refused(Exception):
    def __init__(self, status: int, retry_after: str | None, detail: str) -> None:
        super().__init__(f"{status}: {detail[:160]}")
        self.retry_after = retry_after
        self.detail = detail


class Browser:
    """One server as a browser tab sees it: its endpoints' fn_index and input layout, read once."""

    def __init__(self, server: Server) -> None:
        self.url = server.url
        self.api = server.url + "gradio_api/"
        layout = QueueClient(server.url)
        self.fn_index, self.parameters = layout.fn_index, layout.parameters
        layout.close()

    def data(self, api_name: str, values: dict[str, Any] | list[Any]) -> list[Any]:
        """Values by parameter name laid out as the endpoint's inputs (defaults for the rest), or as given."""
        if isinstance(values, list):
            return values
        return [values.get(p["parameter_name"], p.get("parameter_default")) for p in self.parameters[api_name]]


def shown_files(value: Any) -> list[str]:
    """The URLs of the files an output shows (the photo and each mask of an AnnotatedImage)."""
    if isinstance(value, dict):
        own = [value["url"]] if isinstance(value.get("url"), str) else []
        return own + [url for key, item in value.items() if key != "url" for url in shown_files(item)]
    if isinstance(value, list):
        return [url for item in value for url in shown_files(item)]
    return []


async def send(http: httpx.AsyncClient, browser: Browser, session: str, click: Click, ours: bool) -> dict:
    """One request as the browser sends it; returns seconds to the first update and to the end (shown files
    fetched). A join the server turns away raises `Refused`; an answer with an error raises RuntimeError."""
    started = time.perf_counter()
    values = dict(click.ours) if ours else list(click.peer)
    if click.photo is not None:
        name, content = click.photo
        uploaded = await http.post(browser.api + "upload", files=[("files", (name, content, "image/jpeg"))])
        if uploaded.status_code != 200:
            raise Refused(uploaded.status_code, uploaded.headers.get("retry-after"), uploaded.text)
        photo = {"path": uploaded.json()[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}
        if ours:
            values["image"] = photo
        else:
            values[0] = photo
    joined = await http.post(
        browser.api + "queue/join",
        json={
            "data": browser.data(click.task, values),
            "fn_index": browser.fn_index[click.task],
            "session_hash": session,
            "event_data": None,
            "trigger_id": None,
        },
    )
    if joined.status_code != 200:
        raise Refused(joined.status_code, joined.headers.get("retry-after"), joined.text)
    event_id = joined.json()["event_id"]
    first = None
    async with http.stream("GET", browser.api + "queue/data", params={"session_hash": session}) as stream:
        async for line in stream.aiter_lines():
            message = queue_message(line, event_id)
            if message is None:
                continue
            if message["msg"] == "process_generating":
                first = first or time.perf_counter() - started
            elif message["msg"] == "process_completed":
                answered = time.perf_counter() - started
                if not message.get("success"):
                    raise RuntimeError(str(message.get("output", {}).get("error") or message)[:300])
                for url in shown_files(message["output"]["data"][:1]):
                    (await http.get(url)).raise_for_status()
                return {"first_update_s": first or answered, "total_s": time.perf_counter() - started}
    raise RuntimeError(f"/{click.task}: the event stream ended before the answer")


async def visitor(
    http: httpx.AsyncClient,
    browser: Browser,
    ours: bool,
    index: int,
    label: str,
    think_s: float,
    ends: float,
    tally: Tally,
    in_flight: dict[int, tuple[str, float]],
) -> None:
    """One browser tab: the page, then clicks with think time until the class ends. The random choices depend on
    `index` and `label` only, so ours and the peer see the same visitor click the same things."""
    rng = random.Random(f"{label}-{index}")
    await asyncio.sleep(rng.uniform(0, ARRIVAL_S))
    started = time.perf_counter()
    in_flight[index] = ("page", started)
    page = await http.get(browser.url)
    config = await http.get(browser.url + "config")
    del in_flight[index]
    if page.status_code == 200 and config.status_code == 200:
        tally.endpoints["page"].answered.append(time.perf_counter() - started)
    else:
        tally.endpoints["page"].errors += 1
    session = uuid.uuid4().hex
    number = 0
    while time.perf_counter() < ends:
        number += 1
        click = next_click(rng, f"{label} visitor {index} request {number}")
        row = tally.endpoints[click.task]
        row.kinds[click.kind] += 1
        in_flight[index] = (click.task, time.perf_counter())
        try:
            timing = await send(http, browser, session, click, ours)
            row.answered.append(timing["total_s"])
            row.first_update.append(timing["first_update_s"])
        except Refused as refusal:
            row.refused += 1
            row.refused_with_retry_time += refusal.retry_after is not None
            if len(tally.refusal_samples) < 5:
                tally.refusal_samples.append(f"/{click.task} {refusal}; Retry-After: {refusal.retry_after}")
        except (RuntimeError, httpx.HTTPError) as error:
            row.errors += 1
            if len(tally.error_samples) < 5:
                tally.error_samples.append(f"/{click.task}: {type(error).__name__}: {str(error)[:200]}")
        del in_flight[index]
        think = rng.expovariate(1 / think_s)
        await asyncio.sleep(min(think, max(0.0, ends - time.perf_counter())))  # nobody clicks after the end


async def run_class(server: Server, ours: bool, visitors: int, duration: float, think_s: float, label: str) -> dict:
    """`visitors` tabs on one server for `duration` seconds (plus GRACE_S for requests under way)."""
    browser = Browser(server)
    tally = Tally()
    in_flight: dict[int, tuple[str, float]] = {}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    async with httpx.AsyncClient(timeout=httpx.Timeout(300.0), limits=limits) as http:
        began = time.perf_counter()
        ends = began + ARRIVAL_S + duration
        tasks = [
            asyncio.create_task(visitor(http, browser, ours, index, label, think_s, ends, tally, in_flight))
            for index in range(visitors)
        ]
        await asyncio.wait(tasks, timeout=ARRIVAL_S + duration + GRACE_S)
        stopped = time.perf_counter()
        for task_name, since in list(in_flight.values()):
            tally.endpoints[task_name].unfinished.append(stopped - since)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    load_generator_cpu = cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    return {
        "seconds": round(stopped - began, 1),
        "load_average_before": round(load_before, 2),
        "load_generator_cpu_share": round(load_generator_cpu / (stopped - began), 3),
        "endpoints": {name: summary(row) for name, row in sorted(tally.endpoints.items())},
        "refusal_samples": tally.refusal_samples,
        "error_samples": tally.error_samples,
    }


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def in_ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def summary(row: Endpoint) -> dict:
    """Percentiles of the answers and of the unfinished requests at the age they reached (a lower bound of their
    latency), so a backlog that never clears still shows."""
    waited = row.answered + row.unfinished
    return {
        "answered": len(row.answered),
        "refused": row.refused,
        "refused_with_retry_time": row.refused_with_retry_time,
        "errors": row.errors,
        "unfinished": len(row.unfinished),
        "p50_ms": in_ms(percentile(waited, 0.5)),
        "p95_ms": in_ms(percentile(waited, 0.95)),
        "first_update_p50_ms": in_ms(percentile(row.first_update, 0.5)),
        "first_update_p95_ms": in_ms(percentile(row.first_update, 0.95)),
        "clicks": dict(row.kinds),
    }


async def warm_up(server: Server, ours: bool) -> None:
    """One request per endpoint before the clock starts (our app loads each model on its first request)."""
    browser = Browser(server)
    rng = random.Random("warm-up")
    async with httpx.AsyncClient(timeout=httpx.Timeout(600.0)) as http:
        for task in CLASS_TASKS:
            click = next_click(rng, "warm-up")
            while click.task != task:
                click = next_click(rng, "warm-up")
            await send(http, browser, uuid.uuid4().hex, click, ours)


def ratio(ours: float | None, peer: float | None) -> float | None:
    return round(ours / peer, 3) if ours and peer else None


def compare(ours: dict, peer: dict) -> dict:
    """Per endpoint: ours' p95 over the peer's, and whether ours refused nothing."""
    rows = {}
    for name in ours["endpoints"]:
        mine, theirs = ours["endpoints"][name], peer["endpoints"].get(name, {})
        rows[name] = {
            "p95_ours_over_peer": ratio(mine["p95_ms"], theirs.get("p95_ms")),
            "p50_ours_over_peer": ratio(mine["p50_ms"], theirs.get("p50_ms")),
        }
    return rows


def measure(
    stand_ins: str,
    cache_dir: Path,
    class_sizes: list[int],
    duration: float,
    think_s: float,
    log=print,
    output: Path | None = None,
) -> dict:
    directories = stand_in_dirs(stand_ins, cache_dir, CLASS_TASKS)
    results: dict = {
        "meta": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "stand_ins": stand_ins,
            "machine": f"{platform.machine()}, {psutil.cpu_count()} CPU cores, shared with other work",
            "duration_s": duration,
            "think_s": f"exponential, mean {think_s}",
            "mix": {"tab_share": TAB_SHARE, "example_share": EXAMPLE_SHARE, "max_new_tokens": MAX_NEW_TOKENS},
            "grace_s": GRACE_S,
            "peer": "benchmarks/peer.py, Gradio's defaults: queue() with default_concurrency_limit=1, no max_size",
        },
        "classes": {},
    }
    started = time.perf_counter()
    app, peer = app_server(stand_ins, cache_dir), peer_server(directories, MAX_NEW_TOKENS, {}, 1)
    with contextlib.ExitStack() as servers:
        for server in (app, peer):  # both start side by side: on a loaded machine each takes a minute or more
            servers.callback(server.stop)
            server.spawn()
        app.wait_until_served(), peer.wait_until_served()
        log(f"app served in {app.cold_start_seconds:.1f} s, peer in {peer.cold_start_seconds:.1f} s; warming up...")
        asyncio.run(warm_up(app, True))
        asyncio.run(warm_up(peer, False))
        for position, visitors in enumerate(class_sizes):
            label = f"class of {visitors}"
            sides = [("ours", app), ("peer", peer)]
            if position % 2:
                sides.reverse()
            figures = {}
            for name, server in sides:
                log(f"{label}: {name} for {duration:.0f} s...")
                figures[name] = asyncio.run(run_class(server, name == "ours", visitors, duration, think_s, label))
                time.sleep(2.0)  # the last answers of one side are not counted against the other
            figures["ours_over_peer"] = compare(figures["ours"], figures["peer"])
            figures["order"] = [name for name, _ in sides]
            results["classes"][str(visitors)] = figures
            if output is not None:
                output.parent.mkdir(parents=True, exist_ok=True)
                output.write_text(json.dumps(results, indent=1) + "\n")
        results["meta"]["ours_memory_mb"] = app.memory_mb()
        results["meta"]["peer_memory_mb"] = peer.memory_mb()
    results["meta"]["run_seconds"] = round(time.perf_counter() - started, 1)
    return results


def cell(row: dict, key: str) -> str:
    value = row.get(key)
    return "–" if value is None else f"{value:.0f}"


def outcome(row: dict) -> str:
    retry = f" ({row['refused_with_retry_time']} with a retry time)" if row["refused"] else ""
    extra = f", {row['errors']} errors" if row["errors"] else ""
    extra += f", {row['unfinished']} unfinished" if row["unfinished"] else ""
    return f"{row['answered']} / {row['refused']}{retry}{extra}"


def table(results: dict) -> str:
    meta = results["meta"]
    lines = [
        f"Classroom ({meta['stand_ins']} stand-ins, {meta['duration_s']:.0f} s per class, think time "
        f"{meta['think_s']} s; peer: {meta['peer']})"
    ]
    for visitors, figures in results["classes"].items():
        ours, peer = figures["ours"], figures["peer"]
        lines += [
            "",
            f"{visitors} visitors (load average before: ours {ours['load_average_before']}, peer "
            f"{peer['load_average_before']}; load generator CPU {ours['load_generator_cpu_share']:.0%} / "
            f"{peer['load_generator_cpu_share']:.0%} of a core)",
            "| endpoint | ours p50 / p95 ms | peer p50 / p95 ms | p95 ours/peer | ours answered / refused "
            "| peer answered / refused | first token p50 ms ours / peer |",
            "| --- | ---: | ---: | ---: | --- | --- | ---: |",
        ]
        for name, mine in ours["endpoints"].items():
            theirs = peer["endpoints"].get(name)
            first = (
                f"{cell(mine, 'first_update_p50_ms')} / {cell(theirs, 'first_update_p50_ms')}"
                if name == "generate" and theirs
                else ""
            )
            peer_cells = (
                (
                    f"{cell(theirs, 'p50_ms')} / {cell(theirs, 'p95_ms')}",
                    outcome(theirs),
                )
                if theirs
                else ("–", "–")
            )
            p95_ratio = figures["ours_over_peer"][name]["p95_ours_over_peer"]
            lines.append(
                f"| {name} | {cell(mine, 'p50_ms')} / {cell(mine, 'p95_ms')} | {peer_cells[0]} | "
                f"{'–' if p95_ratio is None else p95_ratio} | {outcome(mine)} | {peer_cells[1]} | {first} |"
            )
        for name in ("ours", "peer"):
            for sample in figures[name]["refusal_samples"][:2] + figures[name]["error_samples"][:2]:
                lines.append(f"  {name}: {sample}")
    lines.append(f"\nRun took {meta['run_seconds']} s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classroom", description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", default="10,40,100", help="Class sizes, comma-separated (default 10,40,100).")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds each class runs per server (60).")
    parser.add_argument("--think", type=float, default=8.0, help="Mean think time between clicks, seconds (8).")
    parser.add_argument("--stand-ins", choices=("full", "tiny"), default="full", help="Model sizes (default full).")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="Where stand-ins are built.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON file (default {DEFAULT_OUTPUT}).")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.visitors.split(",") if size.strip()]
    results = measure(args.stand_ins, args.cache_dir, sizes, args.duration, args.think, output=args.output)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(f"\nWrote {args.output}")
    return results


if __name__ == "__main__":
    # A `timeout` or kill ends the run through the `with` blocks, so the servers it started stop with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
