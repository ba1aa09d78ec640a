"""Access: with --auth (or DEMO_AUTH, or --auth-file) the page and the API refuse anyone without a login; --share
without auth warns; visitors can only pick allowlisted models."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gradio_client import Client

import app as app_module
from shared.runtime import Runtime
from shared.settings import Settings
from tests.helpers import served, stand_in_settings

LOGIN = ("ada", "correct horse battery staple")


@pytest.fixture(scope="module")
def local_model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("private-model-folder-x7q")


@pytest.fixture(scope="module")
def protected_url(cache_dir, local_model_dir):
    """A second app, with a login and the MCP server, sharing the session's stand-ins; a local model directory on the
    fill-mask allowlist, and loopback trusted as a proxy so that tests can pose as other clients (X-Forwarded-For)."""
    settings = stand_in_settings(
        cache_dir,
        auth=(LOGIN,),
        model_overrides={"fill_mask": str(local_model_dir)},
        trusted_proxies=("127.0.0.1",),
        mcp=True,
    )
    with served(Runtime(settings)) as (url, _):
        yield url


def test_the_api_refuses_a_client_without_a_login(protected_url):
    with pytest.raises(Exception, match="(?i)login|auth|401|credentials"):
        Client(protected_url, verbose=False)


def test_the_api_refuses_a_wrong_password(protected_url):
    with pytest.raises(Exception, match="(?i)login|auth|401|credentials"):
        Client(protected_url, auth=("ada", "wrong"), verbose=False)


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("GET", "/config"),
        ("GET", "/gradio_api/info"),
        ("POST", "/gradio_api/call/sentiment"),
        ("POST", "/gradio_api/run/sentiment"),
        ("POST", "/gradio_api/queue/join"),
        ("POST", "/gradio_api/upload"),
        ("GET", "/gradio_api/file=/etc/passwd"),
    ],
)
def test_raw_routes_refuse_requests_without_a_login(protected_url, method, route):
    body = {"data": ["I loved it.", None], "fn_index": 0, "session_hash": "x"}
    response = httpx.request(method, protected_url.rstrip("/") + route, json=body if method == "POST" else None)
    assert response.status_code in {401, 403}, response.text
    assert "Served by" not in response.text


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("GET", "/gradio_api/mcp/schema"),
        ("POST", "/gradio_api/mcp/"),
        ("GET", "/gradio_api/mcp/sse"),
        ("POST", "/gradio_api/cancel"),
        ("GET", "/gradio_api/heartbeat/x"),
        ("POST", "/gradio_api/stream/x"),
    ],
)
def test_routes_gradio_leaves_open_need_the_login_too(protected_url, method, route):
    """Gradio checks the login on its main routes only: its MCP server (tool list, schema and calls), cancelling
    events, heartbeats and streamed inputs answered anyone."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "session_hash": "x", "fn_index": 0, "event_id": "x"}
    with httpx.stream(
        method, protected_url.rstrip("/") + route, json=body if method == "POST" else None, timeout=30
    ) as response:
        assert response.status_code == 401, route
        assert "sentiment" not in response.read().decode()


def test_after_login_the_mcp_schema_is_served(protected_url):
    login = httpx.post(f"{protected_url}login", data={"username": LOGIN[0], "password": LOGIN[1]}, timeout=30)
    schema = httpx.get(f"{protected_url}gradio_api/mcp/schema", cookies=login.cookies, timeout=30)
    assert schema.status_code == 200 and "sentiment" in schema.text


def test_the_page_gets_no_app_config_without_a_login(protected_url):
    assert httpx.get(f"{protected_url}config", timeout=30).status_code == 401
    login = httpx.post(f"{protected_url}login", data={"username": LOGIN[0], "password": LOGIN[1]}, timeout=30)
    assert login.status_code == 200
    assert httpx.get(f"{protected_url}config", cookies=login.cookies, timeout=30).status_code == 200


@pytest.mark.parametrize("route", ["", "gradio_api/runs", "?view=api", "gradio_api/runs/"])
def test_nothing_about_the_api_or_the_models_is_shown_before_login(protected_url, local_model_dir, route):
    page = httpx.get(protected_url + route, timeout=30)
    assert page.status_code in {200, 401, 404}
    for secret in [str(local_model_dir), local_model_dir.name, "sentiment", "candidate_labels", "max_new_tokens"]:
        assert secret not in page.text, f"{secret!r} is on the page before login"
    assert "window.gradio_api_info = null" in page.text or page.status_code != 200


@pytest.mark.parametrize("route", ["openapi.json", "docs", "redoc", "gradio_api/openapi.json", "gradio_api/info"])
def test_no_route_lists_the_api_before_login(protected_url, route):
    response = httpx.get(protected_url + route, timeout=30)
    assert response.status_code in {401, 404}, response.text[:200]
    assert "/gradio_api/" not in response.text and "sentiment" not in response.text


def test_after_login_the_page_describes_the_api(protected_url, local_model_dir):
    login = httpx.post(f"{protected_url}login", data={"username": LOGIN[0], "password": LOGIN[1]}, timeout=30)
    page = httpx.get(protected_url, cookies=login.cookies, timeout=30)
    assert '"/sentiment"' in page.text and local_model_dir.name in page.text


def test_failed_logins_are_throttled_per_client_and_the_lockout_is_logged(protected_url, caplog):
    guesser = {"X-Forwarded-For": "203.0.113.66"}
    statuses = [
        httpx.post(
            f"{protected_url}login", data={"username": "ada", "password": f"guess{n}"}, headers=guesser
        ).status_code
        for n in range(8)
    ]
    assert statuses[:5] == [400] * 5 and set(statuses[5:]) == {429}
    locked = httpx.post(f"{protected_url}login", data={"username": LOGIN[0], "password": LOGIN[1]}, headers=guesser)
    assert locked.status_code == 429, "the right password is not even checked during a lockout"
    assert 0 < int(locked.headers["Retry-After"]) <= 30 and "try again in" in locked.text
    assert any("Login locked for 203.0.113.66" in record.getMessage() for record in caplog.records)
    # Another client logs in meanwhile.
    other = {"X-Forwarded-For": "198.51.100.5"}
    login = httpx.post(f"{protected_url}login", data={"username": LOGIN[0], "password": LOGIN[1]}, headers=other)
    assert login.status_code == 200


def test_a_client_with_the_login_is_served(protected_url):
    client = Client(protected_url, auth=LOGIN, verbose=False)
    _, _, status = client.predict("I loved it.", None, api_name="/sentiment")
    assert "Served by" in status


def test_logins_come_from_flags_the_environment_and_a_file(tmp_path):
    logins = tmp_path / "logins.txt"
    logins.write_text("# team\nbob:b0b:with:colons\n\ncy:pass\n")
    settings = app_module.parse_settings(["--auth", "ada:x", "--auth-file", str(logins)], {"DEMO_AUTH": "eve:y"})
    assert settings.auth == (("eve", "y"), ("ada", "x"), ("bob", "b0b:with:colons"), ("cy", "pass"))
    from_env = app_module.parse_settings([], {"DEMO_AUTH_FILE": str(logins)})
    assert from_env.auth == (("bob", "b0b:with:colons"), ("cy", "pass"))
    assert app_module.launch_kwargs(from_env)["auth"] == [("bob", "b0b:with:colons"), ("cy", "pass")]


@pytest.mark.parametrize("content", ["nocolon\n", ":nouser\n"])
def test_a_bad_auth_file_stops_the_app_with_a_message(tmp_path, capsys, content):
    logins = tmp_path / "logins.txt"
    logins.write_text(content)
    with pytest.raises(SystemExit):
        app_module.parse_settings(["--auth-file", str(logins)], {})
    assert "USER:PASS" in capsys.readouterr().err


def test_share_without_auth_warns_and_with_auth_does_not():
    assert "anyone with the link" in app_module.share_warning(Settings(share=True))
    assert app_module.share_warning(Settings(share=True, auth=(LOGIN,))) is None
    assert app_module.share_warning(Settings()) is None
