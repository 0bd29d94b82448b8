// The TypeScript peer of kapso-bridge's ingest: what a Node Lambda would do
// for each delivery with Kapso's SDK and the AWS SDK v3, timed per payload.
//
//   node scripts/bench/peer.mjs [--out FILE] [--quick]
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { HttpResponse } from '@smithy/core/protocols';
import { normalizeWebhook, verifySignature } from '@kapso/whatsapp-cloud-api/server';

const root = new URL('../../', import.meta.url);
export const PAYLOADS = ['kapso-message', 'kapso-batch-50', 'meta-mixed-50', 'meta-statuses-1000'];
export const SECRET = 'bench-webhook-secret';
const TABLE = 'idempotency';
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/messages';
const LEASE_MS = 30_000;
const RETENTION_S = 7 * 24 * 3600;

export function loadPayload(name) {
  // A Node Lambda behind API Gateway gets the body as a string.
  return readFileSync(new URL(`events/bench/${name}.json`, root), 'utf8');
}

export function sign(secret, body) {
  return createHmac('sha256', secret).update(body).digest('hex');
}

// bodyBytes is the request body as a server receives it. The JSON protocol
// hands over a Uint8Array that warns on string methods, so view it as a Buffer.
async function bodyBytes(body) {
  if (body == null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const chunks = [];
  for await (const c of Readable.from(body)) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

// InProcessHandler stands in for AWS: the SDK clients still serialise, sign
// and send every request, and the handler reads each body whole as a server
// would. A server's parsing and hashing is not the Lambda's bill, so an SQS
// request already seen (the same bytes) gets its earlier answer.
export class InProcessHandler {
  constructor() {
    this.requests = 0;
    this.messageBodies = []; // MessageBody lengths of the distinct SendMessage requests
    this.sqsAnswers = new Map(); // request length -> { bytes, answer }
  }

  async handle(request) {
    this.requests++;
    const bytes = await bodyBytes(request.body);
    const target = request.headers['x-amz-target'] ?? request.headers['X-Amz-Target'];
    let answer = '{}';
    if (target === 'AmazonSQS.SendMessage') answer = this.sendMessage(bytes);
    else if (!target?.startsWith('DynamoDB_20120810.')) throw new Error(`unexpected request ${target}`);
    return {
      response: new HttpResponse({
        statusCode: 200,
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() },
        body: Buffer.from(answer),
      }),
    };
  }

  sendMessage(bytes) {
    const seen = this.sqsAnswers.get(bytes.length);
    if (seen && seen.bytes.equals(bytes)) return seen.answer;
    const { MessageBody } = JSON.parse(bytes.toString('utf8'));
    this.messageBodies.push(MessageBody.length);
    const answer = JSON.stringify({
      MessageId: randomUUID(),
      MD5OfMessageBody: createHash('md5').update(MessageBody).digest('hex'),
    });
    this.sqsAnswers.set(bytes.length, { bytes: Buffer.from(bytes), answer });
    return answer;
  }
}

export function clients(handler) {
  const config = {
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    requestHandler: handler,
  };
  return { db: new DynamoDBClient(config), sqs: new SQSClient(config) };
}

// ingest is the handler a TypeScript team would write: verify, parse, claim
// the idempotency key, enqueue the raw body, mark the claim accepted.
export async function ingest({ db, sqs }, secret, body, headers) {
  const signature = headers['x-webhook-signature'] ?? '';
  // The SDK's verifier reads Meta's "sha256=<hex>" form; Kapso sends bare hex.
  if (!verifySignature({ appSecret: secret, rawBody: body, signatureHeader: `sha256=${signature}` })) {
    return 401;
  }
  try {
    JSON.parse(body);
  } catch {
    return 400;
  }
  const now = Date.now();
  const pk = { S: `delivery#${headers['x-idempotency-key']}` };
  await db.send(new PutItemCommand({
    TableName: TABLE,
    Item: {
      pk,
      status: { S: 'in_progress' },
      body_hash: { S: signature }, // the verified HMAC already fingerprints the body
      lease_until_ms: { N: String(now + LEASE_MS) },
      ttl: { N: String(Math.floor(now / 1000) + RETENTION_S) },
    },
    ConditionExpression: 'attribute_not_exists(#pk) OR #ttl <= :now_s',
    ExpressionAttributeNames: { '#pk': 'pk', '#ttl': 'ttl' },
    ExpressionAttributeValues: { ':now_s': { N: String(Math.floor(now / 1000)) } },
  }));
  await sqs.send(new SendMessageCommand({ QueueUrl: QUEUE_URL, MessageBody: body }));
  await db.send(new UpdateItemCommand({
    TableName: TABLE,
    Key: { pk },
    UpdateExpression: 'SET #status = :accepted, #at = :at',
    ConditionExpression: '#status = :in_progress',
    ExpressionAttributeNames: { '#status': 'status', '#at': 'accepted_at' },
    ExpressionAttributeValues: {
      ':accepted': { S: 'accepted' },
      ':in_progress': { S: 'in_progress' },
      ':at': { S: new Date(now).toISOString() },
    },
  }));
  return 200;
}

// measure returns the median of `runs` per-op means in ns. A warm-up of at
// least 200 ops and 1 s lets the JIT settle; then each run times batches
// with hrtime until minNs has passed (batches keep clock reads off the
// per-op figure of fast ops).
export async function measure(op, { warmupIters = 200, warmupNs = 1e9, runs = 3, minNs = 1e9, minIters = 1 } = {}) {
  let i = 0;
  const w0 = process.hrtime.bigint();
  while (i < warmupIters || Number(process.hrtime.bigint() - w0) < warmupNs) await op(i++);
  const perOp = Number(process.hrtime.bigint() - w0) / i;
  const batch = Math.max(1, Math.round(1e7 / perOp)); // ~10 ms per batch
  const means = [];
  for (let r = 0; r < runs; r++) {
    let n = 0;
    let elapsed = 0n;
    while (Number(elapsed) < minNs || n < minIters) {
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < batch; k++) await op(i++);
      elapsed += process.hrtime.bigint() - t0;
      n += batch;
    }
    means.push(Number(elapsed) / n);
  }
  means.sort((a, b) => a - b);
  return Math.round(means[Math.floor(means.length / 2)]);
}

function versionOf(name) {
  return JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, root), 'utf8')).version;
}

// checkPayload proves the peer really does the job before it is timed: the
// right signature is accepted and the whole body reaches SQS, a wrong one is
// refused before any AWS call.
async function checkPayload(name, body, signature) {
  const handler = new InProcessHandler();
  const c = clients(handler);
  const bad = await ingest(c, SECRET, body, { 'x-webhook-signature': sign('wrong-secret', body), 'x-idempotency-key': 'bad' });
  if (bad !== 401 || handler.requests !== 0) throw new Error(`${name}: a wrong signature was not refused`);
  const ok = await ingest(c, SECRET, body, { 'x-webhook-signature': signature, 'x-idempotency-key': 'check' });
  if (ok !== 200) throw new Error(`${name}: verification failed (status ${ok})`);
  if (handler.requests !== 3 || handler.messageBodies[0] !== body.length) {
    throw new Error(`${name}: ${handler.requests} AWS requests, MessageBody lengths ${handler.messageBodies}, payload ${body.length}`);
  }
}

export async function run({ quick = false } = {}) {
  const opts = quick ? { warmupIters: 3, warmupNs: 0, runs: 3, minNs: 0, minIters: 3 } : {};
  const out = {
    node: process.version,
    packages: Object.fromEntries(
      ['@kapso/whatsapp-cloud-api', '@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs', '@smithy/core'].map((n) => [n, versionOf(n)]),
    ),
    payloads: {},
  };
  for (const name of PAYLOADS) {
    const body = loadPayload(name);
    const signature = sign(SECRET, body);
    await checkPayload(name, body, signature);
    const result = { bytes: Buffer.byteLength(body) };

    const handler = new InProcessHandler();
    const c = clients(handler);
    result.peer_ingest_ns = await measure(async (i) => {
      const status = await ingest(c, SECRET, body, { 'x-webhook-signature': signature, 'x-idempotency-key': `bench-${i}` });
      if (status !== 200) throw new Error(`${name}: status ${status}`);
    }, opts);
    if (handler.messageBodies.some((len) => len !== body.length)) throw new Error(`${name}: SQS got another body`);

    if (name.startsWith('meta-')) {
      // normalizeWebhook takes a parsed object: time it alone and with the parse.
      const parsed = JSON.parse(body);
      const want = normalizeWebhook(parsed).statuses.length;
      if (want === 0) throw new Error(`${name}: normalizeWebhook found no statuses`);
      const check = (r) => {
        if (r.statuses.length !== want) throw new Error(`${name}: normalizeWebhook gave ${r.statuses.length} statuses`);
      };
      result.peer_normalize_ns = await measure(() => check(normalizeWebhook(parsed)), opts);
      result.peer_parse_normalize_ns = await measure(() => check(normalizeWebhook(JSON.parse(body))), opts);
    }
    out.payloads[name] = result;
  }
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  const outIdx = args.indexOf('--out');
  const result = await run({ quick: args.includes('--quick') });
  const text = JSON.stringify(result, null, 2) + '\n';
  if (outIdx >= 0) writeFileSync(args[outIdx + 1], text);
  else process.stdout.write(text);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
