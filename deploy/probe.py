"""Probe a running honcho-server from outside (stdlib only): liveness, readiness, a message round trip.

Usage: SECRET=<jwt secret> python3 deploy/probe.py http://127.0.0.1:8000 [--expect-existing] [--wait-searchable]
Used by deploy/try_image.sh against the container image; exits non-zero with the reason on the first failure.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request

WORKSPACE, SESSION, PEER = "probe-ws", "probe-session", "probe-alice"
CONTENT = "The container probe says the blue heron lands at noon"


def admin_key(secret: str) -> str:
    """An HS256 JWT with the admin claim, as the server's auth expects."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps({"ad": True}).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def call(base: str, method: str, path: str, body: object = None, key: str | None = None,
         accept: str = "application/json") -> tuple[int, object]:
    """One request; returns (status, decoded JSON or text) for any HTTP status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", accept)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_for(what: str, check, timeout: float) -> object:
    """Poll `check` (returns a truthy value when done) until `timeout` seconds; fail with the last answer."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            ok, last = check()
            if ok:
                return last
        except OSError as exc:  # not listening yet
            last = repr(exc)
        time.sleep(1)
    sys.exit(f"FAIL: {what} not reached in {timeout:.0f} s; last answer: {last}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base")
    parser.add_argument("--expect-existing", action="store_true", help="the message must already be stored")
    parser.add_argument("--wait-searchable", action="store_true", help="wait until search finds the message")
    parser.add_argument("--expect-unready", action="store_true", help="only check that /ready answers 503")
    args = parser.parse_args()
    base, key = args.base.rstrip("/"), admin_key(os.environ["SECRET"])

    started = time.monotonic()
    health = wait_for("/health 200", lambda: _ok(call(base, "GET", "/health")), 120)
    print(f"/health 200 after {time.monotonic() - started:.1f} s: {json.dumps(health)[:200]}")
    if args.expect_unready:
        status, body = call(base, "GET", "/ready")
        print(f"/ready {status}: {json.dumps(body)[:400]}")
        if status != 503:
            sys.exit("FAIL: /ready should be 503 here")
        return
    ready = wait_for("/ready 200", lambda: _ok(call(base, "GET", "/ready")), 120)
    print(f"/ready 200 after {time.monotonic() - started:.1f} s: {json.dumps(ready)[:300]}")

    status, _ = call(base, "POST", "/v3/workspaces", {"id": WORKSPACE})
    print(f"POST /v3/workspaces without a key: {status}")
    if status != 401:
        sys.exit("FAIL: a request without a key must be refused (401)")
    _expect(call(base, "POST", "/v3/workspaces", {"id": WORKSPACE}, key), (200, 201), "create workspace")
    messages = f"/v3/workspaces/{WORKSPACE}/sessions/{SESSION}/messages"
    if not args.expect_existing:
        _expect(call(base, "POST", messages, {"messages": [{"peer_id": PEER, "content": CONTENT}]}, key), (201,),
                "create message")
    page = _expect(call(base, "POST", messages + "/list", {}, key), (200,), "list messages")
    contents = [item["content"] for item in page["items"]]
    if contents != [CONTENT]:
        sys.exit(f"FAIL: the session holds {contents!r}, expected exactly [{CONTENT!r}]")
    print(f"message round trip: {contents}")
    if args.wait_searchable:
        search = f"/v3/workspaces/{WORKSPACE}/search"
        found = wait_for("search finds the message", lambda: _found(call(base, "POST", search,
                                                                          {"query": "blue heron"}, key)), 120)
        print(f"search finds it after {time.monotonic() - started:.1f} s: {found}")
    queue = _expect(call(base, "GET", f"/v3/workspaces/{WORKSPACE}/queue/status", None, key), (200,), "queue")
    print(f"queue status: {json.dumps(queue)}")
    _probe_mcp(base, key)


def _probe_mcp(base: str, key: str) -> None:
    """The MCP endpoint (the image has the [mcp] extra): refused without a key; with one, a JSON-RPC call of
    the tool that lists the session's messages finds the probe's message."""
    mcp = "application/json, text/event-stream"
    status, _ = call(base, "POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, accept=mcp)
    print(f"POST /mcp without a key: {status}")
    if status != 401:
        sys.exit("FAIL: /mcp without a key must be refused (401)")
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}}
    server = _expect(call(base, "POST", "/mcp", init, key, accept=mcp), (200,), "MCP initialize")
    tools = _expect(call(base, "POST", "/mcp", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, key, accept=mcp),
                    (200,), "MCP tools/list")
    names = [tool["name"] for tool in tools["result"]["tools"]]
    answer = _expect(call(base, "POST", "/mcp", {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "session_messages", "arguments": {"workspace": WORKSPACE, "session": SESSION}}}, key, accept=mcp),
        (200,), "MCP session_messages")
    if CONTENT not in json.dumps(answer):
        sys.exit(f"FAIL: MCP session_messages did not return the probe's message: {json.dumps(answer)[:400]}")
    print(f"MCP: {server['result']['serverInfo']['name']}, {len(names)} tools, session_messages finds the message")


def _ok(answer: tuple[int, object]) -> tuple[bool, object]:
    return answer[0] == 200, answer


def _found(answer: tuple[int, object]) -> tuple[bool, object]:
    status, body = answer
    return status == 200 and any(m.get("content") == CONTENT for m in body), answer


def _expect(answer: tuple[int, object], statuses: tuple[int, ...], what: str) -> object:
    status, body = answer
    if status not in statuses:
        sys.exit(f"FAIL: {what}: {status} {body}")
    return body


if __name__ == "__main__":
    main()
