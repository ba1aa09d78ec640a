"""Cheap Gradio sessions: a new session builds the per-session config of a component only when the session needs it.

Every REST `POST /gradio_api/call/<api>` and every `gradio_client.Client` starts a new session, and Gradio's
`SessionState` builds, up front, the config of every block of the app (`BlocksConfig.config_for_block`: props,
API info) although a session only ever reads those of the components its events update, and all of them only to
save a deep link. With this app's ten tabs (two hundred blocks) that cost more per request than the rest of a
no-model request. `install(app)` makes the app's sessions build each config on first use: an event's outputs when
it updates them, every block when a deep link is saved. What a session reads is unchanged.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import ItemsView
from copy import copy
from typing import Any

import gradio as gr
from gradio.blocks import BlocksConfig
from gradio.state_holder import SessionState, StateHolder


class ConfigsOnDemand(dict):
    """A session's block configs, each built the first time it is looked up or when all of them are listed."""

    def __init__(self, blocks_config: BlocksConfig, block_ids: list[int]) -> None:
        super().__init__()
        self._blocks_config = blocks_config
        self._block_ids = block_ids  # in the app's order, as Gradio lists them
        self._known = set(block_ids)

    def _build(self, block_id: int) -> dict:
        config = self._blocks_config.config_for_block(block_id, [], self._blocks_config.blocks[block_id])
        super().__setitem__(block_id, config)
        return config

    def __contains__(self, block_id: object) -> bool:
        return super().__contains__(block_id) or block_id in self._known

    def __missing__(self, block_id: int) -> dict:
        if block_id not in self._known:
            raise KeyError(block_id)
        return self._build(block_id)

    def built(self) -> int:
        """How many configs this session has built so far."""
        return super().__len__()

    def items(self) -> ItemsView:
        for block_id in self._block_ids:
            if not super().__contains__(block_id):
                self._build(block_id)
        return super().items()


class SessionOnDemand(SessionState):
    """`SessionState` without the up-front configs (the rest is as Gradio sets it up)."""

    def __init__(self, blocks: gr.Blocks) -> None:
        # Not super().__init__(): building every config up front is what this replaces.
        self.blocks_config = copy(blocks.default_config)
        self.config_values = ConfigsOnDemand(
            self.blocks_config, [block_id for block_id in self.blocks_config.blocks if block_id in blocks.blocks]
        )
        self.state_data: dict[int, Any] = {}
        self._state_ttl: dict[int, tuple[Any, datetime.datetime]] = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else 3600


class StateHolderOnDemand(StateHolder):
    def __getitem__(self, session_id: str) -> SessionState:
        if session_id not in self.session_data:
            self.session_data[session_id] = SessionOnDemand(self.blocks)
        self.update(session_id)
        self.time_last_used[session_id] = datetime.datetime.now()
        return self.session_data[session_id]


def install(app: gr.Blocks) -> None:
    """Make the launched `app`'s new sessions build their configs on demand (sessions already open keep theirs)."""
    app.server_app.state_holder.__class__ = StateHolderOnDemand
