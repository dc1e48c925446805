// test-serve-openai.mjs: `wenshu-cli serve` driven by the official OpenAI
// Node client (npm "openai", installed into tests/reference by
// tests/install-deps.sh --tests), so that the server's field names are the
// ones a common client really reads, not just the ones our own tests expect.
//
// It makes the tiny synth model, starts `serve --api-key`, and checks:
// models.list() names the model; a non-streamed completion at temperature 0
// and the streamed one give the same text, and the stream's chunks carry
// usage when asked; an image as a data URL is accepted by a vision server;
// the client raises its typed errors: AuthenticationError (401) for a wrong
// key, BadRequestError (400) with the server's message for n = 2.
// Exits 77 (skipped) without node's package.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { deflateSync } from 'node:zlib';

const cli = process.env.WENSHU_CLI;
const testsDir = process.env.WENSHU_TESTS_DIR;
if (!cli || !testsDir) {
  console.error('WENSHU_CLI and WENSHU_TESTS_DIR must be set (run through meson test)');
  process.exit(1);
}
const require = createRequire(join(testsDir, 'reference', 'package.json'));
let OpenAI;
try {
  OpenAI = require('openai');
} catch {
  console.log('skip: the npm package openai is not installed (tests/install-deps.sh --tests)');
  process.exit(77);
}

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

// Start `serve` on a free port; resolves to {proc, url} once it listens.
function startServer(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cli, ['serve', '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) resolve({ proc, url: m[1] });
    });
    proc.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

// A tiny RGB PNG (4x4, one colour), written here from the format's spec.
function tinyPng() {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(4, 0);
  ihdr.writeUInt32BE(4, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = Buffer.concat(Array.from({ length: 4 }, () => Buffer.from([0, ...Array(4).fill([200, 40, 40]).flat()])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const dir = mkdtempSync(join(tmpdir(), 'wenshu-openai-'));
const servers = [];
try {
  const model = join(dir, 'tiny.gguf');
  execFileSync(cli, ['synth', '--arch', 'qwen2', '--preset', 'tiny', '-o', model]);
  const text = await startServer(['-m', model, '--api-key', 'sk-test']);
  servers.push(text.proc);
  const client = new OpenAI({ baseURL: `${text.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });

  const models = await client.models.list();
  check(models.data.some((m) => m.id === 'tiny.gguf' && m.object === 'model'), 'models.list() names tiny.gguf');

  const messages = [{ role: 'user', content: 'Hello' }];
  const whole = await client.chat.completions.create({ model: 'tiny.gguf', messages, temperature: 0, max_tokens: 12 });
  const wholeText = whole.choices[0].message.content;
  check(whole.object === 'chat.completion' && whole.choices[0].message.role === 'assistant', 'a chat.completion from the assistant');
  check(['stop', 'length'].includes(whole.choices[0].finish_reason), `finish_reason ${whole.choices[0].finish_reason}`);
  check(whole.usage.completion_tokens > 0 && whole.usage.total_tokens === whole.usage.prompt_tokens + whole.usage.completion_tokens, 'usage adds up');

  const stream = await client.chat.completions.create({
    model: 'tiny.gguf', messages, temperature: 0, max_tokens: 12, stream: true, stream_options: { include_usage: true },
  });
  let streamed = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.choices.length > 0) {
      streamed += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  check(streamed === wholeText, 'the stream gives the non-streamed text');
  check(finish === whole.choices[0].finish_reason, 'the stream ends with the same finish_reason');
  check(usage && usage.completion_tokens === whole.usage.completion_tokens, 'the stream carries usage when asked');

  try {
    await new OpenAI({ baseURL: `${text.url}/v1`, apiKey: 'wrong', maxRetries: 0 }).models.list();
    check(false, 'a wrong key is refused');
  } catch (e) {
    check(e instanceof OpenAI.AuthenticationError && e.status === 401, `a wrong key: AuthenticationError 401 (${e.message})`);
  }
  try {
    await client.chat.completions.create({ model: 'tiny.gguf', messages, n: 2 });
    check(false, 'n = 2 is refused');
  } catch (e) {
    check(e instanceof OpenAI.BadRequestError && e.status === 400 && /\bn\b/.test(e.message), `n = 2: BadRequestError 400 (${e.message})`);
  }

  const vlText = join(dir, 'vl.gguf');
  const vlProj = join(dir, 'mmproj.gguf');
  execFileSync(cli, ['synth', '--arch', 'qwen2vl', '--preset', 'tiny', '-o', vlText]);
  execFileSync(cli, ['synth', '--mmproj', 'qwen2vl_merger', '-o', vlProj]);
  const vision = await startServer(['-m', vlText, '--mmproj', vlProj]);
  servers.push(vision.proc);
  const vclient = new OpenAI({ baseURL: `${vision.url}/v1`, apiKey: 'none', maxRetries: 0 });
  const url = `data:image/png;base64,${tinyPng().toString('base64')}`;
  const withImage = await vclient.chat.completions.create({
    model: 'vl.gguf',
    temperature: 0,
    max_tokens: 4,
    messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: 'What is this?' }] }],
  });
  const plain = await vclient.chat.completions.create({
    model: 'vl.gguf', temperature: 0, max_tokens: 4, messages: [{ role: 'user', content: 'What is this?' }],
  });
  check(withImage.usage.prompt_tokens > plain.usage.prompt_tokens, `the image adds prompt tokens (${withImage.usage.prompt_tokens} > ${plain.usage.prompt_tokens})`);
} catch (e) {
  console.log(`FAIL ${e.stack || e}`);
  failures++;
} finally {
  for (const p of servers) p.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
console.log(failures ? `${failures} failures` : 'all passed');
process.exit(failures ? 1 : 0);
