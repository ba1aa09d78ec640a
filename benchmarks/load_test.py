"""Load test: many `gradio_client` clients on loopback mixing every endpoint against the real app in a subprocess.

`python -m benchmarks.load_test [--clients 50] [--duration 60] [--stand-ins tiny|full] [--memory-budget-mb 4096]
[--hostile]`

It tests robustness, not speed, so it runs on tiny stand-ins by default: every request must end in a result, a
clear "queue is full" busy error, or (for the deliberately bad requests mixed in) the intended short error; none
lost, none hung, and the server's peak resident memory stays under the budget. It prints requests answered, errors
by kind, p50/p95 latency per endpoint and peak memory, and exits non-zero when a target is missed.

With `--hostile` the app runs with a login and trusts loopback as its proxy, each honest client logs in and comes
from its own address (X-Forwarded-For), and one hostile address does three things at once: floods slow generations
it never reads, uploads 5 MB files, and guesses passwords. Its refusals are counted beside the honest answers.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
from gradio_client.utils import QueueError  # noqa: E402

from benchmarks.servers import app_server  # noqa: E402
from shared.settings import default_cache_dir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PHOTO = str(ROOT / "demos" / "examples" / "coffee.jpg")
# Time a single request may take before it counts as hung (a crowd of 50 waits in a queue of 1-2 workers).
HUNG_SECONDS = 180.0
# (endpoint, arguments, the error a bad request must get, or None for a good one); every tenth request is bad.
GOOD = [
    ("/sentiment", dict(text="I loved this film.\nThe ending was a letdown.")),
    ("/zero_shot", dict(text="The striker scored twice.", candidate_labels="sports, politics, cooking")),
    ("/qa", dict(context="In the end my daughter found the keys in the fruit bowl.", question="Where were the keys?")),
    ("/generate", dict(prompt="Hello, I'm a language model,", strategy="greedy", max_new_tokens=20)),
    ("/segment", dict(image=PHOTO)),
    ("/system", dict()),
]
BAD = [
    ("/sentiment", dict(text="   "), "Type some text"),
    ("/zero_shot", dict(text="x", candidate_labels=",,,"), "at least one candidate label"),
    ("/qa", dict(context="", question="Where?"), "Paste the context"),
    ("/generate", dict(prompt="Hi", max_new_tokens=10**6), "greater than maximum value"),
]


def request_for(number: int) -> tuple[str, dict, str | None]:
    if number % 10 == 9:
        return BAD[(number // 10) % len(BAD)]
    endpoint, fields = GOOD[number % len(GOOD)]
    return endpoint, fields, None


class Tally:
    """Outcomes and latencies, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        self.by_endpoint: dict[str, Counter[str]] = defaultdict(Counter)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.unexpected: list[str] = []

    def add(self, endpoint: str, outcome: str, seconds: float, detail: str = "") -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            self.by_endpoint[endpoint][outcome] += 1
            if outcome == "answered":
                self.latencies[endpoint].append(seconds)
            if outcome in {"unexpected error", "hung"} and len(self.unexpected) < 10:
                self.unexpected.append(f"{endpoint}: {outcome}: {detail[:200]}")


def one_request(client: Client, number: int, tally: Tally) -> None:
    endpoint, fields, expected_error = request_for(number)
    if "image" in fields:
        fields = {**fields, "image": handle_file(fields["image"])}
    started = time.perf_counter()
    try:
        result = client.submit(**fields, api_name=endpoint).result(timeout=HUNG_SECONDS)
    except QueueError as error:
        outcome, detail = ("busy", "") if "Queue is full" in str(error) else ("unexpected error", str(error))
    except TimeoutError as error:
        outcome, detail = "hung", repr(error)
    except AppError as error:
        expected = expected_error is not None and expected_error in str(error)
        outcome, detail = ("refused as intended" if expected else "unexpected error"), str(error)
    except Exception as error:  # a lost connection, a server error page...: what the target rules out
        outcome, detail = "unexpected error", repr(error)
    else:
        ok = expected_error is None and result is not None
        outcome, detail = ("answered" if ok else "unexpected error"), str(result)[:200]
    tally.add(endpoint, outcome, time.perf_counter() - started, detail)


def connect(url: str, attempts: int = 3, login: tuple[str, str] | None = None, address: str | None = None) -> Client:
    headers = {"X-Forwarded-For": address} if address else None
    for attempt in range(attempts):
        try:
            return Client(url, verbose=False, httpx_kwargs={"timeout": HUNG_SECONDS}, auth=login, headers=headers)
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(1)


def client_loop(
    url: str,
    index: int,
    tally: Tally,
    started: threading.Barrier,
    stop: threading.Event,
    login: tuple[str, str] | None = None,
) -> None:
    try:
        client = connect(url, login=login, address=f"198.51.100.{index + 1}" if login else None)
    except Exception as error:
        tally.add("(connect)", "unexpected error", 0.0, repr(error))
        return
    finally:
        started.wait()  # the clock starts once every client is connected, or has failed to
    number = index
    while not stop.is_set():
        one_request(client, number, tally)
        number += 7  # each client walks through every endpoint and bad request, out of step with the others


HOSTILE_ADDRESS = "203.0.113.66"


def hostile_client(url: str, login: tuple[str, str], tally: Tally, stop: threading.Event) -> list[threading.Thread]:
    """One address doing three things at once, each at most ten times a second: posting slow generations it never
    reads, uploading 5 MB files, guessing the password. Outcomes are counted by HTTP status."""
    api = f"{url}gradio_api"
    headers = {"X-Forwarded-For": HOSTILE_ADDRESS}
    with httpx.Client(timeout=60) as http:
        cookies = http.post(f"{url}login", data={"username": login[0], "password": login[1]}, headers=headers).cookies
    junk = b"\x89PNG\r\n\x1a\n" + os.urandom(5 * 2**20)

    def flood(http: httpx.Client) -> int:
        body = {"prompt": "Once upon a time", "max_new_tokens": 512}
        return http.post(f"{api}/call/v2/generate", json=body).status_code

    def upload(http: httpx.Client) -> int:
        return http.post(f"{api}/upload", files={"files": ("x.png", junk)}).status_code

    def guess(http: httpx.Client) -> int:
        return http.post(f"{url}login", data={"username": login[0], "password": secrets.token_hex(4)}).status_code

    def repeat(name: str, attempt) -> None:
        with httpx.Client(timeout=60, headers=headers, cookies=cookies) as http:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    outcome = str(attempt(http))
                except httpx.HTTPError as error:
                    outcome = type(error).__name__
                tally.add(f"hostile {name}", outcome, time.perf_counter() - started)
                time.sleep(0.1)

    return [
        threading.Thread(target=repeat, args=(name, attempt), daemon=True)
        for name, attempt in [("unread generations", flood), ("5 MB uploads", upload), ("password guesses", guess)]
    ]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def run(
    clients: int, duration: float, stand_ins: str, cache_dir: Path, budget_mb: float, hostile: bool = False
) -> dict:
    login = ("teacher", secrets.token_urlsafe(12)) if hostile else None
    extra = ["--auth", ":".join(login), "--trusted-proxy", "127.0.0.1"] if login else []
    with app_server(stand_ins, cache_dir, extra=extra, name="load-test") as server:
        warm = Client(server.url, verbose=False, auth=login)
        for endpoint, fields in GOOD:  # load every model before the clock starts
            if "image" in fields:
                fields = {**fields, "image": handle_file(fields["image"])}
            warm.predict(**fields, api_name=endpoint)
        idle_mb = server.memory_mb()["rss_mb"]
        tally = Tally()
        started, stop = threading.Barrier(clients + 1), threading.Event()
        threads = [
            threading.Thread(target=client_loop, args=(server.url, index, tally, started, stop, login), daemon=True)
            for index in range(clients)
        ]
        for thread in threads:
            thread.start()
        started.wait()  # every client connected: the clock starts
        hostile_threads = hostile_client(server.url, login, tally, stop) if login else []
        for thread in hostile_threads:
            thread.start()
        began = time.monotonic()
        time.sleep(duration)
        stop.set()  # each client stops after the request it has in flight
        for thread in threads + hostile_threads:
            thread.join(HUNG_SECONDS + duration + 60)
        elapsed = time.monotonic() - began
        still_running = sum(thread.is_alive() for thread in threads)
        after = Client(server.url, verbose=False, auth=login).predict("Still up?", api_name="/sentiment")
        memory = server.memory_mb()
    hostile_counts = {
        endpoint: dict(counts) for endpoint, counts in tally.by_endpoint.items() if endpoint.startswith("hostile")
    }
    for endpoint in hostile_counts:
        del tally.by_endpoint[endpoint]
        for outcome, count in hostile_counts[endpoint].items():
            tally.outcomes[outcome] -= count
    tally.outcomes = +tally.outcomes
    total = sum(tally.outcomes.values())
    endpoints = {}
    for endpoint, counts in sorted(tally.by_endpoint.items()):
        latencies = tally.latencies[endpoint]
        endpoints[endpoint] = {
            **dict(counts),
            "p50_ms": round(1000 * percentile(latencies, 0.5)),
            "p95_ms": round(1000 * percentile(latencies, 0.95)),
        }
    every = [value for values in tally.latencies.values() for value in values]
    return {
        "clients": clients,
        "duration_s": round(elapsed, 1),
        "stand_ins": stand_ins,
        "requests": total,
        "outcomes": dict(tally.outcomes),
        "p50_ms": round(1000 * percentile(every, 0.5)),
        "p95_ms": round(1000 * percentile(every, 0.95)),
        "endpoints": endpoints,
        "idle_rss_mb": idle_mb,
        "peak_rss_mb": memory["peak_rss_mb"],
        "memory_budget_mb": budget_mb,
        "clients_still_running": still_running,
        "served_after": "Served by" in str(after),
        "unexpected": tally.unexpected,
        "hostile": hostile_counts,
        "answered_share_of_good_requests": round(
            tally.outcomes["answered"] / max(1, total - tally.outcomes["refused as intended"]), 3
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent gradio_client clients (50)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--stand-ins", choices=["tiny", "full"], default="tiny", help="models to serve (tiny)")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="where stand-ins are built")
    parser.add_argument("--memory-budget-mb", type=float, default=4096, help="peak server RSS allowed (4096)")
    parser.add_argument("--output", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--hostile", action="store_true", help="add one hostile client (see above)")
    args = parser.parse_args(argv)
    figures = run(args.clients, args.duration, args.stand_ins, args.cache_dir, args.memory_budget_mb, args.hostile)
    print(json.dumps(figures, indent=2))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures, indent=2) + "\n")
    outcomes = figures["outcomes"]
    missed = [
        *(["requests lost or failed unexpectedly"] if outcomes.get("unexpected error") else []),
        *(["requests hung"] if outcomes.get("hung") or figures["clients_still_running"] else []),
        *(["memory over budget"] if figures["peak_rss_mb"] > args.memory_budget_mb else []),
        *(["server not answering afterwards"] if not figures["served_after"] else []),
    ]
    print("targets met" if not missed else "targets missed: " + ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
