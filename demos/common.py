"""The thin Gradio layer every tab shares: user errors become `gr.Error`, and each answer says who served it.

This is not a demo; demo modules import it and `shared/`, never each other.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import gradio as gr
import pandas as pd
from gradio.utils import get_upload_folder, is_in_or_equal
from gradio_client.utils import is_http_url_like
from PIL import Image, UnidentifiedImageError

from demos.messages import say
from shared.backends import ModelRequest, ServedModel
from shared.bundled import bundled_directory
from shared.errors import UserError
from shared.limits import MAX_IMAGE_ASPECT_RATIO, MAX_IMAGE_PIXELS
from shared.loading import Loader
from shared.model_cache import LoadedModel
from shared.model_choices import ModelChoice, pick_choice
from shared.openmp import release_thread_pool
from shared.runtime import Runtime

if TYPE_CHECKING:
    from demos.tab import Tab

logger = logging.getLogger(__name__)

STAND_IN_WARNING = (
    "⚠️ **Stand-in models.** This app runs with random-weight stand-ins of the real architectures "
    "(`--stand-ins {size}`). Everything works end to end, but the outputs are meaningless."
)


def internal_error(fn_name: str) -> gr.Error:
    return gr.Error(
        say(f"Something went wrong on the server in {fn_name}; it has been logged. Try again."), print_exception=False
    )


def shown_error(message: str) -> gr.Error:
    """A `gr.Error` for something the visitor can fix, in the visitor's language: Gradio shows it, and does not
    print its traceback."""
    return gr.Error(say(message), print_exception=False)


@contextmanager
def shown_as_gr_errors(fn_name: str) -> Iterator[None]:
    """Errors the visitor can fix leave one log line; anything else leaves its traceback, once (Gradio would print
    every error's traceback, chained to what caused it, unless told not to)."""
    try:
        yield
    except gr.Error as error:
        error.print_exception = False
        logger.info("%s refused a request: %s", fn_name, error.message)
        error.message = say(error.message)
        raise
    except UserError as error:
        logger.info("%s refused a request: %s", fn_name, error)
        raise shown_error(str(error)) from None
    except Exception as error:
        logger.exception("Unexpected error in %s", fn_name)
        raise internal_error(fn_name) from error
    finally:
        release_thread_pool()  # Gradio's worker threads outlive the request: see shared/openmp.py


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show `UserError`s as short `gr.Error` messages; log anything else with its traceback, never show it raw.
    Every handler that runs a model goes through here, so here the thread also hands back its OpenMP workers."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator_wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with shown_as_gr_errors(fn.__name__):
                yield from fn(*args, **kwargs)

        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with shown_as_gr_errors(fn.__name__):
            return fn(*args, **kwargs)

    return wrapper


# The keyboard rule of the whole app, Gradio's own for a text box: every text box of a tab runs the tab's endpoint.
KEYBOARD_HINT = (
    "⌨️ In every tab, **Enter** in a one-line box runs it; in a box of several lines Enter starts a new line and "
    "**Shift+Enter** runs it."
)


def run_by(button: gr.Button, *boxes: gr.Textbox | gr.Number) -> list[Any]:
    """The triggers of an endpoint, for `gr.on`: its button, and Enter in each of its text boxes (Shift+Enter in a
    box of several lines, where Enter starts a new line)."""
    return [button.click, *(box.submit for box in boxes)]


def status_cleared_on_error(event: Any, status: gr.Markdown) -> Any:
    """After `event` fails, empty its status line: the "Served by …" of an earlier answer must not stand under the
    error as if it described it. A browser-only step (no request to the server); an API caller gets the error and no
    status at all."""
    return event.failure(
        None, None, status, js="() => ''", queue=False, show_progress="hidden", api_visibility="private"
    )


def served_by(loaded: LoadedModel | ServedModel, seconds: float, batch_requests: int = 1) -> str:
    """One line under every answer: which model and device served it (and which Ray Serve replica, on Ray), and how
    long it took (and, for batched endpoints, with how many concurrent requests it shared its forward pass)."""
    line = say(f"Served by `{loaded.model_id}` on **{loaded.device}** ({loaded.precision}) in {seconds:.2f} s")
    if where := getattr(loaded, "where", ""):
        line += f" · {where}"
    if batch_requests > 1:
        line += say(f" · batched with {batch_requests - 1} other request{'s' if batch_requests > 2 else ''}")
    if loaded.stand_in:
        line += say(" · ⚠️ stand-in with random weights: the output is meaningless")
    return line


BUNDLED_NOTE = (
    " **Except** {models}: {verb} with real weights here, from a copy installed with the app's requirements; "
    "{pronoun} outputs are meaningful."
)


def stand_in_banner(runtime: Runtime, choices: Sequence[ModelChoice] = ()) -> None:
    if not runtime.settings.stand_ins:
        return
    text = STAND_IN_WARNING.format(size=runtime.settings.stand_ins)
    real = [f"`{choice.model_id}`" for choice in choices if bundled_directory(choice.model_id) is not None]
    if real:
        several = len(real) > 1
        text += BUNDLED_NOTE.format(
            models=", ".join(real), verb="they run" if several else "it runs", pronoun="their" if several else "its"
        )
    gr.Markdown(text, elem_classes=["stand-in-banner"])


def tab_intro(tab: Tab) -> None:
    """The top of every tab that runs models: what the model does, its model cards, the stand-in banner."""
    gr.Markdown(f"{tab.demo.description}\n\n{model_cards(tab.choices)}")
    stand_in_banner(tab.runtime, tab.choices)


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


def report_loading(
    progress: Callable[..., Any] | None,
    runtime: Runtime,
    task: str,
    choices: list[ModelChoice],
    model_id: str | None,
    loader: Loader | None = None,
) -> None:
    """Tell the visitor a model is being loaded (a first request can take a while) instead of a silent spinner."""
    if progress is None:
        return
    try:
        choice = pick_choice(choices, model_id)
    except UserError:
        return  # the request itself refuses the model, with the error the visitor needs
    if loader is not None:
        loaded = runtime.backend.is_loaded(ModelRequest(task, choice, loader))
    else:
        loaded = runtime.cache.is_loaded(task, choice.model_id)
    if not loaded:
        progress(
            0,
            desc=say(
                f"Loading model {choice.model_id}… (first use: downloading it if needed, moving it to {runtime.device})"
            ),
        )


def check_image_pixels(width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise UserError(
            f"The image has {width}×{height} = {width * height:,} pixels; the limit is {MAX_IMAGE_PIXELS:,}. "
            "Scale it down and upload it again."
        )


def check_image_shape(width: int, height: int) -> None:
    short, long = sorted((width, height))
    if long > MAX_IMAGE_ASPECT_RATIO * short:
        raise UserError(
            f"The image is {width}×{height} pixels, a strip rather than a photo; one side may be at most "
            f"{MAX_IMAGE_ASPECT_RATIO} times the other. Crop it and upload it again."
        )


# Formats whose size Pillow reads from the header without decoding pixels (an ICO, for one, is decoded on opening).
HEADER_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
NOT_AN_IMAGE = "That file is not an image this app can read. Upload a JPEG, PNG or WebP photo."


def check_image_header(path: str) -> None:
    """Refuse a file that is not a photo in a format read from its header, or whose size or shape is out of bounds,
    before any pixel is decoded."""
    with Image.open(path, formats=HEADER_FORMATS) as header:
        check_image_pixels(header.width, header.height)
        check_image_shape(header.width, header.height)


NOT_UPLOADED = "Send the image file itself: this app reads uploaded files only and never fetches URLs or paths."


def is_upload(payload: Any) -> bool:
    """Whether an image payload is a file uploaded to Gradio's upload folder. A payload can name any server path,
    or carry a `data:` URL that Gradio decodes instead of the path (skipping the pixel check); both are refused."""
    url = payload.url or ""
    return bool(payload.path) and not url.startswith("data:") and is_in_or_equal(payload.path, get_upload_folder())


def photo_upload(**image_kwargs: Any) -> gr.Image:
    """`gr.Image` that answers a file it cannot read, one with too many pixels or a thin strip, with a short
    `gr.Error` (plain `gr.Image` fails with a server error), checked from the header before decoding anything.
    It reads uploaded files only: a URL or a server path sent as the image is refused, never fetched or read."""
    image = gr.Image(**image_kwargs)
    decode = image.preprocess

    # An instance attribute rather than a subclass: Gradio writes a .pyi stub beside every Component subclass.
    def preprocess(payload: Any) -> Any:
        if payload is not None and not is_upload(payload):
            raise shown_error(NOT_UPLOADED)
        try:
            if payload is not None:
                check_image_header(payload.path)
            decoded = decode(payload)
            if isinstance(decoded, Image.Image):
                decoded.load()  # a truncated file fails here, with the message below, not later in the model code
            return decoded
        except UserError as error:
            raise shown_error(str(error)) from None
        except Image.DecompressionBombError:  # PIL refuses to even open images far past our limit
            raise shown_error(
                f"The image has far more than {MAX_IMAGE_PIXELS:,} pixels, the limit. Scale it down and upload it "
                "again."
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise shown_error(NOT_AN_IMAGE) from None

    image.preprocess = preprocess

    # Gradio fetches a payload whose path is a URL before preprocessing; a visitor's string must never reach the
    # network. (Server paths: Gradio refuses those outside its upload folder in payloads marked as files, and
    # `is_upload` above refuses the rest.)
    fetch_or_copy = image.async_move_resource_to_block_cache

    async def uploads_only(url_or_file_path: Any) -> str | None:
        if is_http_url_like(str(url_or_file_path)):
            raise shown_error(NOT_UPLOADED)
        return await fetch_or_copy(url_or_file_path)

    image.async_move_resource_to_block_cache = uploads_only
    return image


# Gradio's BarPlot applies an answer's properties one by one, `sort` before `value`: an answer that changes both
# redraws the chart from the previous data. And a data-only answer keeps the old spec: the old x order and legend.
# So an answer sends the data alone, in the order it is to be drawn, and `drawn_in_data_order` then sends the order
# alone: the chart redraws once, from the data it holds by then.


def no_bars(columns: dict[str, str]) -> pd.DataFrame:
    """A chart's data with no rows (`columns`: name -> dtype): empty axes, where no data would remove the chart."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def bar_plot(columns: dict[str, str], **kwargs: Any) -> gr.BarPlot:
    """A `gr.BarPlot` that starts with no bars, so that it is drawn before its first answer comes and every answer
    goes through the same one redraw."""
    return gr.BarPlot(value=no_bars(columns), **kwargs)


def bar_order(x: str, plot: Any) -> Any:
    """The `sort` that draws `plot`'s bars in the order of its rows (x values `x`)."""
    if not plot or not plot.get("data"):
        return gr.skip()
    column = plot["columns"].index(x)
    return gr.BarPlot(sort=list(dict.fromkeys(row[column] for row in plot["data"])))


def drawn_in_data_order(event: Any, chart: gr.BarPlot) -> Any:
    """After `event` answered with `chart`'s data, redraw the chart with its bars in the order of the data."""

    def redraw_in_data_order(plot: Any) -> Any:
        return bar_order(chart.x, plot)

    return event.success(
        redraw_in_data_order,
        inputs=chart,
        outputs=chart,
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
