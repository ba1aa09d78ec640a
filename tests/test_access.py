"""Access: with --auth (or DEMO_AUTH, or --auth-file) the page and the API refuse anyone without a login; --share
without auth warns; visitors can only pick allowlisted models."""

from __future__ import annotations

import httpx
import pytest
from gradio_client import Client

import app as app_module
from shared.runtime import Runtime
from shared.settings import Settings
from tests.helpers import served, stand_in_settings

LOGIN = ("ada", "correct horse battery staple")


@pytest.fixture(scope="module")
def protected_url(cache_dir):
    """A second app, with a login, sharing the session's stand-ins."""
    with served(Runtime(stand_in_settings(cache_dir, auth=(LOGIN,)))) as (url, _):
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


def test_the_page_gets_no_app_config_without_a_login(protected_url):
    assert httpx.get(f"{protected_url}config", timeout=30).status_code == 401
    login = httpx.post(f"{protected_url}login", data={"username": LOGIN[0], "password": LOGIN[1]}, timeout=30)
    assert login.status_code == 200
    assert httpx.get(f"{protected_url}config", cookies=login.cookies, timeout=30).status_code == 200


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
