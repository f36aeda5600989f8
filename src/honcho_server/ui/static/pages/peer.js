// A peer: its card, its representation, the conclusions about it by level (provenance one click away), the
// supersession history, its sessions, and a chat with the dialectic about it.

import { get, post, ws } from "../api.js";
import { h, link, route, section, when } from "../dom.js";
import { chatBox } from "./chat.js";
import { conclusionLine, provenanceDetails } from "./conclusion.js";

const LEVELS = [["explicit", "Explicit"], ["deductive", "Deductive"], ["inductive", "Inductive"],
  ["contradiction", "Contradictions"]];

const peerPath = (w, p) => `${ws(w)}/peers/${encodeURIComponent(p)}`;

async function card(w, p) {
  const found = await get(`${peerPath(w, p)}/card`);
  return found.peer_card?.length ? h("ul", { class: "card" }, found.peer_card.map((e) => h("li", {}, e)))
    : h("p", {}, "No card yet.");
}

async function representation(w, p) {
  const found = await post(`${peerPath(w, p)}/representation`, {});
  return found.representation ? h("pre", { class: "representation" }, found.representation)
    : h("p", {}, "Nothing known yet.");
}

function conclusionItems(w, items) {
  return h("ul", { class: "conclusions" }, items.map((c) =>
    h("li", { class: "conclusion" }, conclusionLine(w, c), provenanceDetails(w, c))));
}

async function byLevel(w, p) {
  const parts = [];
  for (const [level, title] of LEVELS) {
    const found = await post(`${ws(w)}/conclusions/list?size=50`, { filters: { observed_id: p, level } });
    parts.push(h("section", { "aria-label": `${title} conclusions`, class: `level-group level-group-${level}` },
      h("h3", {}, `${title} (${found.total})`),
      found.items.length ? conclusionItems(w, found.items) : h("p", {}, "None."),
      found.total > found.items.length ? h("p", { class: "meta" }, `The newest ${found.items.length} shown.`) : null));
  }
  return parts;
}

async function history(w, p) {
  const found = await post(`${ws(w)}/conclusions/list?size=50`,
    { filters: { observed_id: p, superseded_by: { ne: null } } });
  return found.items.length
    ? [h("p", {}, "Conclusions consolidation replaced; open one to see what replaced it."), conclusionItems(w, found.items)]
    : h("p", {}, "Nothing superseded.");
}

async function sessions(w, p) {
  const found = await post(`${peerPath(w, p)}/sessions?size=50`, {});
  return found.items.length ? h("ul", {}, found.items.map((s) =>
    h("li", {}, link(route("w", w, "session", s.id), s.id), ` · ${when(s.created_at)}`))) : h("p", {}, "No sessions.");
}

export function peerPage(w, p) {
  return h("div", {}, h("h1", {}, `Peer ${p}`),
    section("Peer card", () => card(w, p)),
    section("Representation", () => representation(w, p)),
    section("Conclusions by level", () => byLevel(w, p)),
    section("Supersession history", () => history(w, p)),
    section("Sessions", () => sessions(w, p)),
    h("section", { "aria-label": "Ask the dialectic" }, h("h2", {}, `Ask about ${p}`), chatBox(w, p)));
}

