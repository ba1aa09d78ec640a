"""Strings made while answering a request (errors, status lines, progress descriptions, captions) in the visitor's
language. The browser says which language it wants in every request's Accept-Language header; Gradio's `gr.I18n`
(demos/translation.py) translates only what the page is built with, so what a request makes is translated here, on
the server, for that request. A browser asking for Spanish gets Spanish; everyone else, `gradio_client` included
unless it sends the header, gets the English text unchanged.

The code stays plain English: an error is raised, and a status line written, in English as before. The catalogue
(`demos/translations/es.messages.json`) maps each English *template* to its translation; a template is the message
as the code writes it, each `{...}` field holding the f-string's expression as `ast.unparse` spells it, for example
`"{name} must be a whole number from {low} to {high}; got {value!r}."`. `translated(text, language)` finds the
template the finished English text was made from and puts the same field values into the translation. A field value
that the code made with `phrase(...)` ("The sentence to compare with") is translated too; what a visitor typed
never is. A text no template matches stays English.

A new request-time string: write it in English where it is made, as a `UserError` (or `gr.Error`), a progress
`desc=`, or inside `say(...)` (a piece of text that goes into another message as a field: `phrase(...)`);
tests/test_messages.py then fails naming its template, which goes into the catalogue with its Spanish, every
`{...}` field kept as it is. A changed English string is a new template: the test names it, and the old one as
unused.

Where it happens: `app.launch` wraps the app in `in_request_language`; `demos/common.py` translates `UserError`s
and `gr.Error`s as they become the visitor's message, `served_by` and `report_loading` their lines; any other
request-time text goes through `say(text)`. shared/ never needs to know: it raises plain English `UserError`s.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.context import LocalContext

CATALOGUES = Path(__file__).resolve().parent / "translations"
ENGLISH = "en"
LANGUAGES = ("es",)  # besides English


def language(accept_language: str | None) -> str:
    """The language to answer in for an Accept-Language header ("es-ES,es;q=0.9,en;q=0.8" -> "es"): the one of
    ours the browser prefers most (by q-value, then by order), English when it names none of them."""
    best, best_quality = ENGLISH, 0.0
    for item in (accept_language or "").split(","):
        tag, *parameters = (part.strip() for part in item.split(";"))
        primary = tag.split("-")[0].lower()
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if primary in (ENGLISH, *LANGUAGES) and quality > best_quality:
            best, best_quality = primary, quality
    return best


# The language of the event being processed, for what runs before its function (the inputs' checks).
EVENT_LANGUAGE: ContextVar[str | None] = ContextVar("event_language", default=None)


def language_of(request: Any) -> str | None:
    if isinstance(request, list):  # a batched event: its requests
        request = request[0] if request else None
    headers = getattr(request, "headers", None)
    return None if headers is None else language(headers.get("accept-language"))


def request_language() -> str:
    """The language of the request being answered, English outside a request. Gradio sets the request for each
    call of an event's function (and each step of a generator; gradio/utils.py, `get_function_with_locals`);
    `in_request_language` covers the rest of the event, such as the inputs' preprocessing."""
    return language_of(LocalContext.request.get(None)) or EVENT_LANGUAGE.get() or ENGLISH


def in_request_language(app: gr.Blocks) -> gr.Blocks:
    """`app` processing each event in the language of its request from start to end: an image refused while Gradio
    preprocesses the inputs, before the event's function runs, is refused in that language too."""
    process_api = app.process_api

    @functools.wraps(process_api)
    async def process_in_request_language(*args: Any, **kwargs: Any) -> Any:
        token = EVENT_LANGUAGE.set(language_of(kwargs.get("request")))
        try:
            return await process_api(*args, **kwargs)
        finally:
            EVENT_LANGUAGE.reset(token)

    app.process_api = process_in_request_language  # type: ignore[method-assign]
    return app


@dataclass(frozen=True)
class Template:
    """An English template cut into literal text and `{...}` fields (`{{` and `}}` are literal braces)."""

    source: str
    parts: tuple[tuple[bool, str], ...]  # (is_field, text): a field's text is the whole `{...}`

    @classmethod
    def parse(cls, source: str) -> Template:
        parts: list[tuple[bool, str]] = []
        literal, index = "", 0
        while index < len(source):
            if source.startswith(("{{", "}}"), index):
                literal += source[index]
                index += 2
            elif source[index] == "{":
                depth, end = 0, index
                while end < len(source):
                    depth += {"{": 1, "}": -1}.get(source[end], 0)
                    if depth == 0:
                        break
                    end += 1
                if literal:
                    parts.append((False, literal))
                parts.append((True, source[index : end + 1]))
                literal, index = "", end + 1
            else:
                literal += source[index]
                index += 1
        if literal:
            parts.append((False, literal))
        return cls(source, tuple(parts))

    @property
    def fields(self) -> list[str]:
        return [text for is_field, text in self.parts if is_field]

    @property
    def literal_length(self) -> int:
        return sum(len(text) for is_field, text in self.parts if not is_field)

    @property
    def has_words(self) -> bool:
        """Whether the literal text has a letter: a template of fields and punctuation alone would match anything."""
        return any(character.isalpha() for is_field, text in self.parts if not is_field for character in text)

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = "".join("(.*?)" if is_field else re.escape(text) for is_field, text in self.parts)
        return re.compile(regex, re.DOTALL)

    def fill(self, values: dict[str, str]) -> str:
        return "".join(values.get(text, text) if is_field else text for is_field, text in self.parts)


@cache
def catalogue(language: str) -> dict[str, str]:
    """English template -> its translation into `language`."""
    return json.loads((CATALOGUES / f"{language}.messages.json").read_text(encoding="utf-8"))


@cache
def templates(language: str) -> list[tuple[Template, re.Pattern[str], Template]]:
    """The catalogue as (English template, its pattern, translated template), the most specific first: the one with
    the most literal text wins when two match."""
    pairs = [(Template.parse(english), Template.parse(out)) for english, out in catalogue(language).items()]
    pairs.sort(key=lambda pair: -pair[0].literal_length)
    return [(english, english.pattern, out) for english, out in pairs if english.has_words]


def translated(text: str, language: str) -> str:
    """`text`, written in English by the code, in `language`; unchanged when no template of the catalogue made it."""
    if language == ENGLISH or not text:
        return text
    for english, pattern, out in templates(language):
        if (match := pattern.fullmatch(text)) is not None:
            values = dict(zip(english.fields, match.groups(), strict=True))
            return out.fill({field: translated_phrase(value, language) for field, value in values.items()})
    return text


def translated_phrase(text: str, language: str) -> str:
    """A field's value translated when the code made it with `phrase` (what a visitor typed never is), also
    capitalised at the start of a message ("Sentence A" from `phrase("sentence A")`)."""
    if text in PHRASES:
        return translated(text, language)
    lowered = text[:1].lower() + text[1:]
    if text[:1].isupper() and lowered in PHRASES:
        out = translated(lowered, language)
        return out[:1].upper() + out[1:]
    return text


def say(text: str) -> str:
    """`text` in the language of the request being answered."""
    return translated(text, request_language())


# The phrases the code made lately, most recent last: bounded, as some hold numbers ("3 overlapping windows").
PHRASES: dict[str, None] = {}
MAX_PHRASES = 4096
PHRASES_LOCK = threading.Lock()


def phrase(text: str) -> str:
    """`text` as it is, marked as a phrase that goes into another message as a field: translated with that
    message (a field's value is translated only when it is such a phrase), and found by the catalogue's test."""
    with PHRASES_LOCK:
        PHRASES.pop(text, None)
        PHRASES[text] = None
        while len(PHRASES) > MAX_PHRASES:
            PHRASES.pop(next(iter(PHRASES)))
    return text
