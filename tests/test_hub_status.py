"""shared/hub_status: the start-up check of the Hub and of the models on this disk, against local sockets only."""

from __future__ import annotations

import socket

import pytest
from huggingface_hub import constants

from app import offline_notice
from shared.hub_status import HubStatus, check_hub, hub_reachable, on_disk
from tests.helpers import free_port


@pytest.fixture
def online_mode(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_the_hub_counts_as_reachable_when_its_port_accepts_a_connection(online_mode):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert hub_reachable(f"http://127.0.0.1:{server.getsockname()[1]}")
    assert not hub_reachable(f"http://127.0.0.1:{free_port()}")


def test_offline_mode_is_unreachable_without_trying(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(socket, "create_connection", pytest.fail)
    assert not hub_reachable()


def test_local_directories_and_bundled_copies_are_on_disk_and_unknown_ids_are_not(tmp_path):
    assert on_disk(str(tmp_path))
    assert on_disk("sentence-transformers/all-MiniLM-L6-v2")  # installed with the requirements
    assert not on_disk("nobody/not-on-this-disk")


def test_offline_gaps_name_only_the_tasks_that_cannot_run():
    defaults = [("sentiment", "nobody/missing"), ("attention", "sentence-transformers/all-MiniLM-L6-v2")]
    status = check_hub(defaults, reachable=False)
    assert status.offline_gaps == {"sentiment": ["nobody/missing"]}
    assert "**Sentiment** (`nobody/missing`)" in offline_notice(status)
    assert offline_notice(HubStatus(reachable=True, missing={"sentiment": ["nobody/missing"]})) is None
