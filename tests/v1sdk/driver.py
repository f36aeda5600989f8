"""Drives one published v1 SDK (`honcho-ai==0.0.19` or `==0.2.0`) for the tests in tests/v1sdk.

Runs under that SDK's own virtualenv (made by `ensure_venv` in tests/v1sdk/v1_helpers.py), with the standard library
and `honcho` only: the v1 packages and the v3 SDK the suite itself uses are all the top-level package `honcho`, so
they cannot share an interpreter. One process serves a whole test module: it reads one JSON command per line on stdin
and writes one JSON answer per line on stdout.

Command: {"op": "call" | "iterate" | "stream_text" | "raw", "method": "apps.users.sessions.messages.create",
          "args": [...], "kwargs": {...}, "options": {...}}

* `call`: `client.<method>(*args, **kwargs)`, the result as JSON: models through the SDK's own `to_dict(mode="json")`
  (the fields the server sent), pages as {items, page, size, total, pages, has_next_page}, lists element by element,
  anything else (a `str`, the `object` of a delete) as it is.
* `iterate`: the same list call, then the SDK's own auto-pagination (`for item in page`): {items, pages} with the
  `page` of every page it fetched.
* `stream_text`: `client.with_streaming_response.<method>(...)` and `iter_text()`: {status, content_type, chunks}.
* `raw`: `client.with_raw_response.<method>(...)`: {status, headers, body} (the body parsed when it is JSON).

Options (every key optional): `api_key` (default: the one given at start-up; null for none), `base_url`, `lenient`
(a client without `_strict_response_validation`, for the non-JSON streamed answers), `async` (the same call through
`AsyncHoncho`), `max_retries` (default 0). One client is built per distinct set of options and kept.

A value {"$datetime": "<ISO 8601>"} in args or kwargs is passed as a `datetime`.

Answer: {"ok": true, "result": ..., "result_type": "<class of what the SDK returned>", "created_at_types": [...],
         "requests": [[method, url], ...]}
     or {"ok": false, "error": {"type", "status", "body", "message"}, "requests": [...]}
`created_at_types` names the Python type of every `created_at` the SDK handed back (`datetime` once parsed);
`requests` lists every HTTP request the call sent (retries included).

The first line written is {"ready": true, "version": <honcho.__version__>, ...} once the SDK is imported.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
import traceback
from datetime import datetime
from typing import Any

import honcho
import httpx
import pydantic


class Driver:
    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.clients: dict[tuple[Any, ...], Any] = {}
        self.sent: list[list[str]] = []
        self.loop = asyncio.new_event_loop()

    # -- clients -------------------------------------------------------------------------------------------------
    def client(self, options: dict[str, Any]) -> Any:
        api_key = options.get("api_key", self.api_key)
        base_url = options.get("base_url") or self.base_url
        strict = not options.get("lenient", False)
        is_async = bool(options.get("async", False))
        retries = int(options.get("max_retries", 0))
        key = (api_key, base_url, strict, is_async, retries)
        if key not in self.clients:
            self.clients[key] = self._build(api_key, base_url, strict, is_async, retries)
        return self.clients[key]

    def _build(self, api_key: str | None, base_url: str, strict: bool, is_async: bool, retries: int) -> Any:
        def record(request: httpx.Request) -> None:
            self.sent.append([request.method, str(request.url)])

        async def record_async(request: httpx.Request) -> None:
            record(request)

        common: dict[str, Any] = {"base_url": base_url, "api_key": api_key, "max_retries": retries,
                                  "timeout": 60.0, "_strict_response_validation": strict}
        if is_async:
            http_async = httpx.AsyncClient(timeout=60.0, event_hooks={"request": [record_async]})
            return honcho.AsyncHoncho(**common, http_client=http_async)
        http = httpx.Client(timeout=60.0, event_hooks={"request": [record]})
        return honcho.Honcho(**common, http_client=http)

    # -- commands ------------------------------------------------------------------------------------------------
    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        self.sent = []
        op = command.get("op", "call")
        options = command.get("options") or {}
        args = [_decode(a) for a in command.get("args") or []]
        kwargs = {k: _decode(v) for k, v in (command.get("kwargs") or {}).items()}
        is_async = bool(options.get("async", False))
        try:
            client = self.client(options)
            runner = {"call": self._call, "iterate": self._iterate, "stream_text": self._stream_text,
                      "raw": self._raw}[op]
            coroutine = runner(client, command["method"], args, kwargs)
            value = self.loop.run_until_complete(coroutine)
        except Exception as exc:
            return {"ok": False, "error": _error(exc), "requests": self.sent}
        types: list[str] = []
        result = _to_json(value, types)
        return {"ok": True, "result": result, "result_type": type(value).__name__ if op == "call" else op,
                "created_at_types": types, "requests": self.sent, "async": is_async}

    async def _call(self, client: Any, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        value = _resolve(client, method)(*args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        return value

    async def _iterate(self, client: Any, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        first = await self._call(client, method, args, kwargs)
        items: list[Any] = []
        pages: list[Any] = []
        if isinstance(client, honcho.AsyncHoncho):
            async for page in first.iter_pages():
                pages.append(page.page)
                items.extend(page._get_page_items())
        else:
            for page in first.iter_pages():
                pages.append(page.page)
                items.extend(page._get_page_items())
        return {"items": items, "pages": pages}

    async def _stream_text(self, client: Any, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        call = _resolve(client.with_streaming_response, method)
        if isinstance(client, honcho.AsyncHoncho):
            async with call(*args, **kwargs) as response:
                chunks = [chunk async for chunk in response.iter_text()]
        else:
            with call(*args, **kwargs) as response:
                chunks = list(response.iter_text())
        return {"status": response.status_code, "content_type": response.headers.get("content-type"),
                "chunks": chunks}

    async def _raw(self, client: Any, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        response = _resolve(client.with_raw_response, method)(*args, **kwargs)
        if inspect.isawaitable(response):
            response = await response
        text = response.http_response.text
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        return {"status": response.status_code, "headers": dict(response.headers.items()), "body": body}


def _resolve(root: Any, dotted: str) -> Any:
    target = root
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _is_page(value: Any) -> bool:
    return isinstance(value, pydantic.BaseModel) and hasattr(value, "has_next_page") and hasattr(value, "items")


def _to_json(value: Any, types: list[str]) -> Any:
    if _is_page(value):
        return {"items": [_to_json(item, types) for item in value.items or []], "page": value.page,
                "size": value.size, "total": value.total, "pages": value.pages,
                "has_next_page": value.has_next_page()}
    if isinstance(value, pydantic.BaseModel):
        if "created_at" in value.__dict__ or hasattr(value, "created_at"):
            types.append(type(getattr(value, "created_at", None)).__name__)
        if hasattr(value, "to_dict"):
            return value.to_dict(mode="json", warnings=False)
        return value.model_dump(mode="json", warnings=False)
    if isinstance(value, dict):
        return {str(k): _to_json(v, types) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json(v, types) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def _error(exc: BaseException) -> dict[str, Any]:
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    try:
        json.dumps(body)
    except (TypeError, ValueError):
        body = repr(body)
    error: dict[str, Any] = {"type": type(exc).__name__, "status": status, "body": body,
                             "message": str(exc)[:4000]}
    response = getattr(exc, "response", None)
    if isinstance(response, httpx.Response):
        error["headers"] = dict(response.headers.items())
    if not isinstance(exc, honcho.APIError):
        error["traceback"] = traceback.format_exc()[-4000:]
    return error


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", default=None)
    ns = parser.parse_args()
    driver = Driver(ns.base_url, ns.api_key)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "version": honcho.__version__, "pydantic": pydantic.VERSION,
                          "httpx": httpx.__version__, "python": sys.version.split()[0]}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            answer = driver.handle(command)
        except Exception as exc:  # a malformed command: answered, never fatal
            answer = {"ok": False, "error": _error(exc), "requests": []}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
