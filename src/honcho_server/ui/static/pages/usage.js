// LLM usage: totals per task and model, and calls, tokens and cost per day (a chart drawn here, no library).

import { get, ws } from "../api.js";
import { h, section } from "../dom.js";
import { barChart } from "./chart.js";

const money = (usd) => (usd === null || usd === undefined ? "unpriced" : `$${usd.toFixed(4)}`);

async function totals(w) {
  const u = await get(`${ws(w)}/usage`);
  const t = u.totals;
  return [
    h("p", {}, `${t.calls} calls (${t.failed_calls} failed), ${t.input_tokens} input and ${t.output_tokens} output `,
      `tokens, estimated cost ${money(t.cost_usd)}${t.unpriced_calls ? ` (${t.unpriced_calls} calls unpriced)` : ""}.`),
    u.by_model.length ? h("table", {}, h("caption", {}, "By task and model"),
      h("thead", {}, h("tr", {}, ["Task", "Model", "Calls", "Input tokens", "Output tokens", "Cost", "Mean latency"]
        .map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, u.by_model.map((r) => h("tr", {}, h("td", {}, r.task), h("td", {}, `${r.provider} ${r.model}`),
        h("td", {}, String(r.calls)), h("td", {}, String(r.input_tokens)), h("td", {}, String(r.output_tokens)),
        h("td", {}, money(r.cost_usd)), h("td", {}, `${r.mean_latency_ms} ms`))))) : null,
  ];
}

// Per day: the sum over tasks.
function perDay(rows) {
  const days = new Map();
  for (const r of rows) {
    const d = days.get(r.day) ?? { day: r.day, calls: 0, tokens: 0, cost: 0, priced: false };
    d.calls += r.calls;
    d.tokens += r.input_tokens + r.output_tokens;
    if (r.cost_usd !== null) {
      d.cost += r.cost_usd;
      d.priced = true;
    }
    days.set(r.day, d);
  }
  return [...days.values()];
}

async function overTime(w) {
  const days = perDay(await get(`${ws(w)}/usage/daily`));
  if (!days.length) return h("p", {}, "No LLM calls in the last 30 days.");
  const priced = days.some((d) => d.priced);
  const measure = priced ? (d) => d.cost : (d) => d.tokens;
  const label = priced ? "Estimated cost per day (USD)" : "Tokens per day";
  return [
    barChart(days.map((d) => ({ label: d.day, value: measure(d) })), label,
      priced ? (v) => `$${v.toFixed(4)}` : (v) => String(Math.round(v))),
    h("table", {}, h("caption", {}, "Per day"),
      h("thead", {}, h("tr", {}, ["Day", "Calls", "Tokens", "Cost"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, days.map((d) => h("tr", {}, h("td", {}, d.day), h("td", {}, String(d.calls)),
        h("td", {}, String(d.tokens)), h("td", {}, d.priced ? money(d.cost) : "unpriced"))))),
  ];
}

export function usagePage(w) {
  return h("div", {}, h("h1", {}, `LLM usage of ${w}`),
    section("Over time", () => overTime(w)),
    section("Totals", () => totals(w)));
}
