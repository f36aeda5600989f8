// Messages through the TypeScript SDK: batches, createdAt, pagination, filters, reverse, get/update, file uploads.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HonchoError, Message, NotFoundError, Session, UnprocessableEntityError } from '@honcho-ai/sdk';
import { all, assertRecent, client, contents, ids, rejectsWith, unique } from './helpers.mjs';

const iso = (...args) => new Date(Date.UTC(...args)).toISOString().replace('.000Z', 'Z');
const same = (a, b) => assert.equal(Date.parse(a), Date.parse(b), `${a} != ${b}`);

test('a batch of messages with metadata and createdAt', async () => {
  const honcho = client();
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const s = await honcho.session(unique('s'));
  const t0 = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 123));
  const sent = [
    alice.message('Hi Bob, I just moved to Lisbon.', { metadata: { lang: 'en', n: 1 }, createdAt: t0 }),
    bob.message('Welcome! How do you like it?', {
      metadata: { nested: { k: [1, 2] } },
      createdAt: new Date(t0.getTime() + 30_000),
    }),
    alice.message('Love it.', { createdAt: '2024-05-01T12:00:00+02:00' }),
  ];
  const got = await s.addMessages(sent);
  assert.ok(got.every((m) => m instanceof Message));
  assert.deepEqual(contents(got), sent.map((m) => m.content)); // request order preserved
  assert.deepEqual(got.map((m) => m.peerId), ['alice', 'bob', 'alice']);
  assert.deepEqual(got.map((m) => m.metadata), [{ lang: 'en', n: 1 }, { nested: { k: [1, 2] } }, {}]);
  assert.ok(got.every((m) => m.sessionId === s.id && m.workspaceId === honcho.workspaceId));
  assert.equal(new Set(ids(got)).size, 3);
  same(got[0].createdAt, '2024-01-02T03:04:05.123Z');
  same(got[1].createdAt, '2024-01-02T03:04:35.123Z');
  same(got[2].createdAt, '2024-05-01T10:00:00Z');
  assert.ok(got.every((m) => m.tokenCount > 0));

  const listed = await all(s.messages());
  assert.deepEqual(ids(listed), ids(got));
  assert.deepEqual(listed.map((m) => [m.createdAt, m.metadata, m.tokenCount]),
    got.map((m) => [m.createdAt, m.metadata, m.tokenCount]));
  const fetched = await s.getMessage(got[0].id);
  assert.deepEqual([fetched.id, fetched.content, fetched.peerId, fetched.metadata],
    [got[0].id, got[0].content, 'alice', { lang: 'en', n: 1 }]);
  same(fetched.createdAt, t0.toISOString());
  assert.deepEqual(new Set(ids(await s.peers())), new Set(['alice', 'bob'])); // authors become members
});

test('a single message, an unknown author and an implicit session', async () => {
  const honcho = client();
  const s = new Session('implicit', honcho.workspaceId, honcho.http);
  const [m] = await s.addMessages((await honcho.peer('carol')).message('just one'));
  assert.deepEqual([m.content, m.peerId, m.metadata], ['just one', 'carol', {}]);
  assertRecent(m.createdAt);
  assert.ok(m.tokenCount > 0);
  const [m2] = await s.addMessages({ peerId: 'dan', content: 'x' }); // a MessageInput literal
  assert.equal(m2.peerId, 'dan');
  assert.deepEqual(new Set(ids(await all(honcho.peers()))), new Set(['carol', 'dan']));
  assert.deepEqual(ids(await all(honcho.sessions())), ['implicit']);
});

test('token counts (o200k_base), empty content and NUL stripping', async () => {
  const honcho = client();
  const s = await honcho.session(unique('s'));
  const p = await honcho.peer('alice');
  const [short, long, empty] = await s.addMessages([p.message('hello'), p.message('hello '.repeat(200)),
    p.message('')]);
  assert.ok(long.tokenCount > short.tokenCount && short.tokenCount > 0);
  assert.deepEqual([empty.content, empty.tokenCount], ['', 0]);
  const exact = await s.addMessages([p.message('hello'), p.message('hello world'), p.message('Hello, world!')]);
  assert.deepEqual(exact.map((m) => m.tokenCount), [1, 2, 4]);
  const [nul] = await s.addMessages(p.message('a\u0000b'));
  assert.equal(nul.content, 'ab');
  assert.equal((await s.getMessage(nul.id)).content, 'ab');
});

test('many messages paginate in insertion order', async () => {
  const honcho = client();
  const s = await honcho.session(unique('s'));
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const texts = Array.from({ length: 125 }, (_, i) => `msg ${String(i).padStart(3, '0')}`);
  for (const [start, stop] of [[0, 100], [100, 120], [120, 125]]) {
    const batch = await s.addMessages(texts.slice(start, stop).map((t, j) => ((start + j) % 2 ? bob : alice)
      .message(t)));
    assert.deepEqual(contents(batch), texts.slice(start, stop));
  }
  const page = await s.messages();
  assert.deepEqual([page.total, page.pages, page.page, page.size, page.length], [125, 3, 1, 50, 50]);
  assert.deepEqual(contents(page.items), texts.slice(0, 50));
  assert.deepEqual(contents(await page.toArray()), texts);
  assert.deepEqual(contents(await all(s.messages({ size: 100 }))), texts);
  assert.deepEqual(contents((await s.messages({ page: 3 })).items), texts.slice(100));
  assert.deepEqual(contents(await all(s.messages({ reverse: true }))), [...texts].reverse());
  assert.deepEqual(contents((await s.messages({ reverse: true, size: 7 })).items), [...texts].reverse().slice(0, 7));
  // listed by insertion, not by the (client supplied) createdAt
  const t = await honcho.session(unique('s'));
  await t.addMessages([alice.message('third-by-time', { createdAt: iso(2024, 2, 1) }),
    alice.message('first-by-time', { createdAt: iso(2024, 0, 1) })]);
  await t.addMessages(alice.message('second-by-time', { createdAt: iso(2024, 1, 1) }));
  assert.deepEqual(contents(await all(t.messages())), ['third-by-time', 'first-by-time', 'second-by-time']);
});

test('message filters', async () => {
  const honcho = client();
  const s = await honcho.session(unique('s'));
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  await s.addMessages(Array.from({ length: 10 }, (_, i) => {
    const day = i + 1;
    return (day % 2 ? alice : bob).message(`day ${day}`, {
      metadata: { kind: day <= 4 ? 'q' : 'a', day },
      createdAt: iso(2024, 0, day, 12),
    });
  }));
  const days = (...d) => d.map((x) => `day ${x}`);
  const listed = async (options) => contents(await all(s.messages(options)));
  assert.deepEqual(await listed({ filters: { peer_id: 'alice' } }), days(1, 3, 5, 7, 9));
  assert.deepEqual(await listed({ peer_id: 'alice' }), days(1, 3, 5, 7, 9)); // a raw filter object
  assert.deepEqual(await listed({ filters: { peer_id: 'bob' }, reverse: true }), days(10, 8, 6, 4, 2));
  assert.deepEqual(await listed({ filters: { metadata: { kind: 'q' } } }), days(1, 2, 3, 4));
  assert.deepEqual(await listed({ filters: { metadata: { day: { gte: 9 } } } }), days(9, 10));
  assert.deepEqual(await listed({ filters: { created_at: { gte: '2024-01-03', lte: '2024-01-05T23:59:59Z' } } }),
    days(3, 4, 5));
  assert.deepEqual(await listed({ filters: { created_at: { gt: '2024-01-09T12:00:00Z' } } }), days(10));
  assert.deepEqual(await listed({ filters: { created_at: { lte: '2024-01-02T14:00:00+02:00' } } }), days(1, 2));
  assert.deepEqual(await listed({ filters: { AND: [{ peer_id: 'alice' }, { metadata: { kind: 'a' } }] } }),
    days(5, 7, 9));
  assert.deepEqual(await listed({ filters: { NOT: [{ metadata: { kind: 'a' } }] } }), days(1, 2, 3, 4));
  assert.deepEqual(await listed({ filters: { peer_id: ['bob'], created_at: { lt: '2024-01-05' } } }), days(2, 4));
  assert.deepEqual(await listed({ filters: { token_count: { gt: 0 } } }), days(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
  const page = await s.messages({ filters: { peer_id: 'alice' }, size: 2 });
  assert.deepEqual([page.total, page.pages, (await page.toArray()).length], [5, 3, 5]);
  // invalid filters are the server's 422
  await rejectsWith(all(s.messages({ filters: { content: 'day 1' } })), UnprocessableEntityError, 422);
  await rejectsWith(all(s.messages({ filters: { token_count: { gt: 'many' } } })), UnprocessableEntityError, 422);
});

test('get and update a message, and their NotFoundErrors', async () => {
  const honcho = client();
  const s = await honcho.session(unique('s'));
  const [m1, m2] = await s.addMessages([(await honcho.peer('alice')).message('one', { metadata: { a: 1 } }),
    (await honcho.peer('bob')).message('two')]);
  const got = await s.getMessage(m2.id);
  assert.deepEqual([got.id, got.content, got.peerId, got.metadata], [m2.id, 'two', 'bob', {}]);

  const updated = await s.updateMessage(m1, { b: 2, nested: { c: [3] } });
  assert.deepEqual([updated.id, updated.content, updated.createdAt], [m1.id, 'one', m1.createdAt]);
  assert.deepEqual(updated.metadata, { b: 2, nested: { c: [3] } }); // replaced, not merged
  assert.deepEqual((await s.getMessage(m1.id)).metadata, { b: 2, nested: { c: [3] } });
  assert.deepEqual((await s.updateMessage(m1.id, {})).metadata, {});

  const other = await honcho.session(unique('s'));
  const [elsewhere] = await other.addMessages((await honcho.peer('alice')).message('elsewhere'));
  await rejectsWith(s.getMessage('AAAAAAAAAAAAAAAAAAAAA'), NotFoundError, 404);
  await rejectsWith(s.getMessage(elsewhere.id), NotFoundError, 404); // exists, but in another session
  await rejectsWith(s.updateMessage('AAAAAAAAAAAAAAAAAAAAA', { x: 1 }), NotFoundError, 404);
  await rejectsWith(s.updateMessage(elsewhere.id, { x: 1 }), NotFoundError, 404);
  assert.deepEqual((await other.getMessage(elsewhere.id)).metadata, {});
  const unknown = await new Session('never-created', honcho.workspaceId, honcho.http).messages();
  assert.deepEqual([unknown.items, unknown.total], [[], 0]);
});

test('uploading files: text with options, JSON, a Blob, long text, and the server refusing others', async () => {
  const honcho = client();
  const s = await honcho.session(unique('s'));
  const text = 'Alice prefers window seats.\nShe is vegetarian.\n';
  const enc = new TextEncoder();
  const msgs = await s.uploadFile({ filename: 'notes.txt', content: enc.encode(text), content_type: 'text/plain' },
    'alice', { metadata: { source: 'upload' }, configuration: { reasoning: { enabled: false } },
      createdAt: new Date(Date.UTC(2024, 5, 1, 8, 30)) });
  assert.equal(msgs.length, 1);
  assert.deepEqual([msgs[0].content, msgs[0].peerId, msgs[0].sessionId, msgs[0].metadata],
    [text, 'alice', s.id, { source: 'upload' }]);
  assert.ok(msgs[0].tokenCount > 0);
  same(msgs[0].createdAt, '2024-06-01T08:30:00Z');
  assert.ok(ids(await s.peers()).includes('alice'));

  const doc = { name: 'Zoë', likes: ['hiking', 'jazz'], address: { city: 'Köln' } };
  const bob = await honcho.peer('bob');
  const [json] = await s.uploadFile({ filename: 'profile.json', content: enc.encode(JSON.stringify(doc)),
    content_type: 'application/json' }, bob);
  assert.deepEqual(JSON.parse(json.content), doc);
  assert.ok(json.content.includes('Zoë') && json.peerId === 'bob');
  const md = '# Trip\n\n* Lisbon in May\n';
  assert.deepEqual(contents(await s.uploadFile(new Blob([md], { type: 'text/markdown' }), 'alice')), [md]);

  // long text is split into messages of at most 25,000 characters on paragraph boundaries
  const paras = Array.from({ length: 60 }, (_, i) => `Paragraph ${i}. ${'word '.repeat(290)}`.trim());
  const long = await s.uploadFile({ filename: 'long.txt', content: enc.encode(paras.join('\n\n')),
    content_type: 'text/plain' }, 'alice');
  assert.ok(long.length >= 4 && long.every((m) => m.content.length <= 25_000));
  assert.deepEqual(long.flatMap((m) => m.content.split('\n\n').map((p) => p.trim()).filter(Boolean)), paras);

  const before = (await s.messages()).total;
  const png = { filename: 'pic.png', content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0]),
    content_type: 'image/png' };
  await rejectsWith(s.uploadFile(png, 'alice'), HonchoError, 415);
  const big = { filename: 'big.txt', content: new Uint8Array(5_242_881).fill(97), content_type: 'text/plain' };
  await rejectsWith(s.uploadFile(big, 'alice'), HonchoError, 413);
  const bad = { filename: 'bad.json', content: enc.encode('{"unterminated": '), content_type: 'application/json' };
  await rejectsWith(s.uploadFile(bad, 'alice'), UnprocessableEntityError, 422);
  assert.equal((await s.messages()).total, before);
});
