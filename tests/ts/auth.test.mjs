// The TypeScript SDK's bearer keys against a server with JWT auth on (spec 13): the SDK sends `apiKey` on JSON,
// streaming and multipart requests alike, and a refusal is its AuthenticationError. The SDK mints no keys itself:
// they are signed here with the server's secret, or minted by POST /v3/keys through the SDK's low-level client.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { AuthenticationError, Peer, Session } from '@honcho-ai/sdk';
import { all, client, contents, env, ids, mint, rejectsWith, unique } from './helpers.mjs';

const url = () => env('HONCHO_TS_AUTH_URL');
const secret = () => env('HONCHO_TS_AUTH_SECRET');
const as = (apiKey, workspaceId) => client({ url: url(), apiKey, workspaceId });

let admin;
let ws;

before(async () => {
  admin = as(mint(secret(), { ad: true }));
  ws = admin.workspaceId;
  const s1 = await admin.session('s1', { peers: ['alice', 'bob'] });
  await s1.addMessages([(await admin.peer('alice')).message('hello from alice')]);
  await admin.session('s2', { peers: ['bob'] });
});

test('no key, a garbage key, a wrong secret and an expired key are AuthenticationErrors', async () => {
  await rejectsWith(as(undefined).getMetadata(), AuthenticationError, 401);
  await rejectsWith(all(as(undefined).workspaces()), AuthenticationError, 401);
  await rejectsWith(as('not-a-jwt').getMetadata(), AuthenticationError, 401);
  await rejectsWith(as(mint(`${secret()}-other`, { ad: true })).getMetadata(), AuthenticationError, 401);
  const expired = mint(secret(), { ad: true, exp: Math.floor(Date.now() / 1000) - 3600 });
  await rejectsWith(as(expired).getMetadata(), AuthenticationError, 401);
});

test('an admin key works everywhere, uploads included', async () => {
  const s1 = await admin.session('s1');
  assert.deepEqual(contents(await all(s1.messages())), ['hello from alice']);
  assert.deepEqual(new Set(ids(await all(admin.peers()))), new Set(['alice', 'bob']));
  assert.ok((await all(admin.workspaces({ filters: { id: ws } }))).includes(ws));
  const mine = await admin.session(unique('admin'));
  const [m] = await mine.uploadFile({ filename: 'a.txt', content: new TextEncoder().encode('uploaded by admin'),
    content_type: 'text/plain' }, 'bob');
  assert.equal((await mine.getMessage(m.id)).content, 'uploaded by admin');
  await mine.delete();
  const other = as(mint(secret(), { ad: true }));
  await other.setMetadata({ x: 1 });
  assert.deepEqual(await other.getMetadata(), { x: 1 });
});

test('a workspace key is confined to its workspace', async () => {
  const key = mint(secret(), { w: ws });
  const h = as(key, ws);
  assert.deepEqual(new Set(ids(await all(h.sessions()))), new Set(['s1', 's2']));
  await (await h.peer('alice')).setMetadata({ by: 'ws-key' });
  assert.deepEqual(await (await admin.peer('alice')).getMetadata(), { by: 'ws-key' });
  await rejectsWith(all(h.workspaces()), AuthenticationError, 401); // listing workspaces is admin-only
  await rejectsWith(as(key, unique('elsewhere')).peer('x'), AuthenticationError, 401);
});

test('a peer key acts only as its peer', async () => {
  const h = as(mint(secret(), { w: ws, p: 'alice' }), ws);
  const alice = await h.peer('alice');
  assert.deepEqual(ids(await all(alice.sessions())), ['s1']);
  await rejectsWith(h.peer('bob'), AuthenticationError, 401);
  await rejectsWith(new Peer('bob', ws, h.http).setMetadata({ hacked: true }), AuthenticationError, 401);
  await rejectsWith(all(h.peers()), AuthenticationError, 401);
  const s1 = new Session('s1', ws, h.http);
  assert.deepEqual(contents(await all(s1.messages())), ['hello from alice']);
  await rejectsWith(s1.getPeerConfiguration('bob'), AuthenticationError, 401);
  await rejectsWith(all(new Session('s2', ws, h.http).messages()), AuthenticationError, 401);
  assert.deepEqual(await (await admin.peer('bob')).getMetadata(), {});
});

test('a session key is limited to its session, uploads and context included', async () => {
  const h = as(mint(secret(), { w: ws, s: 's2' }), ws);
  const s2 = new Session('s2', ws, h.http);
  const [m] = await s2.uploadFile(new Blob(['uploaded with a session key'], { type: 'text/plain' }), 'bob');
  assert.equal((await s2.getMessage(m.id)).content, 'uploaded with a session key');
  assert.equal((await s2.context()).messages.at(-1).content, 'uploaded with a session key');
  await rejectsWith(all(new Session('s1', ws, h.http).messages()), AuthenticationError, 401);
  await rejectsWith(h.session('s3'), AuthenticationError, 401);
  await rejectsWith(all(h.peers()), AuthenticationError, 401);
});

test('keys minted by POST /v3/keys through the SDK http client work, and only admins mint', async () => {
  const { key } = await admin.http.post('/v3/keys', { query: { workspace_id: ws, peer_id: 'alice' } });
  const peerClient = as(key, ws);
  await (await peerClient.peer('alice')).setMetadata({ via: 'minted key' });
  await rejectsWith(new Peer('bob', ws, peerClient.http).setMetadata({ via: 'minted key' }), AuthenticationError,
    401);
  assert.deepEqual(await (await admin.peer('alice')).getMetadata(), { via: 'minted key' });
  await rejectsWith(peerClient.http.post('/v3/keys', { query: { workspace_id: ws } }), AuthenticationError, 401);
});
