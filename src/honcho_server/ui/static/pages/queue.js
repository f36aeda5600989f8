// The queue: how much background work is waiting, running, done or failed; failed jobs with errors, and redrive.

import { get, post, ws } from "../api.js";
import { h, problem, section, when } from "../dom.js";

async function status(w) {
  const q = await get(`${ws(w)}/queue/status`);
  const rows = [["Pending", q.pending_work_units], ["Running", q.in_progress_work_units],
    ["Done", q.completed_work_units], ["Failed", q.failed_work_units], ["Total", q.total_work_units]];
  return [
    h("table", {}, h("caption", {}, "Work units"), h("tbody", {}, rows.map(([name, n]) =>
      h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, String(n)))))),
    q.reasoning === "off" ? h("p", { class: "bad" }, `Reasoning is off: ${q.reasoning_detail}`) : null,
  ];
}

async function failed(w, note = "") {
  const box = h("div");
  const jobs = await get(`${ws(w)}/queue/failed`);
  const outcome = h("p", { role: "status", id: "redrive-outcome" }, note);
  const button = h("button", { type: "button", id: "redrive", disabled: jobs.length === 0, onclick: async () => {
    button.disabled = true;
    try {
      const done = await post(`${ws(w)}/queue/redrive`);
      box.replaceWith(await failed(w, `Requeued ${done.requeued} job${done.requeued === 1 ? "" : "s"}.`));
    } catch (error) {
      outcome.replaceChildren(problem(error));
      button.disabled = false;
    }
  } }, "Redrive failed jobs");
  box.append(
    outcome,
    jobs.length === 0 ? h("p", {}, "No failed jobs.") : h("table", {},
      h("caption", {}, "Failed jobs"),
      h("thead", {}, h("tr", {}, ["Job", "Kind", "Attempts", "Failed", "Error"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, jobs.map((j) => h("tr", {}, h("td", {}, String(j.id)), h("td", {}, j.kind),
        h("td", {}, String(j.attempts)), h("td", {}, when(j.failed_at)),
        h("td", {}, h("pre", { class: "error" }, j.error ?? "")))))),
    h("p", {}, button, " sends them back to the queue with a fresh attempt budget."));
  return box;
}

export function queuePage(w) {
  return h("div", {}, h("h1", {}, `Queue of ${w}`),
    section("Status", () => status(w)),
    section("Failed jobs", () => failed(w)));
}
