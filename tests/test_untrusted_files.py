"""No string from a request reaches the file system or the network: `/segment` takes uploaded image data only.
A URL sent as the image is refused without being fetched; a server path sent as the image is refused without being
read, even when it points at a readable photo."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gradio import processing_utils
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from demos import segment
from shared.limits import MAX_UPLOAD_MB
from tests.helpers import final_event


@pytest.fixture
def fetches(monkeypatch) -> list[str]:
    """Every URL the server tries to download while the test runs (the app runs in this process)."""
    seen: list[str] = []

    async def record(url: str, *args, **kwargs):
        seen.append(url)
        raise AssertionError(f"the server tried to fetch {url}")

    monkeypatch.setattr(processing_utils, "async_ssrf_protected_download", record)
    monkeypatch.setattr(processing_utils, "async_ssrf_protected_get", record)
    return seen


def raw_call(app_url: str, api_name: str, data: list) -> tuple[str, object]:
    """Post `data` as is to Gradio's REST route (no client-side upload) and return the final SSE event and data."""
    with httpx.Client(base_url=f"{app_url}gradio_api", timeout=60) as http:
        event_id = http.post(f"/call/{api_name}", json={"data": data}).json()["event_id"]
        with http.stream("GET", f"/call/{api_name}/{event_id}") as stream:
            return final_event(stream.iter_lines())


@pytest.mark.parametrize("url", ["http://example.invalid/x.png", "https://huggingface.co/x.png"])
def test_an_image_url_is_refused_and_never_fetched(client, fetches, url):
    with pytest.raises(AppError, match="never fetches URLs or paths"):
        client.predict(handle_file(url), api_name="/segment")
    assert fetches == []


def test_a_url_posted_raw_is_refused_and_never_fetched(app_url, fetches):
    image = {
        "path": "http://example.invalid/x.png",
        "url": "http://example.invalid/x.png",
        "meta": {"_type": "gradio.FileData"},
    }
    event, message = raw_call(app_url, "segment", [image, 0.85, 0.8, None])
    assert event == "error" and "never fetches URLs or paths" in str(message)
    assert fetches == []


@pytest.mark.parametrize("meta", [{"_type": "gradio.FileData"}, None], ids=["file-data", "bare-dict"])
def test_a_server_path_is_refused_and_never_read(app_url, client, tmp_path, meta):
    # A readable photo outside Gradio's upload folder: had the server opened it, the request would succeed.
    photo = tmp_path / "photo.png"
    Image.open(segment.EXAMPLE_PHOTOS[1]).save(photo)
    for path in ["/etc/passwd", str(photo)]:
        image = {"path": path, **({"meta": meta} if meta else {})}
        event, message = raw_call(app_url, "segment", [image, 0.85, 0.8, None])
        assert event == "error", f"{path} was accepted: {message}"
        if meta is None:  # Gradio moves only payloads marked as files; the app refuses the rest itself
            assert "never fetches URLs or paths" in message["error"]
    # The server still serves an uploaded photo.
    result = client.predict(handle_file(str(photo)), 0.85, 0.8, api_name="/segment")
    assert any("Served by" in value for value in result if isinstance(value, str))


def test_an_upload_over_the_size_limit_is_refused(app_url, client, tmp_path):
    big = tmp_path / "big.png"
    with Image.open(segment.EXAMPLE_PHOTOS[1]) as photo:
        photo.save(big)
    with big.open("ab") as file:
        file.write(bytes(MAX_UPLOAD_MB * 2**20))  # trailing bytes: still a readable PNG, but over the limit
    # gradio_client reads the limit from the app and refuses before sending...
    with pytest.raises(ValueError, match=f"exceeds the maximum file size of {MAX_UPLOAD_MB * 2**20} bytes"):
        client.predict(handle_file(str(big)), 0.85, 0.8, api_name="/segment")
    # ...and the server refuses it from any other sender.
    with big.open("rb") as file:
        response = httpx.post(f"{app_url}gradio_api/upload", files={"files": file}, timeout=60)
    assert response.status_code == 413 and f"maximum allowed size of {MAX_UPLOAD_MB * 2**20} bytes" in response.text


def test_gradio_serves_no_file_the_app_did_not_create(app_url, runtime):
    stand_ins = runtime.settings.stand_in_root
    weights = next(path for path in stand_ins.rglob("*.safetensors")) if stand_ins.exists() else stand_ins
    with httpx.Client(base_url=f"{app_url}gradio_api", timeout=30) as http:
        for path in ["/etc/passwd", str(Path("app.py").resolve()), str(weights), "../../../../etc/passwd"]:
            response = http.get(f"/file={path}")
            assert response.status_code in {403, 404}, f"{path} was served"
