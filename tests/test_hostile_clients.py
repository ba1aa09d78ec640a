"""One hostile client among honest ones, against an app that trusts loopback as its proxy so that each test client can
pose as its own address with X-Forwarded-For: unread jobs are dropped, one client holds only a few places in the
queue, a flood of one endpoint leaves the others answering, uploads stay within a per-client budget, and framing is
allowed to the sites the operator names; a flood of uploads never deletes an honest visitor's upload before it is
used. Loopback only, bounded in count and time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from gradio_defences import UNREAD_MESSAGE
from shared.batching import CONCURRENT_REQUESTS
from shared.limits import DEFAULT_MAX_QUEUED_PER_CLIENT, MAX_RETRY_AFTER_SECONDS, UNREAD_JOB_GRACE_SECONDS
from shared.queue_bounds import queue_places
from shared.runtime import Runtime
from tests.helpers import final_event, served, stand_in_settings

PHOTO = Path(__file__).resolve().parent.parent / "demos" / "examples" / "coffee.jpg"

COURSE = "https://course.example.org"
SLOW_GENERATION = {"prompt": "Once upon a time", "max_new_tokens": 512}
QUEUE_WAIT_SECONDS = 1.0  # a short target wait: the generation queue holds a few places only


@pytest.fixture(scope="module")
def proxied_url(cache_dir):
    settings = stand_in_settings(
        cache_dir,
        trusted_proxies=("127.0.0.1",),
        frame_ancestors=(COURSE,),
        upload_mb_per_client=1,
        queue_wait_seconds=QUEUE_WAIT_SECONDS,
    )
    with served(Runtime(settings)) as (url, _):
        yield f"{url}gradio_api"


def posing_as(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def post(base: str, api_name: str, address: str, **kwargs) -> httpx.Response:
    """A job posted to the REST route (`/call/v2` takes the parameters by name), its result not read."""
    return httpx.post(f"{base}/call/v2/{api_name}", json=kwargs, headers=posing_as(address), timeout=30)


def read(base: str, api_name: str, event_id: str, address: str, timeout: float = 60) -> tuple[str | None, object]:
    """The final event of a job's stream ("complete" or "error") and its data."""
    with httpx.stream(
        "GET", f"{base}/call/{api_name}/{event_id}", headers=posing_as(address), timeout=timeout
    ) as stream:
        return final_event(stream.iter_lines())


def all_at_once(send: Callable[[int], httpx.Response], count: int) -> list[httpx.Response]:
    """`count` requests sent together, so that all arrive within the grace an unread job gets (sent one after the
    other on a busy machine, the first were dropped before the last came)."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, range(count)))


def answered(base: str, api_name: str, address: str, **kwargs) -> bool:
    response = post(base, api_name, address, **kwargs)
    if response.status_code != 200:
        return False
    event, _ = read(base, api_name, response.json()["event_id"], address)
    return event == "complete"


def test_a_job_nobody_reads_is_dropped_and_a_late_reader_is_told_why(proxied_url):
    response = post(proxied_url, "sentiment", "203.0.113.1", text="I loved it.")
    assert response.status_code == 200
    time.sleep(UNREAD_JOB_GRACE_SECONDS + 2)
    event, payload = read(proxied_url, "sentiment", response.json()["event_id"], "203.0.113.1", timeout=30)
    assert event == "error" and UNREAD_MESSAGE in str(payload)
    # A reader that comes at once is served.
    assert answered(proxied_url, "sentiment", "203.0.113.1", text="I loved it.")


def test_one_client_holds_only_a_few_places_and_gets_them_back_when_its_jobs_are_dropped(proxied_url):
    hostile = "203.0.113.2"
    responses = all_at_once(lambda _: post(proxied_url, "generate", hostile, **SLOW_GENERATION), 9)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * DEFAULT_MAX_QUEUED_PER_CLIENT + [429] * (9 - DEFAULT_MAX_QUEUED_PER_CLIENT)
    refusal = next(response for response in responses if response.status_code == 429)
    assert "waiting or running" in refusal.text and int(refusal.headers["Retry-After"]) > 0
    # Another client, and other endpoints, are served meanwhile.
    assert answered(proxied_url, "sentiment", "198.51.100.2", text="A fine day.")
    deadline = time.monotonic() + UNREAD_JOB_GRACE_SECONDS * 3
    while post(proxied_url, "system", hostile).status_code != 200:
        assert time.monotonic() < deadline, "the unread jobs kept their places"
        time.sleep(0.5)


def test_a_flood_of_unread_jobs_from_many_addresses_leaves_honest_clients_answered(proxied_url):
    """Twelve hostile addresses keep posting slow generations they never read (four threads, at most 200 posts)
    while an honest client classifies six texts: the generation queue stops at its share, the honest client is
    answered."""
    refused: list[int] = []
    accepted: list[str] = []
    stop = threading.Event()

    def flood(thread: int) -> None:
        for count in range(50):
            if stop.is_set():
                return
            response = post(proxied_url, "generate", f"203.0.113.{100 + (thread * 50 + count) % 12}", **SLOW_GENERATION)
            (accepted if response.status_code == 200 else refused).append(response.status_code)

    flooders = [threading.Thread(target=flood, args=(thread,)) for thread in range(4)]
    for flooder in flooders:
        flooder.start()
    honest = []
    try:
        time.sleep(1.0)  # let the flood fill what it can
        for turn in range(6):
            api_name, fields = (
                ("sentiment", {"text": "A fine day."})
                if turn % 2
                else ("zero_shot", {"text": "The striker scored.", "candidate_labels": "sports, politics"})
            )
            honest.append(answered(proxied_url, api_name, "198.51.100.7", **fields))
    finally:
        stop.set()
        for flooder in flooders:
            flooder.join(timeout=60)
    assert sum(honest) >= 5, (
        f"honest answered {sum(honest)} of {len(honest)} while the flood had {len(accepted)} accepted"
    )
    assert set(refused) <= {429, 503}


def test_the_generation_queue_takes_at_most_its_share_and_says_when_to_come_back(proxied_url):
    # No generation has been answered in this app (every one so far went unread): its service time is the prior's.
    held = CONCURRENT_REQUESTS + queue_places(None, CONCURRENT_REQUESTS, QUEUE_WAIT_SECONDS)
    started = time.monotonic()
    statuses = all_at_once(lambda n: post(proxied_url, "generate", f"203.0.113.{30 + n}", **SLOW_GENERATION), held + 12)
    posting = time.monotonic() - started
    refused = [response for response in statuses if response.status_code == 503]
    assert refused, f"no 503 among {[response.status_code for response in statuses]} posted in {posting:.1f} s"
    assert "/generate has" in refused[0].text and "requests waiting" in refused[0].text
    seconds = int(refused[0].headers["Retry-After"])
    assert 1 <= seconds <= MAX_RETRY_AFTER_SECONDS and f"try again in about {seconds} s" in refused[0].text
    assert answered(proxied_url, "sentiment", "198.51.100.9", text="Still answering.")


def test_uploads_stay_within_a_per_client_budget(proxied_url):
    picture = b"\x89PNG\r\n\x1a\n" + bytes(400 * 1024)  # the signature is what the upload check reads

    def upload(address: str) -> httpx.Response:
        files = {"files": ("p.png", picture)}
        return httpx.post(f"{proxied_url}/upload", files=files, headers=posing_as(address), timeout=30)

    assert [upload("203.0.113.60").status_code for _ in range(2)] == [200, 200]
    refused = upload("203.0.113.60")
    assert refused.status_code == 429 and "Upload budget spent" in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert upload("198.51.100.60").status_code == 200


def test_one_session_holds_only_a_few_places(proxied_url):
    """From loopback (this machine, no proxy in between) clients are told apart by session: one session's joins
    past its places are refused, another session is served."""
    config = httpx.get(proxied_url.removesuffix("gradio_api") + "config", timeout=30).json()
    fn_indices = {fn.get("api_name"): fn["id"] for fn in config["dependencies"]}

    def join(session_hash: str, api_name: str = "decode_ids") -> httpx.Response:
        body = {"data": [], "fn_index": fn_indices[api_name], "session_hash": session_hash, "event_data": None}
        return httpx.post(f"{proxied_url}/queue/join", json=body, timeout=30)

    statuses = [join("one-session").status_code for _ in range(DEFAULT_MAX_QUEUED_PER_CLIENT + 2)]
    assert statuses == [200] * DEFAULT_MAX_QUEUED_PER_CLIENT + [429] * 2
    # The session's places are counted across endpoints; another session is served (on another endpoint, as
    # /decode_ids's own queue may now be as full as its measured service time allows).
    refused = join("one-session", "tokens")
    assert refused.status_code == 429 and "This session already has" in refused.text
    assert join("another-session", "tokens").status_code == 200


def test_an_upload_that_does_not_say_its_size_is_refused(proxied_url):
    def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=files; filename=p.png\r\n\r\n\x89PNG\r\n\x1a\n"
        yield b"\r\n--b--\r\n"

    headers = {"Content-Type": "multipart/form-data; boundary=b", **posing_as("203.0.113.61")}
    response = httpx.post(f"{proxied_url}/upload", content=chunks(), headers=headers, timeout=30)
    assert response.status_code == 411 and "Content-Length" in response.text


def test_framing_is_allowed_to_the_sites_the_operator_names(proxied_url):
    page = httpx.get(proxied_url.removesuffix("gradio_api"), timeout=30)
    assert page.headers["content-security-policy"] == f"frame-ancestors 'self' {COURSE}"
    assert "x-frame-options" not in page.headers
    # A page of that site embeds the app, so its posts pass; another site's do not.
    for origin, status in [(COURSE, 200), ("https://elsewhere.example.org", 403)]:
        job = httpx.post(f"{proxied_url}/call/v2/system", json={}, headers={"Origin": origin}, timeout=30)
        assert job.status_code == status


def test_a_flood_of_uploads_never_deletes_an_honest_visitors_upload_before_it_is_used(cache_dir):
    """The upload folder keeps 3 MB of uploads; an honest visitor uploads a photo, then other addresses upload 1 MB
    files past that: once the folder is full they are refused (507 with Retry-After) instead of making room by
    deleting the photo, which is then served and segmented."""
    settings = stand_in_settings(cache_dir, trusted_proxies=("127.0.0.1",), upload_folder_mb=3)
    with served(Runtime(settings)) as (url, _):
        base = f"{url}gradio_api"
        with PHOTO.open("rb") as photo:
            files = {"files": ("coffee.jpg", photo)}
            upload = httpx.post(f"{base}/upload", files=files, headers=posing_as("198.51.100.70"), timeout=30)
        assert upload.status_code == 200
        honest_path = upload.json()[0]

        def junk(n: int) -> httpx.Response:
            files = {"files": (f"junk{n}.png", b"\x89PNG\r\n\x1a\n" + bytes([n]) * 2**20)}
            return httpx.post(f"{base}/upload", files=files, headers=posing_as(f"203.0.113.{70 + n}"), timeout=30)

        statuses = [junk(n).status_code for n in range(5)]
        assert httpx.get(f"{base}/file={honest_path}", timeout=30).content == PHOTO.read_bytes()
        assert statuses == [200, 200, 507, 507, 507], statuses
        refused = junk(9)
        assert "folder for uploads is full" in refused.text and int(refused.headers["Retry-After"]) > 500
        image = {"path": honest_path, "meta": {"_type": "gradio.FileData"}}
        response = post(base, "segment", "198.51.100.70", image=image)
        assert read(base, "segment", response.json()["event_id"], "198.51.100.70")[0] == "complete"
