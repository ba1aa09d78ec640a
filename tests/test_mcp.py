"""--mcp: every endpoint is an MCP tool (Gradio's own MCP server), described by its tab; an MCP client lists the
tools and calls one."""

from __future__ import annotations

import asyncio

import pytest

from demos import DEMOS
from shared.runtime import Runtime
from tests.helpers import served, stand_in_settings

mcp = pytest.importorskip("mcp", reason="the gradio[mcp] extra is not installed")
from mcp.client.streamable_http import streamablehttp_client  # noqa: E402


async def list_and_call(url: str) -> tuple[dict[str, str], str]:
    async with streamablehttp_client(f"{url}gradio_api/mcp/") as (read, write, _):
        async with mcp.ClientSession(read, write) as session:
            await session.initialize()
            tools = {tool.name: tool.description for tool in (await session.list_tools()).tools}
            result = await session.call_tool("sentiment", {"text": "I loved this film."})
            return tools, " ".join(item.text for item in result.content if hasattr(item, "text"))


def test_mcp_clients_list_every_endpoint_and_call_one(tmp_path_factory):
    runtime = Runtime(stand_in_settings(tmp_path_factory.mktemp("mcp"), mcp=True))
    with served(runtime) as (url, _app):
        tools, answer = asyncio.run(list_and_call(url))
    assert {"sentiment", "zero_shot", "qa", "generate", "next_token", "attention_steps", "evaluate"} <= set(tools)
    for demo in DEMOS:
        assert demo.title in tools[demo.task], f"the {demo.task} tool is not described by its tab"
    assert "POSITIVE" in answer or "NEGATIVE" in answer
