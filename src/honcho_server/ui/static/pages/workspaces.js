// Home: where the key may start. An admin key (or auth off) lists the workspaces; a scoped key goes to its own.

import { post } from "../api.js";
import { h, link, pager, route, section, when } from "../dom.js";

function scopedStart(c) {
  const items = [h("li", {}, link(route("w", c.w), `Workspace ${c.w}`))];
  if (c.p) items.push(h("li", {}, link(route("w", c.w, "peer", c.p), `Peer ${c.p}`)));
  if (c.s) items.push(h("li", {}, link(route("w", c.w, "session", c.s), `Session ${c.s}`)));
  return h("section", { "aria-label": "Your key's reach" }, h("h2", {}, "What this key may see"),
    h("p", {}, "This key is confined to the resources below; pages outside them answer “not allowed”."),
    h("ul", {}, items));
}

function workspaceList() {
  const box = h("div");
  const load = async (page) => {
    const found = await post(`/v3/workspaces/list?page=${page}&size=20`);
    box.replaceChildren(
      found.items.length === 0 ? h("p", {}, "No workspaces yet.") : h("table", {},
        h("caption", {}, "Workspaces"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Workspace"), h("th", { scope: "col" }, "Created"))),
        h("tbody", {}, found.items.map((w) => h("tr", {},
          h("td", {}, link(route("w", w.id), w.id)), h("td", {}, when(w.created_at)))))),
      pager(found, (p) => load(p), "Workspaces"));
    return box;
  };
  return load(1);
}

export function homePage(c) {
  const page = h("div", {}, h("h1", {}, "Memory explorer"));
  if (c && !c.ad && c.w) page.append(scopedStart(c));
  else page.append(section("Workspaces", workspaceList));
  return page;
}
