"""Timing helpers: interleaved medians, time to first streamed update, and throughput under concurrent clients."""

from __future__ import annotations

import copy
import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client


def seconds_of(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


MIN_REPEATS = 3


def interleaved(
    calls: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1, budget_s: float | None = None
) -> dict[str, list[float]]:
    """Time each call `repeats` times, taking turns (a, b, a, b, ...), so a burst of load from elsewhere on the
    machine falls on every side alike; `warmup` untimed rounds first. Past `budget_s` seconds it stops early (after
    at least MIN_REPEATS rounds), so a loaded machine cannot stretch the run without bound; the rows say how many."""
    started = time.perf_counter()
    for _ in range(warmup):
        for fn in calls.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for round_number in range(repeats):
        over_budget = budget_s is not None and time.perf_counter() - started > budget_s
        if over_budget and round_number >= min(MIN_REPEATS, repeats):
            break
        for name, fn in calls.items():
            times[name].append(seconds_of(fn))
    return times


def ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def streamed(client: Client, args: tuple, kwargs: dict) -> dict[str, float]:
    """Submit a streaming request: seconds to the first update with text, to the last, and how many updates."""
    started = time.perf_counter()
    first = None
    updates = 0
    job = client.submit(*args, **kwargs)
    for update in job:
        updates += 1
        if first is None and update and update[0]:
            first = time.perf_counter() - started
    job.result()
    total = time.perf_counter() - started
    return {"first_update_s": first if first is not None else total, "total_s": total, "updates": updates}


def client_pool(url: str, size: int) -> list[QueueClient]:
    """`size` browser-protocol clients of one server, each with its own connection and session, as `size` open
    browser tabs would be. (gradio_client costs the load generator, which shares the server's two cores, several
    times the CPU per request; that would cap the server's measured throughput, ours and the peer's alike.)"""
    first = QueueClient(url)
    return [first, *(first.another() for _ in range(size - 1))]


MEASURE_LIMIT_S = 60.0


def throughput(
    pool: list,
    request: tuple[tuple, dict] | Callable[[], tuple[tuple, dict]],
    clients: int,
    seconds: float,
    answers_per_client: int = 3,
) -> dict[str, float]:
    """Requests per second in steady state, with `clients` threads, each with its own client from `pool`, sending
    back to back. The count starts once every client has had an answer (before that, requests arrive together and
    a batching server is not yet in its rhythm), and runs for at least `seconds` and `answers_per_client` answers
    per client (at most MEASURE_LIMIT_S): the answers after the first one counted, over the time from it to the
    last. Requests under way at the end are waited for (not counted), so the next measurement starts on an idle
    server. `request` is the request, or a function that makes a new one each time (numbered, say); a pool holds
    anything with `request(*args, api_name=..., **kwargs)`: QueueClient, RestClient, GradioClient."""
    make_request = request if callable(request) else lambda: request
    connections = pool[:clients]
    answered: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = threading.Event()
    start = threading.Barrier(clients + 1)

    def work(index: int) -> None:
        start.wait()
        while not stop.is_set():
            args, kwargs = make_request()
            try:
                connections[index].request(*args, **kwargs)
                answered[index].append(time.perf_counter())
            except Exception:
                errors[index] += 1

    threads = [threading.Thread(target=work, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    start.wait()
    while not all(answered) and time.perf_counter() - began < MEASURE_LIMIT_S and not any(errors):
        time.sleep(0.01)
    warm = time.perf_counter()
    wanted = answers_per_client * clients

    def counted(until: float = float("inf")) -> list[float]:
        return sorted(moment for moments in answered for moment in moments if warm <= moment <= until)

    while time.perf_counter() - warm < MEASURE_LIMIT_S and (
        time.perf_counter() - warm < seconds or len(counted()) < wanted + 1
    ):
        time.sleep(0.01)
    stop.set()
    stopped = time.perf_counter()
    for thread in threads:
        thread.join(300)
    moments = counted(until=stopped)
    window = moments[-1] - moments[0] if len(moments) > 1 else 0.0
    return {
        "clients": clients,
        "requests_per_s": round((len(moments) - 1) / window, 3) if window > 0 else 0.0,
        "completed": len(moments),
        "errors": sum(errors),
        "seconds": round(window, 2),
        "warm_up_s": round(warm - began, 2),
    }


def is_file(value: Any) -> bool:
    return isinstance(value, dict) and value.get("meta", {}).get("_type") == "gradio.FileData"


def queue_message(line: str, event_id: str) -> dict | None:
    """The message for `event_id` in one line of Gradio's `queue/data` event stream, or None (another event's, or
    not a data line)."""
    if not line.startswith("data:"):
        return None
    message = json.loads(line[5:])
    return message if message.get("event_id") == event_id else None


class QueueClient:
    """Gradio's queue protocol spoken as the browser does (POST queue/join, then read queue/data's server-sent
    events as they arrive), on one kept-alive connection. gradio_client checks for new messages every 50 ms
    (`time.sleep(0.05)` in `get_pred_from_sse_v1plus`), which adds up to 50 ms per answer that a browser never sees;
    this client measures what the server adds. A file input (`gradio_client.handle_file`) is uploaded first, as the
    browser uploads a photo; one request at a time."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") + "/gradio_api/"
        self.http = httpx.Client(timeout=httpx.Timeout(300.0))
        # One session for all requests, as a browser tab has: Gradio builds a session's state (a config entry per
        # component) on its first request only.
        self.session = uuid.uuid4().hex
        config = self.http.get(url.rstrip("/") + "/config").json()
        self.fn_index = {dep["api_name"]: dep["id"] for dep in config["dependencies"] if dep.get("api_name")}
        api = Client(url, verbose=False)
        self.parameters = {
            name.lstrip("/"): info["parameters"]
            for name, info in api.view_api(print_info=False, return_format="dict")["named_endpoints"].items()
        }
        api.close()

    def another(self) -> QueueClient:
        """A client of the same server with its own connection and session, without fetching the config again."""
        clone = copy.copy(self)
        clone.http = httpx.Client(timeout=httpx.Timeout(300.0))
        clone.session = uuid.uuid4().hex
        return clone

    def data(self, api_name: str, args: tuple, kwargs: dict) -> list:
        """Positional and keyword arguments laid out as the endpoint's inputs, defaults for the rest."""
        values = []
        for index, parameter in enumerate(self.parameters[api_name]):
            if index < len(args):
                values.append(args[index])
            elif parameter["parameter_name"] in kwargs:
                values.append(kwargs[parameter["parameter_name"]])
            else:
                values.append(parameter.get("parameter_default"))
        return values

    def upload(self, file: dict) -> dict:
        """Upload a `handle_file` value as the browser does (POST upload) and return the input value naming it."""
        path = Path(file["path"])
        response = self.http.post(self.url + "upload", files=[("files", (path.name, path.read_bytes()))])
        response.raise_for_status()
        return {"path": response.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    def fetch_files(self, value: Any) -> int:
        """GET every file a displayed output names (a browser loads each image it shows); return how many."""
        if isinstance(value, dict):
            if isinstance(value.get("url"), str):
                self.http.get(value["url"]).raise_for_status()
                return 1 + sum(self.fetch_files(item) for key, item in value.items() if key != "url")
            return sum(self.fetch_files(item) for item in value.values())
        if isinstance(value, list):
            return sum(self.fetch_files(item) for item in value)
        return 0

    def request(self, *args: Any, api_name: str, shown: Sequence[int] = (), **kwargs: Any) -> dict[str, Any]:
        """Send one request; return seconds to the first update with output and to the end, and the final data.
        File inputs are uploaded first; the files of the outputs at positions `shown` are fetched at the end, as
        a browser fetches the images it shows (not the files behind download buttons, fetched when clicked)."""
        api_name = api_name.lstrip("/")
        session = self.session
        started = time.perf_counter()
        args = tuple(self.upload(arg) if is_file(arg) else arg for arg in args)
        joined = self.http.post(
            self.url + "queue/join",
            json={
                "data": self.data(api_name, args, kwargs),
                "fn_index": self.fn_index[api_name],
                "session_hash": session,
                "event_data": None,
                "trigger_id": None,
            },
        )
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        first, updates = None, 0
        with self.http.stream("GET", self.url + "queue/data", params={"session_hash": session}) as response:
            for line in response.iter_lines():
                message = queue_message(line, event_id)
                if message is None:
                    continue
                if message["msg"] == "process_generating":
                    updates += 1
                    first = first or time.perf_counter() - started
                if message["msg"] == "process_completed":
                    answered = time.perf_counter() - started
                    if not message.get("success"):
                        raise RuntimeError(f"{api_name} failed: {message.get('output')}")
                    data = message["output"]["data"]
                    files = sum(self.fetch_files(data[index]) for index in shown)
                    total = time.perf_counter() - started
                    return {
                        "first_update_s": first or answered,
                        "total_s": total,
                        "updates": updates,
                        "data": data,
                        "files_fetched": files,
                    }
        raise RuntimeError(f"{api_name}: the event stream ended before the answer")

    def close(self) -> None:
        self.http.close()


class RestClient:
    """What curl users and the page's "Use via API" send: POST /gradio_api/call/<api> (each call a new Gradio
    session), then GET the call's event stream until `event: complete`. Inputs are laid out as `layout` (a
    QueueClient of the same server) lays them out; one kept-alive connection."""

    def __init__(self, layout: QueueClient) -> None:
        self.layout = layout
        self.http = httpx.Client(timeout=httpx.Timeout(300.0))

    def request(self, *args: Any, api_name: str, **kwargs: Any) -> dict[str, Any]:
        api_name = api_name.lstrip("/")
        started = time.perf_counter()
        posted = self.http.post(
            f"{self.layout.url}call/{api_name}", json={"data": self.layout.data(api_name, args, kwargs)}
        )
        posted.raise_for_status()
        answer = self.http.get(f"{self.layout.url}call/{api_name}/{posted.json()['event_id']}")
        lines = answer.text.splitlines()
        if "event: complete" not in lines:
            raise RuntimeError(f"/{api_name} did not complete: {lines[-3:]}")
        data = json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))
        return {"total_s": time.perf_counter() - started, "data": data}

    def close(self) -> None:
        self.http.close()


class GradioClient:
    """gradio_client's `Client.predict`, as a Python user calls the app (its own session; it polls for messages
    every 50 ms)."""

    def __init__(self, url: str) -> None:
        self.client = Client(url, verbose=False)

    def request(self, *args: Any, api_name: str, **kwargs: Any) -> dict[str, Any]:
        started = time.perf_counter()
        data = self.client.predict(*args, api_name=api_name, **kwargs)
        return {"total_s": time.perf_counter() - started, "data": data}

    def close(self) -> None:
        self.client.close()
