"""How the generations commands print: the estimate, generations, and a comparison, as rich tables (plain and wide
when the output is not a terminal, so scripts and logs get whole lines)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # the commands import this module when they run, the services with it
    from honcho_server.domain.generations import Estimate
    from honcho_server.services.generation_compare import Comparison
    from honcho_server.services.generations import GenerationInfo


def console() -> Console:
    found = Console()
    return found if found.is_terminal else Console(width=200)


def cost(value: float | None) -> str:
    return "unknown price" if value is None else f"${value:.4f}"


def estimate(out: Console, found: Estimate, max_cost_usd: float | None) -> None:
    """Per task: calls, tokens, cost; then the totals (and the cap, when one is set)."""
    table = Table(title=f"Estimate: {found.messages} messages in {found.sessions} sessions")
    for header in ("task", "provider/model", "calls", "input tokens", "output tokens", "cost"):
        table.add_column(header, justify="right" if header not in ("task", "provider/model") else "left")
    for t in found.tasks:
        table.add_row(t.task, escape(f"{t.provider}/{t.model}"), str(t.calls), f"{t.input_tokens:,}",
                      f"{t.output_tokens:,}", cost(t.cost_usd) if t.calls else "-")
    table.add_row("total", "", str(sum(t.calls for t in found.tasks)), f"{found.input_tokens:,}",
                  f"{found.output_tokens:,}", cost(found.cost_usd), style="bold")
    out.print(table)
    out.print(f"Expected output: {found.output_ratio:.2f} output tokens per input token."
              + (f" Cap: ${max_cost_usd:g}." if max_cost_usd is not None else ""))


def _progress(info: GenerationInfo) -> str:
    p = info.generation.progress
    return f"{p['done']}/{p['total']}" if "total" in p and "done" in p else "-"


def _models(info: GenerationInfo) -> str:
    tasks = info.generation.recipe.get("tasks") or {}
    models = sorted({str(fields.get("model")) for fields in tasks.values()})
    return ", ".join(models) if models else "(as configured)"


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


def generations(out: Console, found: list[GenerationInfo]) -> None:
    table = Table(title="Generations")
    for header in ("id", "name", "state", "progress", "models", "calls", "tokens in/out", "cost", "created",
                   "activated"):
        table.add_column(header)
    for info in found:
        g, u = info.generation, info.usage
        state = f"[bold green]{g.state}[/bold green]" if g.state == "active" else g.state
        table.add_row(g.public_id, escape(g.name or "-"), state, _progress(info), escape(_models(info)),
                      str(u.calls), f"{u.input_tokens:,}/{u.output_tokens:,}", cost(u.cost_usd),
                      _when(g.created_at), _when(g.activated_at))
    out.print(table)


def generation(out: Console, info: GenerationInfo) -> None:
    g, u = info.generation, info.usage
    table = Table(title=f"Generation {g.public_id}" + (f" ({escape(g.name)})" if g.name else ""), show_header=False)
    table.add_column("field")
    table.add_column("value")
    rows: list[tuple[str, Any]] = [
        ("state", g.state), ("progress", _progress(info)), ("scope", g.scope or "whole workspace"),
        ("started by", g.started_by), ("fingerprint", g.fingerprint or "-"),
        ("estimate", cost(g.estimate.get("cost_usd")) if g.estimate else "-"),
        ("cap", f"${g.max_cost_usd:g}" if g.max_cost_usd is not None else "-"),
        ("usage", f"{u.calls} calls, {u.input_tokens:,} in / {u.output_tokens:,} out, {cost(u.cost_usd)}"),
        ("previous", info.previous or "-"), ("created", _when(g.created_at)), ("ready", _when(g.ready_at)),
        ("activated", _when(g.activated_at)), ("retired", _when(g.retired_at)), ("error", g.error or "-")]
    for task, fields in (g.recipe.get("tasks") or {}).items():
        rows.append((f"recipe: {task}", ", ".join(f"{k}={v}" for k, v in fields.items() if v is not None)))
    if g.recipe.get("custom_instructions"):
        rows.append(("custom instructions", g.recipe["custom_instructions"]))
    for field, value in rows:
        table.add_row(field, escape(str(value)))
    out.print(table)


def comparison(out: Console, found: Comparison) -> None:
    a, b = found.a.generation.public_id, found.b.generation.public_id
    table = Table(title=f"{a} (baseline) vs {b}" + (f", about {escape(found.peer)}" if found.peer else ""))
    for header in ("observer → observed", f"conclusions {a}", f"conclusions {b}", f"only in {a}", f"only in {b}",
                   "near duplicates", "card +", "card -"):
        table.add_column(header)
    for pair in found.pairs:
        levels = pair["levels"]
        table.add_row(escape(f"{pair['observer']} → {pair['observed']}"), str(sum(levels["a"].values())),
                      str(sum(levels["b"].values())), str(pair["only_in_a"]["count"]),
                      str(pair["only_in_b"]["count"]), str(pair["near_duplicates"]["count"]),
                      str(len(pair["card"]["added"])), str(len(pair["card"]["removed"])))
    out.print(table)
    if found.pairs_total > len(found.pairs):
        out.print(f"... and {found.pairs_total - len(found.pairs)} more pairs (the API lists the conclusions)")
    for pair in found.pairs:
        for side, label in (("only_in_a", a), ("only_in_b", b)):
            for item in pair[side]["listed"][:5]:
                out.print(f"  only in {label} ({escape(pair['observer'])} → {escape(pair['observed'])}): "
                          f"{escape(item['content'])}")
        for sign, key in (("+", "added"), ("-", "removed")):
            for entry in pair["card"][key]:
                out.print(f"  card ({escape(pair['observer'])} → {escape(pair['observed'])}) {sign} {escape(entry)}")
    differing = [s for s in found.summaries if s["short"]["differs"] or s["long"]["differs"]]
    out.print(f"Summaries: {len(differing)} of {found.sessions_total} sessions differ")
    for info, label in ((found.a, a), (found.b, b)):
        u = info.usage
        out.print(f"{label}: {u.calls} calls, {u.input_tokens:,} in / {u.output_tokens:,} out, {cost(u.cost_usd)}")
