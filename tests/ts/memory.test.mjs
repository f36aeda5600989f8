// Memory calls of the TypeScript SDK against a server without an LLM: conclusions written through the API
// (create / list / query / get / getMany / derived / delete, workspace-wide and per pair), representation, peer card,
// peer context, session context with a peer target; message search; queue status, summaries and the session
// context's token budget.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Conclusion, NotFoundError, Peer, PeerContext, SessionContext, SessionSummaries } from '@honcho-ai/sdk';
import { all, assertRecent, client, contents, eventually, ids, rejectsWith, unique } from './helpers.mjs';

const COUNTERS = ['totalWorkUnits', 'completedWorkUnits', 'inProgressWorkUnits', 'pendingWorkUnits'];

function assertCounters(status) {
  for (const c of COUNTERS) assert.ok(Number.isInteger(status[c]) && status[c] >= 0, `${c}: ${status[c]}`);
  assert.equal(status.totalWorkUnits, status.completedWorkUnits + status.inProgressWorkUnits + status.pendingWorkUnits);
}

test('conclusions: create, list, query, get, getMany, derived, delete', async () => {
  const honcho = client();
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const session = await honcho.session(unique('s'), { peers: [alice, bob] });
  await session.addMessages([alice.message('I drink green tea every morning'), bob.message('Nice')]);

  const created = await alice.conclusions.create([
    { content: 'alice drinks green tea every morning', sessionId: session.id },
    { content: 'alice plays chess on weekends' },
  ]);
  assert.ok(created.every((c) => c instanceof Conclusion));
  const [tea, chess] = created;
  assert.deepEqual(contents(created), ['alice drinks green tea every morning', 'alice plays chess on weekends']);
  assert.deepEqual([tea.observerId, tea.observedId, tea.sessionId, tea.level, tea.sourceIds, tea.timesDerived],
    ['alice', 'alice', session.id, 'explicit', null, 1]);
  assert.equal(chess.sessionId, null);
  assertRecent(tea.createdAt);
  const [aboutBob] = await alice.conclusionsOf(bob).create({ content: 'bob says nice a lot', sessionId: session });

  assert.deepEqual(ids(await all(alice.conclusions.list())), [chess.id, tea.id]); // newest first
  assert.deepEqual(ids(await all(alice.conclusions.list({ reverse: true }))), [tea.id, chess.id]);
  assert.deepEqual(ids(await all(alice.conclusions.list({ session: session.id }))), [tea.id]);
  assert.deepEqual(ids(await all(alice.conclusionsOf('bob').list())), [aboutBob.id]);
  assert.deepEqual(ids(await all(honcho.conclusions.list({ filters: { observed_id: 'bob' } }))), [aboutBob.id]);
  assert.deepEqual(new Set(ids(await all(honcho.conclusions.list()))), new Set([tea.id, chess.id, aboutBob.id]));
  const page = await honcho.conclusions.list({ size: 2 });
  assert.deepEqual([page.total, page.pages, (await page.toArray()).length], [3, 2, 3]);
  assert.deepEqual(new Set(ids(await alice.conclusions.getMany([tea.id, chess.id, aboutBob.id]))),
    new Set([tea.id, chess.id]));
  assert.deepEqual(new Set(ids(await honcho.conclusions.getMany([tea.id, aboutBob.id]))),
    new Set([tea.id, aboutBob.id]));
  assert.deepEqual(ids(await all(alice.conclusions.derived(tea.id))), []);

  assert.deepEqual(ids(await alice.conclusions.query('chess on weekends', 1)), [chess.id]);
  assert.equal((await alice.conclusions.query('green tea', 10, 1.0)).length, 2);
  assert.deepEqual(ids(await alice.conclusions.query('green tea', 10, 1.0, { session_id: session.id })), [tea.id]);

  const got = await honcho.conclusions.get(tea.id);
  assert.deepEqual([got.id, got.content, got.sessionId, got.timesDerived], [tea.id, tea.content, session.id, 1]);
  assert.equal((await alice.conclusions.get(chess.id)).content, chess.content);
  await rejectsWith(alice.conclusionsOf('bob').get(chess.id), NotFoundError); // another pair: checked by the SDK

  await alice.conclusions.delete(chess.id);
  await rejectsWith(honcho.conclusions.get(chess.id), NotFoundError, 404);
  await rejectsWith(alice.conclusions.delete(chess.id), NotFoundError, 404);
  assert.deepEqual(ids(await all(alice.conclusions.list())), [tea.id]);
  await rejectsWith((await honcho.peer('carol')).conclusionsOf('nobody').create({ content: 'x' }), NotFoundError, 404);
});

test('representation, peer card and peer context', async () => {
  const honcho = client();
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const trip = await honcho.session(unique('trip'), { peers: [alice, bob] });
  const other = await honcho.session(unique('other'), { peers: [alice, bob] });
  await trip.addMessages([alice.message('Hi bob, I live in Lisbon'), bob.message('I cook for a living')]);
  await alice.conclusions.create([{ content: 'alice lives in Lisbon', sessionId: trip.id },
    { content: 'alice likes hiking', sessionId: other.id }]);
  await alice.conclusionsOf(bob).create([{ content: 'bob is a cook', sessionId: trip.id }]);

  const rep = await alice.representation();
  assert.ok(rep.startsWith('## Explicit Observations') && rep.includes('alice lives in Lisbon') && rep.includes('hiking'),
    rep);
  assert.ok(!(await alice.representation({ session: trip })).includes('hiking'));
  assert.ok(!(await alice.representation({ sessions: [trip.id] })).includes('hiking'));
  assert.ok((await alice.representation({ target: bob, maxConclusions: 5 })).includes('bob is a cook'));
  assert.ok((await alice.representation({ searchQuery: 'Lisbon', searchTopK: 5, searchMaxDistance: 1.0,
    includeMostFrequent: true })).includes('Lisbon'));
  assert.ok((await alice.conclusionsOf(bob).representation({ searchQuery: 'cook' })).includes('bob is a cook'));
  assert.ok((await trip.representation(alice)).includes('alice lives in Lisbon'));
  assert.ok((await trip.representation('alice', { target: bob, searchQuery: 'cook' })).includes('bob is a cook'));
  assert.equal(await (await honcho.peer('newcomer')).representation(), '');

  assert.equal(await alice.getCard(), null);
  assert.deepEqual(await alice.setCard(['Name: Alice', 'Lives in Lisbon']), ['Name: Alice', 'Lives in Lisbon']);
  assert.deepEqual(await alice.getCard(), ['Name: Alice', 'Lives in Lisbon']);
  assert.deepEqual(await alice.card(), ['Name: Alice', 'Lives in Lisbon']);
  assert.deepEqual(await alice.setCard(['Bob: a cook'], bob), ['Bob: a cook']);
  assert.deepEqual(await alice.getCard('bob'), ['Bob: a cook']);

  const ctx = await alice.context();
  assert.ok(ctx instanceof PeerContext);
  assert.deepEqual([ctx.peerId, ctx.targetId, ctx.peerCard], ['alice', 'alice', ['Name: Alice', 'Lives in Lisbon']]);
  assert.ok(ctx.representation.includes('alice lives in Lisbon'));
  const ofBob = await alice.context({ target: bob, searchQuery: 'cook', searchTopK: 1, includeMostFrequent: true,
    maxConclusions: 3 });
  assert.deepEqual([ofBob.targetId, ofBob.peerCard], ['bob', ['Bob: a cook']]);
  assert.ok(ofBob.representation.includes('bob is a cook'));
  // the peer context of an observer that does not exist (a bare handle: no get-or-create on the way)
  await rejectsWith(new Peer('ghost', honcho.workspaceId, honcho.http).context(), NotFoundError, 404);
});

test('session context with a peer target', async () => {
  const honcho = client();
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const trip = await honcho.session(unique('trip'), { peers: [alice, bob] });
  const other = await honcho.session(unique('other'), { peers: [alice] });
  await trip.addMessages([alice.message('Hi bob, I live in Lisbon'), bob.message('I cook for a living')]);
  await alice.conclusions.create([{ content: 'alice lives in Lisbon', sessionId: trip.id },
    { content: 'alice likes hiking', sessionId: other.id }]);
  await alice.conclusionsOf(bob).create({ content: 'bob is a cook', sessionId: trip.id });
  await alice.setCard(['Name: Alice', 'Lives in Lisbon']);

  const context = await trip.context({ peerTarget: 'alice', tokens: 2000 });
  assert.ok(context instanceof SessionContext);
  assert.equal(context.sessionId, trip.id);
  assert.deepEqual(contents(context.messages), ['Hi bob, I live in Lisbon', 'I cook for a living']);
  assert.equal(context.summary, null);
  assert.ok(context.peerRepresentation.includes('alice lives in Lisbon'));
  assert.deepEqual(context.peerCard, ['Name: Alice', 'Lives in Lisbon']);
  const seen = await trip.context({ peerTarget: bob, peerPerspective: alice, limitToSession: true });
  assert.ok(seen.peerRepresentation.includes('bob is a cook'));
  assert.equal(seen.peerCard, null);
  const confined = await trip.context({ peerTarget: 'alice', sessions: [trip.id, other.id], summary: false,
    representationOptions: { searchQuery: 'Lisbon', searchTopK: 5, searchMaxDistance: 1.0,
      includeMostFrequent: true, maxConclusions: 10 } });
  assert.ok(confined.peerRepresentation.includes('hiking'));
  assert.equal(confined.peerCard, null);
  const openai = context.toOpenAI(bob);
  assert.deepEqual(openai.map((m) => m.role), ['system', 'system', 'user', 'assistant']);
  assert.deepEqual(context.toAnthropic('bob').map((m) => m.role), ['user', 'user', 'user', 'assistant']);
});

test('session context without a peer target keeps to the token budget', async () => {
  const honcho = client();
  const s = await honcho.session(unique('s'));
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const texts = ['Hi there!', 'I just adopted a dog named Biscuit, he is a golden retriever.', 'Cool, how old?',
    'Two years old, and full of energy every single morning.', 'Nice.', 'We go running by the river at seven.'];
  const sent = await s.addMessages(texts.map((t, i) => (i % 2 ? bob : alice).message(t)));
  const counts = sent.map((m) => m.tokenCount);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);

  const ctx = await s.context();
  assert.deepEqual(contents(ctx.messages), texts);
  assert.deepEqual(ids(ctx.messages), ids(sent));
  assert.deepEqual([ctx.summary, ctx.peerRepresentation, ctx.peerCard, ctx.length], [null, null, null, 6]);
  assert.deepEqual(contents((await s.context({ summary: false })).messages), texts);
  const budget = sum(counts.slice(-3));
  assert.deepEqual(contents((await s.context({ tokens: budget })).messages), texts.slice(-3));
  assert.deepEqual(contents((await s.context({ tokens: budget - 1 })).messages), texts.slice(-2));
  assert.deepEqual(contents((await s.context({ tokens: sum(counts) })).messages), texts);
  assert.deepEqual(ctx.toOpenAI(bob).map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user',
    'assistant']);
  const unknown = await (await honcho.session(unique('empty'))).context();
  assert.deepEqual([unknown.messages, unknown.summary], [[], null]);
});

test('queue status and summaries without an LLM', async () => {
  const honcho = client();
  assertCounters(await honcho.queueStatus());
  assert.equal((await honcho.queueStatus()).totalWorkUnits, 0);
  const s = await honcho.session(unique('s'));
  const idle = await honcho.session(unique('idle'));
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  await s.addMessages([alice.message('I love hiking in the Alps.'), bob.message('Which trail is your favourite?')]);

  const ws = await honcho.queueStatus();
  assertCounters(ws);
  assert.ok(ws.totalWorkUnits >= 1); // jobs are enqueued with the messages
  for (const entry of Object.values(ws.sessions ?? {})) assertCounters(entry);
  const mine = await s.queueStatus();
  assertCounters(mine);
  assert.ok(mine.totalWorkUnits >= 1);
  assert.equal(mine.sessions, undefined); // filtered by session
  const bySession = await honcho.queueStatus({ session: s });
  assert.ok(bySession.totalWorkUnits >= 1 && bySession.sessions === undefined);
  assert.equal((await idle.queueStatus()).totalWorkUnits, 0);
  assertCounters(await honcho.queueStatus({ sender: 'alice' }));
  assertCounters(await honcho.queueStatus({ observer: alice, session: s.id }));
  assertCounters(await s.queueStatus({ observer: alice, sender: alice }));

  const summaries = await s.summaries();
  assert.ok(summaries instanceof SessionSummaries);
  assert.deepEqual([summaries.id, summaries.sessionId, summaries.shortSummary, summaries.longSummary],
    [s.id, s.id, null, null]);
  const unknown = await (await honcho.session(unique('nothing'))).summaries();
  assert.deepEqual([unknown.shortSummary, unknown.longSummary], [null, null]);
});

test('search: workspace, session and peer, with filters and a limit', async () => {
  const honcho = client();
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const first = await honcho.session(unique('s'));
  const second = await honcho.session(unique('s'));
  await first.addMessages([alice.message('My dog Biscuit loves the park'), bob.message('I baked sourdough bread')]);
  await second.addMessages([alice.message('Golden retrievers are wonderful dogs')]);

  // found by words at once, whether or not the worker has embedded them yet (the order among the three can
  // change while some are embedded and some not: a neighbour of a strong match inherits part of its score)
  const byWords = contents(await honcho.search('dogs'));
  assert.ok(byWords.includes('My dog Biscuit loves the park') && byWords.includes('Golden retrievers are wonderful dogs'),
    JSON.stringify(byWords));
  // ... and by meaning once it has
  await eventually(async () => contents(await honcho.search('puppy', { limit: 1 }))[0]
    === 'Golden retrievers are wonderful dogs', { what: 'found by meaning once embedded' });
  assert.deepEqual(contents(await honcho.search('oven', { limit: 1 })), ['I baked sourdough bread']);
  const found = await first.search('dogs');
  assert.equal(found[0].content, 'My dog Biscuit loves the park');
  assert.ok(found.every((m) => m.sessionId === first.id));
  assert.deepEqual(contents(await bob.search('bread')), ['I baked sourdough bread']);
  assert.ok(!contents(await alice.search('bread')).includes('I baked sourdough bread'));
  assert.ok((await alice.search('dogs', { limit: 5 })).every((m) => m.peerId === 'alice'));
  assert.equal((await honcho.search('dogs', { limit: 1 })).length, 1);
  assert.deepEqual(contents(await honcho.search('dogs', { filters: { session_id: second.id } })),
    ['Golden retrievers are wonderful dogs']);
  assert.deepEqual(contents(await first.search('bread', { filters: { peer_id: 'alice' } })).includes(
    'I baked sourdough bread'), false);
});
