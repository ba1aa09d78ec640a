"""The server log: a request the visitor can fix leaves one line, a real failure leaves its traceback once."""

from __future__ import annotations

import logging

import gradio as gr
import pytest
from gradio_client.exceptions import AppError

from demos.common import user_errors
from shared.errors import UserError

TRACEBACK = "Traceback (most recent call last)"


def test_an_empty_text_leaves_one_log_line_and_no_traceback(client, caplog, capfd):
    capfd.readouterr()
    with caplog.at_level(logging.INFO), pytest.raises(AppError, match="Type"):
        client.predict("", api_name="/sentiment")
    out, err = capfd.readouterr()
    assert TRACEBACK not in out + err
    refusals = [record for record in caplog.records if "refused a request" in record.getMessage()]
    assert len(refusals) == 1 and refusals[0].exc_info is None
    assert not [record for record in caplog.records if record.exc_info]


def test_a_user_error_is_shown_without_a_traceback_for_gradio_to_print(caplog):
    @user_errors
    def refuse() -> None:
        raise UserError("Twenty-five labels are too many; the limit is 20.")

    with caplog.at_level(logging.INFO), pytest.raises(gr.Error) as raised:
        refuse()
    assert raised.value.message == "Twenty-five labels are too many; the limit is 20."
    assert raised.value.print_exception is False  # Gradio prints the traceback of a gr.Error unless told not to
    assert [record.getMessage() for record in caplog.records] == [
        "refuse refused a request: Twenty-five labels are too many; the limit is 20."
    ]


def test_a_real_failure_is_logged_with_its_traceback_once(caplog):
    @user_errors
    def break_down() -> None:
        raise RuntimeError("tensor shapes do not match")

    with caplog.at_level(logging.INFO), pytest.raises(gr.Error) as raised:
        break_down()
    assert "went wrong on the server" in raised.value.message and "tensor" not in raised.value.message
    assert raised.value.print_exception is False  # logged here already, with the traceback
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info[0] is RuntimeError
