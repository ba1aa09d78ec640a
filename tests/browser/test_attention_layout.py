"""The Attention tab's two heatmaps at a laptop's and a phone's width: each at the plot's full width, one above the
other, under a title that holds its whole sentence (the differing last word included) and overlaps nothing, with row
labels that do not run into each other."""

from __future__ import annotations

import pytest

from demos import TASKS, attention
from tests.browser.layout_checks import overlap
from tests.browser.tabs import open_tab

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect


def inside(box: dict, outer: dict, slack: float = 1.0) -> bool:
    return (
        box["x"] >= outer["x"] - slack
        and box["y"] >= outer["y"] - slack
        and box["x"] + box["width"] <= outer["x"] + outer["width"] + slack
        and box["y"] + box["height"] <= outer["y"] + outer["height"] + slack
    )


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_two_heatmaps_stack_with_whole_titles_that_overlap_nothing(open_page, width, height):
    page = open_page(width, height)
    panel = open_tab(page, TASKS["attention"].title)
    sentence_a, sentence_b, *_ = attention.EXAMPLES[1]  # the animal was too tired / too wide: the last word differs
    panel.get_by_text(sentence_b).first.click()  # the example row
    expect(panel.get_by_label("Sentence B (optional)").first).to_have_value(sentence_b)
    panel.get_by_role("button", name="Show attention").click()
    panel.get_by_text("Served by").wait_for()

    plot = panel.locator(".js-plotly-plot")
    expect(plot.locator(".heatmaplayer")).to_have_count(2, timeout=30_000)
    plot_box = plot.bounding_box()
    areas = [area.bounding_box() for area in plot.locator("rect.nsewdrag").all()]
    titles = plot.locator("g.annotation")
    expect(titles).to_have_count(2)
    assert len(areas) == 2
    for area in areas:
        # The plot's width less its row labels and colour bar (side by side, each had under a quarter on a phone).
        assert area["width"] >= 0.45 * plot_box["width"], f"a heatmap is {area['width']:.0f} px of {plot_box['width']}"
        assert inside(area, plot_box)
    assert not overlap(areas[0], areas[1]) and abs(areas[0]["x"] - areas[1]["x"]) <= 1  # one above the other

    title_boxes = []
    for title, sentence in zip(titles.all(), (sentence_a, sentence_b), strict=True):
        lines = [line.text_content() for line in title.locator("tspan.line").all()] or [title.text_content()]
        assert " ".join(" ".join(lines).split()).endswith(sentence), f"the title is cut: {lines}"
        box = title.bounding_box()
        assert inside(box, plot_box) and box["x"] >= 0 and box["x"] + box["width"] <= width, f"{lines} is cut off"
        assert not any(overlap(box, area) for area in areas), f"{lines} covers a heatmap"
        title_boxes.append(box)
    assert not overlap(*title_boxes)

    for axis in ("ytick", "y2tick"):
        labels = [label.bounding_box() for label in plot.locator(f".{axis} text").all()]
        assert len(labels) >= 10
        assert not any(overlap(first, second) for first, second in zip(labels, labels[1:], strict=False))
        assert min(label["height"] for label in labels) >= 9  # pixels: readable on a phone
