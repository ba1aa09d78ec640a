"""Measurements of what the browser drew, for the layout tests: characters by line, boxes against their clipping
containers and the window."""

from __future__ import annotations

import re

# Each character of the text under an element that sits inside elements matching `pieces` (leaving out a badge or
# the template's whitespace between them), with the middle of the line it was drawn on (null when not drawn).
CHARACTER_LINES = """([root, pieces]) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const drawn = [];
    while (walker.nextNode()) {
        const node = walker.currentNode;
        if (!node.parentElement.closest(pieces)) continue;
        for (let index = 0; index < node.length; index++) {
            const range = document.createRange();
            range.setStart(node, index);
            range.setEnd(node, index + 1);
            const rect = range.getClientRects()[0];
            drawn.push([node.data[index], rect ? Math.round(rect.top + rect.height / 2) : null]);
        }
    }
    return drawn;
}"""

# How far an element reaches past what shows of it: past the window, or past an ancestor that clips or scrolls it.
HIDDEN_PART = """(element) => {
    const box = element.getBoundingClientRect();
    let right = window.innerWidth, left = 0;
    for (let parent = element.parentElement; parent; parent = parent.parentElement) {
        const style = getComputedStyle(parent);
        if (style.overflowX !== "visible") {
            const clip = parent.getBoundingClientRect();
            right = Math.min(right, clip.right);
            left = Math.max(left, clip.left);
        }
    }
    return {left: Math.max(0, left - box.left), right: Math.max(0, box.right - right), width: box.width};
}"""


def split_words(characters: list[tuple[str, int | None]]) -> list[str]:
    """The words (runs of letters and digits) whose letters were drawn on more than one line."""
    text = "".join(character for character, _ in characters)
    split = []
    for word in re.finditer(r"\w+", text):
        lines = {line for _, line in characters[word.start() : word.end()]}
        if len(lines) > 1:
            split.append(word.group())
    return split


def overlap(first: dict, second: dict, slack: float = 0.5) -> bool:
    """Whether two bounding boxes (Playwright's x, y, width, height) share more than `slack` pixels each way."""
    return (
        min(first["x"] + first["width"], second["x"] + second["width"]) - max(first["x"], second["x"]) > slack
        and min(first["y"] + first["height"], second["y"] + second["height"]) - max(first["y"], second["y"]) > slack
    )
