"""The dialectic chat (spec 11): a natural-language question about a peer (or a whole workspace) answered by an
agent that reads memory through retrieval tools (reasoning/memory_tools.py).

`prepare` does everything that can fail on the request's account before any model is called (so a streamed
answer never starts for a request that is then refused): the path peer is created (spec 11.1 step 6), the target
and the session must exist (404), the scope is fixed, and a little is read ahead into the prompt so that
`minimal` can answer in one call: the peer cards (where `peer_card.use` allows and no allowlist restricts),
the conclusions closest to the question, and with a session the recent messages of that session. Retrieved
context is cut to `dialectic.context_tokens`; the question never is.

Reasoning levels trade cost for depth through one table (`dialectic.<level>`: tool turns, output cap, how much is
read ahead) and a model each (`llm.dialectic_<level>`). The evidence of spec 11.5 is collated from what was read
ahead and what the successful tool calls showed, in the order the model made them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from honcho_server.config import DialecticLevel
from honcho_server.domain.conclusions import Conclusion
from honcho_server.domain.configuration import resolve
from honcho_server.domain.models import Message, Session, Workspace
from honcho_server.domain.tokens import count_tokens
from honcho_server.errors import LLMFailed, LLMUnavailable, NotFound, ReasoningOff
from honcho_server.llm.base import LLMError, LLMNotConfigured, LLMProviderError
from honcho_server.llm.tasks import AgentResult, AgentTask, ToolCall
from honcho_server.reasoning.memory_tools import Found, MemoryTools, Scope, conclusion_line, fit, message_line
from honcho_server.services import peers, scopes, sessions, workspaces
from honcho_server.services.deps import Deps
from honcho_server.services.embedding import prepare_vectors, query_vector
from honcho_server.store.repos import messages as message_repo
from honcho_server.store.repos import peer_cards as card_repo
from honcho_server.store.repos import peers as peer_repo
from honcho_server.store.repos import recall
from honcho_server.store.repos import scopes as scope_repo
from honcho_server.store.repos import sessions as session_repo
from honcho_server.store.repos.conclusions import Collection
from honcho_server.store.repos.recall import WorkspaceCollection

LEVELS = ("minimal", "low", "medium", "high", "max")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    workspace: str
    query: str
    level: str = "low"
    peer: str | None = None  # who asks (the observer); None: workspace chat
    target: str | None = None  # whom the question is about (default: the peer itself)
    session: str | None = None  # its recent messages are read ahead (it must be in `sessions`)
    sessions: list[str] | None = None  # the allowlist of spec 11.2: all the chat may read comes from these
    scope: str | None = None  # peer chat read through this scope's own view (its hidden peer observes)
    output: type[BaseModel] | None = None  # the response_format's model
    evidence: bool = False
    generation: str | None = None  # the generation of memory to ask (`g2` or a name); None: the active one


@dataclass(slots=True)
class Reply:
    content: str | None
    evidence: dict[str, Any] | None = None
    tool_rounds: int = 0  # model turns that called tools
    requests: int = 0  # provider requests (tool turns, the answer, re-asks)
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(slots=True)
class Chat:
    """A validated chat, ready to run (`answer`) or stream (`stream`, then `reply`)."""

    deps: Deps
    request: ChatRequest
    level: DialecticLevel
    scope: Scope
    tools: MemoryTools
    instructions: str
    prompt: str
    read_ahead: Found
    context: Context
    custom: str | None
    reply: Reply | None = None

    def _task(self) -> AgentTask:
        return AgentTask(task=f"dialectic_{self.request.level}", instructions=self.instructions, prompt=self.prompt,
                         tools=self.tools.tools(), max_tool_rounds=self.level.tool_rounds,
                         output_type=self.request.output or str, max_output_tokens=self.level.max_output_tokens,
                         workspace_pk=self.scope.workspace_pk, without_tools=self._without_tools)

    async def _without_tools(self) -> tuple[str, str]:
        """For a model that cannot call tools: the messages that best match the question are read ahead too (what
        its first search would have found), and it answers from the prompt alone."""
        found = (await self.tools.search_messages(self.request.query, limit=max(self.level.prefetch, 10))).found
        self.context.hits = list(found.messages) if isinstance(found, Found) else []
        self.prompt, self.read_ahead = prompt(self.request.query, self.context, self.scope,
                                              self.deps.settings.dialectic.context_tokens)
        self.instructions = instructions(self.request, self.scope, self.level, self.custom, tools=False)
        return self.instructions, self.prompt

    def _reply(self, result: AgentResult) -> Reply:
        if self.request.output is None:
            content = result.output or None
        else:
            content = json.dumps(result.output.model_dump(mode="json", exclude_unset=True), ensure_ascii=False)
        found = evidence(self.read_ahead, result.tool_calls) if self.request.evidence else None
        return Reply(content, found, result.tool_rounds, result.requests, result.input_tokens, result.output_tokens)

    async def answer(self) -> Reply:
        """The complete answer. LLMFailed (502) when the model cannot give one."""
        try:
            result = await self.deps.llm.run_agent(self._task())
        except LLMError as exc:
            raise _failure(exc) from exc
        self.reply = self._reply(result)
        return self.reply

    async def stream(self) -> AsyncGenerator[str, None]:
        """The answer's text as the model writes it; `reply` (with the evidence) once it is complete. A
        structured answer comes in one piece, once it has been validated (a re-asked answer would otherwise
        contradict what was already sent)."""
        if self.request.output is not None:
            reply = await self.answer()
            if reply.content:
                yield reply.content
            return
        stream = self.deps.llm.stream_agent(self._task())
        deltas = stream.__aiter__()
        try:
            async for delta in deltas:
                yield delta
        except LLMError as exc:
            raise _failure(exc) from exc
        finally:
            await deltas.aclose()  # a reader that stops early stops the model
        assert stream.result is not None
        self.reply = self._reply(stream.result)


def _failure(exc: LLMError) -> Exception:
    """A half-configured provider is the server's setting to fix (400, as without one); a provider that cannot
    be reached is worth retrying (503); anything else the LLM did is a failed upstream (502)."""
    if isinstance(exc, LLMNotConfigured):
        return ReasoningOff(f"Reasoning is not fully configured on this server: {exc}")
    if isinstance(exc, LLMProviderError) and exc.unreachable:
        return LLMUnavailable(f"The chat could not be answered: {exc}")
    return LLMFailed(f"The chat could not be answered: {exc}")


# -------------------------------------------------------------------------------------------------- evidence


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _conclusion(c: Conclusion) -> dict[str, Any]:
    return {"id": c.uid, "level": c.level, "content": c.content, "created_at": _iso(c.created_at),
            "session_id": c.session_name, "observer_id": c.observer, "observed_id": c.observed,
            "source_ids": list(c.source_ids or [])}


def _message(m: Message) -> dict[str, Any]:
    return {"id": m.uid, "session_id": m.session_name, "peer_id": m.peer_name, "created_at": _iso(m.created_at)}


def evidence(read_ahead: Found, calls: list[ToolCall]) -> dict[str, Any]:
    """Spec 11.5: every conclusion and message the agent was shown (read ahead, then each successful tool call
    in the order the model made them; each once), and the successful calls without their results."""
    conclusions: dict[str, dict[str, Any]] = {}
    messages: dict[str, dict[str, Any]] = {}
    for found in [read_ahead, *(c.found for c in calls if isinstance(c.found, Found))]:
        for c in found.conclusions:
            conclusions.setdefault(c.uid, _conclusion(c))
        for m in found.messages:
            messages.setdefault(m.uid, _message(m))
    return {"conclusions": list(conclusions.values()), "messages": list(messages.values()),
            "tool_calls": [{"tool_name": c.name, "tool_input": c.args} for c in calls],
            "reasoning_trace_id": None}  # optional in spec 11.5; the TypeScript SDK's type declares it always


# --------------------------------------------------------------------------------------------------- prompts

INSTRUCTIONS = """\
You answer an application's questions about {subject} from a memory of past conversations. {perspective}

Memory holds conclusions (facts drawn from the conversations; each has an id, a level - explicit: stated; \
deductive or inductive: reasoned from premises; contradiction: statements that conflict - when it was learned, and \
the ids of the messages it was read from) and the messages themselves (each with an id, session, time and speaker).

How to answer:
- Use only what memory shows: the memory in the prompt and what your tools return. Never invent or guess facts.
- {tool_rule}
- Memory items carry dates: answer with absolute dates. When something changed, give the most recent state (and \
say it changed); when facts contradict, say so.
- If memory holds nothing relevant, say so plainly in one sentence (for example "I don't have any information \
about that."), without speculating.
- Answer the question directly and concisely, in plain prose, without mentioning tools, ids or the memory system.
- {answer_rule}{custom}"""

TOOL_RULE = ("Before saying nothing is known, search: conclusions first, then messages for details, exact words, "
             "numbers and dates; follow a derived conclusion with reasoning_chain. Call several tools at once when "
             "they do not depend on each other. You may use tools in at most {rounds} turn{s}, then you must answer.")
NO_TOOLS = "Answer from the memory in the prompt."
ANSWER_BY_TOOL = "Give your answer by calling `answer`."
ANSWER_AS_TEXT = "Write your answer as plain text."


def _perspective(request: ChatRequest, observer: str | None, observed: str | None) -> tuple[str, str]:
    if observer is None:
        return (f"the peers of workspace {request.workspace}", "The question may be about any peer of the "
                "workspace; each conclusion says whom it is about.")
    if observer == observed:
        return observed, f"Memory is everything known about {observed}."
    return observed or "", (f"Memory is {observer}'s view of {observed}: what {observer} has learned about "
                            f"{observed} from conversations {observer} took part in. Answer from that view.")


def instructions(request: ChatRequest, scope: Scope, level: DialecticLevel, custom: str | None,
                 tools: bool = True) -> str:
    subject, perspective = _perspective(request, scope.observer, scope.observed)
    if request.sessions is not None:
        perspective += (f" Memory is restricted to the session{'' if len(request.sessions) == 1 else 's'} "
                        + ", ".join(request.sessions) + " (only what was stated there).")
    if request.session is not None:
        perspective += f" The conversation of session {request.session} is going on; its latest messages are below."
    rounds = level.tool_rounds if tools else 0
    rule = TOOL_RULE.format(rounds=rounds, s="" if rounds == 1 else "s") if rounds else NO_TOOLS
    extra = f"\n\nInstructions from the application:\n{custom.strip()}" if custom and custom.strip() else ""
    answer_rule = ANSWER_BY_TOOL if tools else ANSWER_AS_TEXT
    return INSTRUCTIONS.format(subject=subject, perspective=perspective, tool_rule=rule, custom=extra,
                               answer_rule=answer_rule)


@dataclass(slots=True)
class Context:
    """What is read ahead for the prompt."""

    cards: dict[str, list[str]] = field(default_factory=dict)  # heading -> entries
    conclusions: list[Conclusion] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)
    hits: list[Message] = field(default_factory=list)  # messages matching the question (for a model without tools)


def prompt(question: str, context: Context, scope: Scope, budget: int) -> tuple[str, Found]:
    """The user turn: the read-ahead memory (within `budget` tokens: cards, then the closest conclusions, then the
    messages matching the question, then the newest session messages), then the question, whole. Returns what it
    shows."""
    parts: list[str] = []
    for heading, entries in context.cards.items():
        block = f"{heading}:\n" + "\n".join(f"- {e}" for e in entries)
        parts.append(block)
        budget -= count_tokens(block)
    history_share = min(budget // 2, sum(m.token_count for m in context.history) + 50) if context.history else 0
    hits_share = min(budget // 3, sum(m.token_count for m in context.hits) + 50) if context.hits else 0
    shown = Found()
    if context.conclusions:
        lines, shown.conclusions, _ = fit([(conclusion_line(c, scope.workspace_wide), c)
                                              for c in context.conclusions],
                                             max(budget - history_share - hits_share, 0))
        parts.append("Conclusions closest to the question:\n" + "\n".join(lines))
        budget -= sum(count_tokens(x) + 1 for x in lines)
    else:
        parts.append("No conclusions were found close to the question.")
    if context.hits:
        lines, hits, _ = fit([(message_line(m), m) for m in context.hits], max(budget - history_share, 0))
        parts.append("Messages matching the question (best first):\n" + "\n".join(lines) if lines else
                     "No messages match the question.")
        budget -= sum(count_tokens(x) + 1 for x in lines)
        shown.messages.extend(hits)
    if context.history:
        newest_first = [(message_line(m), m) for m in reversed(context.history)]
        lines, kept, _ = fit(newest_first, max(budget, 0))
        shown.messages.extend(m for m in reversed(kept) if m not in shown.messages)
        parts.append("Latest messages of this session (oldest first):\n" + "\n".join(reversed(lines)))
    parts.append(f"Question: {question}")
    return "\n\n".join(parts), shown


# --------------------------------------------------------------------------------------------------- prepare


def _custom_instructions(*layers: dict[str, Any] | None) -> str | None:
    """`dialectic.custom_instructions` of the session's configuration, else the workspace's."""
    for layer in reversed(layers):
        section = (layer or {}).get("dialectic")
        if isinstance(section, dict) and isinstance(section.get("custom_instructions"), str):
            return section["custom_instructions"]
    return None


async def _workspace(deps: Deps, request: ChatRequest) -> Workspace:
    """The workspace; for peer chat the asking peer is created with it when missing (spec 11.1 step 6)."""
    if request.peer is None:
        async with deps.db.read() as conn:
            return await workspaces.in_generation(conn, await workspaces.require(conn, request.workspace),
                                                  request.generation)
    if request.generation is not None:  # an unknown generation is refused before anything is created
        async with deps.db.read() as conn:
            found = await workspaces.serving(conn, request.workspace, request.generation)
        if found is None:
            raise NotFound(f"Workspace {request.workspace} not found")
    async with deps.db.write() as conn:
        ws = await workspaces.ensure(conn, deps, request.workspace)
        await peers.ensure_many(conn, deps, ws.pk, [request.peer])
        return await workspaces.in_generation(conn, ws, request.generation)


async def _scope(conn: AsyncConnection, deps: Deps, ws: Workspace, request: ChatRequest
                 ) -> tuple[Scope, Session | None, Context]:
    """The chat's scope, its session, and the cards and session messages it reads ahead (404s here)."""
    session = None
    if request.session is not None:
        session = await sessions.require_active(conn, ws.name, request.session)
    allowed = None
    if request.sessions is not None:
        allowed = tuple((await session_repo.active_pks(conn, ws.pk, request.sessions)).values())
    config = resolve(deps.defaults_layer(), ws.configuration, session.configuration if session else None)
    cards = config.peer_card_use and request.sessions is None
    context = Context()
    if request.peer is None:
        filters = {"session_id": {"in": list(request.sessions)}} if request.sessions is not None else None
        collection: Collection = WorkspaceCollection.of(ws, 0, 0, allowed)
        scope = Scope(ws.pk, ws.name, collection, None, None, filters, cards)
    else:
        observed = request.target or request.peer
        held = await scopes.require(conn, ws, ws.name, request.scope) if request.scope is not None else None
        rows = await peer_repo.find_many(conn, ws.pk, [request.peer, observed])
        if observed not in rows:
            raise NotFound(f"Peer {observed} not found in workspace {ws.name}")
        observer_pk, observed_pk = rows[request.peer].id, rows[observed].id
        # Messages of the observer's sessions (joined before or after they were written: imported history too).
        visible = await recall.member_session_names(conn, observer_pk)
        collection = Collection.of(ws, observer_pk, observed_pk, allowed)
        if held is not None:  # the scope observes instead, and its sessions are what it has seen
            observer_pk = held.peer_pk
            visible = await scope_repo.member_session_names(conn, [held.pk])
            collection = scopes.collection(ws, held, observed_pk, allowed)
        if request.sessions is not None:
            visible = [name for name in visible if name in set(request.sessions)]
        filters = {"session_id": {"in": visible}}
        scope = Scope(ws.pk, ws.name, collection, request.peer, observed, filters, cards,
                      scopes.peer_name(held.name) if held is not None else None)
        if cards:
            if (card := await card_repo.get(conn, ws.generation_pk, observer_pk, observed_pk)):
                context.cards[f"Peer card of {observed}"] = card
            if observer_pk != observed_pk and (own := await card_repo.get(conn, ws.generation_pk, observer_pk,
                                                                          observer_pk)):
                context.cards[f"Peer card of {request.peer} (the one asking)"] = own
    budget = deps.settings.dialectic.session_history_tokens
    if session is not None and budget > 0:
        context.history = await message_repo.newest_within_budget(conn, session.pk, budget, ws.name, session.name)
    return scope, session, context


async def prepare(deps: Deps, request: ChatRequest) -> Chat:
    """Validate and read ahead; NotFound for a missing workspace (workspace chat), target or session."""
    if request.level not in LEVELS:
        raise ValueError(f"unknown reasoning level {request.level!r}")
    level = deps.settings.dialectic.level(request.level)
    ws = await _workspace(deps, request)
    async with deps.db.read() as conn:
        scope, session, context = await _scope(conn, deps, ws, request)
    custom = _custom_instructions(ws.configuration, session.configuration if session else None)
    tools = MemoryTools(deps, scope, vectors=await prepare_vectors(deps),
                        result_tokens=deps.settings.dialectic.tool_result_tokens)
    if level.prefetch:
        vector = await query_vector(deps, request.query)  # no transaction is open meanwhile
        context.conclusions = await tools.closest_conclusions(request.query, vector, level.prefetch)
    text, shown = prompt(request.query, context, scope, deps.settings.dialectic.context_tokens)
    return Chat(deps=deps, request=request, level=level, scope=scope, tools=tools,
                instructions=instructions(request, scope, level, custom), prompt=text, read_ahead=shown,
                context=context, custom=custom)
