#!/usr/bin/python3
"""Generate engine/unicode-data.h: the Unicode tables the tokenizer needs.

Run from the repository root:  /usr/bin/python3 tests/tools/gen-unicode-data.py

Sources, chosen for agreement with the references the tests compare against:
  * \\p{L} and \\p{N} come from node (`/\\p{L}/u`, `/\\p{N}/u`), because the
    reference tokenizer (@lenml/tokenizers in node) matches its pre-tokenizer
    regex with V8's tables. The node version used is recorded in the header.
  * White_Space is the fixed Unicode property list (what Hugging Face
    tokenizers' Oniguruma `\\s` and llama.cpp use). JavaScript's `\\s` differs
    on U+0085 (not space in JS) and U+FEFF (space in JS); the test corpus holds
    neither.
  * NFC data (canonical combining classes, canonical decompositions,
    composition exclusions) come from Python's unicodedata (its version is
    recorded too). Characters assigned after that version are not normalized;
    Unicode's stability policy keeps every older character's data fixed.

Table shapes (all sorted, searched by bisection):
  ucd_flag_ranges[]  uint32: (first code point << 8) | flags; a range runs to
                     the next entry's first code point.
  ucd_ccc_ranges[]   uint32: (first code point << 8) | ccc, same scheme.
  ucd_decomp[][3]    {cp, a, b}: canonical one-level decomposition (b = 0 for
                     singletons). Hangul syllables are algorithmic, not listed.
  ucd_comp[][3]      {a, b, composite}: primary composites, sorted by (a, b).
"""
import json
import subprocess
import sys
import unicodedata

OUT = "engine/unicode-data.h"
MAX_CP = 0x110000

FLAG_L = 1
FLAG_N = 2
FLAG_WS = 4
FLAG_NFC = 8  # may change under NFC: ccc != 0, decomposes, or composes as a second

WHITE_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
               (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
               (0x3000, 0x3000)]

NODE_SCRIPT = r"""
const L = /^\p{L}$/u, N = /^\p{N}$/u;
const out = {version: process.versions.node, unicode: process.versions.unicode, L: [], N: []};
function ranges(re) {
  const r = []; let start = -1;
  for (let cp = 0; cp <= 0x110000; cp++) {
    const hit = cp < 0x110000 && !(cp >= 0xD800 && cp <= 0xDFFF) && re.test(String.fromCodePoint(cp));
    if (hit && start < 0) start = cp;
    if (!hit && start >= 0) { r.push([start, cp - 1]); start = -1; }
  }
  return r;
}
out.L = ranges(L); out.N = ranges(N);
process.stdout.write(JSON.stringify(out));
"""


def node_categories():
    res = subprocess.run(["node", "-e", NODE_SCRIPT], check=True, capture_output=True, text=True)
    return json.loads(res.stdout)


def nfc_data():
    ccc = [0] * MAX_CP
    decomp = {}
    for cp in range(MAX_CP):
        ch = chr(cp)
        ccc[cp] = unicodedata.combining(ch)
        d = unicodedata.decomposition(ch)
        if d and not d.startswith("<") and not (0xAC00 <= cp <= 0xD7A3):
            parts = [int(x, 16) for x in d.split()]
            assert len(parts) in (1, 2)
            decomp[cp] = (parts[0], parts[1] if len(parts) == 2 else 0)
    comp = {}
    for cp, (a, b) in decomp.items():
        # A primary composite: a pair decomposition that NFC puts back together
        # (not a composition exclusion, not a non-starter decomposition).
        if b and unicodedata.normalize("NFC", unicodedata.normalize("NFD", chr(cp))) == chr(cp):
            comp[(a, b)] = cp
    return ccc, decomp, comp


def flag_ranges(cats, ccc, decomp, comp):
    flags = bytearray(MAX_CP)
    for lo, hi in cats["L"]:
        for cp in range(lo, hi + 1):
            flags[cp] |= FLAG_L
    for lo, hi in cats["N"]:
        for cp in range(lo, hi + 1):
            flags[cp] |= FLAG_N
    for lo, hi in WHITE_SPACE:
        for cp in range(lo, hi + 1):
            flags[cp] |= FLAG_WS
    seconds = {b for (_, b) in comp}
    for cp in range(MAX_CP):
        if ccc[cp] or cp in decomp or cp in seconds or 0x1100 <= cp <= 0x11FF:
            flags[cp] |= FLAG_NFC
    return step_function(flags)


def step_function(values):
    out = []
    prev = None
    for cp in range(MAX_CP):
        if values[cp] != prev:
            out.append((cp << 8) | values[cp])
            prev = values[cp]
    return out


def emit_u32_list(name, values, per_line=8):
    lines = [f"static const uint32_t {name}[{len(values)}] = {{"]
    for i in range(0, len(values), per_line):
        lines.append("    " + ", ".join(f"0x{v:08x}" for v in values[i:i + per_line]) + ",")
    lines.append("};")
    return lines


def emit_triples(name, triples, per_line=4):
    lines = [f"static const uint32_t {name}[{len(triples)}][3] = {{"]
    for i in range(0, len(triples), per_line):
        chunk = triples[i:i + per_line]
        lines.append("    " + " ".join("{0x%x, 0x%x, 0x%x}," % t for t in chunk))
    lines.append("};")
    return lines


def main():
    cats = node_categories()
    ccc, decomp, comp = nfc_data()
    flag_table = flag_ranges(cats, ccc, decomp, comp)
    ccc_table = step_function(ccc)
    decomp_table = sorted((cp, a, b) for cp, (a, b) in decomp.items())
    comp_table = sorted((a, b, c) for (a, b), c in comp.items())

    out = [
        "/* unicode-data.h: Unicode tables for the tokenizer. GENERATED by",
        " * tests/tools/gen-unicode-data.py; do not edit. Included by unicode.c only.",
        f" * \\p{{L}}, \\p{{N}}: node {cats['version']} (Unicode {cats['unicode']}).",
        f" * NFC data: Python unicodedata {unicodedata.unidata_version}.",
        " * White_Space: the Unicode property (U+0085 is space, U+FEFF is not). */",
        "#ifndef WENSHU_UNICODE_DATA_H",
        "#define WENSHU_UNICODE_DATA_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define UCD_FLAG_L {FLAG_L}",
        f"#define UCD_FLAG_N {FLAG_N}",
        f"#define UCD_FLAG_WS {FLAG_WS}",
        f"#define UCD_FLAG_NFC {FLAG_NFC}",
        "",
        "/* (first code point << 8) | UCD_FLAG_*; each range runs to the next entry. */",
    ]
    out += emit_u32_list("ucd_flag_ranges", flag_table)
    out += ["", "/* (first code point << 8) | canonical combining class, same scheme. */"]
    out += emit_u32_list("ucd_ccc_ranges", ccc_table)
    out += ["", "/* {code point, first, second (0: singleton)}: canonical decompositions,",
            " * sorted by code point; Hangul syllables are algorithmic. */"]
    out += emit_triples("ucd_decomp", decomp_table)
    out += ["", "/* {first, second, composite}: primary composites sorted by (first, second). */"]
    out += emit_triples("ucd_comp", comp_table)
    out += ["", "#endif /* WENSHU_UNICODE_DATA_H */", ""]
    with open(OUT, "w", encoding="ascii") as f:
        f.write("\n".join(out))
    print(f"{OUT}: {len(flag_table)} flag ranges, {len(ccc_table)} ccc ranges, "
          f"{len(decomp_table)} decompositions, {len(comp_table)} compositions", file=sys.stderr)


if __name__ == "__main__":
    main()
