#!/usr/bin/env python3
"""Video sampling and scene cuts (eng_video_sample, eng_video_scene_cuts,
through `wenshu-cli frames CLIP --json [--ppm-dir DIR]`).

All media is made here, in a temporary directory, with the ffmpeg CLI
(lavfi sources); the test skips (77) without it.

- A 10 s testsrc2 clip at 25 fps: at 2 fps every sampled frame is within
  one frame period (0.04 s) of its wanted time k / 2, and the counts obey
  --fps, --min-frames and --max-frames (a short clip gets min frames spread
  evenly, a long one max frames at a lowered rate). The pixels of some
  frames are compared with the ffmpeg CLI's own decode of frames n-1, n and
  n+1 (n = time * 25): testsrc2 moves, so only the right frame is close.
  Clips with a display rotation (90, 180, 270) come out turned as the
  ffmpeg CLI's autorotate turns them.
- Solid-colour scenes (red 2 s, blue 3 s, green 1.5 s, testsrc 2 s) in MP4
  (H.264 when the CLI has libx264, else MPEG-4 part 2) and in AVI (MPEG-4
  part 2): cuts at 2.0, 5.0 and 6.5 s found within 0.2 s and no others,
  and the solid frames have their colour (mean within 4 levels). The
  testsrc2 clip has no cut; testsrc2, SMPTE bars and a zooming mandelbrot
  in a row have the two cuts between them and none within.
- A 60 s 1280x720 clip: --max-frames 16 gives 16 frames spread over the
  whole clip; the default sampling (120 frames) is timed and reported.
- Broken inputs: audio only (m4a, wav), an MP4 cut at half its size (moov
  at the end: an error; moov first: frames up to the cut, or an error),
  a text file, an empty file, a still PNG, a missing file. Each must fail
  with a message naming the file and the problem, or (truncated) return
  the frames before the cut, and never crash.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
except ImportError:
    print("numpy missing: skip")
    sys.exit(77)

CLI = os.environ.get("WENSHU_CLI")
FFMPEG = shutil.which("ffmpeg")
FRAME_PERIOD = 1 / 25
CUT_TOLERANCE = 0.2
COLOUR_TOLERANCE = 4.0
failures = []
measured = {"timestamp_error": [], "cut_error": []}


def check(name, cond, detail=""):
    print(("ok    " if cond else "FAIL  ") + name + ("" if cond or not detail else ": " + detail))
    if not cond:
        failures.append(name)


def ffmpeg(*args):
    subprocess.run([FFMPEG, "-v", "error", "-y", *args], check=True)


def has_encoder(name):
    out = subprocess.run([FFMPEG, "-hide_banner", "-encoders"], capture_output=True,
                         text=True).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def frames(path, *args, ppm_dir=None):
    """Run `wenshu-cli frames --json`: (returncode, parsed json or None, stderr)."""
    cmd = [CLI, "frames", path, "--json", *args]
    if ppm_dir:
        cmd += ["--ppm-dir", ppm_dir]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    data = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None
    return p.returncode, data, p.stderr


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(b"\n", 3)
    width, height = map(int, parts[1].split())
    return np.frombuffer(parts[3], dtype=np.uint8).reshape(height, width, 3)


def reference_frame(clip, index, size):
    """Frame number index of clip as the ffmpeg CLI decodes it, RGB."""
    p = subprocess.run([FFMPEG, "-v", "error", "-i", clip, "-vf", f"select=eq(n\\,{index})",
                        "-frames:v", "1", "-sws_flags", "bilinear+accurate_rnd+full_chroma_int",
                        "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
                       capture_output=True, check=True)
    width, height = size
    return np.frombuffer(p.stdout, dtype=np.uint8).reshape(height, width, 3)


def check_times(name, data, wanted):
    """Every frame within one frame period of its wanted time."""
    times = [f["time"] for f in data["frames"]]
    targets = [f["target"] for f in data["frames"]]
    check(f"{name}: {len(wanted)} frames", len(times) == len(wanted),
          f"got {len(times)}")
    check(f"{name}: wanted times", len(targets) == len(wanted) and
          all(abs(a - b) < 1e-6 for a, b in zip(targets, wanted)),
          f"{targets[:6]}... vs {wanted[:6]}...")
    errors = [abs(t - w) for t, w in zip(times, wanted)]
    measured["timestamp_error"] += errors
    worst = max(errors) if errors else 0
    check(f"{name}: timestamps within {FRAME_PERIOD} s (worst {worst:.4f})",
          worst <= FRAME_PERIOD + 1e-6)
    check(f"{name}: ascending", all(b >= a for a, b in zip(times, times[1:])))


def test_sampling(tmp):
    clip = os.path.join(tmp, "testsrc2-10s.mp4")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=10",
           "-pix_fmt", "yuv420p", "-c:v", "libx264" if has_encoder("libx264") else "mpeg4", clip)
    ppm_dir = os.path.join(tmp, "ppm-10s")
    os.mkdir(ppm_dir)
    rc, data, err = frames(clip, ppm_dir=ppm_dir)
    check("10 s clip: sampled", rc == 0, err)
    if rc != 0:
        return
    check("10 s clip: facts", data["width"] == 320 and data["height"] == 240 and
          abs(data["duration"] - 10) < 0.05 and abs(data["fps"] - 25) < 1e-3 and
          not data["truncated"], json.dumps({k: data[k] for k in ("width", "height",
                                                                   "duration", "fps")}))
    check_times("10 s clip at 2 fps", data, [k / 2 for k in range(20)])
    check("10 s clip: no scene cut in testsrc2", data["cuts"] == [], str(data["cuts"]))

    # Pixels: our frame k against the CLI's frames n-1, n, n+1.
    for k in (1, 7, 13, 19):
        ours = read_ppm(os.path.join(ppm_dir, f"frame-{k:04d}.ppm")).astype(np.int16)
        n = round(data["frames"][k]["time"] * 25)
        diffs = {}
        for index in (n - 1, n, n + 1):
            ref = reference_frame(clip, index, (320, 240)).astype(np.int16)
            diffs[index] = float(np.abs(ours - ref).mean())
        best = min(diffs, key=diffs.get)
        check(f"10 s clip: frame {k} (t={data['frames'][k]['time']:.2f}) is frame {n} "
              f"(mean |diff| {diffs[n]:.2f}, neighbours "
              f"{diffs[n - 1]:.2f} {diffs[n + 1]:.2f})", best == n and diffs[n] <= 2.0)

    # Display rotation (portrait phone clips): frames as the ffmpeg CLI's
    # autorotate shows them.
    for degrees in (90, 180, 270):
        turned = os.path.join(tmp, f"rotate-{degrees}.mp4")
        ffmpeg("-i", clip, "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}", turned)
        turned_dir = os.path.join(tmp, f"ppm-rotate-{degrees}")
        os.mkdir(turned_dir)
        rc, data, err = frames(turned, "--no-cuts", "--max-frames", "4", ppm_dir=turned_dir)
        size = (320, 240) if degrees == 180 else (240, 320)
        check(f"rotate {degrees}: sampled, {size[0]}x{size[1]}", rc == 0 and
              (data["width"], data["height"]) == size, err)
        if rc != 0:
            continue
        n = round(data["frames"][1]["time"] * 25)
        ours = read_ppm(os.path.join(turned_dir, "frame-0001.ppm")).astype(np.int16)
        # The turn a player makes: the CLI's autorotate, which turns before
        # its RGB conversion (so a few levels off any exact turn); the
        # nearest of numpy's quarter turns of the upright frame is it.
        upright = reference_frame(clip, n, (320, 240)).astype(np.int16)
        cli = reference_frame(turned, n, size).astype(np.int16)
        by_turn = {k: float(np.abs(np.rot90(upright, k=k) - cli).mean())
                   for k in range(4) if np.rot90(upright, k=k).shape == cli.shape}
        k_cli = min(by_turn, key=by_turn.get)
        check(f"rotate {degrees}: the CLI turns by {k_cli} quarter(s) "
              f"({ {k: round(v, 2) for k, v in by_turn.items()} })",
              k_cli != 0 and by_turn[k_cli] <= 5.0)
        # ours: exactly that turn of the upright frame
        want = np.rot90(upright, k=k_cli)
        diff = float(np.abs(ours - want).mean()) if ours.shape == want.shape else 999
        check(f"rotate {degrees}: frame {n} turned as the CLI turns it (mean |diff| "
              f"{diff:.2f})", diff <= 0.5)

    for args, wanted, name in [
            (["--fps", "0.1"], [k * 2.5 for k in range(4)], "short for the rate: min 4 spread"),
            (["--fps", "1", "--min-frames", "30"], [k / 3 for k in range(30)], "min 30"),
            (["--fps", "2", "--max-frames", "8"], [k * 1.25 for k in range(8)], "max 8"),
            (["--fps", "25"], [k / 25 for k in range(250)], "every frame"),
            (["--fps", "0.7", "--frame-multiple", "2"], [k * 10 / 6 for k in range(6)],
             "7 rounded down to pairs")]:
        rc, data, err = frames(clip, "--no-cuts", *args)
        check(f"10 s clip {' '.join(args)}: sampled", rc == 0, err)
        if rc == 0:
            check_times(f"10 s clip ({name})", data, wanted)

    rc, data, err = frames(clip, "--no-cuts", "--max-edge", "100", "--max-frames", "4")
    check("10 s clip --max-edge 100: 100x75 frames", rc == 0 and all(
        (f["width"], f["height"]) == (100, 75) for f in data["frames"]), err)
    p = subprocess.run([CLI, "frames", clip, "--no-cuts", "--progress", "--max-frames", "5"],
                       capture_output=True, text=True)
    lines = [line for line in p.stderr.splitlines() if line.startswith("frames: ")]
    check("--progress: one line per frame", p.returncode == 0 and len(lines) == 5 and
          lines[-1].startswith("frames: 5/5 "), p.stderr)
    p = subprocess.run([CLI, "frames", clip, "--no-cuts", "--progress", "--cancel-after", "3"],
                       capture_output=True, text=True)
    lines = [line for line in p.stderr.splitlines() if line.startswith("frames: ")]
    check("--cancel-after 3: cancelled after 3 frames", p.returncode == 1 and
          "cancelled" in p.stderr and len(lines) == 3, p.stderr)
    for args in (["--fps", "0"], ["--min-frames", "9", "--max-frames", "3"], ["--bogus"]):
        p = subprocess.run([CLI, "frames", clip, *args], capture_output=True, text=True)
        check(f"bad arguments {' '.join(args)}: refused", p.returncode == 2, p.stderr)


def make_scenes(path, codec):
    sources = ["color=red:s=320x240:r=25:d=2", "color=blue:s=320x240:r=25:d=3",
               "color=green:s=320x240:r=25:d=1.5", "testsrc=s=320x240:r=25:d=2"]
    inputs = [arg for s in sources for arg in ("-f", "lavfi", "-i", s)]
    ffmpeg(*inputs, "-filter_complex", "[0][1][2][3]concat=n=4:v=1:a=0,format=yuv420p",
           "-c:v", codec, *(["-q:v", "2"] if codec == "mpeg4" else []), path)


def test_scenes(tmp):
    codec = "libx264" if has_encoder("libx264") else "mpeg4"
    expected_cuts = [2.0, 5.0, 6.5]
    # what each solid scene must look like (lavfi's red, blue and green)
    colours = [((0.0, 2.0), (255, 0, 0)), ((2.0, 5.0), (0, 0, 255)), ((5.0, 6.5), (0, 128, 0))]
    for name, codec_used in [("scenes.mp4", codec), ("scenes.avi", "mpeg4")]:
        clip = os.path.join(tmp, name)
        make_scenes(clip, codec_used)
        rc, data, err = frames(clip, "--fps", "4")
        check(f"{name} ({codec_used}): sampled", rc == 0, err)
        if rc != 0:
            continue
        cuts = data["cuts"]
        errors = [min(abs(c - e) for c in cuts) if cuts else 99 for e in expected_cuts]
        measured["cut_error"] += errors
        check(f"{name}: cuts {['%.3f' % c for c in cuts]} match {expected_cuts} within "
              f"{CUT_TOLERANCE} s (errors {['%.3f' % e for e in errors]})",
              len(cuts) == len(expected_cuts) and max(errors) <= CUT_TOLERANCE)
        worst = 0.0
        n_checked = 0
        for f in data["frames"]:
            for (start, end), rgb in colours:
                # frames well inside the scene (clear of the cut and its GOP edge)
                if start + 0.1 < f["time"] < end - 0.1:
                    worst = max(worst, max(abs(a - b) for a, b in zip(f["mean_rgb"], rgb)))
                    n_checked += 1
        check(f"{name}: {n_checked} solid frames have their colour (worst channel mean off "
              f"by {worst:.2f})", n_checked >= 20 and worst <= COLOUR_TOLERANCE)


def test_motion_and_cuts(tmp):
    """Busy motion (testsrc2, a zooming mandelbrot) is no cut; the cuts
    between the sources are."""
    clip = os.path.join(tmp, "motion.mp4")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3",
           "-f", "lavfi", "-i", "smptebars=s=320x240:r=25:d=2",
           "-f", "lavfi", "-i", "mandelbrot=s=320x240:r=25,trim=duration=2",
           "-filter_complex", "[0][1][2]concat=n=3:v=1:a=0,format=yuv420p",
           "-c:v", "libx264" if has_encoder("libx264") else "mpeg4", clip)
    rc, data, err = frames(clip, "--max-frames", "4")
    check("motion clip: sampled", rc == 0, err)
    if rc != 0:
        return
    cuts = data["cuts"]
    errors = [min(abs(c - e) for c in cuts) if cuts else 99 for e in (3.0, 5.0)]
    measured["cut_error"] += errors
    check(f"motion clip: cuts {['%.3f' % c for c in cuts]} are 3.0 and 5.0 only",
          len(cuts) == 2 and max(errors) <= CUT_TOLERANCE)


def test_long(tmp):
    clip = os.path.join(tmp, "testsrc2-60s-720p.mp4")
    codec = ["-c:v", "libx264", "-preset", "ultrafast"] if has_encoder("libx264") else \
        ["-c:v", "mpeg4"]
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=60", *codec,
           "-pix_fmt", "yuv420p", clip)
    start = time.monotonic()
    rc, data, err = frames(clip, "--no-cuts", "--max-frames", "16")
    seconds_16 = time.monotonic() - start
    check("60 s clip --max-frames 16: sampled", rc == 0, err)
    if rc == 0:
        check_times("60 s clip, max 16", data, [k * 60 / 16 for k in range(16)])
        check("60 s clip: frames 1280x720", all((f["width"], f["height"]) == (1280, 720)
                                                for f in data["frames"]))
    start = time.monotonic()
    rc, data, err = frames(clip, "--no-cuts")
    seconds_120 = time.monotonic() - start
    check("60 s clip at 2 fps: 120 frames", rc == 0 and len(data["frames"]) == 120, err)
    start = time.monotonic()
    rc, data, err = frames(clip, "--no-cuts", "--max-edge", "448")
    seconds_448 = time.monotonic() - start
    start = time.monotonic()
    rc2, data2, err2 = frames(clip, "--fps", "0.1", "--min-frames", "1", "--max-frames", "1")
    seconds_cuts = time.monotonic() - start
    check("60 s clip scene cuts: none", rc2 == 0 and data2["cuts"] == [], err2)
    print(f"timing, 60 s 1280x720 H.264 clip (whole CLI run): 16 frames {seconds_16:.2f} s; "
          f"120 frames at 2 fps {seconds_120:.2f} s; 120 frames downscaled to 448 "
          f"{seconds_448:.2f} s; scene cuts (+1 frame) {seconds_cuts:.2f} s")


def expect_error(name, path, words, *args):
    p = subprocess.run([CLI, "frames", path, *args], capture_output=True, text=True,
                       timeout=120)
    message = p.stderr.strip()
    check(f"{name}: a clear error ({message})", p.returncode == 1 and
          os.path.basename(path) in message and all(w in message for w in words))


def test_broken(tmp):
    sine_m4a = os.path.join(tmp, "sine.m4a")
    sine_wav = os.path.join(tmp, "sine.wav")
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac", sine_m4a)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=3", sine_wav)
    expect_error("audio-only m4a", sine_m4a, ["no video stream"])
    expect_error("audio-only wav", sine_wav, ["no video stream"])

    codec = "libx264" if has_encoder("libx264") else "mpeg4"
    for layout, flags in [("moov last", []), ("moov first", ["-movflags", "+faststart"])]:
        whole = os.path.join(tmp, f"whole-{len(flags)}.mp4")
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=10", "-c:v", codec,
               "-pix_fmt", "yuv420p", *flags, whole)
        cut = os.path.join(tmp, f"truncated-{len(flags)}.mp4")
        with open(whole, "rb") as f:
            data = f.read()
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2])
        p = subprocess.run([CLI, "frames", cut, "--json"], capture_output=True, text=True,
                           timeout=120)
        check(f"truncated MP4 ({layout}): no crash (rc {p.returncode})",
              p.returncode in (0, 1), p.stderr)
        if p.returncode == 0:
            got = json.loads(p.stdout)
            times = [fr["time"] for fr in got["frames"]]
            check(f"truncated MP4 ({layout}): {len(times)} frames up to the cut, marked "
                  f"truncated (last at {times[-1] if times else None})",
                  got["truncated"] and 1 <= len(times) < 20 and times[-1] < 7.0 and
                  all(abs(fr["time"] - fr["target"]) <= FRAME_PERIOD + 1e-6
                      for fr in got["frames"]))
        else:
            check(f"truncated MP4 ({layout}): a clear error ({p.stderr.strip()})",
                  os.path.basename(cut) in p.stderr and
                  ("truncated" in p.stderr or "corrupt" in p.stderr))

    text = os.path.join(tmp, "notes.txt")
    with open(text, "w") as f:
        f.write("Minutes of the meeting.\nNothing here is a video.\n" * 20)
    expect_error("text file", text, ["not a"])
    empty = os.path.join(tmp, "empty.mp4")
    open(empty, "wb").close()
    expect_error("empty file", empty, ["empty"])
    png = os.path.join(tmp, "still.png")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", png)
    expect_error("still PNG", png, ["still image"])
    expect_error("missing file", os.path.join(tmp, "missing.mp4"), ["No such file"])
    zero = os.path.join(tmp, "zero.mp4")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1", "-frames:v", "0",
           "-c:v", codec, zero)
    expect_error("video stream without frames", zero, ["zero duration"])


def main():
    if not CLI:
        print("WENSHU_CLI not set: skip")
        return 77
    if not FFMPEG:
        print("no ffmpeg CLI to make test media: skip")
        return 77
    with tempfile.TemporaryDirectory(prefix="wenshu-video-") as tmp:
        test_sampling(tmp)
        test_scenes(tmp)
        test_motion_and_cuts(tmp)
        test_broken(tmp)
        test_long(tmp)
    for key, values in measured.items():
        if values:
            print(f"measured {key}: max {max(values):.4f} s, mean "
                  f"{sum(values) / len(values):.4f} s over {len(values)}")
    if failures:
        print(f"{len(failures)} FAILED: " + "; ".join(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
