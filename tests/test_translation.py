"""The page in Spanish (demos/translation.py): every string a visitor reads has a Spanish translation, the catalogue
holds nothing the app no longer shows, and translating changes nothing of the API."""

from __future__ import annotations

import json
import re

import pytest

import app as app_module
from demos import translation
from shared.runtime import Runtime
from shared.settings import Settings

# What a translation must carry over unchanged: links, `{}` fields, mask tokens and model ids.
KEPT = re.compile(r"\]\([^)]*\)|\{[^}]*\}|\[MASK\]|<mask>|[\w.-]+/[\w.-]+")


@pytest.fixture(scope="module")
def built_app(tmp_path_factory: pytest.TempPathFactory):
    runtime = Runtime(Settings(stand_ins="tiny", cache_dir=tmp_path_factory.mktemp("cache"), device="cpu"))
    return app_module.build_app(runtime)


def test_every_string_of_the_page_has_a_spanish_translation(built_app):
    missing = translation.untranslated(built_app, "es")
    assert not missing, "add these to demos/translations/es.json:\n" + "\n".join(map(json.dumps, missing))


def test_the_spanish_catalogue_holds_only_strings_the_page_shows(built_app):
    unused = translation.unused(built_app, "es")
    assert not unused, "remove these from demos/translations/es.json:\n" + "\n".join(map(json.dumps, unused))


def test_translations_keep_links_fields_mask_tokens_and_model_ids():
    changed = {
        english: spanish
        for english, spanish in translation.catalogue("es").items()
        if sorted(KEPT.findall(english)) != sorted(KEPT.findall(spanish))
    }
    assert not changed


def test_keys_are_flat_and_one_per_text():
    texts = list(translation.catalogue("es"))
    keys = {translation.key(text) for text in texts}
    assert len(keys) == len(texts) and not any("." in key for key in keys)


def test_the_page_config_carries_keys_that_the_i18n_translates(tmp_path):
    runtime = Runtime(Settings(stand_ins="tiny", cache_dir=tmp_path, device="cpu"))
    translated = translation.translate(app_module.build_app(runtime), translation.I18N)
    assert not [slot.text for slot in translation.slots(translated) if isinstance(slot.text, str)]
    config = json.loads(json.dumps(translated.get_config_file(), default=str))
    tab_labels = [c["props"]["label"] for c in config["components"] if c["type"] == "tabitem"]
    first = json.loads(tab_labels[0].removeprefix(translation.I18N_MARK))
    translations = translation.I18N.translations_dict
    assert (translations["en"][first["key"]], translations["es"][first["key"]]) == ("Sentiment", "Sentimiento")


def test_the_api_keeps_its_parameter_names_choice_values_and_english_labels(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    generate = {parameter["parameter_name"]: parameter for parameter in endpoints["/generate"]["parameters"]}
    assert generate["strategy"]["label"] == "Decoding strategy"
    assert generate["strategy"]["type"]["enum"] == ["greedy", "sampling", "beam search"]
    assert generate["max_new_tokens"]["label"] == "max_new_tokens"
    assert [parameter["label"] for parameter in endpoints["/sentiment"]["parameters"]] == ["Text", "Model"]
    labels = [item["label"] for endpoint in endpoints.values() for item in endpoint["parameters"] + endpoint["returns"]]
    assert not [label for label in labels if translation.I18N_MARK in str(label)]


def test_a_choice_shown_in_spanish_is_still_sent_by_its_value(client):
    text, status = client.predict(
        prompt="Hello", strategy="beam search", max_new_tokens=2, num_beams=2, api_name="/generate"
    )
    assert text.startswith("Hello") and "Served by" in status
