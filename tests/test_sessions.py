"""Cheap sessions (demos/sessions.py): a REST `/call` or a new `gradio_client` starts a session that builds the
config of only the components its request updates, not of every block of the app, and still answers as before."""

from __future__ import annotations

import json

import httpx
from gradio_client import Client

from demos.sessions import ConfigsOnDemand


def rest_call(app_url: str, api_name: str, data: list) -> list:
    """What curl users do: POST the inputs, then read the answer from the event stream."""
    with httpx.Client(base_url=f"{app_url}gradio_api/call/", timeout=60) as http:
        event_id = http.post(api_name, json={"data": data}).json()["event_id"]
        stream = http.get(f"{api_name}/{event_id}").text
    lines = stream.splitlines()
    assert "event: complete" in lines, stream
    return json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))


def new_sessions(app, before: set[str]) -> list:
    holder = app.server_app.state_holder
    return [state for session, state in list(holder.session_data.items()) if session not in before]


def components_of(app, api_name: str) -> int:
    """How many components the event reads or updates: the configs a session keeps its values in."""
    event = next(fn for fn in app.fns.values() if fn.api_name == api_name)
    return len({block._id for block in [*event.inputs, *event.outputs]})


def test_a_rest_call_builds_the_configs_of_its_outputs_only(served_app, app_url):
    app = served_app[1]
    before = set(app.server_app.state_holder.session_data)
    summary, table = rest_call(app_url, "system", [])
    assert "model" in summary.lower() and "headers" in table
    sessions = new_sessions(app, before)
    assert len(sessions) == 1
    configs = sessions[0].config_values
    assert isinstance(configs, ConfigsOnDemand)
    assert configs.built() <= components_of(app, "system") < len(app.blocks) / 10


def test_a_new_client_session_builds_few_configs_and_gets_its_answer(served_app, app_url):
    app = served_app[1]
    before = set(app.server_app.state_holder.session_data)
    client = Client(app_url, verbose=False)
    result = client.predict("A wonderful, moving film.", api_name="/sentiment")
    assert result
    sessions = new_sessions(app, before)
    assert sessions and all(session.config_values.built() <= components_of(app, "sentiment") for session in sessions)


def test_a_saved_deep_link_still_holds_every_component(served_app, app_url):
    app = served_app[1]
    client = Client(app_url, verbose=False)
    client.predict(api_name="/system")
    state = app.server_app.state_holder[client.session_hash]
    components = list(state.components)
    assert len(components) == len([block for block in app.blocks if block in state.blocks_config.blocks])
