// Shared helpers of the TypeScript SDK suite. The servers are started by tests/sdk/test_typescript_sdk.py, which
// passes their addresses in HONCHO_TS_* environment variables; these files are not meant to be run on their own.

import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { Honcho } from '@honcho-ai/sdk';

/** The value of a variable the Python runner sets, or a clear error saying how to run the suite. */
export function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run this suite through pytest (tests/sdk/test_typescript_sdk.py starts the servers)`,
    );
  }
  return value;
}

/** A fresh id matching ^[a-zA-Z0-9_-]+$. */
export function unique(prefix) {
  return `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** An SDK client on a brand-new workspace of the no-LLM server (or `url`); no retries, so a 5xx surfaces at once. */
export function client({ url, workspaceId, apiKey, timeout = 30_000 } = {}) {
  return new Honcho({
    baseURL: url ?? env('HONCHO_TS_URL'),
    workspaceId: workspaceId ?? unique('ws'),
    apiKey,
    maxRetries: 0,
    timeout,
  });
}

/** Every item of a Page (fetching the later pages), from a Page or a promise of one. */
export async function all(page) {
  return (await page).toArray();
}

export const ids = (items) => items.map((x) => x.id);
export const contents = (items) => items.map((m) => m.content);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Call `check` until it returns a truthy value (returned); errors count as "not yet". */
export async function eventually(check, { timeout = 15_000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const result = await check();
      if (result) return result;
      last = result;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what} not reached within ${timeout} ms (last: ${last?.stack ?? JSON.stringify(last)})`);
    }
    await sleep(interval);
  }
}

/** The error class the promise rejects with, checked by name and status (the SDK's own classes). */
export async function rejectsWith(promise, ErrorClass, status) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof ErrorClass, `expected ${ErrorClass.name}, got ${error?.name}: ${error?.message}`);
    if (status !== undefined) assert.equal(error.status, status);
    return true;
  });
}

/** A timestamp string from the API is UTC and within `seconds` of now. */
export function assertRecent(stamp, seconds = 300) {
  assert.equal(typeof stamp, 'string', `not a timestamp string: ${stamp}`);
  assert.match(stamp, /(Z|[+-]00:00)$/, `not UTC: ${stamp}`);
  assert.ok(Math.abs(Date.now() - Date.parse(stamp)) < seconds * 1000, `${stamp} is not 'now'`);
}

// --------------------------------------------------------------------------------------------------------------
// API keys: HS256 JWTs with Honcho's short claim names (ad, w, p, s, t, exp), signed with the auth server's secret
// --------------------------------------------------------------------------------------------------------------
const b64url = (data) => Buffer.from(data).toString('base64url');

export function mint(secret, claims) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ t: '', ...claims }));
  const signature = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
  return `${header}.${body}.${signature}`;
}

/** A plain copy without `undefined` members (the SDK maps every known key, present or not). */
export function plain(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
