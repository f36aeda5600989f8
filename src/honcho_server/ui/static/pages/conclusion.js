// A conclusion's provenance: source messages, premises, supersession history, what rests on it.

import { get, ws } from "../api.js";
import { h, link, problem, route, section, when } from "../dom.js";
import { messageList } from "./messages.js";

const provenancePath = (w, id) => `${ws(w)}/conclusions/${encodeURIComponent(id)}/provenance`;

export function conclusionLine(w, c) {
  return h("span", { class: "conclusion-line" },
    h("span", { class: `level level-${c.level}` }, c.level), " ",
    link(route("w", w, "conclusion", c.id), c.content, { class: "conclusion-link" }),
    h("span", { class: "meta" }, ` · ${c.observer_id} about ${c.observed_id} · derived ${c.times_derived} time${c.times_derived === 1 ? "" : "s"} · `,
      when(c.created_at)),
    c.superseded_by ? h("span", { class: "superseded" }, " · superseded") : null);
}

function related(w, title, items, empty) {
  return h("div", { class: "related" }, h("h3", {}, title),
    items.length ? h("ul", {}, items.map((c) => h("li", {}, conclusionLine(w, c)))) : h("p", {}, empty));
}

// The parts of a provenance answer, for the page and for the inline disclosure of a conclusion list.
export function provenanceParts(w, p) {
  const c = p.conclusion;
  return [
    h("div", { class: "related" }, h("h3", {}, "Source messages"),
      p.sources.length ? messageList(w, p.sources, true)
        : h("p", {}, c.level === "explicit" ? "None stored (created through the API, or its messages were deleted)."
          : "Derived: it rests on the premises below.")),
    c.level !== "explicit" ? related(w, c.level === "contradiction" ? "Conflicting statements" : "Premises",
      p.premises, "No premises left.") : null,
    p.replaced_by ? h("div", { class: "related" }, h("h3", {}, "Superseded"),
      h("p", {}, `Replaced ${when(c.superseded_at)} by: `, conclusionLine(w, p.replaced_by))) : null,
    p.supersedes.length ? related(w, "Supersession history (what it replaced)", p.supersedes, "") : null,
    p.cited_by.length ? related(w, "Conclusions resting on it", p.cited_by, "") : null,
  ];
}

// A disclosure under a conclusion: its provenance, loaded the first time it opens.
export function provenanceDetails(w, c) {
  const body = h("div", { class: "provenance" });
  const details = h("details", {}, h("summary", {}, "Sources and premises"), body);
  details.addEventListener("toggle", async () => {
    if (!details.open || body.childElementCount) return;
    body.append(h("p", { class: "loading" }, "Loading…"));
    try {
      body.replaceChildren(...provenanceParts(w, await get(provenancePath(w, c.id))).filter(Boolean));
    } catch (error) {
      body.replaceChildren(problem(error));
    }
  });
  return details;
}

export function conclusionPage(w, id) {
  return h("div", {}, h("h1", {}, "Conclusion"),
    section("Provenance", async () => {
      const p = await get(provenancePath(w, id));
      const c = p.conclusion;
      return [
        h("p", { class: "conclusion-content" }, c.content),
        h("dl", { class: "facts" },
          h("dt", {}, "Level"), h("dd", {}, c.level),
          h("dt", {}, "Observer → observed"), h("dd", {},
            link(route("w", w, "peer", c.observer_id), c.observer_id), " → ",
            link(route("w", w, "peer", c.observed_id), c.observed_id)),
          h("dt", {}, "Times derived"), h("dd", {}, String(c.times_derived)),
          h("dt", {}, "Session"), h("dd", {}, c.session_id ? link(route("w", w, "session", c.session_id), c.session_id) : "none"),
          h("dt", {}, "Created"), h("dd", {}, when(c.created_at)),
          h("dt", {}, "State"), h("dd", {}, c.superseded_by ? `superseded ${when(c.superseded_at)}` : "current")),
        ...provenanceParts(w, p).filter(Boolean),
      ];
    }));
}
