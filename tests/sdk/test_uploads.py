"""session.upload_file(): text, markdown, JSON, PDF, chunking, unsupported types, size limit."""

from __future__ import annotations

import json

import pytest
from honcho.http.exceptions import APIError, UnprocessableEntityError
from sdk_helpers import contents, make_pdf, paragraphs_text, unique, utc

pytestmark = pytest.mark.sdk

MAX_MESSAGE_CHARS = 25_000
MAX_FILE_BYTES = 5_242_880


@pytest.fixture
def session(honcho):
    return honcho.session(unique("s"))


def test_upload_text_file(honcho, session):
    text = "Alice prefers window seats.\nShe is vegetarian.\n"
    msgs = session.upload_file(("notes.txt", text.encode(), "text/plain"), peer="alice",
                               metadata={"source": "upload"})
    assert len(msgs) == 1
    m = msgs[0]
    assert m.content == text
    assert m.peer_id == "alice" and m.session_id == session.id
    assert m.metadata == {"source": "upload"}
    assert m.token_count > 0
    assert contents(session.messages()) == [text]
    assert "alice" in [p.id for p in session.peers()]


def test_upload_markdown_file_with_peer_object_and_created_at(honcho, session):
    md = "# Trip notes\n\n* Lisbon in May\n* Porto in June\n"
    bob = honcho.peer("bob")
    msgs = session.upload_file(("notes.md", md.encode(), "text/markdown"), peer=bob,
                               created_at=utc(2024, 6, 1, 8, 30, 0))
    assert contents(msgs) == [md]
    assert msgs[0].peer_id == "bob"
    assert msgs[0].created_at == utc(2024, 6, 1, 8, 30, 0)
    assert session.get_message(msgs[0].id).created_at == utc(2024, 6, 1, 8, 30, 0)


def test_upload_json_file(session):
    doc = {"name": "Zoë", "likes": ["hiking", "jazz"], "age": 31, "address": {"city": "Köln"}}
    msgs = session.upload_file(("profile.json", json.dumps(doc).encode(), "application/json"), peer="alice")
    assert len(msgs) == 1
    assert json.loads(msgs[0].content) == doc
    assert "Zoë" in msgs[0].content and "Köln" in msgs[0].content  # non-ASCII preserved, not \u-escaped


def test_upload_invalid_json_is_rejected(honcho, session):
    with pytest.raises(UnprocessableEntityError):
        session.upload_file(("bad.json", b'{"unterminated": ', "application/json"), peer="alice")
    assert list(session.messages()) == []


def test_upload_pdf(session):
    pdf = make_pdf(["Hello from page one", "Second page text here"])
    msgs = session.upload_file(("doc.pdf", pdf, "application/pdf"), peer="alice")
    assert len(msgs) == 1
    text = msgs[0].content
    assert "[Page 1]" in text and "[Page 2]" in text
    assert text.index("[Page 1]") < text.index("Hello from page one") < text.index("[Page 2]") < text.index(
        "Second page text here")
    assert text.startswith("[Page 1]\nHello from page one")


def test_upload_long_text_is_chunked_on_paragraphs(session):
    text, paras = paragraphs_text(count=60, width=1500)  # ~90k characters
    assert len(text) > 3 * MAX_MESSAGE_CHARS
    msgs = session.upload_file(("long.txt", text.encode(), "text/plain"), peer="alice")
    assert len(msgs) >= 4
    assert all(0 < len(m.content) <= MAX_MESSAGE_CHARS for m in msgs)
    # chunks are cut between paragraphs: every paragraph survives intact, in order
    rebuilt = [p.strip() for m in msgs for p in m.content.split("\n\n") if p.strip()]
    assert rebuilt == paras
    assert contents(session.messages()) == contents(msgs)


def test_upload_empty_file_gives_one_empty_message(session):
    msgs = session.upload_file(("empty.txt", b"", "text/plain"), peer="alice")
    assert contents(msgs) == [""]
    assert msgs[0].token_count == 0


def test_upload_unsupported_type_is_415(session):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    with pytest.raises(APIError) as exc:
        session.upload_file(("pic.png", png, "image/png"), peer="alice")
    assert exc.value.status == 415
    assert list(session.messages()) == []


def test_upload_too_large_is_413(session):
    blob = b"a" * (MAX_FILE_BYTES + 1)
    with pytest.raises(APIError) as exc:
        session.upload_file(("big.txt", blob, "text/plain"), peer="alice")
    assert exc.value.status == 413
    assert list(session.messages()) == []


def test_upload_at_size_limit_is_accepted(session):
    text, _ = paragraphs_text(count=1, width=100)
    blob = (text + "\n").encode()
    blob = blob * (MAX_FILE_BYTES // len(blob))
    assert len(blob) <= MAX_FILE_BYTES
    msgs = session.upload_file(("edge.txt", blob, "text/plain"), peer="alice")
    assert sum(len(m.content) for m in msgs) >= len(blob) - len(msgs) * 2  # only cut whitespace may go
    assert all(len(m.content) <= MAX_MESSAGE_CHARS for m in msgs)


@pytest.mark.parametrize(("name", "ctype"), [("data.csv", "text/csv"), ("page.html", "text/html"),
                                             ("notes.txt", "text/plain; charset=utf-8")])
def test_upload_any_text_type(session, name, ctype):
    body = "a,b\n1,2\n" if ctype == "text/csv" else "<p>hello</p>\n"
    assert contents(session.upload_file((name, body.encode(), ctype), peer="alice")) == [body]


def test_upload_utf16_text_is_decoded(session):
    text = "héllo wörld, ça va?"
    assert contents(session.upload_file(("u16.txt", text.encode("utf-16"), "text/plain"), peer="alice")) == [text]


@pytest.mark.parametrize("ctype", ["application/octet-stream", "image/jpeg", "application/zip"])
def test_upload_other_unsupported_types_are_415(session, ctype):
    with pytest.raises(APIError) as exc:
        session.upload_file(("blob.bin", b"\x00\x01\x02binary", ctype), peer="alice")
    assert exc.value.status == 415


def test_upload_with_message_configuration(honcho, session):
    msgs = session.upload_file(("n.txt", b"quiet note", "text/plain"), peer="alice",
                               configuration={"reasoning": {"enabled": False}}, metadata={"k": [1]})
    assert contents(msgs) == ["quiet note"] and msgs[0].metadata == {"k": [1]}


def test_upload_form_fields_on_the_wire(server, honcho, session):
    """Spec 8.2: malformed optional form fields are ignored; peer_id and file are required."""
    import httpx

    url = f"{server.base_url}/v3/workspaces/{honcho.workspace_id}/sessions/{session.id}/messages/upload"
    files = {"file": ("a.txt", b"form test", "text/plain")}
    r = httpx.post(url, files=files, data={"peer_id": "alice", "metadata": "{not json", "created_at": "someday",
                                           "configuration": "[[["})
    assert r.status_code == 201, r.text
    [m] = r.json()
    assert m["content"] == "form test" and m["metadata"] == {}
    r = httpx.post(url, files=files, data={"metadata": "{}"})  # no peer_id
    assert r.status_code == 422, r.text
    r = httpx.post(url, data={"peer_id": "alice"})  # no file
    assert r.status_code == 422, r.text
    assert contents(session.messages()) == ["form test"]


def test_upload_pdf_skips_pages_without_text(session):
    pdf = make_pdf(["First page words", "", "Third page words"])
    [m] = session.upload_file(("gaps.pdf", pdf, "application/pdf"), peer="alice")
    assert "[Page 1]" in m.content and "[Page 3]" in m.content and "[Page 2]" not in m.content
    assert m.content.index("First page words") < m.content.index("Third page words")


def test_upload_chunking_without_paragraphs(session):
    # no blank lines: cut after the last newline inside the window
    lines = [f"line {i:05d} " + "x" * 80 for i in range(700)]  # ~63k chars
    msgs = session.upload_file(("lines.txt", "\n".join(lines).encode(), "text/plain"), peer="alice")
    assert len(msgs) >= 3 and all(len(m.content) <= MAX_MESSAGE_CHARS for m in msgs)
    assert [ln for m in msgs for ln in m.content.split("\n") if ln] == lines

    # no whitespace at all: hard cuts, nothing lost
    blob = "".join(chr(ord("a") + i % 26) for i in range(60_000))
    msgs = session.upload_file(("blob.txt", blob.encode(), "text/plain"), peer="alice")
    assert [len(m.content) for m in msgs] == [25_000, 25_000, 10_000]
    assert "".join(contents(msgs)) == blob


def test_upload_json_must_be_utf8(session):
    with pytest.raises(UnprocessableEntityError):
        session.upload_file(("u16.json", '{"a": "ü"}'.encode("utf-16"), "application/json"), peer="alice")
    assert list(session.messages()) == []
