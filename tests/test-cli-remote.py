#!/usr/bin/env python3
"""test-cli-remote.py: `draft`, `slides` and `clip` with --remote URL
--remote-model M [--api-key-env VAR], against `wenshu-cli serve` on the tiny
synth models (made here, as test-serve.py makes them).

The server runs the same engine on the same model, so a greedy (--temp 0)
remote run must give what the local run (-m) gives, wherever both send the
model the same tokens and enforce the same schema:
  - draft, kind 纪要: the saved Markdown draft is byte for byte the local one
    (header JSON and body). Kind 通知 cannot match: its header schema has a
    string prefix (the title starts with 关于), which the local sampler writes
    itself, while the remote schema carries it as "pattern": "^关于", which
    `serve` ignores (remote.h, wenshu_remote_schema_json); so for 通知 the
    remote header JSON is checked for its shape only, and the outputs are
    checked to exist and to read back (`wenshu-cli check`).
    The streamed body on stdout is compared with NUL bytes removed: the tiny
    random model emits byte tokens that decode to NUL; locally they are
    echoed raw, while the server's JSON deltas (C strings) cannot carry them.
    The Markdown draft stops at the first NUL in both cases (it is a C string).
  - draft --image on the vision model: the same Markdown as the local run with
    --mmproj --image (the server decodes the same PNG with the same engine).
  - slides: the outline JSON (--outline-out) follows the schema (the slide
    count asked for) and equals the local outline; the PPTX slides' XML are
    the local ones.
  - clip: the Markdown summary and the SRT chapters are written, with the
    local run's chapter times (decoding and planning stay local). The text
    cannot match the local run: locally a segment's frames are encoded as
    ONE video medium (qwen2vl merges frame pairs in time and sizes them by
    the video rules), while the chat API has no video part, so the remote
    turn sends each frame as a separate PNG image: other tokens, other text.
    The frames' temporary folder is gone afterwards (TMPDIR is private here).
  - a wrong API key: exit 1, the message names the URL and the refused key,
    and no output file is left (nor a temporary folder of frames).
  - bad flag combinations exit 2 with a message naming the conflict.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib
import zipfile

CLI = os.environ["WENSHU_CLI"]
failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def run(*args, env=None):
    return subprocess.run([CLI, *args], capture_output=True, timeout=120, env=env)


def why(p):
    """The end of a failed run's stderr, for a FAIL line; "" for a success."""
    return "" if p.returncode == 0 else p.stderr.decode("utf-8", "replace")[-400:]


def synth(*args):
    p = run("synth", *args)
    if p.returncode != 0:
        raise SystemExit("synth failed: " + p.stderr.decode())


class Server:
    """A `wenshu-cli serve` process on a free loopback port."""

    def __init__(self, tmp, name, *args):
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([CLI, "serve", "--port", "0", "-c", "8192", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.url = None
        deadline = time.time() + 60
        while self.url is None and time.time() < deadline and self.proc.poll() is None:
            for line in open(self.log_path, encoding="utf-8", errors="replace"):
                if line.startswith("listening on http://127.0.0.1:"):
                    self.url = line.split()[-1]
            time.sleep(0.05)
        if self.url is None:
            raise RuntimeError("serve did not start: " + open(self.log_path).read())

    def remote(self):
        return ["--remote", self.url, "--remote-model", "fixture"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def header_json(stderr, label):
    """The header JSON echoed after 版头（…）：, parsed (None after a FAIL)."""
    m = re.search(r"版头（[^）]*）：(.*)$", stderr.decode("utf-8", "replace"), re.M)
    try:
        return json.loads(m.group(1))
    except (AttributeError, ValueError) as e:
        check(False, "%s: the header JSON does not parse: %s" % (label, e))
        return None


def check_header_shape(h, kind, label):
    """The shape gw-draft.h's header schema promises."""
    if h is None:
        return
    check(isinstance(h.get("title"), str) and h["title"], "%s: title %r" % (label, h.get("title")))
    check(h.get("urgency") in ("", "特急", "加急"), "%s: urgency %r" % (label, h.get("urgency")))
    check(isinstance(h.get("cc"), list) and all(isinstance(x, str) for x in h["cc"]),
          "%s: cc %r" % (label, h.get("cc")))
    if kind != "纪要":
        r = h.get("recipients")
        check(isinstance(r, list) and all(isinstance(x, str) and x for x in r),
              "%s: recipients %r" % (label, r))


def draft_args(tmp, facts, kind, stem, *extra):
    return ["draft", "--kind", kind, "--issuer", "XX市人民政府", "--facts", facts,
            "--date", "2025年4月8日", "--temp", "0", "-n", "80",
            "--md", os.path.join(tmp, stem + ".md"), "-o", os.path.join(tmp, stem + ".docx"),
            "--pdf", os.path.join(tmp, stem + ".pdf"), *extra]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_draft(tmp, srv, model, facts):
    for kind in ("纪要", "通知"):
        loc = run(*draft_args(tmp, facts, kind, "local-" + kind, "-m", model))
        rem = run(*draft_args(tmp, facts, kind, "remote-" + kind, *srv.remote()))
        label = "draft %s --remote" % kind
        check(loc.returncode == 0, "draft %s local: exit %d %s" % (kind, loc.returncode,
                                                                  why(loc)))
        check(rem.returncode == 0, "%s: exit %d %s" % (label, rem.returncode, why(rem)))
        if rem.returncode or loc.returncode:
            continue
        check_header_shape(header_json(rem.stderr, label), kind, label)
        for ext in ("docx", "pdf", "md"):
            path = os.path.join(tmp, "remote-%s.%s" % (kind, ext))
            check(os.path.getsize(path) > 0, "%s: %s written" % (label, ext))
        check(zipfile.is_zipfile(os.path.join(tmp, "remote-%s.docx" % kind)),
              "%s: the DOCX is a zip" % label)
        c = run("check", os.path.join(tmp, "remote-%s.md" % kind))
        check(c.returncode in (0, 1), "%s: `check` reads the draft (exit %d)" % (label,
                                                                                c.returncode))
        if kind == "纪要":  # no string prefix in this schema: local and remote agree
            same = read(os.path.join(tmp, "local-纪要.md")) == read(os.path.join(tmp,
                                                                              "remote-纪要.md"))
            check(same, "%s: the Markdown draft equals the local one byte for byte" % label)
            check(loc.stdout.replace(b"\0", b"") == rem.stdout,
                  "%s: the streamed body equals the local one (NULs aside)" % label)
            check(header_json(loc.stderr, label) == header_json(rem.stderr, label),
                  "%s: the header JSON equals the local one" % label)


def check_draft_image(tmp, vsrv, vl_text, vl_proj, facts, image):
    loc = run(*draft_args(tmp, facts, "纪要", "local-img", "-m", vl_text, "--mmproj", vl_proj,
                          "--image", image))
    rem = run(*draft_args(tmp, facts, "纪要", "remote-img", *vsrv.remote(), "--image", image))
    check(loc.returncode == 0 and rem.returncode == 0,
          "draft --image: local exit %d, remote exit %d %s" % (loc.returncode, rem.returncode,
                                                              why(rem)))
    if loc.returncode == 0 and rem.returncode == 0:
        check(read(os.path.join(tmp, "local-img.md")) == read(os.path.join(tmp, "remote-img.md")),
              "draft --image --remote: the Markdown draft equals the local one byte for byte")
    bad = run(*draft_args(tmp, facts, "纪要", "bad-img", *vsrv.remote(), "--mmproj", vl_proj,
                          "--image", image))
    check(bad.returncode == 2 and b"--mmproj" in bad.stderr,
          "draft --remote --mmproj: refused (exit %d)" % bad.returncode)


def slide_xml(pptx):
    with zipfile.ZipFile(pptx) as z:
        return {n: z.read(n) for n in z.namelist() if re.match(r"ppt/slides/slide\d+\.xml$", n)}


def check_slides(tmp, srv, model):
    outs = {}
    for mode, flags in (("local", ["-m", model]), ("remote", srv.remote())):
        outline = os.path.join(tmp, "outline-%s.json" % mode)
        pptx = os.path.join(tmp, "deck-%s.pptx" % mode)
        p = run("slides", *flags, "--topic", "安全生产检查", "--slides", "3", "--temp", "0",
                "--outline-out", outline, "-o", pptx)
        check(p.returncode == 0 and p.stdout == b"slides 4\n",
              "slides %s: exit %d, %r %s" % (mode, p.returncode, p.stdout, why(p)))
        outs[mode] = (outline, pptx)
    if not all(os.path.exists(o) and os.path.exists(x) for o, x in outs.values()):
        return
    try:
        o = json.loads(read(outs["remote"][0]))
        check(isinstance(o.get("title"), str) and len(o.get("slides", [])) == 3,
              "slides --remote: the outline follows the schema (3 slides)")
    except ValueError as e:
        check(False, "slides --remote: the outline does not parse: %s" % e)
    check(read(outs["local"][0]) == read(outs["remote"][0]),
          "slides --remote: the outline equals the local one byte for byte")
    rem = slide_xml(outs["remote"][1])
    check(len(rem) == 4 and rem == slide_xml(outs["local"][1]),
          "slides --remote: the PPTX's %d slides equal the local ones" % len(rem))


def scanned_pdf(path):
    """A one-page PDF that is only an image (no text layer), written here:
    a 240 x 120 pt page showing a 60 x 30 RGB picture of stripes."""
    w, h = 60, 30
    rgb = b"".join(bytes((255 * (x // 6 % 2), 40 * (y // 5), 200)) for y in range(h)
                   for x in range(w))
    data = zlib.compress(rgb)
    content = b"q 240 0 0 120 0 0 cm /Im0 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 240 120] /Contents 4 0 R "
        b"/Resources << /XObject << /Im0 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(data))
        + data + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    with open(path, "wb") as f:
        f.write(bytes(out))


def check_scanned_slides(tmp, vsrv, vl_text, vl_proj):
    """A scanned PDF's page goes to the endpoint as a PNG of the rendered page:
    the server decodes the very pixels the local projector encodes."""
    scan = os.path.join(tmp, "scan.pdf")
    scanned_pdf(scan)
    private_tmp = os.path.join(tmp, "scan-tmp")
    os.mkdir(private_tmp)
    env = dict(os.environ, TMPDIR=private_tmp)
    outlines = []
    for mode, flags in (("local", ["-m", vl_text, "--mmproj", vl_proj]),
                        ("remote", vsrv.remote())):
        outline = os.path.join(tmp, "scan-outline-%s.json" % mode)
        p = run("slides", *flags, "--input", scan, "--slides", "2", "--temp", "0",
                "--outline-out", outline, "--outline-only", env=env)
        check(p.returncode == 0 and b"transcribing page 1 of 1" in p.stderr,
              "slides %s on a scanned PDF: exit %d %s" % (mode, p.returncode, why(p)))
        outlines.append(read(outline) if os.path.exists(outline) else None)
    check(outlines[0] is not None and outlines[0] == outlines[1],
          "slides --remote on a scanned PDF: the outline equals the local one byte for byte")
    check(os.listdir(private_tmp) == [], "slides --remote on a scanned PDF: the page's PNG "
          "folder is removed (%r)" % os.listdir(private_tmp))


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=60)


def cue_times(srt):
    return re.findall(r"\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d",
                      read(srt).decode("utf-8"))


def check_clip(tmp, vsrv, vl_text, vl_proj, clip):
    private_tmp = os.path.join(tmp, "clip-tmp")
    os.mkdir(private_tmp)
    env = dict(os.environ, TMPDIR=private_tmp)
    runs = {}
    for mode, flags in (("local", ["-m", vl_text, "--mmproj", vl_proj]),
                        ("remote", vsrv.remote())):
        md = os.path.join(tmp, "clip-%s.md" % mode)
        srt = os.path.join(tmp, "clip-%s.srt" % mode)
        p = run("clip", clip, *flags, "-o", md, "--srt", srt, "--temp", "0", "--min-chapter", "1",
                env=env)
        check(p.returncode == 0 and p.stdout == b"chapters 2\n",
              "clip %s: exit %d, %r %s" % (mode, p.returncode, p.stdout, why(p)))
        runs[mode] = (md, srt)
    check(os.listdir(private_tmp) == [], "clip --remote: the frames' folder is removed (%r)"
          % os.listdir(private_tmp))
    md, srt = runs["remote"]
    if not (os.path.exists(md) and os.path.exists(srt) and os.path.exists(runs["local"][1])):
        return
    text = read(md).decode("utf-8", "replace")
    check(text.startswith("# ") and text.count("\n## ") == 2,
          "clip --remote: the summary has a title and 2 chapters")
    times = cue_times(srt)
    check(len(times) == 2 and times == cue_times(runs["local"][1]),
          "clip --remote: the chapter times are the local ones: %r" % times)
    bad = run("clip", clip, *vsrv.remote(), "-m", vl_text, "-o", os.path.join(tmp, "bad.md"))
    check(bad.returncode == 2 and b"--remote" in bad.stderr,
          "clip --remote -m: refused (exit %d)" % bad.returncode)


def check_wrong_key(tmp, model, facts, clip):
    ksrv = Server(tmp, "key", "-m", model, "--api-key", "s3cret")
    env = dict(os.environ, WENSHU_TEST_KEY="wrong", TMPDIR=os.path.join(tmp, "key-tmp"))
    os.mkdir(env["TMPDIR"])
    key = ["--api-key-env", "WENSHU_TEST_KEY"]
    try:
        cases = [
            ("draft", draft_args(tmp, facts, "纪要", "key", *ksrv.remote(), *key),
             ["key.md", "key.docx", "key.pdf"]),
            ("slides", ["slides", *ksrv.remote(), *key, "--topic", "t", "--slides", "2",
                        "--outline-out", os.path.join(tmp, "key-outline.json"),
                        "-o", os.path.join(tmp, "key.pptx")], ["key-outline.json", "key.pptx"]),
            ("clip", ["clip", clip, *ksrv.remote(), *key, "-o", os.path.join(tmp, "key-clip.md"),
                      "--srt", os.path.join(tmp, "key.srt")], ["key-clip.md", "key.srt"]),
        ]
        for name, args, outputs in cases:
            p = run(*args, env=env)
            err = p.stderr.decode("utf-8", "replace")
            check(p.returncode == 1 and ksrv.url in err and "API key" in err and "401" in err,
                  "%s with a wrong key: exit %d, names the URL and the key: %s"
                  % (name, p.returncode, err.strip()[-300:].replace("\n", " | ")))
            left = [o for o in outputs if os.path.exists(os.path.join(tmp, o))]
            check(left == [], "%s with a wrong key: no output left (%r)" % (name, left))
        check(os.listdir(env["TMPDIR"]) == [], "clip with a wrong key: no temporary folder left")
        p = run(*draft_args(tmp, facts, "纪要", "key", *ksrv.remote(), "--api-key-env",
                            "WENSHU_TEST_UNSET_VARIABLE"))
        check(p.returncode == 2 and b"WENSHU_TEST_UNSET_VARIABLE" in p.stderr,
              "an unset --api-key-env variable: exit %d" % p.returncode)
        p = run(*draft_args(tmp, facts, "纪要", "key", "--remote", ksrv.url))
        check(p.returncode == 2 and b"--remote-model" in p.stderr,
              "--remote without --remote-model: exit %d" % p.returncode)
    finally:
        ksrv.stop()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "tiny.gguf")
        vl_text = os.path.join(tmp, "vl.gguf")
        vl_proj = os.path.join(tmp, "vl-proj.gguf")
        synth("--arch", "qwen2", "--preset", "tiny", "-o", model)
        synth("--arch", "qwen2vl", "--preset", "tiny", "-o", vl_text)
        synth("--mmproj", "qwen2vl_merger", "-o", vl_proj)
        facts = os.path.join(tmp, "facts.txt")
        with open(facts, "w", encoding="utf-8") as f:
            f.write("市政府决定于四月开展安全生产大检查，各区县负责落实。\n")
        clip = os.path.join(tmp, "clip.mp4")
        ffmpeg("-f", "lavfi", "-i", "color=red:s=160x90:r=10:d=3", "-f", "lavfi", "-i",
               "color=blue:s=160x90:r=10:d=3", "-filter_complex", "[0][1]concat=n=2:v=1:a=0[v]",
               "-map", "[v]", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", clip)
        image = os.path.join(tmp, "photo.png")
        ffmpeg("-f", "lavfi", "-i", "testsrc=s=96x64:d=1", "-frames:v", "1", image)
        srv = Server(tmp, "text", "-m", model)
        try:
            check_draft(tmp, srv, model, facts)
            check_slides(tmp, srv, model)
        finally:
            srv.stop()
        vsrv = Server(tmp, "vision", "-m", vl_text, "--mmproj", vl_proj)
        try:
            check_draft_image(tmp, vsrv, vl_text, vl_proj, facts, image)
            check_clip(tmp, vsrv, vl_text, vl_proj, clip)
            check_scanned_slides(tmp, vsrv, vl_text, vl_proj)
        finally:
            vsrv.stop()
        check_wrong_key(tmp, model, facts, clip)
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
