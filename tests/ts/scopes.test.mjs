// Scopes through the TypeScript SDK (spec §10.A): get-or-create, get, list, member sessions, backfill status,
// sessions joining at creation, and recall through a scope (workspace search, representation, session context).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NotFoundError, Scope, UnprocessableEntityError } from '@honcho-ai/sdk';
import { all, client, contents, eventually, ids, rejectsWith, unique } from './helpers.mjs';

test('scopes: get-or-create, get, list', async () => {
  const honcho = client();
  const therapy = await honcho.scope('therapy', { metadata: { kind: 'care' } });
  assert.ok(therapy instanceof Scope);
  assert.deepEqual([therapy.id, therapy.workspaceId, therapy.metadata], ['therapy', honcho.workspaceId,
    { kind: 'care' }]);
  assert.equal(typeof therapy.createdAt, 'string');
  const again = await honcho.scope('therapy');
  assert.deepEqual([again.metadata, again.createdAt], [{ kind: 'care' }, therapy.createdAt]);
  assert.deepEqual((await honcho.scope('therapy', { metadata: { v: 2 } })).metadata, { v: 2 }); // replaced
  assert.deepEqual((await honcho.getScope('therapy')).metadata, { v: 2 });
  await rejectsWith(honcho.getScope('never-made'), NotFoundError, 404);
  await honcho.scope('work');
  assert.deepEqual(ids(await all(honcho.scopes())), ['therapy', 'work']);
  assert.deepEqual(ids(await all(honcho.scopes({ reverse: true }))), ['work', 'therapy']);
  const page = await honcho.scopes({ size: 1 });
  assert.deepEqual([page.total, page.pages, (await page.toArray()).length], [2, 2, 2]);
  // scope peers are hidden from the peer list
  assert.deepEqual(ids(await all(honcho.peers())), []);
  // the reserved peer namespace is refused by the server (the SDK's own id check would stop it first)
  await rejectsWith(honcho.http.post(`/v3/workspaces/${honcho.workspaceId}/peers`, { body: { id: 'scope.x' } }),
    UnprocessableEntityError, 422);
  await honcho.peer('plain-peer');
  assert.deepEqual(ids(await all(honcho.peers())), ['plain-peer']);
  await assert.rejects(honcho.scope('scope.bad')); // the SDK refuses the reserved prefix itself
});

test('scopes: member sessions, status, removal, and joining at creation', async () => {
  const honcho = client();
  const alice = await honcho.peer('alice');
  const s1 = await honcho.session(unique('s'));
  const s2 = await honcho.session(unique('s'));
  await s1.addMessages([alice.message('I see my therapist on Mondays')]);
  await alice.conclusions.create({ content: 'alice sees a therapist on Mondays', sessionId: s1.id });
  const therapy = await honcho.scope('therapy');
  await therapy.addSessions([s1, s2.id]);
  await therapy.addSessions([s1]); // idempotent
  assert.deepEqual(ids(await all(therapy.sessions())), [s1.id, s2.id]);
  assert.deepEqual(ids(await all(therapy.sessions({ reverse: true }))), [s2.id, s1.id]);
  const status = await eventually(async () => {
    const st = await therapy.status();
    return st.backfillStatus[s1.id]?.state === 'completed' ? st : null;
  }, { what: 'backfill completed' });
  assert.ok(Number.isInteger(status.backfillStatus[s1.id].docsCopied));
  assert.equal(typeof status.backfillStatus[s1.id].updatedAt, 'string');
  await rejectsWith(therapy.addSessions(['no-such-session']), NotFoundError, 404);

  await therapy.removeSession(s2);
  assert.deepEqual(ids(await all(therapy.sessions())), [s1.id]);
  await rejectsWith((await honcho.scope('empty')).removeSession(s1.id), NotFoundError, 404);

  const joined = await honcho.session(unique('s'), { scopes: ['therapy', 'brand-new'] });
  assert.ok(ids(await all(therapy.sessions())).includes(joined.id));
  assert.deepEqual(ids(await all((await honcho.getScope('brand-new')).sessions())), [joined.id]);
  // scope peers never show up as session members
  assert.deepEqual(await joined.peers(), []);
});

test('scopes: recall through a scope', async () => {
  const honcho = client();
  const alice = await honcho.peer('alice');
  const inside = await honcho.session(unique('in'), { scopes: ['therapy'] });
  const outside = await honcho.session(unique('out'));
  await inside.addMessages([alice.message('My therapist says I should walk more')]);
  await outside.addMessages([alice.message('My therapist is not mentioned here, only walking shoes')]);
  assert.deepEqual(contents(await honcho.search('therapist', { scope: 'therapy' })),
    ['My therapist says I should walk more']);
  await rejectsWith(honcho.search('therapist', { scope: 'therapy', filters: { session_id: outside.id } }),
    UnprocessableEntityError, 422);
  assert.deepEqual(await honcho.search('therapist', { scope: await honcho.scope('nothing-in-it') }), []);
  assert.equal(typeof await alice.representation({ scope: 'therapy' }), 'string');
  const ctx = await inside.context({ peerTarget: 'alice', scope: 'therapy' });
  assert.equal(typeof (ctx.peerRepresentation ?? ''), 'string');
});
