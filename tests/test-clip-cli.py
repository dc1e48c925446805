#!/usr/bin/env python3
"""test-clip-cli.py: `wenshu-cli clip` end to end.

Media is made here with the ffmpeg CLI:
  - scenes.mp4: solid colours red 0-8 s, green 8-17 s, blue 17-24 s (10 fps,
    a keyframe every second, a sine audio track);
  - long.mp4: ten minutes of small colour scenes, a new colour every 25 s;
  - audio-only.m4a, a truncated MP4, a text file named .mp4, a 0-frame clip.
Checked:
  - without a model: the SRT and WebVTT chapters (parsed here from the
    specs' cue syntax) start at 0 and within 0.5 s of every cut, times are
    monotonic; the Markdown lists the chapters; the contact sheet PNG (read
    with PIL) has one tile per chapter, each the scene's colour;
    highlights of chapters 1 and 3 last 8 + 7 s within 0.1 s (ffprobe), with
    the source's codec and size;
  - with a tiny qwen2vl model and projector: the map-reduce runs (the
    summary and every chapter title are in the Markdown, the timings JSON
    splits decode, encode and generate); on the ten-minute clip with 25 s
    chapters (24 segments, two reduce groups and a final step) likewise;
  - bad input: exit status 1 or 2 with a message naming the file, and no
    output written.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

from PIL import Image

CLI = os.environ["WENSHU_CLI"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args, timeout=600):
    return subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y"] + list(args), check=True)


def make_scenes(path, colours, seconds, size="320x180", rate=10):
    inputs, labels = [], ""
    for i, (c, d) in enumerate(zip(colours, seconds)):
        inputs += ["-f", "lavfi", "-i", "color=%s:s=%s:r=%d:d=%g" % (c, size, rate, d)]
        labels += "[%d]" % i
    total = sum(seconds)
    inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=%g" % total]
    ffmpeg(*inputs, "-filter_complex", "%sconcat=n=%d:v=1:a=0[v]" % (labels, len(colours)),
           "-map", "[v]", "-map", "%d:a" % len(colours), "-c:v", "libx264", "-g", str(rate),
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path)


CUE = re.compile(r"(\d\d+):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d+):(\d\d):(\d\d)[,.](\d\d\d)")


def cue_times(text):
    out = []
    for m in CUE.finditer(text):
        g = [int(x) for x in m.groups()]
        out.append((g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000,
                    g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000))
    return out


def check_cues(times, cuts, label):
    check(times and abs(times[0][0]) < 1e-6, "%s: the first chapter starts at %r" % (label, times[:1]))
    for (a, b), (c, _) in zip(times, times[1:]):
        check(a < b <= c, "%s: cues out of order %r" % (label, times))
    starts = [a for a, _ in times[1:]]
    for cut in cuts:
        check(any(abs(s - cut) <= 0.5 for s in starts), "%s: no chapter within 0.5 s of the cut "
              "at %g (starts %r)" % (label, cut, starts))
    check(len(starts) == len(cuts), "%s: %d chapters for %d cuts" % (label, len(starts) + 1,
                                                                     len(cuts) + 1))


def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of",
                          "json", path], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else None


def without_model(tmp, scenes):
    o = {k: os.path.join(tmp, "a." + k) for k in ("md", "srt", "vtt", "png")}
    hl = os.path.join(tmp, "hl.mp4")
    r = run("clip", scenes, "-o", o["md"], "--srt", o["srt"], "--vtt", o["vtt"], "--sheet",
            o["png"], "--highlights", hl, "--chapters", "1,3")
    check(r.returncode == 0, "clip without a model: exit %d: %s" % (r.returncode, r.stderr[-500:]))
    if r.returncode != 0:
        return
    srt = open(o["srt"], encoding="utf-8").read()
    vtt = open(o["vtt"], encoding="utf-8").read()
    check(vtt.startswith("WEBVTT"), "the WebVTT file lacks its header")
    check(" --> " in srt and "," in srt.split(" --> ")[0], "the SRT cue times use ','")
    check_cues(cue_times(srt), [8, 17], "SRT")
    check_cues(cue_times(vtt), [8, 17], "WebVTT")
    md = open(o["md"], encoding="utf-8").read()
    check(md.count("\n## [") == 3, "the Markdown has %d chapters" % md.count("\n## ["))
    img = Image.open(o["png"]).convert("RGB")
    want = [(255, 0, 0), (0, 128, 0), (0, 0, 255)]
    # tiles per clip.h's formula: margin 8, thumb 240 x 135, label 22, 4 columns
    check(img.size == (8 + 3 * 248, 8 + 135 + 22 + 8),
          "the contact sheet is %r, want %r" % (img.size, (8 + 3 * 248, 8 + 135 + 22 + 8)))
    for k, colour in enumerate(want):
        px = img.getpixel((8 + k * 248 + 120, 8 + 67))
        check(all(abs(a - b) < 40 for a, b in zip(px, colour)),
              "tile %d is %r, want about %r" % (k + 1, px, colour))
    src, out = probe(scenes), probe(hl)
    check(out is not None, "the highlights file does not probe")
    if out:
        duration = float(out["format"]["duration"])
        check(abs(duration - 15.0) <= 0.1, "highlights last %.3f s, want 15" % duration)
        sv = [s for s in src["streams"] if s["codec_type"] == "video"][0]
        ov = [s for s in out["streams"] if s["codec_type"] == "video"][0]
        for key in ("codec_name", "width", "height", "pix_fmt", "profile"):
            check(sv.get(key) == ov.get(key), "highlights %s %r, source %r"
                  % (key, ov.get(key), sv.get(key)))


def with_model(tmp, scenes, long_clip):
    text = os.path.join(tmp, "tiny-qwen2vl.gguf")
    proj = os.path.join(tmp, "tiny-proj.gguf")
    for args in (["synth", "--arch", "qwen2vl", "--preset", "tiny", "-o", text],
                 ["synth", "--mmproj", "qwen2vl_merger", "-o", proj]):
        r = run(*args)
        if r.returncode != 0:
            raise SystemExit("synth failed: " + r.stderr)
    for video, cuts, extra, label in (
            (scenes, [8, 17], [], "scenes"),
            (long_clip, [25 * k for k in range(1, 24)], ["--max-chapter", "40", "--fps", "0.5"],
             "ten minutes")):
        md, srt = os.path.join(tmp, label + ".md"), os.path.join(tmp, label + ".srt")
        r = run("clip", video, "-m", text, "--mmproj", proj, "-o", md, "--srt", srt,
                "--timings", "-c", "4096", "--temp", "1.0", *extra)
        check(r.returncode == 0, "%s with the model: exit %d: %s"
              % (label, r.returncode, r.stderr[-800:]))
        if r.returncode != 0:
            continue
        timings = json.loads(r.stdout.strip().splitlines()[-1])
        check(timings["encode_s"] > 0 and timings["generate_s"] > 0 and timings["decode_s"] > 0,
              "%s: timings %r" % (label, timings))
        print("%s: %r" % (label, timings))
        times = cue_times(open(srt, encoding="utf-8").read())
        check_cues(times, cuts, label)
        body = open(md, encoding="utf-8").read()
        n_chapters = body.count("\n## [")
        check(n_chapters == len(cuts) + 1, "%s: %d chapters in the Markdown" % (label, n_chapters))
        titles = re.findall(r"^## \[[0-9:]+\] (.*)$", body, re.M)
        check(len(titles) == n_chapters and all(t.strip() and not t.startswith("Chapter")
                                                for t in titles),
              "%s: chapters without the model's titles: %r" % (label, titles[:3]))


def bad_inputs(tmp):
    audio = os.path.join(tmp, "audio-only.m4a")
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac", audio)
    good = os.path.join(tmp, "short.mp4")
    make_scenes(good, ["red", "blue"], [3, 3])
    truncated = os.path.join(tmp, "truncated.mp4")
    with open(good, "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 3])
    text = os.path.join(tmp, "notes.mp4")
    with open(text, "w") as f:
        f.write("这不是视频。\n" * 50)
    empty = os.path.join(tmp, "zero.mp4")
    ffmpeg("-f", "lavfi", "-i", "color=red:s=64x64:r=10:d=1", "-frames:v", "0", "-c:v",
           "libx264", empty)
    out = os.path.join(tmp, "bad.md")
    for path, what in ((audio, "no video stream"), (truncated, "truncated"),
                       (text, "not a media file"), (empty, "0-second clip"),
                       (os.path.join(tmp, "missing.mp4"), "missing file")):
        r = run("clip", path, "-o", out)
        if what == "truncated" and r.returncode == 0:
            continue  # a truncated file keeps its decodable part
        check(r.returncode in (1, 2), "%s: exit %d" % (what, r.returncode))
        check(path in r.stderr, "%s: the message does not name the file: %s"
              % (what, r.stderr.strip()[-300:]))
        check(not os.path.exists(out), "%s: %s was written" % (what, out))
    r = run("clip", good, "-o", out, "-m", os.path.join(tmp, "x.gguf"))
    check(r.returncode == 2 and "mmproj" in r.stderr, "a model without --mmproj: %s" % r.stderr)
    r = run("clip", good, "--highlights", os.path.join(tmp, "h.mp4"), "--chapters", "3")
    check(r.returncode == 2 and "chapters" in r.stderr, "a chapter out of range: exit %d %s"
          % (r.returncode, r.stderr))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        scenes = os.path.join(tmp, "scenes.mp4")
        make_scenes(scenes, ["red", "green", "blue"], [8, 9, 7])
        colours = ["red", "green", "blue", "yellow", "white", "purple", "orange", "gray"]
        long_clip = os.path.join(tmp, "long.mp4")
        make_scenes(long_clip, [colours[k % len(colours)] for k in range(24)], [25] * 24,
                    size="160x90", rate=5)
        without_model(tmp, scenes)
        with_model(tmp, scenes, long_clip)
        bad_inputs(tmp)
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("ok")


main()
