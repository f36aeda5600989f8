// Asking the dialectic about a peer: the answer streams in as it is written, then the evidence it rests on.

import { stream, ws } from "../api.js";
import { h, link, problem, route } from "../dom.js";

function evidence(w, found) {
  if (!found) return null;
  return h("div", { class: "evidence" }, h("h3", {}, "Evidence"),
    found.conclusions.length ? h("ul", {}, found.conclusions.map((c) =>
      h("li", {}, h("span", { class: `level level-${c.level}` }, c.level), " ",
        link(route("w", w, "conclusion", c.id), c.content)))) : h("p", {}, "No conclusions were read."),
    found.messages.length ? h("ul", {}, found.messages.map((m) =>
      h("li", {}, link(route("w", w, "session", m.session_id, "m", m.id), `message ${m.id}`),
        ` by ${m.peer_id} in ${m.session_id}`))) : h("p", {}, "No messages were read."));
}

export function chatBox(w, peer) {
  const question = h("textarea", { id: "chat-query", name: "query", rows: 2, required: true });
  const answer = h("div", { class: "answer", "aria-live": "polite", id: "chat-answer" });
  const extra = h("div");
  const button = h("button", { type: "submit" }, "Ask");
  const form = h("form", { "aria-label": "Ask the dialectic", onsubmit: async (event) => {
    event.preventDefault();
    button.disabled = true;
    answer.replaceChildren();
    extra.replaceChildren();
    const text = h("p", { class: "answer-text" });
    answer.append(text);
    try {
      const done = await stream(`${ws(w)}/peers/${encodeURIComponent(peer)}/chat`,
        { query: question.value, stream: true, include_evidence: true }, (delta) => { text.textContent += delta; });
      answer.dataset.done = "true";
      extra.replaceChildren(evidence(w, done.evidence));
    } catch (error) {
      answer.replaceChildren(problem(error));
    } finally {
      button.disabled = false;
    }
  } }, h("label", { for: "chat-query" }, `Question about ${peer}`), question, button);
  return h("div", { class: "chat" }, form, answer, extra);
}
