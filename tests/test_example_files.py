"""The examples' files stay in Gradio's cache as long as the app runs. Gradio copies them there when the app is
built and hands the browser their paths; its hourly `delete_cache` sweep, the close of another app in the same
process, and the upload folder's budget (a visitor may upload the very same bytes: Gradio stores both in one file,
named by the contents' hash) must not delete them, or clicking an example answers a bare "Error"."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from gradio.route_utils import delete_files_created_by_app
from gradio_client import Client, handle_file

from demos import evaluate
from shared.errors import UserError
from shared.labelled_data import read_table
from shared.runtime import Runtime
from shared.web_defences import WebDefences, WebPolicy
from tests.helpers import asgi_call, served, stand_in_settings
from tests.test_untrusted_files import raw_call

REVIEWS = evaluate.EXAMPLES_DIR / "reviews.csv"


def example_files(app) -> dict[str, str]:
    """The files Gradio copied into its cache while the app was built (its examples' files), {name: path}: what a
    click on an example hands the browser to send back."""
    return {Path(file).name: file for block in app.blocks.values() for file in getattr(block, "temp_files", ())}


@pytest.fixture(scope="module")
def swept_app(cache_dir):
    """An app whose examples went through what an hour of serving does to Gradio's cache: another app in the same
    process was closed, a visitor uploaded the bytes of an example, and the hourly sweep ran."""
    with served(Runtime(stand_in_settings(cache_dir, upload_folder_mb=1))) as (url, app):
        files = example_files(app)
        with served(Runtime(stand_in_settings(cache_dir))):
            pass
        Client(url, verbose=False).predict(
            handle_file(str(REVIEWS)), "text", "label", "POSITIVE=pos, NEGATIVE=neg", None, api_name="/evaluate"
        )
        delete_files_created_by_app(app, age=0)  # the sweep, once the files are older than its age
        yield url, files


def test_every_example_file_is_still_served(swept_app):
    url, files = swept_app
    assert {"reviews.csv", "resenas.tsv", "coffee.jpg"} <= set(files), sorted(files)
    for name, path in files.items():
        answer = httpx.get(f"{url}gradio_api/file={path}", timeout=30)
        assert answer.status_code == 200, f"{name}: HTTP {answer.status_code}"


def test_the_evaluate_example_answers_as_the_browser_sends_it(swept_app):
    url, files = swept_app
    example = {"path": files["reviews.csv"], "orig_name": "reviews.csv", "meta": {"_type": "gradio.FileData"}}
    event, data = raw_call(url, "evaluate", [example, "text", "label", "POSITIVE=pos, NEGATIVE=neg", None])
    assert event == "complete", data
    assert data[0].startswith("**Accuracy: ")


def test_an_upload_of_an_examples_bytes_is_not_the_uploads_to_delete(tmp_path):
    """The upload lands on the example's own file: the upload folder's budget must neither count nor delete it."""
    example, upload = tmp_path / "example" / "reviews.csv", tmp_path / "upload" / "photo.png"
    for path in (example, upload):
        path.parent.mkdir()
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))

    async def gradio_upload(scope, receive, send):  # Gradio's answer: the stored paths
        body = json.dumps([str(example), str(upload)]).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    defences = WebDefences(gradio_upload, WebPolicy(), upload_folder=lambda: tmp_path, app_files=lambda: [str(example)])
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/gradio_api/upload",
        "headers": [(b"content-length", b"108"), (b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
    }
    assert asgi_call(defences, scope)[0]["status"] == 200
    assert list(defences.kept_uploads.kept) == [upload.resolve()]


def test_a_table_gone_from_the_server_is_a_clear_message(tmp_path):
    with pytest.raises(UserError, match=r"^reviews.csv is no longer on the server .* Upload it again\.$"):
        read_table(tmp_path / "gone.csv", "reviews.csv", max_bytes=1000, max_rows=10)
