"""The four tabs from the notebooks as a student uses them: fill or pick the inputs, press the button, and read
what the page shows against the numbers the same request gets through the API."""

from __future__ import annotations

import csv
import re

import pytest
from gradio_client import Client, handle_file

from demos import TASKS, attention_steps, evaluate, pipeline_steps, train_classifier
from tests.browser.tabs import open_tab

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


@pytest.fixture(scope="module")
def api(app_url) -> Client:
    return Client(app_url, verbose=False)


def block(panel, label: str):
    """The component whose label starts with `label`."""
    return panel.locator(".block").filter(has_text=label).last


def column(table, index: int, rows: int) -> list[str]:
    return [table.get_by_test_id(f"cell-{row}-{index}").inner_text().strip() for row in range(rows)]


def test_attention_steps_shows_the_softmax_row_the_api_computes(page, api, screenshot):
    panel = open_tab(page, TASKS["attention_steps"].title)
    sentence, second_sentence, word = attention_steps.EXAMPLES[1]  # the river bank and the money bank
    panel.get_by_text(second_sentence).first.click()  # the example row
    expect(panel.get_by_label("Sentence 1").first).to_have_value(sentence)
    expect(panel.get_by_label("Word to follow").first).to_have_value(word)
    panel.get_by_role("button", name="Compute the steps").click()
    expect(panel.get_by_text("Served by")).to_be_visible(timeout=60_000)

    *_, numbers, _ = api.predict(sentence, second_sentence, word, api_name="/attention_steps")
    expected = []  # (sentence, token, weight): the followed word's softmax row in each sentence
    for name, item in zip(attention_steps.SENTENCE_NAMES, numbers["sentences"], strict=True):
        rows = [item["weights"][position] for position in item["word_positions"]]
        weights = [sum(values) / len(rows) for values in zip(*rows, strict=True)]
        expected += [(name, token, weight) for token, weight in zip(item["tokens"], weights, strict=True)]
    table = block(panel, "The followed word's weights")
    expect(table.get_by_test_id(f"cell-{len(expected) - 1}-2")).to_be_visible()
    shown = zip(*(column(table, index, len(expected)) for index in range(3)), strict=True)
    for (name, token, weight), (shown_name, shown_token, shown_weight) in zip(expected, shown, strict=True):
        assert (shown_name, shown_token) == (name, token)
        assert float(shown_weight) == pytest.approx(weight, abs=1e-4)
    assert [row[1] for row in expected].count("bank") == 2

    plots = panel.locator(".js-plotly-plot")
    expect(plots).to_have_count(2, timeout=30_000)  # the steps' heatmaps and the PCA; plotly.js loads on first use
    expect(plots.first.locator(".heatmaplayer")).to_have_count(6)  # three steps for each of the two sentences
    screenshot(page, "attention_steps")


def test_pipeline_steps_shows_the_apis_tokens_probabilities_and_label(page, api, screenshot):
    panel = open_tab(page, TASKS["pipeline_steps"].title)
    text = "The service was slow and the food was cold."
    panel.get_by_label("Text").first.fill(text)
    panel.get_by_role("button", name="Run it step by step").click()
    label = panel.get_by_test_id("label-output-value")
    expect(label).to_be_visible(timeout=60_000)

    *_, values, _ = api.predict(text, pipeline_steps.SENTIMENT_MODELS[0].model_id, api_name="/pipeline_steps")
    expect(label).to_have_text(values["label"])
    tokens = block(panel, "1. Tokenizer: tokens, input_ids")
    count = min(len(values["tokens"]), 8)  # the first rows: a long table scrolls, drawing only the rows in view
    expect(tokens.get_by_test_id(f"cell-{count - 1}-1")).to_be_visible()
    assert column(tokens, 1, count) == values["tokens"][:count]
    assert [int(cell) for cell in column(tokens, 2, count)] == values["input_ids"][:count]
    logits = block(panel, "2-3. Model: logits")
    labels = len(values["labels"])
    assert column(logits, 1, labels) == values["labels"]
    shown = [float(cell) for cell in column(logits, 4, labels)]
    assert shown == pytest.approx(values["probabilities"], abs=1e-4)
    expect(panel.get_by_text(f"→ {values['label']}")).to_be_visible()
    screenshot(page, "pipeline_steps")


def test_evaluate_shows_the_apis_accuracy_the_confusion_matrix_and_the_predictions_file(page, api, screenshot):
    panel = open_tab(page, TASKS["evaluate"].title)
    reviews = evaluate.EXAMPLES_DIR / "reviews.csv"
    label_map = "POSITIVE=pos, NEGATIVE=neg"
    panel.locator("input[type=file]").first.set_input_files(str(reviews))
    panel.get_by_label("Model labels → your labels").fill(label_map)
    panel.get_by_role("button", name="Evaluate", exact=True).click()
    summary = panel.get_by_text(re.compile(r"Accuracy: \d"))
    expect(summary).to_be_visible(timeout=60_000)

    *_, metrics, _ = api.predict(
        handle_file(str(reviews)),
        "text",
        "label",
        label_map,
        api_name="/evaluate",
    )
    expect(summary).to_contain_text(f"Accuracy: {metrics['accuracy']:.1%}")
    expect(panel).to_contain_text(f"({metrics['correct']} of {metrics['n']} rows right)")
    plot = panel.locator(".js-plotly-plot")
    expect(plot).to_have_count(1, timeout=30_000)
    expect(plot).to_contain_text(f"Confusion matrix: {metrics['correct']} of {metrics['n']} right")

    link = panel.get_by_role("row", name=re.compile(r"reviews-predictions\.csv")).get_by_role("link")  # its size
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == metrics["n"]
    assert sum(row["prediction"] == row["label"] for row in rows) == metrics["correct"]
    screenshot(page, "evaluate")


def test_train_then_classify_in_the_same_page(page, api, screenshot):
    panel = open_tab(page, TASKS["train_classifier"].title)
    expect(panel.get_by_label("Labelled sentences")).to_have_value(train_classifier.EXAMPLE_DATA)
    panel.get_by_role("button", name="Train", exact=True).click()
    summary = panel.get_by_text(re.compile(r"Cross-validated accuracy: \d"))
    expect(summary).to_be_visible(timeout=60_000)

    model_id = train_classifier.DEMO.models[0].model_id
    summary_api, _scatter, _counts, metrics, _ = api.predict(
        train_classifier.EXAMPLE_DATA, None, model_id, api_name="/train_classifier"
    )
    expect(summary).to_contain_text(f"Cross-validated accuracy: {metrics['cv_accuracy']:.1%}")
    expect(panel.locator(".js-plotly-plot").locator(".scatterlayer .trace")).to_have_count(len(metrics["labels"]))

    panel.get_by_role("button", name="Classify", exact=True).click()  # the classifier this page trained
    best = panel.get_by_test_id("label-output-value")
    expect(best).to_be_visible(timeout=60_000)
    _, predictions, _ = api.predict(train_classifier.NEW_SENTENCES, api_name="/classify_sentences")
    lines = train_classifier.NEW_SENTENCES.splitlines()
    table = block(panel, "One row per sentence")
    expect(table.get_by_test_id(f"cell-{len(lines) - 1}-1")).to_be_visible()
    assert column(table, 0, len(lines)) == lines
    assert column(table, 1, len(lines)) == [row[1] for row in predictions["data"]]
    expect(best).to_have_text(predictions["data"][0][1])
    screenshot(page, "train_classifier")
