"""The pure parts of the HTTP defences (shared/web_defences.py): who the client is behind a proxy, which host names
and file contents pass, the login throttle's lockouts, the upload budget's windows and the room made for uploads.
The running app's use of them is tested in test_access.py, test_hardening.py and test_hostile_clients.py."""

from __future__ import annotations

import pytest

from gradio_defences import web_policy
from shared.settings import Settings
from shared.web_defences import (
    FIRST_LOCKOUT_SECONDS,
    FORGET_FAILURES_AFTER_SECONDS,
    FREE_LOGIN_FAILURES,
    MAX_LOCKOUT_SECONDS,
    LoginThrottle,
    UploadBudget,
    UploadFolder,
    forwarded_client,
    host_name,
    image_format,
    parse_networks,
)

PROXY = parse_networks(["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the left entries are the client's to write
        ("127.0.0.1", "203.0.113.9, 10.1.2.3", "203.0.113.9"),  # a chain of trusted proxies is skipped
        ("127.0.0.1", "", "127.0.0.1"),
        ("192.0.2.7", "203.0.113.9", "192.0.2.7"),  # an untrusted peer's header is ignored
    ],
)
def test_the_client_is_read_from_x_forwarded_for_only_behind_a_trusted_proxy(peer, forwarded_for, client):
    assert forwarded_client(peer, forwarded_for, PROXY) == client


def test_a_bad_proxy_address_is_refused():
    with pytest.raises(ValueError):
        parse_networks(["not-an-address"])


@pytest.mark.parametrize(
    ("host", "name"), [("example.org:7860", "example.org"), ("[::1]:7860", "::1"), ("LOCALHOST", "localhost")]
)
def test_host_names_lose_their_port(host, name):
    assert host_name(host) == name


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"GIF89a\x01\x00", "GIF"),
        (b"<html><script>alert(1)</script>", None),
        (b'<svg xmlns="http://www.w3.org/2000/svg">', None),
        (b"\x00\x00\x01\x00\x01\x00", None),  # ICO: Pillow decodes it before the size can be checked
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"", None),
    ],
)
def test_uploads_are_recognised_by_their_first_bytes(head, kind):
    assert image_format(head) == kind


def test_failed_logins_lock_a_client_out_for_longer_each_time():
    throttle = LoginThrottle()
    for attempt in range(FREE_LOGIN_FAILURES - 1):
        assert throttle.wait_seconds("a", attempt) == 0
        assert throttle.failed("a", attempt) == 0
    assert throttle.failed("a", 10) == FIRST_LOCKOUT_SECONDS
    assert throttle.wait_seconds("a", 10) == FIRST_LOCKOUT_SECONDS
    assert throttle.wait_seconds("b", 10) == 0  # another client is not affected
    assert throttle.failed("a", 10 + FIRST_LOCKOUT_SECONDS) == 2 * FIRST_LOCKOUT_SECONDS
    for _ in range(20):
        throttle.failed("a", 100)
    assert throttle.wait_seconds("a", 100) == MAX_LOCKOUT_SECONDS
    throttle.succeeded("a")
    assert throttle.wait_seconds("a", 100) == 0


def test_failed_logins_are_forgotten_after_a_quiet_while():
    throttle = LoginThrottle()
    for _ in range(FREE_LOGIN_FAILURES):
        throttle.failed("a", 0)
    later = FORGET_FAILURES_AFTER_SECONDS + 1
    assert throttle.wait_seconds("a", later) == 0
    assert throttle.failed("a", later) == 0


def test_the_upload_budget_refuses_until_enough_of_the_window_has_passed():
    budget = UploadBudget(max_bytes=100, max_requests=3, window=60)
    assert budget.wait_seconds("a", 60, now=0) is None
    budget.spend("a", 60, now=0)
    assert budget.wait_seconds("a", 30, now=10) is None
    budget.spend("a", 30, now=10)
    assert budget.wait_seconds("a", 20, now=20) == 40  # the first upload leaves the window at 60
    assert budget.wait_seconds("b", 20, now=20) is None
    assert budget.wait_seconds("a", 20, now=61) is None
    budget.spend("a", 1, now=61)
    budget.spend("a", 1, now=62)
    assert budget.wait_seconds("a", 1, now=63) == 7  # three requests in the window: the one at 10 must leave
    assert budget.wait_seconds("a", 1_000, now=63) == 60  # more than any window holds


def kept_uploads(folder, ages_seconds: dict[str, float], now: float, max_bytes: int = 250) -> UploadFolder:
    """An upload folder holding a 100-byte upload of each age (oldest first, as they came)."""
    uploads = UploadFolder(max_bytes=max_bytes, spare_seconds=600)
    for name, age in ages_seconds.items():
        (folder / name).write_bytes(bytes(100))
        uploads.add(folder / name, now - age)
    return uploads


def test_making_room_deletes_the_oldest_uploads_first(tmp_path):
    now = 1_000_000.0
    uploads = kept_uploads(tmp_path, {"oldest": 3 * 3600, "middle": 2 * 3600, "newest": 3600}, now)
    (tmp_path / "an answer").write_bytes(bytes(1000))  # not an upload: neither counted nor deleted
    wait, deleted = uploads.make_room(100, now)
    assert wait == 0 and [path.name for path in deleted] == ["oldest", "middle"]
    assert (tmp_path / "newest").exists() and (tmp_path / "an answer").exists()


def test_making_room_spares_recent_uploads_and_says_how_long_to_wait(tmp_path):
    """An upload whose job may still be waiting in the queue is never deleted to make room for somebody else's:
    the new upload waits until the oldest recent one comes of age."""
    now = 1_000_000.0
    uploads = kept_uploads(tmp_path, {"old": 3600, "waiting": 100, "just now": 10}, now)
    wait, deleted = uploads.make_room(100, now)
    assert [path.name for path in deleted] == ["old"] and wait == 500
    assert (tmp_path / "waiting").exists() and (tmp_path / "just now").exists()
    assert uploads.make_room(50, now) == (0.0, [])
    (tmp_path / "waiting").unlink()  # Gradio aged it out: it no longer counts
    assert uploads.make_room(100, now) == (0.0, [])


def test_a_share_link_trusts_its_own_tunnel_to_name_each_visitor():
    """Gradio's share tunnel connects from this machine and names the visitor in X-Forwarded-For."""
    assert {"127.0.0.1", "::1"} <= set(web_policy(Settings(share=True)).trusted_proxies)
    assert web_policy(Settings()).trusted_proxies == ()
