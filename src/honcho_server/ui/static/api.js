// The /v3 API as the explorer calls it: the pasted key (sessionStorage, this tab only) as a Bearer token.

const KEY_ITEM = "honcho-explorer-key";

export function getKey() {
  return sessionStorage.getItem(KEY_ITEM) || "";
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY_ITEM, key.trim());
  else sessionStorage.removeItem(KEY_ITEM);
}

// What the key says about itself (unverified: only to choose where to start; the server decides access).
export function claims() {
  const key = getKey();
  if (!key) return null;
  try {
    const part = key.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return null;
  }
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }

  get refused() {
    return this.status === 401 || this.status === 403;
  }
}

function headers(json) {
  const found = {};
  if (json) found["Content-Type"] = "application/json";
  const key = getKey();
  if (key) found.Authorization = `Bearer ${key}`;
  return found;
}

async function failure(response) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
  } catch {
    /* not JSON: keep the status text */
  }
  return new ApiError(response.status, detail);
}

export const ws = (id) => `/v3/workspaces/${encodeURIComponent(id)}`;

// One request; the JSON answer, or an ApiError with the server's `detail`.
export async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

export const get = (path) => call("GET", path);
export const post = (path, body = {}) => call("POST", path, body);

// A streamed chat (server-sent events): onDelta(text) per piece; resolves with the final event.
export async function stream(path, body, onDelta) {
  const response = await fetch(path, { method: "POST", headers: headers(true), body: JSON.stringify(body) });
  if (!response.ok) throw await failure(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const line = buffered.slice(0, end).replace(/^data: /, "");
      buffered = buffered.slice(end + 2);
      const event = JSON.parse(line);
      if (event.error) throw new ApiError(502, event.error);
      if (event.done) return event;
      onDelta(event.delta.content);
    }
  }
  throw new ApiError(502, "the answer ended before it was complete");
}
