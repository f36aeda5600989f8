"""A generation's recipe (docs/generations.md): which model each deriving task used, with the settings that shape
its answers, as plain JSON kept on the generation (never a key: keys stay in the server's settings and
environment). The worker derives a generation with the server's LLM settings overlaid by its recipe."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from honcho_server.config import LLMSettings, LLMTaskSettings, Settings

# The tasks that write derived memory; the dialectic levels only read it (chat names its own generation).
DERIVING_TASKS = ("deriver", "summary", "dream")
# What a recipe may set per task.
TASK_FIELDS = ("provider", "model", "base_url", "temperature", "max_output_tokens")


def describe(llm: LLMSettings, overrides: Mapping[str, Mapping[str, Any]] | None = None,
             custom_instructions: str | None = None) -> dict[str, Any]:
    """The recipe of a generation derived with `llm` as configured, each task's fields replaced by `overrides`
    (`{"deriver": {"model": "m"}}`; the key `"*"` applies to every deriving task): every field spelled out, so the
    recipe still says what was used after the server's settings change."""
    overrides = overrides or {}
    unknown = sorted(set(overrides) - {*DERIVING_TASKS, "*"})
    if unknown:
        raise ValueError(f"unknown task {unknown[0]!r}: a recipe sets {', '.join(DERIVING_TASKS)} (or * for all)")
    tasks: dict[str, dict[str, Any]] = {}
    for task in DERIVING_TASKS:
        own: LLMTaskSettings = getattr(llm, task)
        provider = own.provider or llm.provider
        effective = {
            "provider": provider, "model": own.model or llm.model, "base_url": llm.base_url_for(task),
            "temperature": own.temperature if own.temperature is not None else llm.temperature,
            "max_output_tokens": own.max_output_tokens or llm.max_output_tokens,
        }
        for layer in (overrides.get("*") or {}, overrides.get(task) or {}):
            bad = sorted(set(layer) - set(TASK_FIELDS))
            if bad:
                raise ValueError(f"unknown recipe field {bad[0]!r}: a task sets {', '.join(TASK_FIELDS)}")
            if "provider" in layer and "base_url" not in layer and layer["provider"] != provider:
                effective["base_url"] = None  # a root meant for another provider does not follow it
            effective.update({k: v for k, v in layer.items() if v is not None})
        tasks[task] = effective
    recipe: dict[str, Any] = {"tasks": tasks}
    if custom_instructions is not None:
        recipe["custom_instructions"] = custom_instructions
    return recipe


def reasoning_of(settings: Settings) -> dict[str, Any]:
    """The server's settings that shape what derivation writes (windows, dedup, dreams, cards, summary cadence):
    part of a recipe and of its fingerprint, so two generations derived under different ones never look alike."""
    d, dream, defaults = settings.deriver, settings.dream, settings.defaults
    return {"deriver": {"max_input_tokens": d.max_input_tokens, "dedup_similarity": d.dedup_similarity},
            "dream": {"threshold": dream.threshold, "max_conclusions": dream.max_conclusions,
                      "enabled": defaults.dream_enabled},
            "peer_card": defaults.peer_card_enabled,
            "summaries": {"enabled": defaults.summary_enabled, "short_every": defaults.messages_per_short_summary,
                          "long_every": defaults.messages_per_long_summary}}


def apply(llm: LLMSettings, recipe: Mapping[str, Any]) -> LLMSettings:
    """`llm` with each deriving task set as `recipe` says (a recipe without tasks, such as generation 1's inferred
    one, leaves the settings as they are)."""
    tasks = recipe.get("tasks") or {}
    if not tasks:
        return llm
    changed: dict[str, Any] = {}
    for task, fields in tasks.items():
        if task not in DERIVING_TASKS:
            continue
        own: LLMTaskSettings = getattr(llm, task)
        values = {k: fields.get(k) for k in TASK_FIELDS}
        if values["provider"] == llm.provider and values["base_url"] == llm.base_url:
            values["base_url"] = None  # inherits the section's, as before
        changed[task] = own.model_copy(update={k: v for k, v in values.items() if v is not None or k == "base_url"})
    return llm.model_copy(update=changed)


def same_models(recipe: Mapping[str, Any], llm: LLMSettings) -> bool:
    """Whether deriving with `recipe` calls the models `llm` calls (then the server's own client serves it)."""
    return not recipe.get("tasks") or describe(llm)["tasks"] == recipe["tasks"]


def fingerprint(recipe: Mapping[str, Any], prompts_digest: str) -> str:
    """sha256 of the recipe and of the prompt templates' text: equal fingerprints derive the same way."""
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":")) + "\n" + prompts_digest
    return hashlib.sha256(text.encode()).hexdigest()
