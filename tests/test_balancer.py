"""Two fronts behind the checked-in nginx balancer (deploy/nginx/demo-suite.conf): each gradio_client session stays
on one front, its queued requests are answered there, and different sessions spread over both fronts."""

from __future__ import annotations

import re

import pytest
from gradio_client import Client

from tests.balancer import two_fronts_behind_nginx

MAX_SESSIONS = 30  # sessions tried before concluding that they do not spread (each front gets about half)


@pytest.fixture(scope="module")
def balanced(cache_dir, tmp_path_factory):
    with two_fronts_behind_nginx(cache_dir, tmp_path_factory.mktemp("nginx")) as (url, runtimes):
        yield url, runtimes


def front_of(client: Client) -> str:
    summary, _models = client.predict(api_name="/system")
    match = re.search(r"\*\*Front:\*\* `[^:`]+:(\d+) ", summary)
    assert match, summary
    return match.group(1)


def sentiment_hits(client: Client) -> int:
    _summary, models = client.predict(api_name="/system")
    return sum(int(row[6]) for row in models["data"] if row[0] == "sentiment")


def test_a_session_stays_on_one_front_and_sessions_spread_over_both(balanced):
    url, runtimes = balanced
    ports = {address.rsplit(":", 1)[1] for address in runtimes}
    seen = set()
    for _ in range(MAX_SESSIONS):
        client = Client(url, verbose=False)
        assert "demo_front" in client.cookies, "the balancer sets its affinity cookie on the first response"
        front = front_of(client)
        hits = sentiment_hits(client)
        label, table, status = client.predict("Great film.\nAwful plot.", None, api_name="/sentiment")
        assert len(table["data"]) == 2 and "Served by" in status
        # The queued request (its join and its data stream) ran on the same front the session's other calls reach.
        assert front_of(client) == front and sentiment_hits(client) == hits + 1
        seen.add(front)
        client.close()
        if seen == ports:
            break
    assert seen == ports, f"{MAX_SESSIONS} sessions all went to {seen}"
