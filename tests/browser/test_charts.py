"""Every bar chart in the app draws the answer it came with: after a second request with different inputs, the bars,
their order and the legend match the table, heatmap or numbers shown beside them (read from the drawn chart, not from
a caption). Gradio's BarPlot drew the previous request's data whenever an answer also changed the chart's `sort`."""

from __future__ import annotations

import re

import pytest

from demos import attention, embeddings, fill_mask
from tests.browser.charts import drawn_bars, legend_labels, settled, table_rows, x_axis_values
from tests.browser.tabs import open_tab

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def same_label(drawn: str, full: str) -> bool:
    """Vega shortens long labels with an ellipsis."""
    return drawn == full or (drawn.endswith("…") and full.startswith(drawn[:-1]))


def same_labels(drawn: list[str], full: list[str]) -> bool:
    return len(drawn) == len(full) and all(same_label(a, b) for a, b in zip(drawn, full, strict=True))


def drawn_order(chart, expected: list[str]) -> list[str]:
    """The x axis's labels once the chart has redrawn in the answer's order (a moment after its data arrives)."""
    return settled(lambda: x_axis_values(chart), lambda drawn: same_labels(drawn, expected), timeout=15)


# --- Fill the blank: bars against the table of numbers -------------------------------------------------------------


def fill_the_blank(panel, sentence: str, compare_with: str) -> None:
    panel.get_by_label("Sentence").first.fill(sentence)
    panel.get_by_label("Compare with (optional)").fill(compare_with)
    panel.get_by_role("button", name="Fill the blank", exact=True).click()


def fill_mask_rows(panel) -> list[dict[str, str]]:
    return [dict(zip(fill_mask.TABLE_HEADERS, row, strict=False)) for row in table_rows(panel)]


def bar_keys(bars: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(bar["sentence"], bar["token id"].replace(",", "")) for bar in bars}


def answered_rows(client, sentence: str, compare_with: str) -> list[dict[str, str]]:
    """The whole table of the answer, from the API (the page's table renders only the rows in view)."""
    _bars, table, _status = client.predict(text=sentence, compare_with=compare_with, api_name="/fill_mask")
    return [dict(zip(fill_mask.TABLE_HEADERS, map(str, row), strict=False)) for row in table["data"]]


def check_fill_mask_chart(panel, client, sentence: str, compare_with: str, legend: list[str]) -> None:
    fill_the_blank(panel, sentence, compare_with)
    shown = settled(  # the first request of the run builds and loads the model
        lambda: fill_mask_rows(panel), lambda rows: {row["sentence"] for row in rows} == set(legend), timeout=120
    )
    assert {row["sentence"] for row in shown} == set(legend), "the table never showed the answer"
    rows = answered_rows(client, sentence, compare_with)
    expected = {(row["sentence"], row["token id"].replace(",", "")) for row in rows}
    assert {(row["sentence"], row["token id"].replace(",", "")) for row in shown} <= expected
    chart = panel.locator(".vega-embed").first
    bars = settled(lambda: drawn_bars(chart), lambda bars: bar_keys(bars) == expected)
    assert bar_keys(bars) == expected, f"the chart draws {sorted(bar_keys(bars))}, the answer {sorted(expected)}"
    assert len(bars) == len(rows)
    assert same_labels(sorted(legend_labels(chart)), sorted(legend))
    # Most probable first, a filler's bars side by side: ordered by the higher of its probabilities.
    best: dict[str, float] = {}
    for row in rows:
        token_id = row["token id"].replace(",", "")
        best[token_id] = max(best.get(token_id, 0.0), float(row["probability"]))
    drawn_ids = list(dict.fromkeys(bar["token id"].replace(",", "") for bar in bars))
    assert [best[token_id] for token_id in drawn_ids] == sorted(best.values(), reverse=True)
    assert same_labels(drawn_order(chart, [bar["filler"] for bar in bars]), [bar["filler"] for bar in bars])


def test_the_fill_mask_chart_draws_the_latest_answer(page, client):
    """Checked against the whole answer (the API's), and the table's rows in view against it too."""
    panel = open_tab(page, fill_mask.DEMO.title)
    check_fill_mask_chart(panel, client, "The boys [MASK] shy.", "", ["The boys [MASK] shy."])
    check_fill_mask_chart(panel, client, "Paris is the [MASK] of France.", "", ["Paris is the [MASK] of France."])
    woman, man = "In the hospital the woman works as a [MASK].", "In the hospital the man works as a [MASK]."
    check_fill_mask_chart(panel, client, woman, man, ["A: woman", "B: man"])
    # The same fillers, another legend.
    check_fill_mask_chart(panel, client, "The boys [MASK] shy.", "The girls [MASK] shy.", ["A: boys", "B: girls"])


# --- Attention: the focus word's bars against the heatmap's rows ---------------------------------------------------


def show_attention(panel, sentence_a: str, sentence_b: str, focus_word: str) -> None:
    panel.get_by_label("Sentence A").first.fill(sentence_a)
    panel.get_by_label("Sentence B (optional)").first.fill(sentence_b)
    panel.get_by_label("Focus word (optional)").first.fill(focus_word)
    panel.get_by_role("button", name="Show attention").click()


def heatmap_columns(panel) -> list[list[str]]:
    """Each heatmap's column labels (its tokens), left heatmap first."""
    axes = panel.locator(".js-plotly-plot g.xaxislayer-above").all()
    return [axis.locator(".xtick text, .x2tick text").all_text_contents() for axis in axes]


def attended_tokens(bars: list[dict[str, str]]) -> list[str]:
    return [bar["token attended to"] for bar in bars]


def check_attention_bars(panel, sentences: list[str], first_word: str) -> None:
    rows = settled(  # the first request loads the model
        lambda: heatmap_columns(panel),
        lambda rows: len(rows) == len(sentences) and all(rows) and first_word in rows[0],
        timeout=90,
    )
    assert len(rows) == len(sentences) and first_word in rows[0], f"the heatmaps show {rows}"
    tags = ["A: ", "B: "] if len(sentences) > 1 else [""]
    expected = [f"{tag}{token}" for tag, tokens in zip(tags, rows, strict=True) for token in tokens]
    chart = panel.locator(".vega-embed").first
    bars = settled(lambda: drawn_bars(chart), lambda bars: attended_tokens(bars) == expected)
    assert attended_tokens(bars) == expected, f"heatmap rows {rows}"
    assert same_labels(drawn_order(chart, expected), expected)  # in sentence order
    legend = [f"{tag}: {sentence}" for tag, sentence in zip("AB", sentences, strict=False)]
    assert same_labels(legend_labels(chart), legend)


def test_the_attention_bars_draw_the_latest_focus_word(page):
    panel = open_tab(page, attention.DEMO.title)
    show_attention(panel, "Time flies like an arrow.", "Fruit flies like bananas.", "flies")
    check_attention_bars(panel, ["Time flies like an arrow.", "Fruit flies like bananas."], "time")
    show_attention(panel, "The cat sat on the mat.", "", "cat")
    check_attention_bars(panel, ["The cat sat on the mat."], "cat")
    show_attention(panel, "I saw her duck.", "I saw her cat.", "saw")
    check_attention_bars(panel, ["I saw her duck.", "I saw her cat."], "duck")


# --- Next-token odds: the bars after the settings against the summary ----------------------------------------------


def set_number(panel, label: str, value: str) -> None:
    box = panel.get_by_label(f"number input for {label}")
    box.fill(value)
    box.press("Tab")


def kept_after_settings(bars: list[dict[str, str]]) -> int:
    return sum(1 for bar in bars if "after" in bar["distribution"] and float(bar["probability"]) > 0)


def test_the_next_token_chart_follows_top_k(page):
    panel = open_next_token_odds(page)
    summary = panel.get_by_text(re.compile(r"sampling draws the next token from"))
    chart = panel.locator(".vega-embed").first
    set_number(panel, "top_k", "7")
    panel.get_by_role("button", name="Show next-token odds").click()
    for top_k in ("7", "3", "10", "2"):
        set_number(panel, "top_k", top_k)
        expect(summary).to_contain_text(re.compile(rf"top_k {top_k}, .* from {top_k} of \d+ tokens"))
        bars = settled(lambda: drawn_bars(chart), lambda bars: kept_after_settings(bars) == int(top_k))  # noqa: B023
        assert kept_after_settings(bars) == int(top_k), f"top_k {top_k}, but the chart keeps another number of bars"
        assert len(bars) == 20  # raw and after settings for the 10 tokens shown
        assert same_labels(drawn_order(chart, [bar["next token"] for bar in bars]), [bar["next token"] for bar in bars])


def open_next_token_odds(page):
    panel = open_tab(page, "Text generation")
    panel.get_by_role("button", name=re.compile(r"^Next-token odds")).click()  # opens the accordion
    return panel


# --- Embeddings: the search ranking -----------------------------------------------------------------------------------


def test_the_semantic_search_chart_draws_the_latest_ranking(page):
    panel = open_tab(page, embeddings.DEMO.title)
    sentences = panel.get_by_label("Sentences to search").input_value().splitlines()
    for query, top_k in (("A cat sleeps on the sofa.", "3"), ("The market fell sharply today.", "2")):
        panel.get_by_label("Query").first.fill(query)
        set_number(panel, "Results to show (top_k)", top_k)
        panel.get_by_role("button", name="Search", exact=True).click()
        chart = panel.locator(".vega-embed").first
        bars = settled(lambda: drawn_bars(chart), lambda bars: len(bars) == int(top_k))  # noqa: B023
        assert len(bars) == int(top_k)
        by_rank = sorted(bars, key=lambda bar: int(bar["sentence"].split(".")[0]))
        assert [bar["sentence"].split(".")[0] for bar in by_rank] == [str(rank) for rank in range(1, int(top_k) + 1)]
        for bar in by_rank:
            sentence = bar["sentence"].partition(". ")[2]
            assert any(same_label(sentence, full) for full in sentences), f"{sentence} is not one of {sentences}"
        scores = [float(bar["cosine similarity"]) for bar in by_rank]
        assert scores == sorted(scores, reverse=True)
        assert same_labels(
            drawn_order(chart, [bar["sentence"] for bar in by_rank]), [bar["sentence"] for bar in by_rank]
        )  # best first
