// The TypeScript SDK against a server whose model is the bench's plain OpenAI-compatible fake
// (../shared/bench/fake_openai.py: every chat answer is the text "OK", a json_schema response_format gets the smallest
// JSON valid for the schema, no tool is ever called). What this proves is the wiring: every call the SDK makes
// succeeds, chats return the model's text, streamed chats stream it through the SDK's SSE parser, structured chats
// return JSON valid for the caller's schema (a Zod schema is parsed by the SDK itself), evidence parses, summaries
// are written, dreams run, and the queue drains with completed == total.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { DialecticStreamResponse, NotFoundError } from '@honcho-ai/sdk';
import { z } from 'zod';
import { all, client, contents, env, ids, rejectsWith, sleep } from './helpers.mjs';

const TEXT = 'OK';
const QUESTION = 'Where does alice live and what is she planning?';
const LEVELS = ['minimal', 'low', 'medium', 'high', 'max'];
const DRAIN_MS = 30_000;
// the caller's schema with one optional property and no `required`, and one mixing required and optional ones
const OPTIONAL_SUMMARY = { type: 'object', properties: { summary: { type: 'string' } } };
const MIXED = {
  type: 'object',
  properties: { city: { type: 'string' }, nights: { type: 'integer' }, tone: { type: 'string', default: 'calm' } },
  required: ['city'],
};
const Trip = z.object({
  destination: z.string(),
  nights: z.number().int(),
  companions: z.array(z.string()).optional(),
  note: z.string().nullable().optional(),
});

let honcho;
let alice;
let bob;
let trip;
let home;
let lines;

function checkOptionalSummary(text) {
  assert.equal(typeof text, 'string', `expected a JSON string, got ${text}`);
  const obj = JSON.parse(text);
  assert.ok(obj && typeof obj === 'object' && Object.keys(obj).every((k) => k === 'summary'), text);
  assert.ok(!('summary' in obj) || typeof obj.summary === 'string', text);
}

function checkMixed(text) {
  const obj = JSON.parse(text);
  assert.ok(Object.keys(obj).every((k) => ['city', 'nights', 'tone'].includes(k)), text);
  assert.equal(typeof obj.city, 'string', text);
  if ('nights' in obj) assert.ok(Number.isInteger(obj.nights), text);
  if ('tone' in obj) assert.equal(typeof obj.tone, 'string', text);
}

function checkEvidence(evidence) {
  assert.ok(evidence && typeof evidence === 'object', `no evidence: ${evidence}`);
  for (const key of ['conclusions', 'messages', 'tool_calls']) {
    assert.ok(Array.isArray(evidence[key]), `evidence.${key} is not a list: ${JSON.stringify(evidence)}`);
  }
}

/** Consume a stream the SDK built, checking its cached replay and final response agree. */
async function streamed(streamPromise) {
  const stream = await streamPromise;
  assert.ok(stream instanceof DialecticStreamResponse);
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.length > 0, 'the stream yielded nothing');
  assert.ok(chunks.every((c) => typeof c === 'string'));
  const text = chunks.join('');
  assert.equal(await stream.getFinalResponse(), text);
  assert.deepEqual(await stream.toArray(), chunks);
  return { text, stream };
}

async function assertDrained() {
  const deadline = Date.now() + DRAIN_MS;
  let status;
  for (;;) {
    status = await honcho.queueStatus();
    const idle = status.pendingWorkUnits === 0 && status.inProgressWorkUnits === 0;
    if (idle) break;
    assert.ok(Date.now() < deadline, `queue not idle within ${DRAIN_MS} ms: ${JSON.stringify(status)}`);
    await sleep(200);
  }
  // failed units are counted in the total: completed == total also means that nothing failed
  assert.ok(status.totalWorkUnits > 0 && status.completedWorkUnits === status.totalWorkUnits,
    `queue idle but not everything completed: ${JSON.stringify(status)}`);
}

before(async () => {
  honcho = client({ url: env('HONCHO_TS_LLM_URL'), timeout: 60_000 });
  alice = await honcho.peer('alice', { metadata: { role: 'traveller' } });
  bob = await honcho.peer('bob');
  trip = await honcho.session('trip', {
    metadata: { topic: 'travel' },
    configuration: { summary: { messagesPerShortSummary: 10, messagesPerLongSummary: 20 } },
  });
  await trip.addPeers([alice, [bob, { observeOthers: true }]]);
  const said = ['Hi, my name is Alice and I live in Lisbon', 'I am planning a trip to Kyoto in April',
    'My sister Joan is coming with me', 'I am allergic to peanuts', 'I work as a pharmacist'];
  lines = Array.from({ length: 20 }, (_, i) => (i % 2 === 0
    ? `${said[Math.floor(i / 2) % said.length]} (note ${i})` : `Sounds great, tell me more (${i})`));
  await trip.addMessages(lines.map((text, i) => (i % 2 === 0 ? alice : bob).message(text)));
  home = await honcho.session('home');
  await home.addMessages([alice.message('My secret project is called Bluebird')]);
  const uploaded = await home.uploadFile({ filename: 'notes.txt', content: new TextEncoder().encode(
    'Packing list: passport, sunscreen, adapter'), content_type: 'text/plain' }, alice);
  assert.deepEqual(contents(uploaded), ['Packing list: passport, sunscreen, adapter']);
});

test('workspace, peers, sessions and messages', async () => {
  assert.ok((await all(honcho.workspaces())).includes(honcho.workspaceId));
  assert.deepEqual(new Set(ids(await all(honcho.peers()))), new Set(['alice', 'bob']));
  assert.deepEqual(new Set(ids(await all(honcho.sessions()))), new Set(['trip', 'home']));
  assert.deepEqual(await alice.getMetadata(), { role: 'traveller' });
  assert.deepEqual(await trip.getMetadata(), { topic: 'travel' });
  assert.deepEqual(new Set(ids(await trip.peers())), new Set(['alice', 'bob']));
  assert.equal((await trip.getPeerConfiguration('bob')).observeOthers, true);
  const listed = await all(trip.messages());
  assert.deepEqual(contents(listed), lines);
  assert.equal((await trip.getMessage(listed[0].id)).content, lines[0]);
});

test('search with a real embedder', async () => {
  assert.ok((await honcho.search('Lisbon', { limit: 20 })).some((m) => m.content.includes('Lisbon')));
  assert.ok((await trip.search('Kyoto', { limit: 20 })).some((m) => m.content.includes('Kyoto')));
  const mine = await alice.search('peanuts', { limit: 20 });
  assert.ok(mine.length > 0 && mine.every((m) => m.peerId === 'alice'));
  assert.ok(contents(await honcho.search('Bluebird', { filters: { session_id: 'home' } })).join(' ')
    .includes('Bluebird'));
});

test('the queue drains after the messages, with nothing failed', async () => {
  await assertDrained();
  const mine = await trip.queueStatus();
  assert.ok(mine.totalWorkUnits > 0 && mine.completedWorkUnits === mine.totalWorkUnits, JSON.stringify(mine));
  const bySender = await honcho.queueStatus({ session: 'trip', sender: 'alice' });
  assert.equal(bySender.completedWorkUnits, bySender.totalWorkUnits);
});

test('peer chat returns the model text', async () => {
  assert.equal(await alice.chat(QUESTION), TEXT);
  assert.equal(await alice.chat(QUESTION, { session: 'trip' }), TEXT);
  assert.equal(await alice.chat(QUESTION, { session: trip }), TEXT);
  assert.equal(await bob.chat(QUESTION, { target: 'alice' }), TEXT);
  assert.equal(await bob.chat(QUESTION, { target: alice, sessions: ['trip'] }), TEXT);
  for (const level of LEVELS) {
    assert.equal(await alice.chat(QUESTION, { reasoningLevel: level }), TEXT, level);
    assert.equal((await streamed(alice.chatStream(QUESTION, { reasoningLevel: level }))).text, TEXT, level);
  }
});

test('peer chat streams the model text', async () => {
  assert.equal((await streamed(alice.chatStream(QUESTION))).text, TEXT);
  const { text, stream } = await streamed(bob.chatStream(QUESTION, { target: 'alice', session: 'trip' }));
  assert.equal(text, TEXT);
  assert.equal(stream.evidence, null); // not asked for
});

test('peer chat with evidence', async () => {
  const reply = await alice.chat(QUESTION, { includeEvidence: true });
  assert.equal(reply.content, TEXT);
  checkEvidence(reply.evidence);
  const { text, stream } = await streamed(alice.chatStream(QUESTION, { includeEvidence: true }));
  assert.equal(text, TEXT);
  checkEvidence(stream.evidence);
});

test('structured peer chat: a Zod schema parsed by the SDK, and raw JSON schemas', async () => {
  const found = await alice.chat(QUESTION, { responseFormat: Trip });
  assert.equal(typeof found, 'object'); // the SDK parsed the JSON with the Zod schema
  assert.deepEqual(Trip.parse(found), found);
  Trip.parse(JSON.parse((await streamed(alice.chatStream(QUESTION, { responseFormat: Trip }))).text));
  const reply = await alice.chat(QUESTION, { responseFormat: Trip, includeEvidence: true });
  Trip.parse(reply.content);
  checkEvidence(reply.evidence);

  checkOptionalSummary(await alice.chat(QUESTION, { responseFormat: OPTIONAL_SUMMARY }));
  checkOptionalSummary((await streamed(alice.chatStream(QUESTION, { responseFormat: OPTIONAL_SUMMARY }))).text);
  checkMixed(await alice.chat(QUESTION, { responseFormat: MIXED }));
  checkMixed((await streamed(alice.chatStream(QUESTION, { responseFormat: MIXED }))).text);
  checkOptionalSummary((await alice.chat(QUESTION, { responseFormat: OPTIONAL_SUMMARY, includeEvidence: true }))
    .content);
});

test('workspace chat', async () => {
  assert.equal(await honcho.chat(QUESTION), TEXT);
  assert.equal(await honcho.chat(QUESTION, { session: 'trip', reasoningLevel: 'minimal' }), TEXT);
  for (const level of LEVELS) assert.equal(await honcho.chat(QUESTION, { reasoningLevel: level }), TEXT, level);
  assert.equal((await streamed(honcho.chatStream(QUESTION))).text, TEXT);
  const { text, stream } = await streamed(honcho.chatStream(QUESTION, { includeEvidence: true, session: trip }));
  assert.equal(text, TEXT);
  checkEvidence(stream.evidence);
  const reply = await honcho.chat(QUESTION, { includeEvidence: true });
  assert.equal(reply.content, TEXT);
  checkEvidence(reply.evidence);
  checkOptionalSummary(await honcho.chat(QUESTION, { responseFormat: OPTIONAL_SUMMARY }));
  checkOptionalSummary((await streamed(honcho.chatStream(QUESTION, { responseFormat: OPTIONAL_SUMMARY }))).text);
});

test('an unknown chat target is a NotFoundError, streamed or not', async () => {
  await rejectsWith(alice.chat('Who?', { target: 'nobody' }), NotFoundError, 404);
  await rejectsWith(alice.chatStream('Who?', { target: 'nobody' }), NotFoundError, 404);
  await rejectsWith(alice.chat('Who?', { session: 'no-such-session' }), NotFoundError, 404);
});

test('conclusions with an embedder', async () => {
  const made = await alice.conclusions.create([{ content: 'alice lives in Lisbon', sessionId: 'trip' },
    { content: 'alice is allergic to peanuts' }]);
  assert.deepEqual(contents(made), ['alice lives in Lisbon', 'alice is allergic to peanuts']);
  const [seen] = await bob.conclusionsOf('alice').create([{ content: 'alice plans a trip to Kyoto', sessionId: trip }]);
  assert.deepEqual([seen.observerId, seen.observedId], ['bob', 'alice']);
  const own = new Set(contents(await all(alice.conclusions.list())));
  assert.ok(own.has('alice lives in Lisbon') && own.has('alice is allergic to peanuts'));
  assert.ok(contents(await all(alice.conclusions.list({ session: 'trip' }))).includes('alice lives in Lisbon'));
  assert.ok(contents(await all(bob.conclusionsOf(alice).list())).includes('alice plans a trip to Kyoto'));
  assert.ok(contents(await alice.conclusions.query('Lisbon', 5)).includes('alice lives in Lisbon'));
  assert.equal((await alice.conclusions.get(made[0].id)).content, 'alice lives in Lisbon');
  assert.deepEqual(new Set(ids(await alice.conclusions.getMany(ids(made)))), new Set(ids(made)));
  for (const c of await all(alice.conclusions.derived(made[0].id))) assert.ok(c.sourceIds.includes(made[0].id));
  assert.ok((await alice.conclusions.representation()).includes('Lisbon'));
  assert.equal((await honcho.conclusions.get(seen.id)).content, 'alice plans a trip to Kyoto');
  const [extra] = await alice.conclusions.create({ content: 'a conclusion to delete' });
  await alice.conclusions.delete(extra.id);
  assert.ok(!ids(await all(alice.conclusions.list())).includes(extra.id));
});

test('representation, card and peer context', async () => {
  assert.ok((await alice.representation()).includes('Lisbon'));
  assert.equal(typeof await alice.representation({ session: 'trip', searchQuery: 'Lisbon', searchTopK: 5,
    maxConclusions: 10, includeMostFrequent: true }), 'string');
  assert.ok((await bob.representation({ target: 'alice' })).includes('Kyoto'));
  assert.equal(typeof await trip.representation('alice'), 'string');
  assert.equal(typeof await trip.representation(bob, { target: 'alice', searchQuery: 'trip' }), 'string');
  const card = await alice.getCard();
  assert.ok(card === null || card.every((line) => typeof line === 'string'), JSON.stringify(card));
  const lines = ['IDENTITY: Alice', 'ATTRIBUTE: lives in Lisbon'];
  assert.deepEqual(await alice.setCard(lines), lines);
  assert.deepEqual(await alice.getCard(), lines);
  const fromBob = await bob.getCard('alice');
  assert.ok(fromBob === null || Array.isArray(fromBob));
  const context = await alice.context();
  assert.ok(context.representation.includes('Lisbon'));
  assert.deepEqual(context.peerCard, lines);
  const ofAlice = await bob.context({ target: 'alice', searchQuery: 'Kyoto', searchTopK: 3 });
  assert.ok(ofAlice.representation.includes('Kyoto'));
});

test('summaries and session context', async () => {
  const summaries = await trip.summaries();
  assert.ok(summaries.shortSummary && summaries.longSummary, JSON.stringify(summaries));
  assert.deepEqual([summaries.shortSummary.content, summaries.longSummary.content], [TEXT, TEXT]);
  for (const s of [summaries.shortSummary, summaries.longSummary]) {
    assert.equal(typeof s.messageId, 'string');
    assert.match(s.summaryType, /^honcho_chat_summary_(short|long)$/);
    assert.equal(typeof s.createdAt, 'string');
    assert.ok(Number.isInteger(s.tokenCount));
  }
  let ctx = await trip.context(); // a summary is included whenever it fits the budget
  assert.ok(ctx.messages.length > 0 && ctx.summary?.content === TEXT, ctx.toString());
  ctx = await trip.context({ summary: true, tokens: 2000, peerTarget: 'alice',
    representationOptions: { searchQuery: 'Lisbon' } });
  assert.ok(ctx.peerRepresentation.includes('Lisbon'));
  ctx = await trip.context({ peerTarget: 'alice', peerPerspective: 'bob', limitToSession: true, tokens: 500 });
  assert.ok(ctx.peerRepresentation.includes('Kyoto'));
  ctx = await trip.context({ summary: false, peerTarget: alice, sessions: ['trip'],
    representationOptions: { maxConclusions: 5, includeMostFrequent: true, searchTopK: 3, searchMaxDistance: 0.9 } });
  assert.ok(ctx.summary === null && ctx.messages.length > 0);
  assert.ok(ctx.toOpenAI(bob).length > 0 && ctx.toAnthropic(bob).length > 0);
  assert.ok((await home.context({ tokens: 100 })).messages.length > 0);
});

test('scheduleDream runs and the queue drains', async () => {
  await honcho.scheduleDream({ observer: alice });
  await honcho.scheduleDream({ observer: 'bob', session: 'trip', observed: 'alice' });
  await assertDrained();
  assert.ok(contents(await all(alice.conclusions.list())).includes('alice lives in Lisbon'));
});

test('chat through a scope', async () => {
  const travel = await honcho.scope('travel');
  await travel.addSessions([trip]);
  assert.equal(await alice.chat(QUESTION, { scope: 'travel' }), TEXT);
  assert.equal(await alice.chat(QUESTION, { scope: ['travel'] }), TEXT);
  assert.equal((await streamed(alice.chatStream(QUESTION, { scope: travel }))).text, TEXT);
  assert.equal(await honcho.chat(QUESTION, { scope: 'travel' }), TEXT);
  assert.equal(typeof await alice.representation({ scope: 'travel' }), 'string');
  await assertDrained();
});
