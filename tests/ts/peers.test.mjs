// Peers through the TypeScript SDK: get-or-create, metadata, configuration, listing with filters, pagination,
// peer.sessions().

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Peer } from '@honcho-ai/sdk';
import { all, assertRecent, client, ids } from './helpers.mjs';

test('a peer is created with metadata and configuration, and read back', async () => {
  const honcho = client();
  const alice = await honcho.peer('alice', { metadata: { role: 'user', age: 30 }, configuration: { observeMe: false } });
  assert.ok(alice instanceof Peer);
  assert.equal(alice.id, 'alice');
  assert.equal(alice.workspaceId, honcho.workspaceId);
  assert.deepEqual(alice.metadata, { role: 'user', age: 30 });
  assert.deepEqual(alice.configuration, { observeMe: false });
  assertRecent(alice.createdAt);

  const again = await honcho.peer('alice');
  assert.deepEqual(await again.getMetadata(), { role: 'user', age: 30 });
  assert.equal((await again.getConfiguration()).observeMe, false);
  assert.equal(again.createdAt, alice.createdAt);
});

test('peer metadata and configuration updates', async () => {
  const honcho = client();
  const bob = await honcho.peer('bob');
  assert.deepEqual(await bob.getMetadata(), {});
  assert.equal((await bob.getConfiguration()).observeMe ?? null, null);

  await bob.setMetadata({ tz: 'UTC', tags: ['a', 'b'] });
  assert.deepEqual(await bob.getMetadata(), { tz: 'UTC', tags: ['a', 'b'] });
  await bob.setMetadata({ tz: 'CET' });
  assert.deepEqual(await bob.getMetadata(), { tz: 'CET' }); // replaced

  await bob.setConfiguration({ observeMe: false });
  assert.deepEqual(await bob.getConfiguration(), { observeMe: false });
  await bob.setConfiguration({ observeMe: true });
  assert.deepEqual(await bob.getConfiguration(), { observeMe: true });
  assert.deepEqual(await bob.getMetadata(), { tz: 'CET' }); // a configuration update leaves metadata alone

  // get-or-create with new metadata / configuration replaces them; without them leaves them alone
  assert.deepEqual((await honcho.peer('bob', { metadata: { v: 2 } })).metadata, { v: 2 });
  assert.deepEqual((await honcho.peer('bob')).metadata, { v: 2 });
  assert.equal((await honcho.peer('bob', { configuration: { observeMe: false } })).configuration.observeMe, false);
  const again = await honcho.peer('bob');
  await again.refresh();
  assert.equal(again.configuration.observeMe, false);
  assert.deepEqual(again.metadata, { v: 2 });
});

test('setMetadata on a peer handle that was never created makes it (PUT is an upsert)', async () => {
  const honcho = client();
  const ghost = new Peer('ghost', honcho.workspaceId, honcho.http);
  assert.deepEqual(ids(await all(honcho.peers())), []);
  await ghost.setMetadata({ made: 'by put' });
  assert.deepEqual(ids(await all(honcho.peers())), ['ghost']);
  assert.deepEqual((await honcho.peer('ghost')).metadata, { made: 'by put' });
});

test('peers are listed with filters and in reverse', async () => {
  const honcho = client();
  await honcho.peer('u1', { metadata: { role: 'user', tier: 1 } });
  await honcho.peer('u2', { metadata: { role: 'user', tier: 2 } });
  await honcho.peer('bot', { metadata: { role: 'assistant' } });
  await honcho.peer('plain');
  const peers = async (options) => ids(await all(honcho.peers(options)));

  assert.deepEqual(await peers(), ['u1', 'u2', 'bot', 'plain']);
  assert.deepEqual(await peers({ filters: { metadata: { role: 'user' } } }), ['u1', 'u2']);
  assert.deepEqual(await peers({ metadata: { role: 'user', tier: 2 } }), ['u2']); // a raw filter object
  assert.deepEqual(await peers({ filters: { metadata: { tier: { gte: 2 } } } }), ['u2']);
  assert.deepEqual(await peers({ filters: { id: 'bot' } }), ['bot']);
  assert.deepEqual(await peers({ filters: { id: { in: ['plain', 'u1'] } } }), ['u1', 'plain']);
  assert.deepEqual(await peers({ filters: { id: ['plain', 'u1'] } }), ['u1', 'plain']);
  assert.deepEqual(await peers({ filters: { OR: [{ id: 'bot' }, { metadata: { tier: 1 } }] } }), ['u1', 'bot']);
  assert.deepEqual(await peers({ filters: { NOT: [{ metadata: { role: 'user' } }] } }), ['bot', 'plain']);
  assert.deepEqual(await peers({ filters: { id: { contains: 'U' } } }), ['u1', 'u2']); // case-insensitive
  assert.deepEqual(await peers({ filters: { metadata: { team: '*' } } }), ['u1', 'u2', 'bot', 'plain']);
  assert.deepEqual(await peers({ filters: { id: 'nobody' } }), []);
  assert.deepEqual(await peers({ reverse: true }), ['plain', 'bot', 'u2', 'u1']);
  const u1 = (await all(honcho.peers())).find((p) => p.id === 'u1');
  assert.deepEqual(u1.metadata, { role: 'user', tier: 1 }); // listed peers carry their data
});

test('peer pagination across more than 100', async () => {
  const honcho = client();
  const names = Array.from({ length: 105 }, (_, i) => `p${String(i).padStart(3, '0')}`);
  for (const name of names) await honcho.peer(name);

  const page = await honcho.peers(); // default size 50
  assert.deepEqual([page.total, page.pages, page.page, page.size], [105, 3, 1, 50]);
  assert.deepEqual(ids(page.items), names.slice(0, 50));
  assert.equal(page.get(0).id, 'p000');
  assert.deepEqual(ids(await page.toArray()), names); // fetches pages 2 and 3

  const big = await honcho.peers({ size: 100 });
  assert.deepEqual([big.total, big.pages, big.length], [105, 2, 100]);
  assert.deepEqual(ids(await big.toArray()), names);
  const second = await honcho.peers({ page: 2, size: 50 });
  assert.equal(second.page, 2);
  assert.deepEqual(ids(second.items), names.slice(50, 100));
  const last = await honcho.peers({ page: 3, size: 50 });
  assert.deepEqual(ids(last.items), names.slice(100));
  assert.equal(last.hasNextPage, false);
  const pastEnd = await honcho.peers({ page: 9, size: 50 });
  assert.deepEqual([pastEnd.items, pastEnd.page, pastEnd.total], [[], 9, 105]);
  assert.deepEqual(ids(await all(honcho.peers({ size: 40, reverse: true }))), [...names].reverse());
});

test('the sessions of a peer', async () => {
  const honcho = client();
  const alice = await honcho.peer('alice');
  const bob = await honcho.peer('bob');
  const s1 = await honcho.session('s-one', { metadata: { k: 1 }, peers: [alice, bob] });
  const s2 = await honcho.session('s-two', { peers: [alice] });
  const s3 = await honcho.session('s-three');
  await s3.addMessages([alice.message('hi from alice')]);

  assert.deepEqual(ids(await all(alice.sessions())), [s1.id, s2.id, s3.id]);
  assert.deepEqual(ids(await all(bob.sessions())), [s1.id]);
  assert.deepEqual(ids(await all(alice.sessions({ reverse: true }))), [s3.id, s2.id, s1.id]);
  assert.deepEqual(ids(await all(alice.sessions({ filters: { metadata: { k: 1 } } }))), [s1.id]);
  assert.deepEqual(ids(await all(alice.sessions({ filters: { id: s2.id } }))), [s2.id]);
  const first = await alice.sessions({ size: 2 });
  assert.deepEqual([first.total, first.pages], [3, 2]);
  assert.deepEqual(ids(await first.toArray()), [s1.id, s2.id, s3.id]);
  const [listed] = await all(alice.sessions({ filters: { id: s1.id } }));
  assert.deepEqual(listed.metadata, { k: 1 });
  assert.equal(listed.isActive, true);
  assert.deepEqual(ids(await all((await honcho.peer('carol')).sessions())), []);
});
