// Building the page: every text goes in as text (never as markup), so stored content cannot inject anything.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}

// A hash route from its parts, each encoded.
export function route(...parts) {
  return "#/" + parts.map((p) => encodeURIComponent(p)).join("/");
}

export function when(iso) {
  return iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "";
}

// What a failed request means, said plainly: refusals name the key.
export function problem(error) {
  if (error && (error.status === 401 || error.status === 403)) {
    return h("div", { class: "problem refused", role: "alert" },
      h("strong", {}, `Not allowed (${error.status})`),
      ": this key may not see this (", error.detail.replace(/\.$/, ""),
      "). Paste another key above: an admin key sees everything.");
  }
  const status = error && error.status ? ` (${error.status})` : "";
  return h("div", { class: "problem", role: "alert" }, h("strong", {}, `Request failed${status}`), ": ",
    error && error.message ? error.message : String(error));
}

// A section whose body is filled by `load` (an async function returning nodes); failures shown in place.
export function section(title, load, level = "h2") {
  const body = h("div", { class: "section-body" }, h("p", { class: "loading" }, "Loading…"));
  const box = h("section", { "aria-label": title }, h(level, {}, title), body);
  load().then(
    (nodes) => body.replaceChildren(...[nodes].flat().filter(Boolean)),
    (error) => body.replaceChildren(problem(error)),
  );
  return box;
}

export function pager(page, onPage, label) {
  const nav = h("nav", { class: "pager", "aria-label": `${label} pages` });
  nav.append(
    h("button", { type: "button", disabled: page.page <= 1, onclick: () => onPage(page.page - 1) }, "Previous"),
    h("span", {}, ` page ${page.page} of ${Math.max(page.pages, 1)} (${page.total}) `),
    h("button", { type: "button", disabled: page.page >= page.pages, onclick: () => onPage(page.page + 1) }, "Next"),
  );
  return nav;
}
