"""Reading what real models write: a `<think>…</think>` block before the answer, JSON inside Markdown fences, or
JSON followed (or preceded) by a sentence of prose. `TolerantModel` cleans each text answer before pydantic-ai
validates it: think blocks go (in every answer), and when a JSON answer is expected (native or prompted output)
the text becomes the JSON value found in it. Answers without any JSON are left as they are, so the validation
error the model is re-asked with is about what it actually wrote."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_UNCLOSED_THINK = re.compile(r"^\s*<(think|thinking|reasoning)>.*", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_JSON_MODES = ("native", "prompted")


def strip_thinking(text: str) -> str:
    """The text without reasoning blocks (an unclosed one at the start means the answer never came)."""
    text = _THINK.sub("", text)
    return _UNCLOSED_THINK.sub("", text).strip()


def extract_json(text: str) -> str:
    """The JSON object or array in `text` (fenced, or the first one that parses), as text; else `text` itself."""
    text = strip_thinking(text)
    candidates = [m.group(1).strip() for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start, char in enumerate(candidate):
            if char not in "{[":
                continue
            try:
                _, end = decoder.raw_decode(candidate, start)
            except ValueError:
                continue
            return candidate[start:end]
    return text


def _clean(response: ModelResponse, json_expected: bool) -> ModelResponse:
    parts: list[Any] = []
    changed = False
    for part in response.parts:
        if isinstance(part, TextPart):
            content = extract_json(part.content) if json_expected else strip_thinking(part.content)
            if content != part.content:
                part, changed = replace(part, content=content), True
        parts.append(part)
    return replace(response, parts=parts) if changed else response


class TolerantModel(WrapperModel):
    """A model whose text answers are cleaned as the module docstring says. Streamed answers are text answers
    (the chat); pydantic-ai already splits a leading think block off those."""

    async def request(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                      model_request_parameters: ModelRequestParameters) -> ModelResponse:
        response = await self.wrapped.request(messages, model_settings, model_request_parameters)
        return _clean(response, model_request_parameters.output_mode in _JSON_MODES)

    @asynccontextmanager
    async def request_stream(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                             model_request_parameters: ModelRequestParameters,
                             run_context: Any = None) -> AsyncIterator[StreamedResponse]:
        async with self.wrapped.request_stream(messages, model_settings, model_request_parameters,
                                               run_context) as response:
            yield response
