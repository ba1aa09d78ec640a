// Contrast ratios (WCAG 2) of the text in the custom-styled elements under `root`: the banners the app adds, and
// every element with an inline colour. Returns [text, ratio, wanted] for each, colours read as the browser paints;
// wanted is WCAG AA's 4.5, or 3 for large text.
(root) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const rgba = (css) => {
    context.clearRect(0, 0, 1, 1);
    context.fillStyle = "rgba(0, 0, 0, 0)";
    context.fillStyle = css;
    context.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = context.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const over = (top, bottom) => top.slice(0, 3).map((c, i) => c * top[3] + bottom[i] * (1 - top[3])).concat(1);
  const pageColour = document.body.classList.contains("dark") ? [11, 15, 25, 1] : [255, 255, 255, 1];
  const background = (element) => {
    const layers = [];
    for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
      const colour = rgba(getComputedStyle(node).backgroundColor);
      if (colour[3] > 0) layers.push(colour);
      if (colour[3] === 1) break;
    }
    let result = layers.length && layers[layers.length - 1][3] === 1 ? layers.pop() : pageColour;
    while (layers.length) result = over(layers.pop(), result);
    return result;
  };
  const luminance = ([r, g, b]) => {
    const linear = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const ratio = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  };
  const found = [];
  const check = (element, wanted) => {
    if (!element.offsetParent || !element.innerText.trim()) return;
    const bg = background(element);
    const text = over(rgba(getComputedStyle(element).color), bg);
    found.push([element.innerText.trim().slice(0, 60), Math.round(ratio(text, bg) * 100) / 100, wanted]);
  };
  for (const banner of root.querySelectorAll(".stand-in-banner, .offline-banner")) {
    for (const part of banner.querySelectorAll("p, li, strong, code, a")) check(part, 4.5);
  }
  const large = (element) => {
    const style = getComputedStyle(element);
    const size = parseFloat(style.fontSize);
    return size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  };
  for (const element of root.querySelectorAll("[style*='color']")) check(element, large(element) ? 3 : 4.5);
  return found;
}
