// The explorer's shell: the key form, the reasoning banner, and the hash router that draws each page.

import { claims, get, getKey, setKey } from "./api.js";
import { h, link, route } from "./dom.js";
import { conclusionPage } from "./pages/conclusion.js";
import { peerPage } from "./pages/peer.js";
import { queuePage } from "./pages/queue.js";
import { sessionPage } from "./pages/session.js";
import { usagePage } from "./pages/usage.js";
import { workspacePage } from "./pages/workspace.js";
import { homePage } from "./pages/workspaces.js";

// #/w/<workspace>/<kind>/<id>[/m/<message>]
const PAGES = {
  peer: (w, [peer]) => peerPage(w, peer),
  session: (w, [session, , message]) => sessionPage(w, session, message),
  conclusion: (w, [id]) => conclusionPage(w, id),
  queue: (w) => queuePage(w),
  usage: (w) => usagePage(w),
};

function parse() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return parts;
}

function crumbs(parts) {
  const trail = [link("#/", "Home")];
  if (parts[0] === "w" && parts[1]) {
    trail.push(link(route("w", parts[1]), `Workspace ${parts[1]}`));
    if (parts[2]) trail.push(h("span", { "aria-current": "page" }, `${parts[2]} ${parts[3] ?? ""}`.trim()));
  }
  const list = h("ol", {}, trail.map((item) => h("li", {}, item)));
  document.getElementById("crumbs").replaceChildren(list);
}

function draw() {
  const parts = parse();
  const view = document.getElementById("view");
  let page;
  if (parts[0] === "w" && parts[1]) {
    const make = parts[2] ? PAGES[parts[2]] : null;
    page = make ? make(parts[1], parts.slice(3)) : workspacePage(parts[1]);
  } else {
    page = homePage(claims());
  }
  crumbs(parts);
  view.replaceChildren(page);
  view.dataset.route = location.hash || "#/"; // which page is drawn (read by the browser tests)
}

async function banner() {
  const box = document.getElementById("banner");
  try {
    const health = await get("/health");
    if (health.reasoning === "off") {
      box.replaceChildren(h("div", { class: "banner" },
        h("strong", {}, "Reasoning is off: "), `${health.reasoning_detail ?? "no LLM configured"}. `,
        "To turn it on, set an LLM provider and model (HONCHO_LLM__PROVIDER and HONCHO_LLM__MODEL, or [llm] in ",
        "config.toml; the README's Configuration tells how) and restart the server; the waiting work then runs."));
    } else {
      box.replaceChildren(h("p", { class: "reasoning-on" },
        `Reasoning is on (${health.llm?.provider ?? ""} ${health.llm?.model ?? ""}).`));
    }
  } catch (error) {
    box.replaceChildren(h("div", { class: "banner" }, `The server does not answer: ${error.message}`));
  }
}

function keyForm() {
  const form = document.getElementById("key-form");
  const input = document.getElementById("key");
  const status = document.getElementById("key-status");
  const show = () => {
    const c = claims();
    if (!getKey()) status.textContent = "No key (enough when auth is off).";
    else if (!c) status.textContent = "Key set (not a JWT this explorer can read).";
    else if (c.ad) status.textContent = "Admin key.";
    else status.textContent = `Key of ${["w", "p", "s"].filter((k) => c[k]).map((k) => `${{ w: "workspace", p: "peer", s: "session" }[k]} ${c[k]}`).join(", ")}.`;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setKey(input.value);
    input.value = "";
    show();
    if (location.hash && location.hash !== "#/") location.hash = "#/"; // the hashchange draws it
    else draw();
  });
  document.getElementById("forget-key").addEventListener("click", () => {
    setKey("");
    show();
    draw();
  });
  show();
}

window.addEventListener("hashchange", draw);
keyForm();
banner();
draw();
