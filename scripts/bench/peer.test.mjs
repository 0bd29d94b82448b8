// node --test scripts/bench/
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InProcessHandler, PAYLOADS, SECRET, clients, ingest, loadPayload, sign } from './peer.mjs';

test('--quick measures every payload', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'peer-')), 'peer.json');
  execFileSync(process.execPath, [fileURLToPath(new URL('peer.mjs', import.meta.url)), '--quick', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  const result = JSON.parse(readFileSync(out, 'utf8'));
  assert.match(result.node, /^v\d+\./);
  assert.equal(result.packages['@kapso/whatsapp-cloud-api'], '0.3.0');
  assert.deepEqual(Object.keys(result.payloads), PAYLOADS);
  for (const [name, p] of Object.entries(result.payloads)) {
    assert.equal(p.bytes, Buffer.byteLength(loadPayload(name)), name);
    const keys = name.startsWith('meta-')
      ? ['peer_ingest_ns', 'peer_normalize_ns', 'peer_parse_normalize_ns']
      : ['peer_ingest_ns'];
    for (const k of keys) assert.ok(p[k] > 0, `${name} ${k} = ${p[k]}`);
  }
});

test('a wrong signature is refused before any AWS call', async () => {
  const body = loadPayload('kapso-message');
  const handler = new InProcessHandler();
  const c = clients(handler);
  for (const signature of [sign('another-secret', body), '', `sha256=${sign(SECRET, body)}`]) {
    assert.equal(await ingest(c, SECRET, body, { 'x-webhook-signature': signature, 'x-idempotency-key': 'k' }), 401, signature);
  }
  assert.equal(handler.requests, 0);
});

test('the right signature sends the whole body to SQS', async () => {
  const body = loadPayload('meta-mixed-50');
  const handler = new InProcessHandler();
  const status = await ingest(clients(handler), SECRET, body, { 'x-webhook-signature': sign(SECRET, body), 'x-idempotency-key': 'k' });
  assert.equal(status, 200);
  assert.equal(handler.requests, 3);
  assert.deepEqual(handler.messageBodies, [body.length]);
});
