"""The page in the visitor's language, with Gradio's own i18n: `translate(app)` walks the built Blocks and replaces
each user-visible string written at build time (labels, info lines, placeholders, button texts, tab names, Markdown,
choice labels) that the catalogue translates by a `gr.I18n` key; `launch(i18n=...)` hands the browser every
language's text and the browser shows the one it prefers, English otherwise.

The catalogues (`demos/translations/<language>.json`) map the exact English text to its translation, so a tab module
stays plain English and a changed string simply shows in English until the catalogue follows (the test in
tests/test_translation.py names it). Choice *values*, which the API sends, never change; nor do input defaults.
Strings made while answering a request (status lines, errors) are translated on the server: demos/messages.py.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.blocks import Block
from gradio.i18n import I18nData

CATALOGUES = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("es",)
# Attributes whose string value a visitor reads, on every kind of block that has them.
TEXT_ATTRIBUTES = ("label", "info", "placeholder", "title", "x_title", "y_title")
# Kinds of block whose `value` is text for the visitor rather than data a visitor or the API sends.
TEXT_VALUES = (gr.Button, gr.DownloadButton, gr.Markdown, gr.HTML)
CHOICE_BLOCKS = (gr.Radio, gr.Dropdown, gr.CheckboxGroup)
I18N_MARK = "__i18n__"  # how an I18nData reads as a string (gradio/i18n.py)


@cache
def catalogue(language: str) -> dict[str, str]:
    """English text -> its translation into `language`."""
    return json.loads((CATALOGUES / f"{language}.json").read_text(encoding="utf-8"))


def key(english: str) -> str:
    """A key for `english` that svelte-i18n reads as one flat key (it takes dots as nesting)."""
    return "t" + hashlib.sha1(english.encode("utf-8")).hexdigest()[:12]


def i18n() -> gr.I18n:
    """Every catalogued string in English and in each language, under its key, for `launch(i18n=...)`."""
    english = {key(text): text for language in LANGUAGES for text in catalogue(language)}
    translations = {language: {key(text): out for text, out in catalogue(language).items()} for language in LANGUAGES}
    return gr.I18n(en=english, **translations)


I18N = i18n()


@dataclass
class Slot:
    """One place in the built app where a visitor reads a string: `block.attribute`, or the label of its choice
    number `index` (the choice's value, which the API sends, stays)."""

    block: Block
    attribute: str
    text: str | I18nData  # I18nData once translated
    index: int | None = None

    def replace(self, translated: I18nData) -> None:
        if self.index is None:
            setattr(self.block, self.attribute, translated)
            return
        choices = list(getattr(self.block, self.attribute))
        choices[self.index] = (translated, choices[self.index][1])
        setattr(self.block, self.attribute, choices)


def readable(value: object) -> bool:
    return isinstance(value, I18nData) or (isinstance(value, str) and any(character.isalpha() for character in value))


def english(text: str | I18nData) -> str:
    """The English of a string of the page, whether or not it is translated yet."""
    if isinstance(text, I18nData):
        return I18N.translations_dict["en"][text.key]
    if text.startswith(I18N_MARK):  # as the config (and so the API description) holds it
        return I18N.translations_dict["en"].get(json.loads(text.removeprefix(I18N_MARK)).get("key"), text)
    return text


def model_id(label: str) -> bool:
    """Hub ids and local paths, offered as choices, are names: they are never translated."""
    return "/" in label and not any(character.isspace() for character in label)


def slots(app: gr.Blocks) -> Iterator[Slot]:
    """Every string a visitor reads on the page as built, where it sits. Not the window title nor the column names
    of an examples table (the labels of its inputs): Gradio's page does not translate those."""
    for block in app.blocks.values():
        for attribute in TEXT_ATTRIBUTES:
            value = getattr(block, attribute, None)
            if readable(value):
                yield Slot(block, attribute, value)
        if isinstance(block, TEXT_VALUES) and readable(block.value):
            yield Slot(block, "value", block.value)
        if isinstance(block, CHOICE_BLOCKS):
            for index, (label, _value) in enumerate(block.choices):
                if readable(label) and not (isinstance(label, str) and model_id(label)):
                    yield Slot(block, "choices", label, index)


def untranslated(app: gr.Blocks, language: str) -> list[str]:
    """The strings of `app` that the catalogue of `language` does not translate."""
    texts = catalogue(language)
    return sorted({english(slot.text) for slot in slots(app)} - set(texts))


def unused(app: gr.Blocks, language: str) -> list[str]:
    """The entries of the catalogue of `language` that no string of `app` needs any more."""
    return sorted(set(catalogue(language)) - {english(slot.text) for slot in slots(app)})


def english_api_info(get_api_info: Callable[..., dict]) -> Callable[..., dict]:
    """`Blocks.get_api_info` with the parameters' and results' labels in English: the API description (view_api,
    the API page) reads them from the page config, where translated labels are i18n keys."""

    @functools.wraps(get_api_info)
    def api_info(*args: Any, **kwargs: Any) -> dict:
        info = get_api_info(*args, **kwargs)
        for endpoints in (info["named_endpoints"], info["unnamed_endpoints"]):
            for endpoint in endpoints.values():
                for item in [*endpoint.get("parameters", []), *endpoint.get("returns", [])]:
                    if isinstance(item.get("label"), str | I18nData):
                        item["label"] = english(item["label"])
        return info

    return api_info


def translate(app: gr.Blocks, i18n: gr.I18n) -> gr.Blocks:
    """Replace every catalogued string of `app` by its `i18n` key; the others stay as they are (English)."""
    known = set(catalogue(LANGUAGES[0]))
    for slot in list(slots(app)):
        if isinstance(slot.text, str) and slot.text in known:
            slot.replace(i18n(key(slot.text)))
    app.get_api_info = english_api_info(app.get_api_info)  # type: ignore[method-assign]
    return app
