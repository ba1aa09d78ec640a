// What sticks out of the window sideways: [description, left, right] for each visible element that reaches past the
// window's edge outside any box of its own that scrolls or clips it (a table scrolling inside its own box is fine;
// the page scrolling sideways, or the app cutting text off at the window's edge, is not), outermost offenders only;
// and the page's scroll width beside the window's.
() => {
  const width = document.documentElement.clientWidth;
  // Inside a box that fits the window and scrolls or hides its overflow: a table scrolling in its own box, a cell
  // cut with an ellipsis. The app's outer container hiding what sticks out is no excuse: that is text cut off.
  const contained = (element) => {
    for (let node = element.parentElement; node && node !== document.body; node = node.parentElement) {
      if (getComputedStyle(node).overflowX === "visible") continue;
      const box = node.getBoundingClientRect();
      if (box.left >= -1 && box.right <= width + 1) return !node.classList.contains("gradio-container");
    }
    return false;
  };
  const describe = (element) => {
    const label = element.getAttribute("aria-label") || element.getAttribute("data-testid") || "";
    const text = (element.innerText || "").trim().replace(/\s+/g, " ").slice(0, 40);
    const classes = [...element.classList].filter((name) => !name.startsWith("svelte-")).join(".");
    return `<${element.tagName.toLowerCase()}${classes ? "." + classes : ""}${label ? ` ${label}` : ""}> ${text}`;
  };
  const found = [];
  const reported = new Set();
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(element).visibility === "hidden") continue;
    if (box.right <= width + 1 && box.left >= -1) continue;
    if (box.right <= 0 || contained(element)) continue;  // wholly left of the page: measuring nodes
    let parent = element.parentElement;
    while (parent && !reported.has(parent)) parent = parent.parentElement;
    reported.add(element);
    if (parent) continue;
    found.push([describe(element), Math.round(box.left), Math.round(box.right)]);
  }
  const page = { scrollWidth: document.documentElement.scrollWidth, width };
  return { found, page };
}
