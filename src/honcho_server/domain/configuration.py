"""Workspace, session, message and peer configuration: validation, storage form, merging, resolution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from honcho_server.domain.metadata import strip_nul

SECTIONS = ("reasoning", "peer_card", "summary", "dream", "dialectic")


class _Section(BaseModel):
    # Unknown keys inside a section are dropped: the SDK rejects them when parsing responses.
    model_config = ConfigDict(extra="ignore")

    @field_validator("custom_instructions", check_fields=False)
    @classmethod
    def _without_nul(cls, value: str | None) -> str | None:
        # As from all client text (spec 1.4); these strings reach JSON columns, which cannot hold a NUL.
        return strip_nul(value)


class ReasoningConfig(_Section):
    enabled: bool | None = None
    custom_instructions: str | None = None


class PeerCardConfig(_Section):
    use: bool | None = None
    create: bool | None = None
    custom_instructions: str | None = None


class SummaryConfig(_Section):
    enabled: bool | None = None
    messages_per_short_summary: int | None = Field(default=None, ge=10)
    messages_per_long_summary: int | None = Field(default=None, ge=20)
    custom_instructions: str | None = None

    @model_validator(mode="after")
    def _short_before_long(self) -> SummaryConfig:
        short, long = self.messages_per_short_summary, self.messages_per_long_summary
        if short is not None and long is not None and short >= long:
            raise ValueError("messages_per_short_summary must be less than messages_per_long_summary")
        return self


class DreamConfig(_Section):
    enabled: bool | None = None
    custom_instructions: str | None = None


class DialecticConfig(_Section):
    custom_instructions: str | None = None


class ScopeConfiguration(BaseModel):
    """Workspace and session configuration (same shape). Unknown top-level keys are kept verbatim."""

    model_config = ConfigDict(extra="allow")

    custom_instructions: str | None = None
    reasoning: ReasoningConfig | None = None
    peer_card: PeerCardConfig | None = None
    summary: SummaryConfig | None = None
    dream: DreamConfig | None = None
    dialectic: DialecticConfig | None = None

    def stored(self) -> dict[str, Any]:
        """The storage form: null fields removed at every level (null-valued extra keys too), and NUL
        characters stripped from every key and string as from metadata (PostgreSQL's JSON cannot hold them)."""
        return strip_nul(_drop_nulls(self.model_dump(exclude_none=True)))

    def instruction_texts(self) -> list[str]:
        texts = [self.custom_instructions]
        texts += [getattr(getattr(self, s), "custom_instructions", None) for s in SECTIONS]
        return [t for t in texts if t and t.strip()]


class MessageConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reasoning: ReasoningConfig | None = None


class PeerConfiguration(BaseModel):
    """Peer configuration: only `observe_me` (the SDK rejects any other key in responses)."""

    model_config = ConfigDict(extra="forbid")

    observe_me: bool | None = None


class SessionPeerConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    observe_me: bool | None = None
    observe_others: bool | None = None


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    return value


def shallow_merge(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Top-level keys of `update` replace stored ones wholesale (spec 1.9)."""
    return {**stored, **update}


def _deep_merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in layer.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _normalise_legacy(layer: dict[str, Any]) -> dict[str, Any]:
    """Map the legacy `deriver.enabled` and `skip_deriver` keys onto `reasoning.enabled`."""
    layer = dict(layer)
    legacy = layer.pop("deriver", None)
    skip = layer.pop("skip_deriver", None)
    reasoning = dict(layer.get("reasoning") or {})
    if reasoning.get("enabled") is None:
        if isinstance(legacy, dict) and isinstance(legacy.get("enabled"), bool):
            reasoning["enabled"] = legacy["enabled"]
        elif skip is True:
            reasoning["enabled"] = False
    if reasoning:
        layer["reasoning"] = reasoning
    return layer


@dataclass(frozen=True)
class ResolvedConfig:
    reasoning_enabled: bool
    custom_instructions: str | None
    peer_card_use: bool
    peer_card_create: bool
    summary_enabled: bool
    messages_per_short_summary: int
    messages_per_long_summary: int
    dream_enabled: bool

    def to_payload(self) -> dict[str, Any]:
        return dict(self.__dict__)


def resolve(defaults: dict[str, Any], *layers: dict[str, Any] | None) -> ResolvedConfig:
    """Defaults, then workspace, session and message layers, each deep-merged skipping nulls."""
    merged = _normalise_legacy(defaults)
    for layer in layers:
        if layer:
            merged = _deep_merge(merged, _normalise_legacy(layer))

    def section(name: str) -> dict[str, Any]:
        value = merged.get(name)
        return value if isinstance(value, dict) else {}

    reasoning, card, summary, dream = (section(n) for n in ("reasoning", "peer_card", "summary", "dream"))
    return ResolvedConfig(
        reasoning_enabled=bool(reasoning.get("enabled", True)),
        custom_instructions=reasoning.get("custom_instructions"),
        peer_card_use=bool(card.get("use", True)),
        peer_card_create=bool(card.get("create", True)),
        summary_enabled=bool(summary.get("enabled", True)),
        messages_per_short_summary=int(summary.get("messages_per_short_summary", 20)),
        messages_per_long_summary=int(summary.get("messages_per_long_summary", 60)),
        dream_enabled=bool(dream.get("enabled", True)),
    )
