// Sessions through the TypeScript SDK: create, metadata and configuration, listing, membership, per-peer
// configuration, clone, delete.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotFoundError, Session } from '@honcho-ai/sdk';
import { all, assertRecent, client, contents, eventually, ids, plain, rejectsWith, unique } from './helpers.mjs';

async function peerIds(session) {
  return new Set(ids(await session.peers()));
}

function bare(honcho, id) {
  return new Session(id, honcho.workspaceId, honcho.http);
}

async function seed(honcho, session, n = 5) {
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const messages = Array.from({ length: n }, (_, i) =>
    (i % 2 === 0 ? alice : bob).message(`message ${i}`, { metadata: { i } }),
  );
  return session.addMessages(messages);
}

test('a session is created with peers, metadata and configuration', async () => {
  const honcho = client();
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const cfg = { reasoning: { enabled: false }, summary: { messagesPerShortSummary: 15 } };
  const s = await honcho.session('chat-1', {
    metadata: { channel: 'web' },
    configuration: cfg,
    peers: [alice, [bob, { observeOthers: true, observeMe: false }]],
  });
  assert.ok(s instanceof Session);
  assert.equal(s.id, 'chat-1');
  assert.equal(s.isActive, true);
  assert.deepEqual(s.metadata, { channel: 'web' });
  assert.deepEqual(plain(s.configuration), cfg);
  assertRecent(s.createdAt);

  assert.deepEqual(await peerIds(s), new Set(['alice', 'bob']));
  assert.deepEqual(await s.getPeerConfiguration(bob), { observeOthers: true, observeMe: false });
  assert.ok([null, false, undefined].includes((await s.getPeerConfiguration('alice')).observeOthers));

  const again = await honcho.session('chat-1');
  assert.deepEqual(again.metadata, { channel: 'web' });
  assert.deepEqual(plain(again.configuration), cfg);
  assert.equal(again.createdAt, s.createdAt);
  // get-or-create with peers adds them; existing members keep their configuration
  await honcho.session('chat-1', { peers: ['carol', ['bob', { observeOthers: false }]] });
  assert.deepEqual(await peerIds(s), new Set(['alice', 'bob', 'carol']));
  assert.equal((await s.getPeerConfiguration(bob)).observeOthers, true);
});

test('session metadata and configuration round-trip', async () => {
  const honcho = client();
  const s = await honcho.session(unique('s'));
  assert.deepEqual(await s.getMetadata(), {});
  assert.deepEqual(plain(await s.getConfiguration()), {});

  await s.setMetadata({ topic: 'travel', nested: { a: [1, 2] } });
  assert.deepEqual(await s.getMetadata(), { topic: 'travel', nested: { a: [1, 2] } });
  await s.setMetadata({ topic: 'food' });
  assert.deepEqual(await s.getMetadata(), { topic: 'food' });

  await s.setConfiguration({ reasoning: { enabled: false }, summary: { messagesPerShortSummary: 15 } });
  await s.setConfiguration({ peerCard: { use: false } }); // shallow merge keeps the other sections
  assert.deepEqual(plain(await s.getConfiguration()), {
    reasoning: { enabled: false },
    summary: { messagesPerShortSummary: 15 },
    peerCard: { use: false },
  });
  await s.setConfiguration({ reasoning: { customInstructions: 'Be terse.' } }); // section replaced wholesale
  assert.deepEqual(plain(await s.getConfiguration()), {
    reasoning: { customInstructions: 'Be terse.' },
    summary: { messagesPerShortSummary: 15 },
    peerCard: { use: false },
  });
  assert.deepEqual(await s.getMetadata(), { topic: 'food' });

  assert.deepEqual((await honcho.session(s.id, { metadata: { v: 1 } })).metadata, { v: 1 });
  const merged = await honcho.session(s.id, { configuration: { dream: { enabled: false } } });
  assert.deepEqual(merged.metadata, { v: 1 });
  assert.deepEqual(plain(merged.configuration), {
    reasoning: { customInstructions: 'Be terse.' },
    summary: { messagesPerShortSummary: 15 },
    peerCard: { use: false },
    dream: { enabled: false },
  });
  await s.refresh();
  assert.deepEqual(s.metadata, { v: 1 });
});

test('setMetadata and addPeers on a handle create the missing session', async () => {
  const honcho = client();
  await bare(honcho, 'made-by-put').setMetadata({ x: 1 });
  assert.deepEqual(ids(await all(honcho.sessions())), ['made-by-put']);
  assert.deepEqual(await bare(honcho, 'made-by-put').getMetadata(), { x: 1 });
  const lazy = bare(honcho, 'lazy');
  await lazy.addPeers('alice');
  assert.deepEqual(ids(await all(honcho.sessions())), ['made-by-put', 'lazy']);
  assert.deepEqual(await peerIds(lazy), new Set(['alice']));
});

test('sessions are listed with filters, reverse and pages', async () => {
  const honcho = client();
  const a = await honcho.session('sa', { metadata: { topic: 'travel', prio: 1 } });
  const b = await honcho.session('sb', { metadata: { topic: 'food', prio: 2 } });
  const c = await honcho.session('sc', { metadata: { topic: 'travel', prio: 3 } });
  const sessions = async (options) => ids(await all(honcho.sessions(options)));
  assert.deepEqual(await sessions(), [a.id, b.id, c.id]);
  assert.deepEqual(await sessions({ reverse: true }), [c.id, b.id, a.id]);
  assert.deepEqual(await sessions({ filters: { metadata: { topic: 'travel' } } }), [a.id, c.id]);
  assert.deepEqual(await sessions({ filters: { metadata: { prio: { gt: 1 } } } }), [b.id, c.id]);
  assert.deepEqual(await sessions({ filters: { id: 'sb' } }), [b.id]);
  assert.deepEqual(await sessions({ filters: { is_active: true } }), [a.id, b.id, c.id]);
  assert.deepEqual(await sessions({ filters: { is_active: false } }), []);
  const page = await honcho.sessions({ size: 2 });
  assert.deepEqual([page.total, page.pages], [3, 2]);
  assert.deepEqual(ids(await page.toArray()), [a.id, b.id, c.id]);
  const [listed] = (await honcho.sessions({ filters: { id: 'sc' } })).items;
  assert.deepEqual(listed.metadata, { topic: 'travel', prio: 3 });
  assert.equal(listed.isActive, true);
});

test('peers are added, set and removed', async () => {
  const honcho = client();
  const s = await honcho.session(unique('s'));
  assert.deepEqual(await s.peers(), []);
  await s.addPeers(['alice', 'bob']);
  assert.deepEqual(await peerIds(s), new Set(['alice', 'bob']));
  await s.addPeers(await honcho.peer('carol'));
  assert.deepEqual(await peerIds(s), new Set(['alice', 'bob', 'carol']));
  await s.removePeers(['bob']);
  assert.deepEqual(await peerIds(s), new Set(['alice', 'carol']));
  await s.removePeers('nobody'); // unknown ids are ignored
  assert.deepEqual(await peerIds(s), new Set(['alice', 'carol']));
  await s.setPeers(['dave', 'alice']);
  assert.deepEqual(await peerIds(s), new Set(['alice', 'dave']));
  await s.setPeers('erin');
  assert.deepEqual(await peerIds(s), new Set(['erin']));
  assert.deepEqual(new Set(ids(await all(honcho.peers()))), new Set(['alice', 'bob', 'carol', 'dave', 'erin']));
  await s.addPeers('bob'); // removed peers may re-join
  assert.deepEqual(await peerIds(s), new Set(['erin', 'bob']));
  await s.setPeers([]); // an empty set ends every membership
  assert.deepEqual(await s.peers(), []);
});

test('per-peer session configuration', async () => {
  const honcho = client();
  const s = await honcho.session(unique('s'), { peers: ['alice', ['bob', { observeOthers: true }]] });
  await s.setPeerConfiguration('alice', { observeOthers: true });
  assert.equal((await s.getPeerConfiguration('alice')).observeOthers, true);
  await s.setPeerConfiguration('alice', { observeMe: false }); // merged, not replaced
  assert.deepEqual(await s.getPeerConfiguration('alice'), { observeOthers: true, observeMe: false });

  await s.addPeers([['bob', { observeOthers: false }]]); // an active member keeps its configuration
  assert.equal((await s.getPeerConfiguration('bob')).observeOthers, true);
  await s.setPeers([['bob', { observeOthers: false, observeMe: true }], 'alice']);
  assert.deepEqual(await s.getPeerConfiguration('bob'), { observeOthers: false, observeMe: true });

  await honcho.peer('carol');
  await rejectsWith(s.getPeerConfiguration('carol'), NotFoundError, 404); // never joined
  await s.setPeerConfiguration('carol', { observeMe: false }); // creates the membership
  assert.ok((await peerIds(s)).has('carol'));
  assert.equal((await s.getPeerConfiguration('carol')).observeMe, false);
});

test('cloning a whole session copies messages, members and their configuration', async () => {
  const honcho = client();
  const src = await honcho.session(unique('s'), {
    metadata: { m: 1 },
    configuration: { reasoning: { enabled: false } },
    peers: ['alice', ['bob', { observeOthers: true }]],
  });
  const originals = await seed(honcho, src);
  const clone = await src.clone();
  assert.ok(clone instanceof Session);
  assert.notEqual(clone.id, src.id);
  assert.equal(clone.isActive, true);
  assert.deepEqual(clone.metadata, { m: 1 });
  assert.deepEqual(plain(clone.configuration), { reasoning: { enabled: false } });
  const copied = await all(clone.messages());
  assert.deepEqual(contents(copied), contents(originals));
  assert.deepEqual(
    copied.map((m) => [m.peerId, m.metadata, m.sessionId]),
    originals.map((m) => [m.peerId, m.metadata, clone.id]),
  );
  assert.equal(new Set([...ids(copied), ...ids(originals)]).size, 10); // new message ids
  assert.deepEqual(await peerIds(clone), new Set(['alice', 'bob']));
  assert.equal((await clone.getPeerConfiguration('bob')).observeOthers, true);
  assert.deepEqual(contents(await all(src.messages())), contents(originals));

  // up to a message, then extended and cloned again
  const cut = await src.clone(originals[2].id);
  assert.deepEqual(contents(await all(cut.messages())), ['message 0', 'message 1', 'message 2']);
  await cut.addMessages((await honcho.peer('carol')).message('only in the clone'));
  const second = await cut.clone();
  assert.deepEqual(contents(await all(second.messages())), [
    'message 0', 'message 1', 'message 2', 'only in the clone',
  ]);
  assert.deepEqual(await peerIds(second), new Set(['alice', 'bob', 'carol']));
  assert.equal((await all(honcho.sessions())).length, 4);
});

test('clone errors are NotFoundErrors and leave no stray session', async () => {
  const honcho = client();
  const src = await honcho.session(unique('s'));
  await seed(honcho, src, 2);
  const other = await honcho.session(unique('s'));
  const [foreign] = await seed(honcho, other, 1);
  await rejectsWith(src.clone(foreign.id), NotFoundError, 404); // a message of another session
  await rejectsWith(src.clone('AAAAAAAAAAAAAAAAAAAAA'), NotFoundError, 404);
  await rejectsWith(bare(honcho, 'never-created').clone(), NotFoundError, 404);
  assert.deepEqual(new Set(ids(await all(honcho.sessions()))), new Set([src.id, other.id]));
});

test('deleting a session', async () => {
  const honcho = client();
  const sid = unique('s');
  const s = await honcho.session(sid, { metadata: { old: true } });
  const keep = await honcho.session(unique('keep'));
  await seed(honcho, s, 3);

  await s.delete();
  assert.deepEqual(ids(await all(honcho.sessions())), [keep.id]);
  const alice = await honcho.peer('alice');
  assert.ok(!ids(await all(alice.sessions({ filters: { is_active: true } }))).includes(sid));
  await rejectsWith(s.delete(), NotFoundError, 404); // already inactive (or already purged)
  await rejectsWith(bare(honcho, 'never-created').delete(), NotFoundError, 404);

  // while the deletion is pending get-or-create 404s; once purged the id is a fresh, empty session
  const fresh = await eventually(() => honcho.session(sid), { what: 'deleted session id reusable after purge' });
  assert.equal(fresh.isActive, true);
  assert.deepEqual(await fresh.getMetadata(), {});
  assert.deepEqual(await all(fresh.messages()), []);
  assert.deepEqual(await fresh.peers(), []);
});
