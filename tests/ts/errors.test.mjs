// The TypeScript SDK's error classes for the server's refusals (400, 404, 422; 409, 413 and 415 are in the
// workspace and message files, 401 in auth.test.mjs), and that a refused request leaves the database unchanged.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadRequestError, HonchoError, NotFoundError, Peer, Session, UnprocessableEntityError } from '@honcho-ai/sdk';
import { all, client, contents, ids, rejectsWith, unique } from './helpers.mjs';

const meta = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
function nested(depth) {
  let d = { leaf: 1 };
  for (let i = 1; i < depth; i += 1) d = { n: d };
  return d;
}

test('server-side validation errors are UnprocessableEntityErrors carrying the body', async () => {
  const honcho = client();
  await rejectsWith(honcho.peer('p-big', { metadata: meta(101) }), UnprocessableEntityError, 422);
  await rejectsWith(honcho.session('s-big', { metadata: meta(101) }), UnprocessableEntityError, 422);
  await rejectsWith(honcho.peer('deep', { metadata: nested(6) }), UnprocessableEntityError, 422);
  assert.deepEqual(ids(await all(honcho.peers())), []);
  assert.deepEqual(ids(await all(honcho.sessions())), []);

  await honcho.setMetadata({ ws: 1 });
  await rejectsWith(honcho.setMetadata(meta(101)), UnprocessableEntityError, 422);
  assert.deepEqual(await honcho.getMetadata(), { ws: 1 });
  const alice = await honcho.peer('alice', { metadata: { p: 1 } });
  await rejectsWith(alice.setMetadata(meta(101)), UnprocessableEntityError, 422);
  assert.deepEqual(await alice.getMetadata(), { p: 1 });
  const s = await honcho.session(unique('s'), { metadata: { s: 1 } });
  await rejectsWith(s.setMetadata(nested(6)), UnprocessableEntityError, 422);
  assert.deepEqual(await s.getMetadata(), { s: 1 });

  // a batch is refused as a whole
  await rejectsWith(s.addMessages([alice.message('ok'), alice.message('too much', { metadata: meta(101) })]),
    UnprocessableEntityError, 422);
  await rejectsWith(s.addMessages([alice.message('ok'), alice.message('x'.repeat(25_001))]),
    UnprocessableEntityError, 422);
  assert.deepEqual(await all(s.messages()), []);
  const [m] = await s.addMessages(alice.message('kept', { metadata: { m: 1 } }));
  await rejectsWith(s.updateMessage(m, meta(101)), UnprocessableEntityError, 422);
  assert.deepEqual((await s.getMessage(m.id)).metadata, { m: 1 });
  // the limits themselves are accepted
  assert.deepEqual((await honcho.peer('p100', { metadata: meta(100) })).metadata, meta(100));
  await s.setMetadata(nested(5));
  assert.deepEqual(await s.getMetadata(), nested(5));

  await assert.rejects(s.context({ tokens: 100_001 }), (error) => {
    assert.ok(error instanceof UnprocessableEntityError);
    assert.equal(error.code, 'unprocessable_entity');
    assert.ok(error.body && typeof error.body === 'object', 'the parsed error body is kept');
    assert.equal(typeof error.message, 'string');
    return true;
  });
});

test('invalid filters are refused by the server', async () => {
  const honcho = client();
  await honcho.peer('alice');
  for (const filters of [
    { id: { regex: 'a.*' } },
    { peer_id: 'alice' },
    { nonexistent: 1 },
    { AND: { id: 'alice' } },
    { created_at: { gte: 'not-a-date' } },
    { id: { in: 'alice' } },
    { metadata: { gt: 1 } },
  ]) {
    await rejectsWith(all(honcho.peers({ filters })), UnprocessableEntityError, 422);
  }
  await rejectsWith(all(honcho.sessions({ filters: { is_active: 'true' } })), UnprocessableEntityError, 422);
  await rejectsWith(all(honcho.workspaces({ filters: { name: honcho.workspaceId } })), UnprocessableEntityError, 422);
  await rejectsWith(honcho.search('x', { filters: { bogus: 1 } }), UnprocessableEntityError, 422);
});

test('missing resources are NotFoundErrors and nothing is created on the way', async () => {
  const honcho = client();
  const s = await honcho.session(unique('s'));
  await honcho.peer('alice');
  const ghost = new Session('ghost-session', honcho.workspaceId, honcho.http);
  await rejectsWith(s.getMessage('AAAAAAAAAAAAAAAAAAAAA'), NotFoundError, 404);
  await rejectsWith(ghost.getPeerConfiguration('alice'), NotFoundError, 404);
  await rejectsWith(ghost.setPeerConfiguration('alice', { observeMe: false }), NotFoundError, 404);
  await rejectsWith(s.setPeerConfiguration('nobody', { observeMe: false }), NotFoundError, 404);
  await rejectsWith(ghost.setPeers(['alice']), NotFoundError, 404);
  await rejectsWith(ghost.removePeers(['alice']), NotFoundError, 404);
  await rejectsWith(honcho.conclusions.get('AAAAAAAAAAAAAAAAAAAAA'), NotFoundError, 404);
  await rejectsWith(new Peer('nobody', honcho.workspaceId, honcho.http).getCard(), NotFoundError, 404);
  await rejectsWith(honcho.search('dogs', { scope: 'no-such-scope' }), NotFoundError, 404);
  assert.deepEqual(ids(await all(honcho.sessions())), [s.id]);
  assert.deepEqual(ids(await all(honcho.peers())), ['alice']);
  // every error is a HonchoError with the status and a message from the body's detail
  await assert.rejects(s.getMessage('AAAAAAAAAAAAAAAAAAAAA'), (error) => {
    assert.ok(error instanceof HonchoError && error.name === 'NotFoundError' && error.code === 'not_found');
    assert.ok(error.message.length > 0 && !error.message.startsWith('HTTP '), error.message);
    return true;
  });
});

test('the observer limit is a BadRequestError and atomic', async () => {
  const honcho = client();
  const observers = Array.from({ length: 11 }, (_, i) => [`obs${i}`, { observeOthers: true }]);
  await rejectsWith(honcho.session('too-many', { peers: observers }), BadRequestError, 400);
  assert.deepEqual(ids(await all(honcho.sessions())), []);
  const s = await honcho.session(unique('s'), { peers: [...observers.slice(0, 10), 'quiet'] });
  assert.equal((await s.peers()).length, 11);
  await rejectsWith(s.addPeers([observers[10]]), BadRequestError, 400);
  await rejectsWith(s.setPeerConfiguration('quiet', { observeOthers: true }), BadRequestError, 400);
  assert.equal((await s.peers()).length, 11);
  assert.ok([null, false, undefined].includes((await s.getPeerConfiguration('quiet')).observeOthers));
  await s.removePeers('obs0');
  await s.addPeers([['late', { observeOthers: true }]]); // obs0 left: room for one more
  assert.ok(ids(await s.peers()).includes('late'));
  assert.deepEqual(contents(await all(s.messages())), []);
});
