// A workspace: its peers and sessions (paged), a hybrid search over its messages, and where to look further.

import { get, post, ws } from "../api.js";
import { h, link, pager, problem, route, section, when } from "../dom.js";
import { messageList } from "./messages.js";

function pagedTable(caption, path, row, headings) {
  const box = h("div");
  const load = async (page) => {
    const found = await post(`${path}?page=${page}&size=20`);
    box.replaceChildren(
      found.items.length === 0 ? h("p", {}, `No ${caption.toLowerCase()} yet.`) : h("table", {},
        h("caption", {}, caption),
        h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, found.items.map(row))),
      pager(found, (p) => load(p).catch((e) => box.replaceChildren(problem(e))), caption));
    return box;
  };
  return () => load(1);
}

// A search box over `path` (a /search route): the hybrid search's best matches as a message list.
export function searchBox(path, label, w) {
  const id = `search-${Math.random().toString(36).slice(2, 8)}`;
  const results = h("div", { class: "results", "aria-live": "polite" });
  const input = h("input", { id, type: "search", name: "query", required: true });
  const form = h("form", { role: "search", "aria-label": "Message search", onsubmit: async (event) => {
    event.preventDefault();
    results.replaceChildren(h("p", { class: "loading" }, "Searching…"));
    try {
      const found = await post(path, { query: input.value, limit: 20 });
      results.replaceChildren(found.length ? messageList(w, found, true)
        : h("p", {}, "Nothing found."));
    } catch (error) {
      results.replaceChildren(problem(error));
    }
  } }, h("label", { for: id }, label), " ", input, " ", h("button", { type: "submit" }, "Search"));
  return h("div", { class: "search" }, form, results);
}

async function queueSummary(w) {
  const q = await get(`${ws(w)}/queue/status`);
  return h("p", {},
    `${q.pending_work_units} pending, ${q.in_progress_work_units} running, ${q.completed_work_units} done, `,
    h("span", { class: q.failed_work_units ? "bad" : "" }, `${q.failed_work_units} failed`), ". ",
    link(route("w", w, "queue"), "Queue and failed jobs"), " · ", link(route("w", w, "usage"), "LLM usage and cost"));
}

export function workspacePage(w) {
  return h("div", {},
    h("h1", {}, `Workspace ${w}`),
    section("Background work", () => queueSummary(w)),
    h("section", { "aria-label": "Search messages" }, h("h2", {}, "Search messages"),
      searchBox(`${ws(w)}/search`, "Search this workspace's messages", w)),
    section("Peers", pagedTable("Peers", `${ws(w)}/peers/list`,
      (p) => h("tr", {}, h("td", {}, link(route("w", w, "peer", p.id), p.id)), h("td", {}, when(p.created_at))),
      ["Peer", "Created"])),
    section("Sessions", pagedTable("Sessions", `${ws(w)}/sessions/list`,
      (s) => h("tr", {}, h("td", {}, link(route("w", w, "session", s.id), s.id)),
        h("td", {}, s.is_active ? "active" : "inactive"), h("td", {}, when(s.created_at))),
      ["Session", "State", "Created"])),
  );
}
