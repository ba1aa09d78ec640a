"""Strings made while answering a request in the visitor's language (demos/messages.py): the language picked from
Accept-Language, templates filled in Spanish, every request-time string of the code in the Spanish catalogue, and,
through the running app, a Spanish error and status line for a client that asks for Spanish, English for the rest."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

import demos  # noqa: F401 (the tabs mark their phrases as they are imported)
from demos import messages
from demos.common import NOT_UPLOADED
from demos.messages import Template, translated

ROOT = Path(__file__).resolve().parent.parent
# Where request-time strings are written: the tabs and what they share. (gradio_defences.py answers API clients
# before any tab runs, outside a request's language; app.py writes the page, which demos/translation.py translates.)
SOURCES = sorted([*ROOT.glob("demos/*.py"), *ROOT.glob("shared/**/*.py")])
# Calls whose first argument a visitor reads as it is made, or that mark a phrase going into such a message.
MESSAGE_CALLS = {"UserError", "ModelUnavailable", "Error", "shown_error", "say", "phrase"}


def callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def escaped(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def field(value: ast.FormattedValue) -> str:
    conversion = f"!{chr(value.conversion)}" if value.conversion != -1 else ""
    spec = ""
    if isinstance(value.format_spec, ast.JoinedStr):
        spec = ":" + "".join(part.value for part in value.format_spec.values if isinstance(part, ast.Constant))
    return "{" + ast.unparse(value.value) + conversion + spec + "}"


def template_of(node: ast.expr, constants: dict[str, ast.expr]) -> str | None:
    """The catalogue's template for a message written as `node`: literal text with `{{`/`}}` braces, each
    f-string field as `{expression!conversion:spec}`; None when it is not written out in the code."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return escaped(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(
            escaped(part.value) if isinstance(part, ast.Constant) else field(part)  # type: ignore[arg-type]
            for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = template_of(node.left, constants), template_of(node.right, constants)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.Name) and node.id in constants:
        return template_of(constants[node.id], constants)
    return None


def forwarded(node: ast.expr) -> bool:
    """A message made elsewhere and passed on (`str(error)`, `say(...)`), checked where it is made."""
    return isinstance(node, ast.Call) and callee(node) in {"str", "say", "phrase"}


# Where the code passes on a message made elsewhere (and checked there).
FORWARDS = {("demos/common.py", "message"), ("demos/common.py", "error.message")}


def request_time_strings() -> tuple[set[str], list[str]]:
    """Every template the code makes a request-time string from, and the places where a message is not written out
    in the code (so its template cannot be checked)."""
    found: set[str] = set()
    unwritten: list[str] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: statement.value
            for statement in tree.body
            if isinstance(statement, ast.Assign)
            for target in statement.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            texts = [keyword.value for keyword in node.keywords if keyword.arg == "desc"]
            if callee(node) in MESSAGE_CALLS and node.args:
                texts.append(node.args[0])
            for text in texts:
                if forwarded(text):
                    continue
                template = template_of(text, constants)
                if template is None and (str(path.relative_to(ROOT)), ast.unparse(text)) not in FORWARDS:
                    unwritten.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(text)}")
                elif template is not None and Template.parse(template).has_words:
                    found.add(template)
    return found, unwritten


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("es", "es"),
        ("es-ES,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("es-MX;q=0.5, en-GB;q=0.7", "en"),
        ("fr-FR,fr;q=0.9,es;q=0.8,en;q=0.7", "es"),
        ("fr-FR,de;q=0.9", "en"),
        ("es;q=0, en;q=0.1", "en"),
        ("ES-419", "es"),
        ("es;q=abc,en;q=0.5", "en"),
        ("*", "en"),
    ],
)
def test_the_language_is_the_one_of_ours_the_browser_prefers(header, expected):
    assert messages.language(header) == expected


def test_a_template_is_filled_with_the_english_texts_values():
    template = "{name} must be a whole number from {low} to {high}; got {value!r}."
    spanish = messages.catalogue("es")[template]
    for field, value in {"{name}": "max_new_tokens", "{low}": "1", "{high}": "512", "{value!r}": "'many'"}.items():
        spanish = spanish.replace(field, value)
    english = "max_new_tokens must be a whole number from 1 to 512; got 'many'."
    assert translated(english, "es") == spanish != english
    assert translated(english, "en") == english


def test_a_phrase_inside_a_message_is_translated_with_it():
    english = "The sentence to compare with is empty. Type a sentence with [MASK] where the missing word goes."
    spanish = translated(english, "es")
    assert spanish.startswith(translated("The sentence to compare with", "es") + " ")
    assert "The sentence" not in spanish and "[MASK]" in spanish
    capitalised = translated("Sentence B is 90 tokens long (special tokens included); the limit is 64, so", "es")
    assert capitalised.startswith("Sentence B")  # no template made this cut text: it stays as it is
    whole = "Sentence B is 90 tokens long (special tokens included); the limit is 64, so the heatmap stays readable."
    assert translated(whole + " Shorten it.", "es").startswith("F" + translated("sentence B", "es")[1:] + " ")


def test_what_a_visitor_typed_is_never_translated():
    english = "“predicted” is not a word of “The cat sat.”. Type a word that appears in every sentence."
    assert translated("predicted", "es") != "predicted"  # a caption of the evaluation chart
    assert translated(english, "es").startswith("«predicted» ")


def test_a_text_no_template_made_stays_as_it_is():
    assert translated("The Eiffel Tower is in Paris.", "es") == "The Eiffel Tower is in Paris."


def test_every_request_time_string_has_a_spanish_translation():
    found, _ = request_time_strings()
    missing = sorted(found - set(messages.catalogue("es")))
    assert not missing, "add these to demos/translations/es.messages.json:\n" + "\n".join(map(json.dumps, missing))


def test_the_spanish_messages_hold_only_strings_the_code_makes():
    found, _ = request_time_strings()
    unused = sorted(set(messages.catalogue("es")) - found)
    assert not unused, "remove these from demos/translations/es.messages.json:\n" + "\n".join(map(json.dumps, unused))


def test_every_message_is_written_out_where_it_is_raised():
    _, unwritten = request_time_strings()
    assert not unwritten, "write these messages out (an f-string or a module constant) so they can be translated"


def test_translations_keep_every_field_and_have_words():
    for english, spanish in messages.catalogue("es").items():
        assert set(Template.parse(english).fields) == set(Template.parse(spanish).fields), english
        assert Template.parse(english).has_words, english


@pytest.fixture(scope="module")
def spanish_client(app_url: str):
    return Client(app_url, headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.8"}, verbose=False)


def test_a_spanish_client_gets_errors_in_spanish(spanish_client, client):
    with pytest.raises(Exception) as spanish:
        spanish_client.predict(text="", model_id=None, api_name="/sentiment")
    with pytest.raises(Exception) as english:
        client.predict(text="", model_id=None, api_name="/sentiment")
    assert "Type some text to classify" in str(english.value)
    assert translated("Type some text to classify (one text per line for several).", "es") in str(spanish.value)
    assert "Type some text" not in str(spanish.value)


def test_a_spanish_client_gets_the_status_line_in_spanish(spanish_client, client):
    *_, spanish_status = spanish_client.predict(text="I love it", model_id=None, api_name="/sentiment")
    *_, english_status = client.predict(text="I love it", model_id=None, api_name="/sentiment")
    assert english_status.startswith("Served by `") and " on **cpu** " in english_status
    assert spanish_status.startswith("Servido por `") and " en **cpu** " in spanish_status
    assert "stand-in" not in spanish_status and "Served by" not in spanish_status


def test_an_image_refused_before_the_tab_runs_is_refused_in_spanish(spanish_client):
    # Gradio checks the inputs before it calls the tab's function; `in_request_language` covers that part too.
    with pytest.raises(AppError) as refused:
        spanish_client.predict(handle_file("http://example.invalid/x.png"), api_name="/segment")
    assert translated(NOT_UPLOADED, "es") in str(refused.value) and NOT_UPLOADED not in str(refused.value)
