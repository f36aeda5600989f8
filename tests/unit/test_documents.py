"""Unit tests for upload text extraction and chunking."""

import io
import json
import random

import pytest

from honcho_server.domain.documents import extract_text, media_type, split_into_chunks
from honcho_server.errors import HonchoError, UnsupportedFileType, ValidationError


def make_pdf(pages: list[str | None]) -> bytes:
    """A minimal valid PDF, one page per entry showing that text in Helvetica (None: a blank page)."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for text in pages:
        content = b"" if text is None else b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % len(objects)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(kids)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- content types -------------------------------------------------------------------------------


def test_media_type_drops_parameters_and_case():
    assert media_type("Text/Plain; charset=UTF-8") == "text/plain"
    assert media_type("  APPLICATION/JSON ;charset=utf-8") == "application/json"
    assert media_type(None) == ""


@pytest.mark.parametrize(
    "content_type", ["TEXT/PLAIN; charset=utf-8", "text/markdown", "text/csv", "Text/HTML"]
)
def test_any_text_type_is_accepted(content_type):
    assert extract_text(b"a,b\n1,2", content_type) == "a,b\n1,2"


@pytest.mark.parametrize(
    "content_type",
    ["image/png", "application/octet-stream", "", "application/pdfx", "application/xml", "text"],
)
def test_unsupported_types(content_type):
    with pytest.raises(UnsupportedFileType) as info:
        extract_text(b"data", content_type)
    assert isinstance(info.value, HonchoError)
    assert info.value.status_code == 415
    assert "Unsupported file type" in info.value.message


# --- text ----------------------------------------------------------------------------------------


def test_text_utf8():
    text = "naïve café 🎉 中文"
    assert extract_text(text.encode("utf-8"), "text/plain") == text


def test_text_utf8_bom_is_kept_as_in_the_reference():
    assert extract_text(b"\xef\xbb\xbfhi", "text/plain") == "\ufeffhi"


def test_text_utf16_fallback():
    text = "naïve café 🎉 中文"
    assert extract_text(text.encode("utf-16"), "text/plain") == text  # with BOM


def test_text_latin1_fallback():
    data = "naïve café!".encode("latin-1")  # invalid UTF-8, odd length so invalid UTF-16 too
    assert len(data) % 2 == 1
    assert extract_text(data, "text/plain") == "naïve café!"
    assert extract_text(b"\xff\xfe\x00", "text/plain") == "\xff\xfe\x00"


def test_text_fallback_order_is_utf16_before_latin1():
    data = b"caf\xe9"  # invalid UTF-8 but an even length: UTF-16 is tried (and succeeds) first
    assert extract_text(data, "text/plain") == data.decode("utf-16")


def test_empty_text_file():
    assert extract_text(b"", "text/plain") == ""


# --- JSON ----------------------------------------------------------------------------------------


def test_json_is_reserialised_compactly_with_unicode():
    data = '{\n  "name": "Zoë",\n  "tags": ["a", "中文"],\n  "n": 1.5,\n  "ok": true, "x": null\n}'
    out = extract_text(data.encode("utf-8"), "application/json; charset=utf-8")
    assert out == '{"name": "Zoë", "tags": ["a", "中文"], "n": 1.5, "ok": true, "x": null}'
    assert out == json.dumps(json.loads(data), ensure_ascii=False)


def test_json_scalars_and_escapes():
    assert extract_text(b"42", "application/json") == "42"
    assert extract_text(b'"\\u00e9\\n"', "application/json") == '"é\\n"'


def test_json_must_be_utf8():
    with pytest.raises(ValidationError, match="UTF-8"):
        extract_text('{"a": "é"}'.encode("utf-16"), "application/json")
    with pytest.raises(ValidationError):
        extract_text('{"a": "é"}'.encode("latin-1"), "application/json")


@pytest.mark.parametrize(
    "data", [b"{", b"{'a': 1}", b'{"a": 1,}', b"[1] [2]", b"\xef\xbb\xbf{}", b"[" * 100_000]
)
def test_invalid_json_is_a_validation_error(data):
    with pytest.raises(ValidationError) as info:
        extract_text(data, "application/json")
    assert info.value.status_code == 422


def test_blank_json_gives_empty_text():
    assert extract_text(b"", "application/json") == ""
    assert extract_text(b"  \n", "application/json") == ""


# --- PDF -----------------------------------------------------------------------------------------


def test_pdf_pages_are_prefixed_and_blank_pages_skipped():
    pdf = make_pdf(["Hello page one", None, "Third page text", "   "])
    assert extract_text(pdf, "Application/PDF") == "[Page 1]\nHello page one\n\n[Page 3]\nThird page text"


def test_pdf_single_page_and_without_text():
    assert extract_text(make_pdf(["Only page"]), "application/pdf") == "[Page 1]\nOnly page"
    assert extract_text(make_pdf([None, None]), "application/pdf") == ""


@pytest.mark.parametrize("data", [b"", b"not a pdf", b"%PDF-1.4\ngarbage", None])
def test_corrupt_pdf_is_a_validation_error(data):
    if data is None:
        data = make_pdf(["Hello page one"])[:150]  # truncated
    with pytest.raises(ValidationError, match="PDF") as info:
        extract_text(data, "application/pdf")
    assert info.value.status_code == 422


def test_password_protected_pdf_is_a_validation_error():
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(make_pdf(["Secret"]))))
    writer.encrypt(user_password="pw", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(ValidationError, match="PDF"):
        extract_text(buffer.getvalue(), "application/pdf")


# --- chunking ------------------------------------------------------------------------------------


def test_chunks_of_empty_and_short_text():
    assert split_into_chunks("") == [""]
    assert split_into_chunks("short") == ["short"]
    assert split_into_chunks("x" * 25000) == ["x" * 25000]
    assert split_into_chunks("x" * 25001) == ["x" * 25000, "x"]


def test_cut_after_last_paragraph_break():
    text = "aa\n\nbb\n\ncc. dd ee"
    assert split_into_chunks(text, 10) == ["aa\n\nbb\n\n", "cc. dd ee"]


def test_cut_falls_back_to_newline_then_sentence_then_space():
    assert split_into_chunks("aaa\nbbb. ccc ddd", 10) == ["aaa\n", "bbb. ", "ccc ddd"]
    assert split_into_chunks("aa. bb cc dd", 10) == ["aa. ", "bb cc dd"]
    assert split_into_chunks("aa bb cc dd", 10) == ["aa bb cc ", "dd"]


def test_hard_cut_without_separators():
    assert split_into_chunks("abcdefghijklmnopqrstuvwxy", 10) == ["abcdefghij", "klmnopqrst", "uvwxy"]


def test_separator_must_fit_inside_the_window():
    # "\n\n" straddles the window end (positions 9-10), so the cut falls back to the single "\n".
    assert split_into_chunks("aaaa bbbb\n\ncc", 10) == ["aaaa bbbb\n", "\ncc"]
    assert split_into_chunks("aaaa bbb. c", 10) == ["aaaa bbb. ", "c"]
    assert split_into_chunks("aaaa bbbb.  c", 10) == ["aaaa ", "bbbb.  c"]


def test_separator_at_the_window_start_is_ignored():
    assert split_into_chunks(" abcdefghijkl", 10) == [" abcdefghi", "jkl"]
    assert split_into_chunks("\n\nabc def ghijk", 10) == ["\n\n", "abc def ", "ghijk"]


def test_chunks_count_characters_not_bytes():
    text = "🎉" * 25 + "中文 " * 10
    chunks = split_into_chunks(text, 20)
    assert "".join(chunks) == text
    assert all(0 < len(c) <= 20 for c in chunks)
    assert chunks[0] == "🎉" * 20


def test_max_chars_must_be_positive():
    with pytest.raises(ValueError):
        split_into_chunks("abc", 0)


@pytest.mark.parametrize("seed", range(30))
def test_chunks_reassemble_exactly(seed):
    rng = random.Random(seed)
    pieces = ["word", " ", "\n", "\n\n", ". ", "é", "🎉", "x" * 40, "\r\n"]
    text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 400)))
    max_chars = rng.randint(1, 60)
    chunks = split_into_chunks(text, max_chars)
    assert "".join(chunks) == text
    assert all(len(c) <= max_chars for c in chunks)
    assert all(chunks) or chunks == [""]
