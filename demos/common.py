"""The thin Gradio layer every tab shares: user errors become `gr.Error`, and each answer says who served it.

This is not a demo; demo modules import it and `shared/`, never each other.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr
from PIL import Image, UnidentifiedImageError

from shared.errors import UserError
from shared.limits import MAX_IMAGE_PIXELS
from shared.model_cache import LoadedModel
from shared.model_choices import ModelChoice
from shared.runtime import Runtime

logger = logging.getLogger(__name__)

STAND_IN_WARNING = (
    "⚠️ **Stand-in models.** This app runs with random-weight stand-ins of the real architectures "
    "(`--stand-ins {size}`). Everything works end to end, but the outputs are meaningless."
)


def internal_error(fn_name: str) -> gr.Error:
    return gr.Error(f"Something went wrong on the server in {fn_name}; it has been logged. Try again.")


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show `UserError`s as short `gr.Error` messages; log anything else with its traceback, never show it raw."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator_wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except UserError as error:
                raise gr.Error(str(error)) from error
            except Exception as error:
                logger.exception("Unexpected error in %s", fn.__name__)
                raise internal_error(fn.__name__) from error

        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except UserError as error:
            raise gr.Error(str(error)) from error
        except Exception as error:
            logger.exception("Unexpected error in %s", fn.__name__)
            raise internal_error(fn.__name__) from error

    return wrapper


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    started = time.perf_counter()
    yield lambda: time.perf_counter() - started


def served_by(loaded: LoadedModel, seconds: float) -> str:
    """One line under every answer: which model and device served it, and how long it took."""
    dtype = str(loaded.dtype).removeprefix("torch.")
    line = f"Served by `{loaded.model_id}` on **{loaded.device}** ({dtype}) in {seconds:.2f} s"
    if loaded.stand_in:
        line += " · ⚠️ stand-in with random weights: the output is meaningless"
    return line


def stand_in_banner(runtime: Runtime) -> None:
    if runtime.settings.stand_ins:
        gr.Markdown(STAND_IN_WARNING.format(size=runtime.settings.stand_ins), elem_classes=["stand-in-banner"])


def model_dropdown(choices: list[ModelChoice]) -> gr.Dropdown:
    return gr.Dropdown(
        choices=[choice.model_id for choice in choices],
        value=choices[0].model_id,
        label="Model",
        info="Only these models are offered; the first is the default.",
    )


def model_cards(choices: list[ModelChoice]) -> str:
    names = [
        f"[{choice.model_id}]({choice.hub_url})" if choice.hub_url else f"`{choice.model_id}`" for choice in choices
    ]
    return "Models: " + " · ".join(names)


def check_image_pixels(width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise UserError(
            f"The image has {width}×{height} = {width * height:,} pixels; the limit is {MAX_IMAGE_PIXELS:,}. "
            "Scale it down and upload it again."
        )


def photo_upload(**image_kwargs: Any) -> gr.Image:
    """`gr.Image` that answers a file it cannot read, or one with too many pixels, with a short `gr.Error` (plain
    `gr.Image` fails with a server error), and checks the pixel count from the header before decoding anything."""
    image = gr.Image(**image_kwargs)
    decode = image.preprocess

    # An instance attribute rather than a subclass: Gradio writes a .pyi stub beside every Component subclass.
    def preprocess(payload: Any) -> Any:
        try:
            if payload is not None and payload.path:
                with Image.open(payload.path) as header:
                    check_image_pixels(header.width, header.height)
            return decode(payload)
        except UserError as error:
            raise gr.Error(str(error)) from error
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
            raise gr.Error("That file is not an image this app can read. Upload a JPEG, PNG or WebP photo.") from error

    image.preprocess = preprocess
    return image
