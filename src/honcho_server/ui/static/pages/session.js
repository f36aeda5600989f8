// A session: its messages (paged, searchable), its summaries, and its context as an app receives it.

import { get, post, ws } from "../api.js";
import { h, pager, problem, section, when } from "../dom.js";
import { messageItem, messageList } from "./messages.js";
import { searchBox } from "./workspace.js";

const sessionPath = (w, s) => `${ws(w)}/sessions/${encodeURIComponent(s)}`;
const PAGE_SIZE = 20;

function messages(w, s, focus) {
  const box = h("div");
  const load = async (page) => {
    const found = await post(`${sessionPath(w, s)}/messages/list?page=${page}&size=${PAGE_SIZE}`, {});
    box.replaceChildren(found.items.length ? messageList(w, found.items, false, focus) : h("p", {}, "No messages."),
      pager(found, (p) => load(p).catch((e) => box.replaceChildren(problem(e))), "Messages"));
    return box;
  };
  return load(1);
}

// The message a link pointed at (a conclusion's source), shown first and highlighted.
async function focused(w, s, id) {
  const m = await get(`${sessionPath(w, s)}/messages/${encodeURIComponent(id)}`);
  return h("ol", { class: "messages" }, messageItem(w, m, { focused: true }));
}

function summary(title, found) {
  return h("article", { class: "summary" }, h("h3", {}, title),
    found ? [h("p", {}, found.content), h("p", { class: "meta" },
      `${found.token_count} tokens · up to message ${found.message_id} · ${when(found.created_at)}`)]
      : h("p", {}, "None yet."));
}

async function summaries(w, s) {
  const found = await get(`${sessionPath(w, s)}/summaries`);
  return [summary("Short summary", found.short_summary), summary("Long summary", found.long_summary)];
}

function contextView(w, s) {
  const slider = h("input", { id: "context-tokens", type: "range", min: 50, max: 8000, step: 50, value: 2000 });
  const shown = h("output", { for: "context-tokens", id: "context-tokens-value" }, "2000");
  const body = h("div", { class: "context", "aria-live": "polite" });
  let timer = null;
  const load = async () => {
    shown.textContent = slider.value;
    try {
      const found = await get(`${sessionPath(w, s)}/context?tokens=${slider.value}&summary=true`);
      const used = found.messages.reduce((n, m) => n + m.token_count, 0) + (found.summary?.token_count ?? 0);
      body.replaceChildren(
        h("p", { class: "meta", id: "context-used" },
          `${found.messages.length} messages${found.summary ? " and a summary" : ""}, ${used} of ${slider.value} tokens`),
        found.summary ? summary(`Summary (${found.summary.summary_type})`, found.summary) : null,
        messageList(w, found.messages),
        h("details", {}, h("summary", {}, "As JSON"), h("pre", {}, JSON.stringify(found, null, 2))));
    } catch (error) {
      body.replaceChildren(problem(error));
    }
  };
  slider.addEventListener("input", () => {
    shown.textContent = slider.value;
    clearTimeout(timer);
    timer = setTimeout(load, 200);
  });
  load();
  return [h("p", {}, "What ", h("code", {}, "session.context()"), " returns for a token budget."),
    h("div", { class: "slider" }, h("label", { for: "context-tokens" }, "Token budget"), " ", slider, " ", shown), body];
}

export function sessionPage(w, s, focus) {
  return h("div", {}, h("h1", {}, `Session ${s}`),
    focus ? section("Linked message", () => focused(w, s, focus)) : null,
    section("Messages", () => messages(w, s, focus)),
    h("section", { "aria-label": "Search this session" }, h("h2", {}, "Search this session"),
      searchBox(`${sessionPath(w, s)}/search`, "Search this session's messages", w)),
    section("Summaries", () => summaries(w, s)),
    h("section", { "aria-label": "Context" }, h("h2", {}, "Context"), contextView(w, s)));
}
