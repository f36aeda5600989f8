"""Generations of a workspace's derived memory (docs/generations.md): start a re-derivation (estimate first, a cost
cap, then one transaction that creates the generation and queues its jobs), list and show them with their usage,
and switch between them: activate, roll back, retire, delete.

Who calls: the generations routes and the `rederive` / `generations` commands. They compute what lives above this
layer (the prompts' digest and their token overhead, in reasoning/) and pass it in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.config import LLMTaskSettings
from honcho_server.domain.generations import Estimate, Generation, PromptOverhead, number_of
from honcho_server.domain.ids import NAME_MAX, NAME_RE
from honcho_server.domain.models import Workspace
from honcho_server.domain.tokens import count_tokens
from honcho_server.errors import Conflict, NotFound, ReasoningOff, ValidationError
from honcho_server.llm import recipes
from honcho_server.queue import jobs
from honcho_server.services import rederive, workspaces
from honcho_server.services.deps import Deps
from honcho_server.store.repos import generation_work as work_repo
from honcho_server.store.repos import generations as repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos import workspaces as workspace_repo
from honcho_server.store.repos.generations import Usage


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What a rederive asks for. `models` maps a deriving task (or `*` for all of them) to the recipe fields it
    changes; the scope (peer, since, sessions) narrows what is re-derived, the rest being copied from the active
    generation."""

    name: str | None = None
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    custom_instructions: str | None = None
    peer: str | None = None
    since: datetime | None = None
    sessions: list[str] | None = None
    max_cost_usd: float | None = None
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """A rederive worked out but not started: its recipe, fingerprint, stored scope and estimate."""

    recipe: dict[str, Any]
    fingerprint: str
    scope: dict[str, Any]
    estimate: Estimate


@dataclass(frozen=True, slots=True)
class GenerationInfo:
    """A generation as it is shown: with what its model calls spent and the public id of its `previous`."""

    generation: Generation
    usage: Usage
    previous: str | None


class CostCapRefused(ValidationError):
    """The estimate is above the cap, or cannot be priced while a cap is set (422); carries the estimate."""

    def __init__(self, message: str, estimate: Estimate) -> None:
        super().__init__(message)
        self.estimate = estimate


# ---- start -------------------------------------------------------------------------------------------------------


async def plan(deps: Deps, workspace: str, request: StartRequest, prompts_digest: str, overhead: PromptOverhead
               ) -> Plan:
    """Check the request (LLM configured, recipe, name, scope) and estimate its spend; writes nothing."""
    if not deps.settings.llm.enabled:
        raise ReasoningOff.because(deps.settings.llm.problem)
    recipe = _recipe(deps, request)
    _check_name(request.name)
    from honcho_server.services import generation_estimate

    async with deps.db.read() as conn:
        ws = await workspaces.require(conn, workspace)
        scope = await _scope(conn, ws, request)
        estimate: Estimate = await generation_estimate.estimate(conn, deps, ws, scope, recipe, overhead)
    return Plan(recipe, recipes.fingerprint(recipe, prompts_digest), scope, estimate)


def check_cap(estimate: Estimate, max_cost_usd: float | None) -> None:
    """CostCapRefused when a cap is set and the estimate is above it or has no price."""
    if max_cost_usd is None:
        return
    cost = estimate.cost_usd
    if cost is None:
        unpriced = ", ".join(f"{t.task} ({t.provider} {t.model})" for t in estimate.tasks
                             if t.calls and t.cost_usd is None)
        raise CostCapRefused(
            f"max_cost_usd is set but the price of {unpriced} is unknown, so the cap could not be kept: nothing was "
            f"started. Set HONCHO_LLM__INPUT_PRICE_PER_MTOK and HONCHO_LLM__OUTPUT_PRICE_PER_MTOK for the model, "
            f"or start without a cap (estimate: {_spend(estimate)}).", estimate)
    if cost > max_cost_usd:
        raise CostCapRefused(
            f"The estimated cost ${cost:.4f} is above max_cost_usd ${max_cost_usd:g} ({_spend(estimate)}): nothing "
            "was started. Raise the cap, narrow the scope (peer, since, sessions) or choose a cheaper model.",
            estimate)


async def start(deps: Deps, workspace: str, request: StartRequest, prompts_digest: str, overhead: PromptOverhead,
                started_by: str) -> tuple[Generation | None, Estimate]:
    """Start building a new generation (None with `dry_run`, which only checks and estimates): one write
    transaction creates it in state `building`, copies the memory outside its scope from the active generation,
    and queues its jobs; its progress counts them."""
    planned = await plan(deps, workspace, request, prompts_digest, overhead)
    check_cap(planned.estimate, request.max_cost_usd)
    if request.dry_run:
        async with deps.db.read() as conn:
            ws = await workspaces.require(conn, workspace)
            await _check_free(conn, ws, request.name)
        return None, planned.estimate
    async with deps.db.write() as conn:
        ws = await _locked(conn, workspace)  # two starts at once cannot both find no building generation
        await _check_free(conn, ws, request.name)
        made = await repo.create(
            conn, ws.pk, number=await repo.next_number(conn, ws.pk), name=request.name, recipe=planned.recipe,
            fingerprint=planned.fingerprint, scope=planned.scope, started_by=started_by,
            estimate=planned.estimate.as_json(), max_cost_usd=request.max_cost_usd, now=deps.now())
        from honcho_server.store.repos import generation_copy

        # What the rederive will not make again: everything outside its scope, and the app's own conclusions.
        await generation_copy.copy_outside_scope(conn, ws.pk, ws.generation_pk, made.pk, planned.scope)
        total = await rederive.enqueue(conn, deps, ws, made)
        # nothing to derive (no message in scope): ready at once, with what the copy brought
        await work_repo.set_progress(conn, made.pk, {"total": total, "done": 0}, None if total else "ready",
                                     deps.now())
        return await _reload(conn, made.pk), planned.estimate


def _recipe(deps: Deps, request: StartRequest) -> dict[str, Any]:
    """The recipe the request describes, checked: known tasks and fields, valid values, and runnable here."""
    for task, fields in request.models.items():
        try:
            LLMTaskSettings.model_validate(fields)  # the types and ranges of the settings it overrides
        except ValueError as exc:
            raise ValidationError(f"models.{task}: {_first_error(exc)}") from None
    if request.custom_instructions is not None:
        limit = deps.settings.limits.custom_instructions_tokens
        if limit == 0:
            raise ValidationError("custom_instructions are disabled on this server")
        if count_tokens(request.custom_instructions) > limit:
            raise ValidationError(f"custom_instructions may be at most {limit} tokens")
    try:
        recipe = recipes.describe(deps.settings.llm, request.models, request.custom_instructions)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    recipe["reasoning"] = recipes.reasoning_of(deps.settings)
    runs_with = recipes.apply(deps.settings.llm, recipe)
    for task in recipes.DERIVING_TASKS:
        if (problem := runs_with.task_problem(task)) is not None:
            raise ValidationError(f"The recipe's {task} task cannot run on this server: {problem}")
    return recipe


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


def _check_name(name: str | None) -> None:
    if name is None:
        return
    if not (0 < len(name) <= NAME_MAX and NAME_RE.match(name)):
        raise ValidationError(f"Invalid generation name {name[:100]!r}: use 1-{NAME_MAX} letters, digits, '_' or '-'")
    if number_of(name) is not None:
        raise ValidationError(f"A generation cannot be named {name!r}: names of the form g<number> are its ids")


async def _scope(conn: AsyncConnection, ws: Workspace, request: StartRequest) -> dict[str, Any]:
    """The scope as stored on the generation (only the keys given); the peer and sessions it names must exist."""
    scope: dict[str, Any] = {}
    if any("\x00" in n for n in [request.peer or "", *(request.sessions or [])]):
        raise ValidationError("A peer or session name must not contain a NUL character")  # PostgreSQL refuses one
    if request.peer is not None:
        if await peer_repo.find(conn, ws.pk, request.peer, ws.name) is None:
            raise NotFound(f"Peer {request.peer} not found")
        scope["peer"] = request.peer
    if request.since is not None:
        scope["since"] = request.since.isoformat()
    if request.sessions is not None:
        names = list(dict.fromkeys(request.sessions))
        if not names:
            raise ValidationError("`sessions` names no session: leave it out to re-derive every session")
        found = await session_repo.active_pks(conn, ws.pk, names)
        if missing := [n for n in names if n not in found]:
            raise NotFound(f"Session {missing[0]} not found")
        scope["sessions"] = names
    return scope


async def _check_free(conn: AsyncConnection, ws: Workspace, name: str | None) -> None:
    """Conflict while another generation builds, or when the name is taken."""
    if (busy := await repo.building(conn, ws.pk)) is not None:
        done, total = busy.progress.get("done", 0), busy.progress.get("total", "?")
        raise Conflict(f"Generation {busy.public_id} of workspace {ws.name} is still building ({done} of {total} "
                       "jobs done): one generation builds at a time. Wait until it is ready, or delete it.")
    if name is not None and await repo.find(conn, ws.pk, name) is not None:
        raise Conflict(f"Workspace {ws.name} already has a generation named {name}")


def _spend(estimate: Estimate) -> str:
    calls = sum(t.calls for t in estimate.tasks)
    return (f"{calls} model calls, {estimate.input_tokens} input and {estimate.output_tokens} output tokens over "
            f"{estimate.messages} messages in {estimate.sessions} sessions")


# ---- read --------------------------------------------------------------------------------------------------------


async def list_(deps: Deps, workspace: str) -> list[GenerationInfo]:
    async with deps.db.read() as conn:
        ws = await workspaces.require(conn, workspace)
        found = await repo.list_all(conn, ws.pk)
        spent = await repo.usage(conn, [g.pk for g in found])
    numbers = {g.pk: g.public_id for g in found}
    return [GenerationInfo(g, spent[g.pk], numbers.get(g.previous_pk) if g.previous_pk else None) for g in found]


async def get(deps: Deps, workspace: str, ref: str) -> GenerationInfo:
    async with deps.db.read() as conn:
        return await find_info(conn, await workspaces.require(conn, workspace), ref)


async def find_info(conn: AsyncConnection, ws: Workspace, ref: str) -> GenerationInfo:
    """The workspace's generation `ref` (public id or name) with its usage; NotFound."""
    return await _info(conn, await _require(conn, ws, ref))


async def _info(conn: AsyncConnection, generation: Generation) -> GenerationInfo:
    spent = (await repo.usage(conn, [generation.pk]))[generation.pk]
    previous = await repo.by_pk(conn, generation.previous_pk) if generation.previous_pk else None
    return GenerationInfo(generation, spent, previous.public_id if previous else None)


async def _require(conn: AsyncConnection, ws: Workspace, ref: str) -> Generation:
    found = await repo.find(conn, ws.pk, ref)
    if found is None:
        raise NotFound(f"Generation {ref} not found in workspace {ws.name}")
    return found


async def _reload(conn: AsyncConnection, pk: int) -> Generation:
    found = await repo.by_pk(conn, pk)
    if found is None:  # written in this very transaction
        raise RuntimeError(f"generation {pk} vanished inside its own transaction")
    return found


# ---- switch ------------------------------------------------------------------------------------------------------


async def activate(deps: Deps, workspace: str, ref: str) -> GenerationInfo:
    """Make a `ready` or `retired` generation the one reads serve; the one active until now becomes `ready` and
    is what a rollback returns to. Activating the active one changes nothing."""
    async with deps.db.write() as conn:
        ws = await _locked(conn, workspace)
        target = await _require(conn, ws, ref)
        if target.state != "active":
            _check_activatable(target)
            await repo.activate(conn, ws.pk, target.pk, deps.now())
        return await _info(conn, await _reload(conn, target.pk))


async def rollback(deps: Deps, workspace: str) -> GenerationInfo:
    """Activate the generation that was active before the active one."""
    async with deps.db.write() as conn:
        ws = await _locked(conn, workspace)
        current = await _reload(conn, ws.generation_pk)
        if current.previous_pk is None:
            raise Conflict(f"Nothing to roll back to: {current.public_id}, the active generation of workspace "
                           f"{ws.name}, was not activated in place of another one")
        previous = await repo.by_pk(conn, current.previous_pk)
        if previous is None:
            raise Conflict(f"Nothing to roll back to: the generation active before {current.public_id} was deleted")
        _check_activatable(previous)
        await repo.activate(conn, ws.pk, previous.pk, deps.now())
        return await _info(conn, await _reload(conn, previous.pk))


def _check_activatable(target: Generation) -> None:
    if target.state == "building":
        done, total = target.progress.get("done", 0), target.progress.get("total", "?")
        raise Conflict(f"Generation {target.public_id} is still building ({done} of {total} jobs done): it can be "
                       "activated once it is ready")
    if target.state == "failed":
        raise Conflict(f"Generation {target.public_id} failed ({target.error or 'no reason recorded'}): it cannot "
                       "be activated; delete it, or start a new one")


async def retire(deps: Deps, workspace: str, ref: str) -> GenerationInfo:
    """Keep a `ready` generation without deriving into it any longer (its pending jobs are dropped); it can be
    activated again. Retiring a retired one changes nothing."""
    async with deps.db.write() as conn:
        ws = await _locked(conn, workspace)
        target = await _require(conn, ws, ref)
        if target.state == "active":
            raise Conflict(f"Generation {target.public_id} is the active one: activate another before retiring it")
        if target.state == "building":
            raise Conflict(f"Generation {target.public_id} is still building: delete it to stop it (a generation "
                           "retired half-built could later be activated)")
        if target.state == "failed":
            raise Conflict(f"Generation {target.public_id} failed: delete it instead")
        if target.state == "ready":
            await jobs.cancel_generation(conn, deps.db.dialect, target.pk)
            await repo.retire(conn, target.pk, deps.now())
        return await _info(conn, await _reload(conn, target.pk))


async def delete(deps: Deps, workspace: str, ref: str) -> dict[str, Any]:
    """Delete a generation that is not the active one, with its conclusions, summaries and peer cards (and its
    pending jobs); the receipt counts what went."""
    async with deps.db.write() as conn:
        ws = await _locked(conn, workspace)
        target = await _require(conn, ws, ref)
        if target.state == "active":
            raise Conflict(f"Generation {target.public_id} is the active one: activate another before deleting it")
        held = await repo.contents(conn, target.pk)
        cancelled = await jobs.cancel_generation(conn, deps.db.dialect, target.pk)
        await repo.delete(conn, target.pk)
    return {"deleted": {"type": "generation", "id": target.public_id, "name": target.name},
            "counts": {"conclusions_removed": held["conclusions"], "summaries_removed": held["summaries"],
                       "cards_removed": held["peer_cards"], "jobs_cancelled": cancelled}}


async def _locked(conn: AsyncConnection, workspace: str) -> Workspace:
    """The workspace, its row locked for the switch (concurrent switches of one workspace run one after the
    other), with its active generation as of now."""
    found = await workspace_repo.find(conn, workspace, for_update=True)
    if found is None:
        raise NotFound(f"Workspace {workspace} not found")
    return found
