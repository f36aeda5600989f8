// Workspaces through the TypeScript SDK: implicit get-or-create, metadata, configuration, listing, deletion.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConflictError, NotFoundError, UnprocessableEntityError } from '@honcho-ai/sdk';
import { all, client, eventually, ids, plain, rejectsWith, unique } from './helpers.mjs';

async function listed(honcho, workspaceId) {
  return (await all(honcho.workspaces({ filters: { id: workspaceId } }))).includes(workspaceId);
}

test('a workspace is created implicitly and read back', async () => {
  const honcho = client();
  assert.equal(await listed(honcho, honcho.workspaceId), false);
  assert.deepEqual(await honcho.getMetadata(), {});
  assert.equal(await listed(honcho, honcho.workspaceId), true);
  assert.deepEqual(plain(await honcho.getConfiguration()), {});
  await honcho.refresh();
  assert.deepEqual(honcho.metadata, {});
  assert.match(honcho.toString(), /Honcho\(workspaceId=/);
});

test('workspace metadata round-trips and is replaced, not merged', async () => {
  const honcho = client();
  const meta = { purpose: 'sdk', n: 3, flag: true, nested: { list: [1, 'two', { x: null }] } };
  await honcho.setMetadata(meta);
  assert.deepEqual(await honcho.getMetadata(), meta);
  await honcho.setMetadata({ only: 'this' });
  assert.deepEqual(await honcho.getMetadata(), { only: 'this' });
  await honcho.setMetadata({});
  assert.deepEqual(await honcho.getMetadata(), {});
});

test('workspace configuration: camelCase sections round-trip and are shallow-merged', async () => {
  const honcho = client();
  await honcho.setConfiguration({ reasoning: { enabled: false }, summary: { messagesPerShortSummary: 15 } });
  assert.deepEqual(plain(await honcho.getConfiguration()), {
    reasoning: { enabled: false },
    summary: { messagesPerShortSummary: 15 },
  });
  assert.deepEqual(await honcho.getMetadata(), {}); // untouched by a configuration update
  await honcho.setConfiguration({ dream: { enabled: false }, peerCard: { use: true, create: false } });
  assert.deepEqual(plain(await honcho.getConfiguration()), {
    reasoning: { enabled: false },
    summary: { messagesPerShortSummary: 15 },
    dream: { enabled: false },
    peerCard: { use: true, create: false },
  });
  // a provided section replaces the stored one wholesale
  await honcho.setConfiguration({
    summary: { enabled: true, messagesPerLongSummary: 40 },
    reasoning: { customInstructions: 'Focus on preferences.' },
  });
  assert.deepEqual(plain(await honcho.getConfiguration()), {
    reasoning: { customInstructions: 'Focus on preferences.' },
    summary: { enabled: true, messagesPerLongSummary: 40 },
    dream: { enabled: false },
    peerCard: { use: true, create: false },
  });
});

test('an invalid summary cadence is refused by the server and nothing changes', async () => {
  const honcho = client();
  await honcho.setConfiguration({ summary: { messagesPerShortSummary: 12 } });
  // the SDK checks the minimums itself; short >= long is only the server's rule
  await rejectsWith(
    honcho.setConfiguration({ summary: { messagesPerShortSummary: 30, messagesPerLongSummary: 20 } }),
    UnprocessableEntityError,
  );
  assert.deepEqual(plain(await honcho.getConfiguration()), { summary: { messagesPerShortSummary: 12 } });
});

test('workspaces are listed with filters, reverse and pages', async () => {
  const tag = unique('tag');
  const created = [];
  for (let i = 0; i < 3; i += 1) {
    const h = client();
    await h.setMetadata({ suite_tag: tag, idx: i });
    created.push(h.workspaceId);
  }
  await client().setMetadata({ suite_tag: unique('other') });
  const lister = client();
  const byTag = { metadata: { suite_tag: tag } };
  assert.deepEqual(await all(lister.workspaces({ filters: byTag })), created);
  assert.deepEqual(await all(lister.workspaces({ filters: byTag, reverse: true })), [...created].reverse());
  assert.deepEqual(await all(lister.workspaces({ filters: { id: created[1] } })), [created[1]]);
  assert.deepEqual(await all(lister.workspaces({ id: { in: [created[0], created[2]] } })), [created[0], created[2]]);
  const page = await lister.workspaces({ filters: byTag, size: 2 });
  assert.deepEqual([page.total, page.pages, page.size, page.page, page.length], [3, 2, 2, 1, 2]);
  assert.equal(page.hasNextPage, true);
  assert.deepEqual(await page.toArray(), created);
  const second = await page.getNextPage();
  assert.deepEqual(second.items, [created[2]]);
  assert.equal(second.hasNextPage, false);
});

test('deleting a workspace needs its sessions deleted first, then its id starts over', async () => {
  const honcho = client();
  const ws = honcho.workspaceId;
  await honcho.setMetadata({ old: true });
  const s1 = await honcho.session(unique('s'));
  const s2 = await honcho.session(unique('s'));
  const alice = await honcho.peer('alice');
  await s1.addMessages([alice.message('hello')]);

  await rejectsWith(honcho.deleteWorkspace(ws), ConflictError, 409);
  assert.equal(await listed(honcho, ws), true);
  await s1.delete();
  await rejectsWith(honcho.deleteWorkspace(ws), ConflictError, 409); // s2 still active
  await s2.delete();
  await honcho.deleteWorkspace(ws);

  const observer = client();
  await eventually(async () => !(await listed(observer, ws)), { what: `workspace ${ws} gone from the list` });
  const reborn = client({ workspaceId: ws });
  assert.deepEqual(await reborn.getMetadata(), {});
  assert.deepEqual(await all(reborn.peers()), []);
  assert.deepEqual(ids(await all(reborn.sessions())), []);
});

test('deleting an unknown workspace is a NotFoundError', async () => {
  await rejectsWith(client().deleteWorkspace(unique('never-created')), NotFoundError, 404);
});
