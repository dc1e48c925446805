#!/usr/bin/python3
"""test-clip.py: libwenshu-clip on clips generated here with the ffmpeg CLI,
through tests/clip-driver (the engine samples frames and finds cuts; the
library plans segments, writes chapter files, draws the contact sheet and
cuts highlights). Every expectation comes from how the clips were made or
from the specs, never from the code under test:

- colours.mp4: solid-colour scenes (red 0-7 s, green 7-15, blue 15-22,
  yellow 22-30, magenta 30-36), 320x180, 10 fps, GOP 10, a 440 Hz sine:
  chapters start within 0.5 s of the cuts; the contact sheet has the size of
  the formula in clip.h and one tile a scene, in the scenes' colours (PIL);
  highlights read back by ffprobe: duration = the ranges' sum +-0.1 s, the
  source's stream parameters and extradata, the source's packets (hashes).
- long.mp4: 10 minutes of testsrc2, 160x90, 5 fps, hue-rotated at known
  times: chapters within 0.5 s of them, the whole duration covered, no
  segment over max_seconds, and a 150 s scene split evenly. Sampling and cut
  detection times are printed (a benchmark, not an assertion).
- SRT and WebVTT read back by parsers written here from the specs (SubRip
  blocks; WEBVTT header, cue timings HH:MM:SS.mmm), Markdown headings.
- Bad input: no video stream, a corrupt file, a 0-second clip, a missing
  file: exit 1, one line naming the file, no output written.

usage: test-clip.py CLIP-DRIVER
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

from PIL import Image

failures = []

COLOUR_SCENES = [  # (name, start, end, RGB as the decoder gives it back)
    ("red", 0, 7, (255, 0, 0)),
    ("green", 7, 15, (0, 128, 0)),
    ("blue", 15, 22, (0, 0, 255)),
    ("yellow", 22, 30, (255, 255, 0)),
    ("magenta", 30, 36, (255, 0, 255)),
]
LONG_CUTS = [60, 115, 180, 330, 390, 450, 540]
LONG_DURATION = 600
MAX_SECONDS = 120.0  # clip_plan_params_default
CUT_TOLERANCE = 0.5


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def ffmpeg(args):
    r = run(["ffmpeg", "-v", "error", "-y"] + args)
    if r.returncode != 0:
        raise RuntimeError("ffmpeg failed: " + r.stderr)


def make_colours(path):
    inputs, labels = [], []
    for i, (name, start, end, _) in enumerate(COLOUR_SCENES):
        inputs += ["-f", "lavfi", "-i", f"color={name}:s=320x180:r=10:d={end - start}"]
        labels.append(f"[{i}:v]")
    n = len(COLOUR_SCENES)
    total = COLOUR_SCENES[-1][2]
    inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={total}"]
    ffmpeg(inputs + ["-filter_complex", "".join(labels) + f"concat=n={n}:v=1:a=0[v]",
                     "-map", "[v]", "-map", f"{n}:a", "-c:v", "libx264", "-g", "10",
                     "-pix_fmt", "yuv420p", "-c:a", "aac", path])


def make_long(path):
    steps = "+".join(f"gte(t,{c})" for c in LONG_CUTS)
    ffmpeg(["-f", "lavfi", "-i", f"testsrc2=s=160x90:r=5:d={LONG_DURATION}",
            "-f", "lavfi", "-i", f"sine=frequency=300:sample_rate=22050:duration={LONG_DURATION}",
            "-vf", f"hue=h='72*({steps})'", "-c:v", "libx264", "-g", "50",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", path])


def analyse(driver, path, *extra):
    r = run([driver, "analyse", path] + list(extra))
    if not check(r.returncode == 0, f"analyse {path} {extra}: {r.stderr.strip()}"):
        return None
    return json.loads(r.stdout)


def expected_segments(duration, cuts, max_seconds):
    """The known scene boundaries, each scene longer than max split evenly."""
    bounds = [0.0] + [float(c) for c in cuts] + [float(duration)]
    starts = []
    for a, b in zip(bounds, bounds[1:]):
        parts = math.ceil((b - a) / max_seconds) if b - a > max_seconds else 1
        starts += [a + (b - a) * i / parts for i in range(parts)]
    return starts


def check_segments(info, cuts, what, max_seconds=MAX_SECONDS):
    segs = info["segments"]
    duration = info["duration"]
    check(abs(segs[0]["start"]) < 1e-9, f"{what}: first segment starts at {segs[0]['start']}")
    check(abs(segs[-1]["end"] - duration) < 1e-6, f"{what}: last segment ends at "
          f"{segs[-1]['end']}, duration {duration}")
    for a, b in zip(segs, segs[1:]):
        check(abs(a["end"] - b["start"]) < 1e-9, f"{what}: gap or overlap at {a['end']}")
    for s in segs:
        check(s["end"] - s["start"] <= max_seconds + 1e-6,
              f"{what}: segment {s['start']}-{s['end']} longer than {max_seconds} s")
    want = expected_segments(duration, cuts, max_seconds)
    got = [s["start"] for s in segs]
    if check(len(got) == len(want), f"{what}: {len(got)} segments {got}, want {want}"):
        errors = [abs(g - w) for g, w in zip(got, want)]
        check(max(errors) <= CUT_TOLERANCE, f"{what}: chapter starts {got}, want {want} "
              f"+-{CUT_TOLERANCE}")
        cut_errors = [min(abs(g - c) for g in got) for c in cuts]
        print(f"{what}: {len(cuts)} cuts, worst chapter-start error {max(cut_errors):.3f} s")
    # Frames: each segment's frames lie in it, and all are assigned once.
    times = info["frame_times"]
    n_assigned = 0
    for i, s in enumerate(segs):
        check(s["first_frame"] == n_assigned, f"{what}: segment {i} frames do not follow on")
        for t in times[s["first_frame"]:s["first_frame"] + s["n_frames"]]:
            last = i == len(segs) - 1
            check(t >= s["start"] - 1e-9 or i == 0, f"{what}: frame {t} before segment {i}")
            check(t < s["end"] or last, f"{what}: frame {t} after segment {i}")
        n_assigned += s["n_frames"]
        kt = s["keyframe_time"]
        nearest = min(abs(t - (s["start"] + s["end"]) / 2) for t in times)
        check(abs(abs(kt - (s["start"] + s["end"]) / 2) - nearest) < 1e-9,
              f"{what}: segment {i} keyframe at {kt} is not the frame nearest its middle")
    check(n_assigned == info["n_frames"], f"{what}: {n_assigned} of {info['n_frames']} "
          "frames assigned")


def test_colour_cuts(driver, colours):
    info = analyse(driver, colours)
    if info:
        cuts = [s[1] for s in COLOUR_SCENES[1:]]
        check(abs(info["duration"] - COLOUR_SCENES[-1][2]) < 0.2,
              f"colours: duration {info['duration']}")
        check_segments(info, cuts, "colours")
        print(f"colours: sampling {info['sample_seconds']:.3f} s, cuts {info['cuts_seconds']:.3f} s")


def test_long(driver, long_clip):
    info = analyse(driver, long_clip)
    if not info:
        return
    check(abs(info["duration"] - LONG_DURATION) < 0.5, f"long: duration {info['duration']}")
    check_segments(info, LONG_CUTS, "long")
    print(f"long (10 min, 160x90, 5 fps): {info['n_frames']} frames sampled in "
          f"{info['sample_seconds']:.3f} s, scene cuts in {info['cuts_seconds']:.3f} s")
    # Tighter max: every scene splits, the cuts still start chapters.
    info = analyse(driver, long_clip, "--max", "50")
    if info:
        check_segments(info, LONG_CUTS, "long --max 50", max_seconds=50.0)


def tile_origin(k, cols, thumb_w, thumb_h, label_h, margin):
    col, row = k % cols, k // cols
    return margin + col * (thumb_w + margin), margin + row * (thumb_h + label_h + margin)


def mean_rgb(img, box):
    region = img.crop(box)
    pixels = list(region.getdata())
    return tuple(sum(p[c] for p in pixels) / len(pixels) for c in range(3))


def test_contact_sheet(driver, colours, tmp):
    sheet = os.path.join(tmp, "sheet.png")
    cols, thumb_w = 3, 160
    info = analyse(driver, colours, "--sheet", sheet, "--cols", str(cols),
                   "--thumb-width", str(thumb_w))
    if not info or not check(os.path.exists(sheet), "sheet: no PNG written"):
        return
    n = len(COLOUR_SCENES)
    margin, label_h = info["sheet"]["margin"], info["sheet"]["label_height"]
    thumb_h = max(1, round(thumb_w * 180 / 320))
    rows = math.ceil(n / cols)
    want = (margin + min(cols, n) * (thumb_w + margin),
            margin + rows * (thumb_h + label_h + margin))
    img = Image.open(sheet)
    check(img.format == "PNG" and img.mode == "RGB", f"sheet: {img.format} {img.mode}")
    check(img.size == want, f"sheet: size {img.size}, want {want}")
    img = img.convert("RGB")
    n_tiles = 0
    for k in range(rows * cols):
        x, y = tile_origin(k, cols, thumb_w, thumb_h, label_h, margin)
        colour = mean_rgb(img, (x + thumb_w // 4, y + thumb_h // 4,
                                x + 3 * thumb_w // 4, y + 3 * thumb_h // 4))
        is_tile = any(abs(c - 255) > 30 for c in colour)
        n_tiles += is_tile
        label = img.crop((x, y + thumb_h, x + thumb_w, y + thumb_h + label_h)).convert("L")
        has_text = min(label.getdata()) < 128
        if k < n:
            want_rgb = COLOUR_SCENES[k][3]
            check(all(abs(c - w) < 40 for c, w in zip(colour, want_rgb)),
                  f"sheet: tile {k} colour {colour}, want {COLOUR_SCENES[k][0]} {want_rgb}")
            check(has_text, f"sheet: tile {k} has no timestamp label")
        else:
            check(not is_tile and not has_text, f"sheet: cell {k} should be empty")
    check(n_tiles == n, f"sheet: {n_tiles} tiles, want {n}")
    print(f"sheet: {img.size[0]}x{img.size[1]}, {n_tiles} tiles")


# ---- SRT and WebVTT parsers, from the specs ----

SRT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d),(\d{3})"
VTT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})"


def to_seconds(h, m, s, ms):
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text):
    """SubRip: blocks separated by blank lines: a counter from 1, a timing
    line 'start --> end', then one or more text lines."""
    cues = []
    blocks = text.replace("\r\n", "\n").strip("\n").split("\n\n")
    for i, block in enumerate(blocks):
        lines = block.split("\n")
        if len(lines) < 3 or lines[0] != str(i + 1):
            raise ValueError(f"SRT block {i + 1} malformed: {block!r}")
        m = re.fullmatch(SRT_TIME + " --> " + SRT_TIME, lines[1])
        if not m:
            raise ValueError(f"SRT timing line malformed: {lines[1]!r}")
        g = m.groups()
        if any(not l.strip() or "-->" in l for l in lines[2:]):
            raise ValueError(f"SRT cue text malformed: {lines[2:]!r}")
        cues.append((to_seconds(*g[:4]), to_seconds(*g[4:]), "\n".join(lines[2:])))
    return cues


def parse_vtt(text):
    """WebVTT: 'WEBVTT' first, a blank line, then cues: an optional
    identifier (no '-->'), a timing line, text lines up to a blank line.
    Text may not contain '-->', raw '<' or a bare '&'."""
    lines = text.split("\n")
    if not (lines[0] == "WEBVTT" or lines[0].startswith("WEBVTT ")) or lines[1] != "":
        raise ValueError(f"WebVTT header missing: {lines[:2]!r}")
    cues = []
    blocks = "\n".join(lines[2:]).strip("\n").split("\n\n")
    for block in blocks:
        ls = block.split("\n")
        if "-->" not in ls[0]:
            ls = ls[1:]
        m = re.fullmatch(VTT_TIME + " --> " + VTT_TIME + r"( .*)?", ls[0])
        if not m:
            raise ValueError(f"WebVTT timing line malformed: {ls[0]!r}")
        g = m.groups()
        body = ls[1:]
        if not body or any("-->" in l or "<" in l or re.search(r"&(?!amp;|lt;|gt;)", l)
                           for l in body):
            raise ValueError(f"WebVTT cue text malformed: {body!r}")
        text = "\n".join(body).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        cues.append((to_seconds(*g[:4]), to_seconds(*g[4:8]), text))
    return cues


def one_line(title):
    """The sanitising rule of clip.h: whitespace runs to one space, trimmed,
    '-->' to '->' until none is left."""
    t = " ".join(title.split())
    while "-->" in t:
        t = t.replace("-->", "->")
    return t


def check_cues(cues, chapters, what):
    check(len(cues) == len(chapters), f"{what}: {len(cues)} cues, want {len(chapters)}")
    for i, ((start, end, text), ch) in enumerate(zip(cues, chapters)):
        want_end = min(ch[1], chapters[i + 1][0]) if i + 1 < len(chapters) else ch[1]
        check(abs(start - ch[0]) < 0.0006, f"{what}: cue {i + 1} starts {start}, want {ch[0]}")
        check(abs(end - want_end) < 0.0006, f"{what}: cue {i + 1} ends {end}, want {want_end}")
        want_title = one_line(ch[2]) or f"Chapter {i + 1}"
        check(text == want_title, f"{what}: cue {i + 1} text {text!r}, want {want_title!r}")
        check(start < end, f"{what}: cue {i + 1} is empty or backwards")
    for a, b in zip(cues, cues[1:]):
        check(b[0] > a[0] and b[0] >= a[1], f"{what}: cues overlap or go back: {a} {b}")


def test_chapter_files(driver, tmp):
    chapters = [  # start, end, title, summary
        (0.0, 7.25, "Intro\nsecond line", "The red part.\n\nStill red."),
        (7.0, 15.5, "A --> B --->", "Green.\n# not a heading"),  # end overlaps the next
        (15.5, 22.0, "Ties & <tags>", ""),
        (22.0, 3725.125, "", "Long yellow part."),
    ]
    srt, vtt, md = (os.path.join(tmp, f"ch.{e}") for e in ("srt", "vtt", "md"))
    args = [driver, "chapters", "--srt", srt, "--vtt", vtt, "--md", md, "--title", "Training\nclip",
            "--summary", "Overall summary."]
    for c in chapters:
        args += [repr(c[0]), repr(c[1]), c[2], c[3]]
    r = run(args)
    if not check(r.returncode == 0, f"chapters: {r.stderr.strip()}"):
        return
    with open(srt, encoding="utf-8") as f:
        srt_text = f.read()
    with open(vtt, encoding="utf-8") as f:
        vtt_text = f.read()
    try:
        check_cues(parse_srt(srt_text), chapters, "srt")
        check("01:02:05,125" in srt_text, "srt: hour field missing from 3725.125 s")
    except ValueError as e:
        check(False, f"srt: {e}")
    try:
        check_cues(parse_vtt(vtt_text), chapters, "vtt")
    except ValueError as e:
        check(False, f"vtt: {e}")
    with open(md, encoding="utf-8") as f:
        md_lines = f.read().split("\n")
    check(md_lines[0] == "# Training clip", f"md: title line {md_lines[0]!r}")
    heads = [l for l in md_lines if l.startswith("#")]
    want = ["# Training clip"] + [
        "## [%02d:%02d:%02d] %s" % (int(c[0]) // 3600, int(c[0]) // 60 % 60, int(c[0]) % 60,
                                    one_line(c[2]) or f"Chapter {i + 1}")
        for i, c in enumerate(chapters)]
    check(heads == want, f"md: headings {heads}, want {want}")
    check("Still red." in md_lines and "Green. # not a heading" in md_lines,
          "md: chapter summaries missing or not joined into paragraphs")
    print(f"chapters: SRT and WebVTT parse, {len(chapters)} cues, monotonic")

    # Refused: starts going back. Nothing is written and the file is named.
    bad = os.path.join(tmp, "bad.srt")
    r = run([driver, "chapters", "--srt", bad, "10", "20", "b", "", "5", "8", "a", ""])
    check(r.returncode == 1 and bad in r.stderr and not os.path.exists(bad),
          f"chapters: backwards starts not refused cleanly: {r.stderr.strip()!r}")


# ---- highlights ----

def ffprobe_json(path, *args):
    r = run(["ffprobe", "-v", "error", "-of", "json"] + list(args) + [path])
    if r.returncode != 0:
        raise RuntimeError(f"ffprobe {path}: {r.stderr}")
    return json.loads(r.stdout)


def packet_hashes(path, stream):
    """(pts seconds, md5) of each packet of the first `stream` ('v' or 'a')
    stream, in file order, from ffmpeg's framemd5 muxer with stream copy."""
    r = run(["ffmpeg", "-v", "error", "-i", path, "-map", f"0:{stream}:0", "-c", "copy",
             "-f", "framemd5", "-"])
    tb, out = None, []
    for line in r.stdout.splitlines():
        m = re.match(r"#tb 0: (\d+)/(\d+)", line)
        if m:
            tb = int(m.group(1)) / int(m.group(2))
        if line.startswith("#") or not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        out.append((int(fields[2]) * tb, fields[5]))
    return out


def video_keyframes(path):
    info = ffprobe_json(path, "-select_streams", "v:0", "-show_entries",
                        "packet=pts_time,flags")
    return sorted(float(p["pts_time"]) for p in info["packets"] if "K" in p["flags"])


STREAM_KEYS = ["codec_name", "profile", "codec_type", "width", "height", "pix_fmt",
               "sample_rate", "channels", "channel_layout", "extradata_hash", "level",
               "r_frame_rate"]


def streams_of(path):
    info = ffprobe_json(path, "-show_data_hash", "md5", "-show_streams", "-show_format")
    return info["streams"], float(info["format"]["duration"])


def test_highlights(driver, colours, tmp):
    keyframes = video_keyframes(colours)
    # Ranges: two starting at keyframes, and one (3.5 s) that is not: it
    # must begin at the keyframe at or before it.
    ranges = [(7.0, 15.0), (22.0, 30.0)]
    odd_start = 3.5
    odd_key = max(k for k in keyframes if k <= odd_start + 1e-6)
    for a, _ in ranges:
        check(any(abs(k - a) < 1e-6 for k in keyframes), f"highlights: {a} s is not a keyframe "
              f"of the test clip ({keyframes[:12]}...)")
    cases = [("hl.mp4", ranges, sum(b - a for a, b in ranges)),
             ("hl-odd.mkv", [(odd_start, 6.0)], 6.0 - odd_key)]
    src_streams, _ = streams_of(colours)
    src_video = packet_hashes(colours, "v")
    src_audio = {h for _, h in packet_hashes(colours, "a")}
    for name, chosen, want_duration in cases:
        out = os.path.join(tmp, name)
        args = [driver, "highlights", colours, out]
        for a, b in chosen:
            args += [str(a), str(b)]
        r = run(args)
        if not check(r.returncode == 0, f"highlights {name}: {r.stderr.strip()}"):
            continue
        streams, duration = streams_of(out)
        check(abs(duration - want_duration) <= 0.1,
              f"highlights {name}: duration {duration}, want {want_duration} +-0.1")
        check(len(streams) == 2, f"highlights {name}: {len(streams)} streams, want 2")
        for s_out in streams:
            s_src = next(s for s in src_streams if s["codec_type"] == s_out["codec_type"])
            for key in STREAM_KEYS:
                check(s_out.get(key) == s_src.get(key), f"highlights {name}: {key} "
                      f"{s_out.get(key)!r}, source {s_src.get(key)!r}")
        # No re-encode: the video packets are the source's, in the same order:
        # for each range those from the keyframe at or before its start up to
        # its end; the audio packets are all source packets.
        want_hashes = []
        for a, b in chosen:
            key = max(k for k in keyframes if k <= a + 1e-6)
            want_hashes += [h for t, h in src_video if key - 1e-6 <= t < b - 1e-6]
        got_hashes = [h for _, h in packet_hashes(out, "v")]
        check(got_hashes == want_hashes, f"highlights {name}: {len(got_hashes)} video packets "
              f"differ from the source's {len(want_hashes)} (re-encoded or cut wrong)")
        got_audio = [h for _, h in packet_hashes(out, "a")]
        check(got_audio and all(h in src_audio for h in got_audio),
              f"highlights {name}: audio packets not copied from the source")
        r = run(["ffmpeg", "-v", "error", "-i", out, "-f", "null", "-"])
        check(r.returncode == 0 and not r.stderr.strip(),
              f"highlights {name}: decoding reports errors: {r.stderr.strip()[:200]}")
        same = "identical to" if got_hashes == want_hashes else "DIFFERENT from"
        print(f"highlights {name}: {duration:.3f} s (want {want_duration:.3f}), "
              f"{len(got_hashes)} video packets {same} the source's")


# ---- bad input ----

def test_bad_input(driver, colours, tmp):
    audio_only = os.path.join(tmp, "audio-only.mp4")
    ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac", audio_only])
    # Corrupt: a real MP4 cut off before its index (moov), and text named .mp4.
    truncated = os.path.join(tmp, "truncated.mp4")
    with open(colours, "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[:len(data) // 2])
    text = os.path.join(tmp, "text.mp4")
    with open(text, "w") as f:
        f.write("This is a meeting agenda, not a video.\n" * 50)
    zero = os.path.join(tmp, "zero.mp4")
    ffmpeg(["-f", "lavfi", "-i", "color=red:s=64x64:r=10", "-t", "0", "-c:v", "libx264", zero])
    missing = os.path.join(tmp, "missing.mp4")
    corrupt_words = ["media", "format", "invalid", "Invalid"]
    cases = [(audio_only, ["video"]), (truncated, corrupt_words), (text, corrupt_words),
             (zero, ["duration", "empty", "frame"]), (missing, ["no such", "No such", "cannot"])]
    for path, words in cases:
        sheet = os.path.join(tmp, "bad-sheet.png")
        hl = os.path.join(tmp, "bad-hl.mp4")
        for args, out in [(["analyse", path, "--sheet", sheet], sheet),
                          (["highlights", path, hl, "0", "1"], hl)]:
            r = run([driver] + args)
            what = f"bad input {os.path.basename(path)} ({args[0]})"
            msg = r.stderr.strip()
            check(r.returncode == 1, f"{what}: rc {r.returncode}, want 1")
            check(path in msg and "\n" not in msg, f"{what}: message {msg!r} is not one line "
                  "naming the file")
            check(any(w in msg for w in words), f"{what}: message {msg!r} lacks any of {words}")
            check(r.stdout == "" and not os.path.exists(out), f"{what}: output written")
            leftovers = [f for f in os.listdir(tmp) if f.startswith("bad-")]
            check(not leftovers, f"{what}: temporary files left: {leftovers}")
            print(f"{what}: {msg}")


def main():
    driver = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="test-clip-") as tmp:
        colours = os.path.join(tmp, "colours.mp4")
        long_clip = os.path.join(tmp, "long.mp4")
        make_colours(colours)
        make_long(long_clip)
        test_colour_cuts(driver, colours)
        test_long(driver, long_clip)
        test_contact_sheet(driver, colours, tmp)
        test_chapter_files(driver, tmp)
        test_highlights(driver, colours, tmp)
        test_bad_input(driver, colours, tmp)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all clip checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
