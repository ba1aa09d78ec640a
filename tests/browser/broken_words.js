// Table headers that break a word across lines ("probabili / ty"): a column squeezed narrower than its title's
// longest word. Returns the header texts under `root`.
(root) => {
  const broken = [];
  for (const header of root.querySelectorAll("th")) {
    if (!header.offsetParent) continue;
    const walker = document.createTreeWalker(header, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const word of node.data.matchAll(/\S+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].filter((box) => box.width).map((box) => Math.round(box.top)));
        if (lines.size > 1) broken.push(header.innerText.trim().replace(/\s+/g, " "));
      }
    }
  }
  return [...new Set(broken)];
}
