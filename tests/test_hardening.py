"""What a stranger with the link finds over plain HTTP, against the running app (no proxy trusted): security headers
on every answer, uploaded files never run as pages, uploads only of photos and tables and never from another site's
page, host
names the app does not serve refused and never written into its pages, and the app's files in a private folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest
from PIL import Image

from demos import segment

HTML = b"<html><body><script>document.title='owned'</script></body></html>"


def upload(app_url: str, name: str, content: bytes, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{app_url}gradio_api/upload", files={"files": (name, content)}, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def photo_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    with Image.open(segment.EXAMPLE_PHOTOS[1]) as photo:
        photo.convert("RGB").resize((64, 48)).save(path)
    return path.read_bytes()


@pytest.mark.parametrize("route", ["", "config", "gradio_api/info", "gradio_api/upload", "nowhere"])
def test_every_answer_carries_the_security_headers(app_url, route):
    response = httpx.get(app_url + route, timeout=30)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["content-security-policy"] == "frame-ancestors 'self'"


def test_an_uploaded_file_is_served_as_an_inert_image(app_url, photo_bytes):
    response = upload(app_url, "photo.png", photo_bytes)
    assert response.status_code == 200, response.text
    (path,) = response.json()
    served = httpx.get(f"{app_url}gradio_api/file={path}", timeout=30)
    assert served.status_code == 200 and served.content == photo_bytes
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.png", HTML),
        ("page.html", HTML),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("icon.ico", b"\x00\x00\x01\x00\x01\x00" + bytes(64)),
        ("noise.png", os.urandom(4096)),
        ("sheet.xlsx", b"PK\x03\x04" + bytes(64)),
    ],
)
def test_uploads_that_are_not_images_are_refused_and_not_kept(app_url, name, content):
    folder = Path(os.environ["GRADIO_TEMP_DIR"])
    before = {path for path in folder.rglob("*") if path.is_file()}
    response = upload(app_url, name, content)
    assert response.status_code == 415 and "not one this app reads" in response.text
    after = {path for path in folder.rglob("*") if path.is_file()}
    assert not {path for path in after - before if path.name == name}


def test_a_table_is_kept_and_served_as_an_inert_download(app_url):
    response = upload(app_url, "page.csv", HTML)
    assert response.status_code == 200, response.text
    (path,) = response.json()
    served = httpx.get(f"{app_url}gradio_api/file={path}", timeout=30)
    assert (
        served.headers["x-content-type-options"] == "nosniff" and "sandbox" in served.headers["content-security-policy"]
    )
    assert not served.headers["content-type"].startswith("text/html")


def test_a_cross_origin_form_post_is_refused(app_url, photo_bytes):
    response = upload(app_url, "photo.png", photo_bytes, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "other sites" in response.text
    for origin in ["null", "http://127.0.0.1.evil.example"]:
        assert upload(app_url, "photo.png", photo_bytes, headers={"Origin": origin}).status_code == 403
    queued = httpx.post(
        f"{app_url}gradio_api/call/sentiment",
        json={"data": ["I loved it.", None]},
        headers={"Origin": "https://evil.example"},
        timeout=30,
    )
    assert queued.status_code == 403
    # The app's own page may post, and so may scripts (which send no Origin).
    own = app_url.rstrip("/")
    assert upload(app_url, "photo.png", photo_bytes, headers={"Origin": own}).status_code == 200


def test_a_host_name_the_app_does_not_serve_is_refused(app_url):
    response = httpx.get(app_url, headers={"Host": "evil.example"}, timeout=30)
    assert response.status_code == 421 and "--allowed-host" in response.text
    assert httpx.get(app_url, headers={"Host": "localhost"}, timeout=30).status_code == 200


def test_forwarded_headers_from_an_untrusted_peer_are_not_reflected(app_url):
    forged = {
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Gradio-Server": "http://evil.example",
    }
    page = httpx.get(app_url, headers=forged, timeout=30)
    assert page.status_code == 200
    assert "evil.example" not in page.text
    info = httpx.get(f"{app_url}gradio_api/info", headers=forged, timeout=30)
    assert "evil.example" not in info.text


def test_the_app_keeps_its_files_in_a_private_folder(app_url, photo_bytes):
    folder = Path(os.environ["GRADIO_TEMP_DIR"])
    assert folder.name.startswith("transformers-demo-suite-") and folder != Path("/tmp/gradio")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (path,) = upload(app_url, "photo.png", photo_bytes).json()
    assert Path(path).is_relative_to(folder)
