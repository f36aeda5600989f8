// Messages as a list: who said what, when; each links to its place in its session.

import { h, link, route, when } from "../dom.js";

export function messageItem(w, m, { withSession = false, focused = false } = {}) {
  return h("li", { class: focused ? "message focused" : "message", id: `message-${m.id}` },
    h("p", { class: "meta" },
      h("span", { class: "peer" }, m.peer_id), " · ", when(m.created_at),
      withSession ? [" · ", link(route("w", w, "session", m.session_id, "m", m.id), `in session ${m.session_id}`)] : null,
      m.token_count !== undefined ? ` · ${m.token_count} tokens` : null),
    h("p", { class: "content" }, m.content));
}

export function messageList(w, messages, withSession = false, focus = null) {
  return h("ol", { class: "messages" },
    messages.map((m) => messageItem(w, m, { withSession, focused: m.id === focus })));
}
