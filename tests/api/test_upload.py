"""File upload (spec §8.2): text, markdown, JSON, PDF, limits, chunking and lenient form fields."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
from api_helpers import assert_message, expect, messages_url, parse_time, workspace_pk
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from honcho_server.services.deps import Deps


async def _upload(
    client: httpx.AsyncClient, ws: str, data: bytes, content_type: str, *, filename: str = "file", **form: str
) -> httpx.Response:
    files = {"file": (filename, data, content_type)}
    return await client.post(messages_url(ws, "s1", "upload"), files=files, data={"peer_id": "alice", **form})


def _pdf(pages: list[str]) -> bytes:
    """A PDF whose pages show the given texts in Helvetica (an empty string gives a page without text)."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for text in pages:
        page = writer.add_blank_page(width=612, height=792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text else b"")
        page.replace_contents(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _contents(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages]


async def test_upload_plain_text(client: httpx.AsyncClient, ws: str) -> None:
    created = expect(await _upload(client, ws, "héllo wörld\n".encode(), "text/plain"), 201)
    assert len(created) == 1
    assert_message(created[0], ws, "s1")
    assert (created[0]["content"], created[0]["peer_id"]) == ("héllo wörld\n", "alice")
    assert created[0]["token_count"] > 0
    listed = expect(await client.post(messages_url(ws, "s1", "list")), 200)
    assert listed["items"] == created


async def test_upload_markdown_with_form_fields(client: httpx.AsyncClient, ws: str) -> None:
    form = {
        "metadata": json.dumps({"source": "notes"}),
        "created_at": "2020-05-06T07:08:09Z",
        "configuration": json.dumps({"reasoning": {"enabled": False}}),
    }
    created = expect(
        await _upload(client, ws, b"# Title\n\nBody", "text/markdown", filename="n.md", **form), 201
    )
    assert _contents(created) == ["# Title\n\nBody"]
    assert created[0]["metadata"] == {"source": "notes"}
    assert parse_time(created[0]["created_at"]) == parse_time("2020-05-06T07:08:09Z")


async def test_malformed_form_fields_are_ignored(client: httpx.AsyncClient, ws: str) -> None:
    form = {"metadata": "{not json", "configuration": "[1, 2", "created_at": "yesterday"}
    created = expect(await _upload(client, ws, b"text", "text/plain", **form), 201)
    assert created[0]["metadata"] == {}
    assert abs((parse_time(created[0]["created_at"]) - parse_time("2000-01-01T00:00:00Z")).days) > 365


async def test_upload_json(client: httpx.AsyncClient, ws: str) -> None:
    data = json.dumps({"name": "Zoë", "items": [1, 2]}, indent=4).encode()
    created = expect(await _upload(client, ws, data, "application/json"), 201)
    assert json.loads(created[0]["content"]) == {"name": "Zoë", "items": [1, 2]}
    assert "Zoë" in created[0]["content"] and "\n" not in created[0]["content"]


async def test_upload_invalid_json_is_422_and_stores_nothing(
    client: httpx.AsyncClient, deps: Deps, ws: str
) -> None:
    response = await _upload(client, ws, b'{"broken": ', "application/json")
    assert isinstance(expect(response, 422)["detail"], str)
    assert await workspace_pk(deps, ws) is None


async def test_upload_pdf(client: httpx.AsyncClient, ws: str) -> None:
    data = _pdf(["Hello first page", "", "Third page text"])
    created = expect(await _upload(client, ws, data, "application/pdf", filename="doc.pdf"), 201)
    assert _contents(created) == ["[Page 1]\nHello first page\n\n[Page 3]\nThird page text"]


async def test_unsupported_type_is_415(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    for content_type in ("image/png", "application/octet-stream"):
        response = await _upload(client, ws, b"\x89PNG....", content_type)
        assert response.status_code == 415 and isinstance(response.json()["detail"], str)
    assert await workspace_pk(deps, ws) is None


async def test_file_over_5_mb_is_413(client: httpx.AsyncClient, deps: Deps, ws: str) -> None:
    response = await _upload(client, ws, b"a" * (5 * 1024 * 1024 + 1), "text/plain")
    assert response.status_code == 413 and isinstance(response.json()["detail"], str)
    assert await workspace_pk(deps, ws) is None


async def test_long_text_is_chunked_in_order(client: httpx.AsyncClient, ws: str) -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 2000 for i in range(8)]  # ~10k characters each
    text = "\n\n".join(paragraphs)
    created = expect(await _upload(client, ws, text.encode(), "text/plain"), 201)
    assert len(created) >= 3
    assert all(len(c) <= 25000 for c in _contents(created))
    assert "".join(_contents(created)) == text
    assert all(c.endswith("\n\n") for c in _contents(created)[:-1])  # cut after paragraph breaks
    listed = expect(await client.post(messages_url(ws, "s1", "list")), 200)
    assert [m["id"] for m in listed["items"]] == [m["id"] for m in created]


async def test_upload_requires_file_and_peer(client: httpx.AsyncClient, ws: str) -> None:
    url = messages_url(ws, "s1", "upload")
    expect(await client.post(url, data={"peer_id": "alice"}, files={"other": ("x", b"x", "text/plain")}), 422)
    expect(await client.post(url, files={"file": ("x", b"x", "text/plain")}), 422)
    expect(await _upload(client, ws, b"x", "text/plain", peer_id="bad name"), 422)
