// A bar chart as inline SVG: one bar per item, labelled axes, a title for screen readers.

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== null) el.textContent = text;
  return el;
}

export function barChart(items, title, format) {
  const width = 640, height = 240, left = 70, bottom = 40, top = 20;
  const plotW = width - left - 10, plotH = height - top - bottom;
  const max = Math.max(...items.map((i) => i.value), 0) || 1;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "chart-title",
    class: "chart" });
  chart.append(svg("title", { id: "chart-title" }, `${title}: ${items.map((i) => `${i.label} ${format(i.value)}`).join(", ")}`));
  chart.append(svg("line", { x1: left, y1: top, x2: left, y2: top + plotH, class: "axis" }));
  chart.append(svg("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, class: "axis" }));
  chart.append(svg("text", { x: left - 6, y: top + 4, "text-anchor": "end", class: "tick" }, format(max)));
  chart.append(svg("text", { x: left - 6, y: top + plotH, "text-anchor": "end", class: "tick" }, format(0)));
  const slot = plotW / items.length;
  items.forEach((item, i) => {
    const barH = (item.value / max) * plotH;
    const x = left + i * slot + slot * 0.15;
    const bar = svg("rect", { x, y: top + plotH - barH, width: Math.max(slot * 0.7, 1), height: barH, class: "bar" });
    bar.append(svg("title", {}, `${item.label}: ${format(item.value)}`));
    chart.append(bar);
    if (items.length <= 12 || i % Math.ceil(items.length / 12) === 0) {
      chart.append(svg("text", { x: x + slot * 0.35, y: top + plotH + 16, "text-anchor": "middle", class: "tick" },
        item.label.slice(5)));
    }
  });
  chart.append(svg("text", { x: left + plotW / 2, y: height - 4, "text-anchor": "middle", class: "axis-label" }, title));
  return chart;
}
