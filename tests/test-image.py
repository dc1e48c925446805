#!/usr/bin/env python3
"""Image decoding (eng_image_load, through `wenshu-cli image -o OUT.ppm`)
against PIL as the independent reference.

All media is made here, in a temporary directory: PNGs by a small writer in
this file (every colour type and bit depth, Adam7 interlacing, tRNS, eXIf),
BMP, TIFF, GIF, WebP and JPEG by PIL, and a few files by the ffmpeg CLI.

- Lossless formats must match PIL's Image.open(f).convert("RGB") exactly.
  One deliberate exception: PIL clamps 16-bit grey to 255 when it converts
  to RGB, where the engine keeps the high byte (as PIL itself does for
  16-bit RGB and grey+alpha); those cases are checked against the samples
  the file was written from.
- JPEG and lossy WebP are decoded by different code (FFmpeg against
  libjpeg-turbo and libwebp): the engine upsamples chroma with the same
  triangle filter libjpeg uses, so what is left is IDCT and colour
  rounding, a level or two. Bounds: mean |diff| <= 0.5 and max |diff| <= 8
  (measured: mean <= 0.12, max <= 3); swscale's own bilinear upsampling
  gave a mean of 6 and a max of 81 on a picture like test_picture's.
- EXIF orientation 1..8 (JPEG, PNG eXIf, WebP EXIF, TIFF tag 274) must
  give the stored image transposed the way PIL's ImageOps.exif_transpose
  does it. For TIFF the reference is built with Image.transpose directly,
  because Pillow 9.4 already applies the TIFF tag while loading and
  exif_transpose then applies it a second time.
- Broken files (corrupt, truncated, zero-sized, too many pixels, not an
  image, empty, missing) must fail with a message naming the file and the
  problem, never crash; and the 100-megapixel PNG is refused before it is
  decoded (fast, message with the pixel count and the limit).
- tests/test-image (C) then decodes all the files from 4 threads at once.
"""
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib

try:
    import numpy as np
    from PIL import Image, ImageOps, features
except ImportError:
    print("numpy or PIL (python3-pil) missing: skip")
    sys.exit(77)

CLI = os.environ.get("WENSHU_CLI")
DRIVER = sys.argv[1] if len(sys.argv) > 1 else None
FFMPEG = shutil.which("ffmpeg")
JPEG_MEAN_LIMIT, JPEG_MAX_LIMIT = 0.5, 8
failures = []
measured = {"jpeg": [], "webp-lossy": []}
made_files = []  # (path, good) for the thread test


def check(name, cond, detail=""):
    print(("ok    " if cond else "FAIL  ") + name + ("" if cond or not detail else ": " + detail))
    if not cond:
        failures.append(name)


# ---- the engine's side -----------------------------------------------------

def run_cli(*args, timeout=60):
    p = subprocess.run([CLI, "image", *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def read_ppm(path):
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval, separated by whitespace
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P6" and fields[3] == b"255", fields
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[pos + 1:pos + 1 + w * h * 3], np.uint8).reshape(h, w, 3)


def engine_decode(path, *extra):
    """(rgb array or None, stderr)."""
    out = path + ".engine.ppm"
    rc, stdout, stderr = run_cli(path, "-o", out, *extra)
    if rc != 0:
        return None, stderr.strip()
    return read_ppm(out), ""


def compare(name, path, reference, mean_limit=0.0, max_limit=0, kind=None):
    """Decode path with the engine and compare with reference [h][w][3] uint8."""
    made_files.append(path)
    got, err = engine_decode(path)
    if got is None:
        check(name, False, "engine failed: " + err)
        return
    reference = np.asarray(reference)
    if got.shape != reference.shape:
        check(name, False, "shape %s, PIL %s" % (got.shape, reference.shape))
        return
    diff = np.abs(got.astype(int) - reference.astype(int))
    mean, worst = float(diff.mean()), int(diff.max())
    if kind:
        measured[kind].append((mean, worst))
    detail = "mean |diff| %.3f (limit %.2f), max %d (limit %d)" % (mean, mean_limit, worst,
                                                                   max_limit)
    ok = mean <= mean_limit and worst <= max_limit
    print(("ok    " if ok else "FAIL  ") + name + ("" if mean_limit == 0 and ok else ": " + detail))
    if not ok:
        failures.append(name)


def pil_rgb(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(Image.open(path).convert("RGB"))


def peak_rss_mib(*args):
    """The peak resident memory of `wenshu-cli image ARGS` (run from a fresh
    Python, whose only child it is)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    p = subprocess.run([sys.executable, "-c", code, CLI, "image", *args], capture_output=True,
                       text=True, timeout=60)
    return int(p.stdout) / 1024


def expect_error(name, path, needles, *extra, status=None, max_seconds=None):
    start = time.monotonic()
    rc, out, err = run_cli(path, *extra)
    seconds = time.monotonic() - start
    crashed = rc < 0 or rc >= 128 or "Sanitizer" in err or "runtime error" in err
    missing = [n for n in [path, *needles] if n not in err]
    if status:
        missing += [] if "(%s)" % status in err else ["(%s)" % status]
    slow = max_seconds is not None and seconds > max_seconds
    check(name, rc == 1 and not crashed and not missing and not slow,
          "rc=%d, %.2f s, missing %r in: %s" % (rc, seconds, missing, err.strip()[:300]))
    return err.strip(), seconds


# ---- media ---------------------------------------------------------------------

def test_picture(w, h, seed=0):
    """An asymmetric picture: gradients, a sharp red block, a noisy corner."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1),
                    (x * 7 + y * 3) % 256], -1).astype(np.uint8)
    img[h // 5:h // 2 + 1, w // 8:w // 3 + 1] = (230, 20, 40)
    img[h * 2 // 3:, w * 2 // 3:] = rng.integers(0, 256, img[h * 2 // 3:, w * 2 // 3:].shape)
    return img


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def png_rows(samples, depth):
    """Pack [rows][samples per row] into PNG scanline bytes (big-endian, MSB first)."""
    if depth == 16:
        return [r.astype(">u2").tobytes() for r in samples]
    if depth == 8:
        return [r.astype(np.uint8).tobytes() for r in samples]
    per_byte = 8 // depth
    rows = []
    for r in samples:
        padded = np.zeros(-(-len(r) // per_byte) * per_byte, np.uint32)
        padded[:len(r)] = r
        groups = padded.reshape(-1, per_byte)
        packed = np.zeros(len(groups), np.uint32)
        for i in range(per_byte):
            packed |= groups[:, i] << (8 - depth * (i + 1))
        rows.append(packed.astype(np.uint8).tobytes())
    return rows


def png_bytes(samples, color_type, depth, interlace=False, palette=None, trns=None, exif=None):
    """A PNG of samples [h][w] or [h][w][channels], written by hand (filter 0)."""
    h, w = samples.shape[:2]
    pixels = samples.reshape(h, w, -1)
    raw = b""
    for x0, y0, dx, dy in (ADAM7 if interlace else [(0, 0, 1, 1)]):
        sub = pixels[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\0" + row for row in png_rows(sub.reshape(sub.shape[0], -1), depth))
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        out += png_chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    if exif is not None:
        out += png_chunk(b"eXIf", exif)
    return out + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def exif_bytes(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def ffmpeg(*args):
    subprocess.run([FFMPEG, "-v", "error", "-y", *args], check=True, capture_output=True,
                   timeout=60)


TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
             4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
             6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}


def transposed(rgb, orientation):
    img = Image.fromarray(rgb)
    return np.asarray(img.transpose(TRANSPOSE[orientation]) if orientation > 1 else img)


def patch_tiff_size(data, width, height):
    """Rewrite ImageWidth (256) and ImageLength (257) in a little-endian TIFF's IFD0."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * k
        tag = struct.unpack_from("<H", data, entry)[0]
        if tag in (256, 257):
            struct.pack_into("<HHII", data, entry, tag, 4, 1, width if tag == 256 else height)
    return bytes(data)


def patch_bmp_size(data, width, height):
    struct.pack_into("<ii", data, 18, width, height)  # BITMAPINFOHEADER
    return bytes(data)


def patch_gif_size(data, width, height):
    struct.pack_into("<HH", data, 6, width, height)  # the logical screen
    image = data.index(b"\x2c", 13 + 3 * 256 if data[10] & 0x80 else 13)  # first descriptor
    struct.pack_into("<HH", data, image + 5, width, height)
    return bytes(data)


def patch_vp8l_size(data, width, height):
    at = data.index(b"VP8L") + 8 + 1  # after the 0x2f signature: 14 bits width-1, height-1
    bits = int.from_bytes(data[at:at + 4], "little") & ~((1 << 28) - 1)
    data[at:at + 4] = (bits | (width - 1) | (height - 1) << 14).to_bytes(4, "little")
    return bytes(data)


def patch_vp8_size(data, width, height):
    at = data.index(b"VP8 ") + 8 + 6  # after the frame tag and the start code
    struct.pack_into("<HH", data, at, width, height)
    return bytes(data)


# ---- the cases --------------------------------------------------------------------

def png_cases(tmp):
    rng = np.random.default_rng(1)
    kinds = [  # (color type, depths, channels)
        (0, (1, 2, 4, 8, 16), 1), (2, (8, 16), 3), (3, (1, 2, 4, 8), 1), (4, (8, 16), 2),
        (6, (8, 16), 4)]
    sizes = [(37, 23), (1, 1), (3, 2), (9, 9)]
    for color_type, depths, channels in kinds:
        for depth in depths:
            for interlace in (False, True):
                for w, h in (sizes if interlace and depth in (1, 8) else sizes[:1]):
                    top = (1 << depth) - 1
                    samples = rng.integers(0, top + 1, (h, w, channels), dtype=np.int64)
                    palette = trns = None
                    if color_type == 3:
                        palette = rng.integers(0, 256, (top + 1, 3))
                        trns = bytes(rng.integers(0, 256, (top + 1) // 2 + 1).astype(np.uint8))
                    elif color_type in (0, 2) and depth == 8:
                        # one transparent colour
                        trns = struct.pack(">" + "H" * channels, *samples[0, 0])
                    name = "png type %d depth %d%s %dx%d%s" % (
                        color_type, depth, " interlaced" if interlace else "", w, h,
                        " tRNS" if trns else "")
                    path = os.path.join(tmp, name.replace(" ", "-") + ".png")
                    open(path, "wb").write(png_bytes(samples, color_type, depth, interlace,
                                                     palette, trns))
                    if color_type == 0 and depth == 16:
                        # PIL clamps 16-bit grey to 255 in convert("RGB"); the engine keeps
                        # the high byte, as PIL does for 16-bit RGB and grey+alpha.
                        grey = (samples[:, :, 0] >> 8).astype(np.uint8)
                        stored = np.asarray(Image.open(path)).astype(np.int64)
                        check(name + ": PIL reads the samples written", np.array_equal(
                            stored, samples[:, :, 0]))
                        compare(name, path, np.repeat(grey[:, :, None], 3, axis=2))
                    else:
                        compare(name, path, pil_rgb(path))
    # Foreign writers: PIL's palette PNG with few bits, ffmpeg's interlaced PNG.
    pic = test_picture(45, 31)
    path = os.path.join(tmp, "pil-p4.png")
    Image.fromarray(pic).quantize(16).save(path, bits=4)
    compare("png by PIL, palette 4 bits", path, pil_rgb(path))
    if FFMPEG:
        src = os.path.join(tmp, "src.ppm")
        Image.fromarray(pic).save(src)
        for pix_fmt in ("rgb24", "rgba64be", "gray"):
            path = os.path.join(tmp, "ffmpeg-interlaced-%s.png" % pix_fmt)
            ffmpeg("-i", src, "-flags", "+ildct", "-pix_fmt", pix_fmt, path)
            check("ffmpeg wrote an interlaced PNG (%s)" % pix_fmt, open(path, "rb").read()[28] == 1)
            compare("png by ffmpeg, Adam7, %s" % pix_fmt, path, pil_rgb(path))


def lossless_cases(tmp):
    pic = test_picture(37, 23)
    img = Image.fromarray(pic)
    rgba = Image.fromarray(np.dstack([pic, np.arange(37 * 23).reshape(23, 37) % 256]).astype(
        np.uint8), "RGBA")
    made = []
    for mode in ("RGB", "P", "L", "1"):
        made.append(("bmp by PIL, %s" % mode, "bmp-%s.bmp" % mode,
                     lambda p, m=mode: img.convert(m).save(p)))
    for mode in ("RGB", "L", "RGBA", "P", "1"):
        for compression in ("raw", "tiff_lzw", "tiff_deflate", "packbits"):
            made.append(("tiff by PIL, %s, %s" % (mode, compression),
                         "tiff-%s-%s.tif" % (mode, compression),
                         lambda p, m=mode, c=compression: (rgba if m == "RGBA" else img.convert(m))
                         .save(p, compression=c)))
    if features.check("webp"):
        made.append(("webp by PIL, lossless RGB", "lossless.webp",
                     lambda p: img.save(p, lossless=True)))
        made.append(("webp by PIL, lossless RGBA", "lossless-rgba.webp",
                     lambda p: rgba.save(p, lossless=True)))
    for name, file_name, write in made:
        path = os.path.join(tmp, file_name)
        write(path)
        compare(name, path, pil_rgb(path))

    # A two-frame GIF: the first frame, not the second.
    path = os.path.join(tmp, "two-frames.gif")
    img.save(path, save_all=True, append_images=[Image.fromarray(255 - pic)], duration=100)
    with Image.open(path) as gif:
        check("PIL wrote 2 GIF frames", gif.n_frames == 2)
        gif.seek(1)
        second = np.asarray(gif.convert("RGB"))
    first = pil_rgb(path)
    check("the GIF's frames differ", np.abs(first.astype(int) - second).mean() > 50)
    compare("gif by PIL, first of 2 frames", path, first)

    if FFMPEG:
        src = os.path.join(tmp, "src.ppm")
        Image.fromarray(test_picture(45, 31, 2)).save(src)
        for pix_fmt, ext in (("bgra", "bmp"), ("bgr24", "bmp"), ("pal8", "bmp"),
                             ("rgb24", "tif"), ("rgba", "tif"), ("gray", "tif")):
            path = os.path.join(tmp, "ffmpeg-%s.%s" % (pix_fmt, ext))
            ffmpeg("-i", src, "-pix_fmt", pix_fmt, path)
            compare("%s by ffmpeg, %s" % (ext, pix_fmt), path, pil_rgb(path))
        path = os.path.join(tmp, "ffmpeg.gif")
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-frames:v", "3", path)
        compare("gif by ffmpeg, first of 3 frames", path, pil_rgb(path))


def lossy_cases(tmp):
    for w, h in ((37, 23), (64, 48), (257, 131), (1, 1), (2, 2), (3, 5)):
        pic = test_picture(w, h, 3)
        for subsampling, label in ((2, "4:2:0"), (1, "4:2:2"), (0, "4:4:4")):
            path = os.path.join(tmp, "q95-%s-%dx%d.jpg" % (label.replace(":", ""), w, h))
            Image.fromarray(pic).save(path, quality=95, subsampling=subsampling)
            compare("jpeg by PIL, q95 %s %dx%d" % (label, w, h), path, pil_rgb(path),
                    JPEG_MEAN_LIMIT, JPEG_MAX_LIMIT, "jpeg")
    pic = test_picture(120, 90, 4)
    for name, kwargs in (("progressive 4:2:0", dict(progressive=True)),
                         ("q60 4:2:0", dict(quality=60)),
                         ("grey", dict(grey=True))):
        path = os.path.join(tmp, "%s.jpg" % name.replace(" ", "-").replace(":", ""))
        img = Image.fromarray(pic)
        if kwargs.pop("grey", False):
            img = img.convert("L")
        img.save(path, **{"quality": 95, **kwargs})
        compare("jpeg by PIL, %s" % name, path, pil_rgb(path), JPEG_MEAN_LIMIT, JPEG_MAX_LIMIT,
                "jpeg")
    if FFMPEG:
        src = os.path.join(tmp, "src-jpeg.ppm")
        Image.fromarray(test_picture(99, 61, 5)).save(src)
        for pix_fmt in ("yuvj420p", "yuvj422p", "yuvj444p"):
            path = os.path.join(tmp, "ffmpeg-%s.jpg" % pix_fmt)
            ffmpeg("-i", src, "-pix_fmt", pix_fmt, "-q:v", "2", path)
            compare("jpeg by ffmpeg, %s" % pix_fmt, path, pil_rgb(path), JPEG_MEAN_LIMIT,
                    JPEG_MAX_LIMIT, "jpeg")
    if features.check("webp"):
        pic = test_picture(67, 45, 6)
        for name, img in (("RGB", Image.fromarray(pic)),
                          ("RGBA", Image.fromarray(np.dstack([pic, pic[:, :, 0]]), "RGBA"))):
            path = os.path.join(tmp, "lossy-%s.webp" % name)
            img.save(path, quality=90)
            compare("webp by PIL, lossy %s" % name, path, pil_rgb(path), JPEG_MEAN_LIMIT,
                    JPEG_MAX_LIMIT, "webp-lossy")


def orientation_cases(tmp):
    pic = test_picture(37, 23, 7)
    base = {}
    for k in range(1, 9):
        # JPEG: against PIL's own exif_transpose.
        path = os.path.join(tmp, "orientation-%d.jpg" % k)
        Image.fromarray(pic).save(path, quality=95, exif=exif_bytes(k))
        with Image.open(path) as img:
            check("PIL wrote JPEG orientation %d" % k, img.getexif().get(0x0112) == k)
            reference = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
        if k == 1:
            base["jpeg"] = reference
        else:  # the test could fail: the transposed picture differs from the stored one
            stored = base["jpeg"]
            check("orientation %d changes the picture" % k, stored.shape != reference.shape or
                  np.abs(stored.astype(int) - reference).mean() > 10)
        compare("jpeg, EXIF orientation %d" % k, path, reference, JPEG_MEAN_LIMIT,
                JPEG_MAX_LIMIT, "jpeg")
        # PNG eXIf and lossless WebP EXIF: exact, against exif_transpose too.
        path = os.path.join(tmp, "orientation-%d.png" % k)
        open(path, "wb").write(png_bytes(pic, 2, 8, exif=exif_bytes(k)[6:]))  # no "Exif\0\0" in PNG
        with Image.open(path) as img:
            reference = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
        check("PIL's exif_transpose agrees with the table, PNG %d" % k,
              np.array_equal(reference, transposed(pic, k)))
        compare("png eXIf, orientation %d" % k, path, reference)
        if features.check("webp"):
            path = os.path.join(tmp, "orientation-%d.webp" % k)
            Image.fromarray(pic).save(path, lossless=True, exif=exif_bytes(k))
            with Image.open(path) as img:
                reference = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
            compare("webp EXIF, orientation %d" % k, path, reference)
        # TIFF tag 274: against Image.transpose (see the module comment).
        path = os.path.join(tmp, "orientation-%d.tif" % k)
        Image.fromarray(pic).save(path, tiffinfo={274: k})
        compare("tiff tag 274, orientation %d" % k, path, transposed(pic, k))


def broken_cases(tmp):
    def write(name, data):
        path = os.path.join(tmp, name)
        open(path, "wb").write(data)
        made_files.append(path)
        return path

    pic = test_picture(64, 48, 8)
    good_png = png_bytes(pic, 2, 8)
    idat = good_png.index(b"IDAT")
    idat_len = struct.unpack(">I", good_png[idat - 4:idat])[0]

    flipped = bytearray(good_png)
    for i in range(idat + 4 + idat_len // 2, idat + 4 + idat_len // 2 + 16):
        flipped[i] ^= 0x5a
    # zlib's check of the damaged stream fails before libpng reaches the chunk's CRC
    expect_error("corrupt PNG (bytes flipped in IDAT)", write("flipped.png", bytes(flipped)),
                 ["corrupt", "IDAT"], status="format error")
    refixed = bytearray(flipped)  # the same damage with a matching CRC: zlib must notice
    crc_at = idat + 4 + idat_len
    refixed[crc_at:crc_at + 4] = struct.pack(">I", zlib.crc32(bytes(refixed[idat:crc_at])))
    expect_error("corrupt PNG (IDAT damaged, CRC fixed)", write("refixed.png", bytes(refixed)),
                 ["corrupt"], status="format error")
    for cut in (12, 40, idat + 4 + idat_len // 2, len(good_png) - 1):
        expect_error("truncated PNG (%d of %d bytes)" % (cut, len(good_png)),
                     write("truncated-%d.png" % cut, good_png[:cut]), ["PNG", "truncated"],
                     status="format error")

    for w, h in ((0, 5), (5, 0)):
        zero = png_bytes(np.zeros((1, 1, 3), np.uint8), 2, 8)
        ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        zero = zero[:8] + ihdr + zero[33:]
        err, _ = expect_error("zero-sized PNG (IHDR %dx%d, correct CRC)" % (w, h),
                              write("zero-%dx%d.png" % (w, h), zero), ["zero-sized"],
                              status="format error")

    # 100 megapixels, valid and small on disk: refused before decoding.
    path = os.path.join(tmp, "100-megapixels.png")
    compressor = zlib.compressobj(1)
    idat_data = b"".join(compressor.compress(b"\0" + bytes(10000)) for _ in range(10000))
    idat_data += compressor.flush()
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", 10000, 10000, 8, 0, 0, 0, 0)) +
        png_chunk(b"IDAT", idat_data) + png_chunk(b"IEND", b""))
    made_files.append(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as img:
            size = img.size
            img.verify()  # every chunk's CRC, without decoding
    check("the 100-megapixel PNG is valid (PIL verify), %d bytes" % os.path.getsize(path),
          size == (10000, 10000))
    err, seconds = expect_error("100-megapixel PNG over the default cap", path,
                                ["10000x10000", "100000000 pixels", "50000000"],
                                status="unsupported", max_seconds=2.0)
    rss = peak_rss_mib(path)
    print("      refused in %.3f s, peak RSS %.0f MiB: %s" % (seconds, rss, err))
    check("... without decoding it (peak RSS %.0f MiB < 200; its RGB is 286 MiB)" % rss,
          rss < 200)
    rc, out, _ = run_cli(path, "--max-pixels", "99999999")
    check("... and over a cap of 99999999", rc == 1)

    # 100-megapixel headers on small files (a decompression bomb's shape) for
    # the FFmpeg formats: each refused by the cap before a frame is allocated.
    # (A lossless WebP's transform data is read before its frame; where the
    # patched size makes it inconsistent, FFmpeg refuses it as corrupt first,
    # which the check allows.)
    gradient = np.zeros((48, 64, 3), np.uint8)
    gradient[:, :, 0] = np.arange(64) * 4
    small = Image.fromarray(gradient)
    for ext, kwargs, patch in (
            ("tif", {}, patch_tiff_size), ("bmp", {}, patch_bmp_size),
            ("gif", {}, patch_gif_size), ("webp", {"lossless": True}, patch_vp8l_size),
            ("webp", {"quality": 80}, patch_vp8_size)):
        if ext == "webp" and not features.check("webp"):
            continue
        buf = io.BytesIO()
        small.save(buf, {"tif": "TIFF"}.get(ext, ext.upper()), **kwargs)
        label = "%s%s" % (ext, " lossless" if kwargs.get("lossless") else "")
        path = write("bomb-%s.%s" % (label.replace(" ", "-"), ext),
                     patch(bytearray(buf.getvalue()), 10000, 10000))
        err, _ = expect_error("%s claiming 10000x10000 in %d bytes"
                              % (label, os.path.getsize(path)), path,
                              [] if kwargs.get("lossless") else ["10000x10000", "100000000 pixels"],
                              status=None if kwargs.get("lossless") else "unsupported",
                              max_seconds=2.0)
        if kwargs.get("lossless"):
            print("      " + err.replace(tmp + "/", ""))
        rss = peak_rss_mib(path)
        check("... refused with a peak RSS of %.0f MiB (< 200)" % rss, rss < 200)

    # Caps at the boundary, on every decoder's path (libpng, the JPEG walk,
    # the GIF demuxer, the decoders' get_buffer2 for BMP, TIFF and WebP).
    img = Image.fromarray(test_picture(400, 300, 9))
    for ext, kwargs in (("png", {}), ("jpg", {"quality": 90}), ("gif", {}), ("bmp", {}),
                        ("tif", {}), ("webp", {"lossless": True})):
        if ext == "webp" and not features.check("webp"):
            continue
        path = os.path.join(tmp, "cap-400x300.%s" % ext)
        img.save(path, **kwargs)
        expect_error("%s of 400x300 over a cap of 119999" % ext, path,
                     ["400x300", "120000 pixels", "119999"], "--max-pixels", "119999",
                     status="unsupported")
        rc, out, err = run_cli(path, "--max-pixels", "120000")
        check("%s of 400x300 under a cap of 120000" % ext, rc == 0 and "400x300" in out, err)

    good_jpeg = io.BytesIO()
    Image.fromarray(pic).save(good_jpeg, "JPEG", quality=95)
    jpeg = good_jpeg.getvalue()
    sof = jpeg.index(b"\xff\xc0")
    huge = jpeg[:sof + 5] + struct.pack(">HH", 60000, 60000) + jpeg[sof + 9:]
    expect_error("JPEG claiming 60000x60000", write("huge.jpg", huge),
                 ["60000x60000", "3600000000 pixels"], status="unsupported", max_seconds=2.0)
    zero = jpeg[:sof + 5] + struct.pack(">HH", 0, 64) + jpeg[sof + 9:]
    expect_error("zero-sized JPEG (SOF height 0)", write("zero.jpg", zero), ["zero-sized"],
                 status="format error")
    for frac in (0.02, 0.3, 0.7, 0.99):
        cut = int(len(jpeg) * frac)
        expect_error("truncated JPEG (%d of %d bytes)" % (cut, len(jpeg)),
                     write("truncated-%d.jpg" % cut, jpeg[:cut]),
                     ["JPEG", "truncated"], status="format error")
    sos = jpeg.index(b"\xff\xda")
    scan = bytearray(jpeg)
    scan[sos + 200:sos + 1200] = np.random.default_rng(10).integers(0, 255, 1000,
                                                                     dtype=np.uint8).tobytes()
    expect_error("corrupt JPEG (random bytes in the scan)", write("scan.jpg", bytes(scan)),
                 ["corrupt", "JPEG"], status="format error")
    dht = jpeg.index(b"\xff\xc4")
    header = bytearray(jpeg)
    header[dht + 4:dht + 30] = b"\xff" * 26
    expect_error("corrupt JPEG (Huffman table overwritten)", write("dht.jpg", bytes(header)),
                 ["corrupt", "JPEG"], status="format error")
    rc, out, err = run_cli(write("trailing.jpg", jpeg + b"junk after the end" * 8))
    check("JPEG with bytes after its end marker is read", rc == 0 and "64x48" in out, err)

    text = write("notes.txt", b"Meeting notes\nnot an image at all\n" * 40)
    expect_error("a text file", text, ["not an image"], status="format error")
    expect_error("an empty file", write("empty.png", b""), ["empty"], status="format error")
    expect_error("a missing file", os.path.join(tmp, "missing.jpg"),
                 ["No such file"], status="I/O error")
    expect_error("a directory", tmp, ["not a regular file"], status="I/O error")
    expect_error("4 bytes of PNG signature", write("sig.png", good_png[:4]), ["not an image"],
                 status="format error")
    if FFMPEG:
        wav = os.path.join(tmp, "tone.wav")
        ffmpeg("-f", "lavfi", "-i", "sine=duration=0.2", wav)
        expect_error("an audio file", wav, ["not an image", "WAV"], status="format error")
        avi = os.path.join(tmp, "clip.avi")
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x24:rate=5", "-frames:v", "3", "-c:v",
               "mjpeg", avi)
        expect_error("a video file (MJPEG in AVI)", avi, ["not an image", "AVI"],
                     status="format error")

    # Other formats truncated, and random damage to every format: an error
    # or an image, never a crash. What each does is printed.
    samples = {"png": good_png, "jpg": jpeg}
    for ext, kwargs in (("bmp", {}), ("gif", {}), ("tif", {"compression": "tiff_lzw"}),
                        ("webp", {"quality": 80})):
        if ext == "webp" and not features.check("webp"):
            continue
        buf = io.BytesIO()
        Image.fromarray(pic).save(buf, {"tif": "TIFF", "jpg": "JPEG"}.get(ext, ext.upper()),
                                  **kwargs)
        samples[ext] = buf.getvalue()
    for ext in ("bmp", "gif", "tif", "webp"):
        if ext not in samples:
            continue
        data = samples[ext]
        path = write("truncated-half.%s" % ext, data[:len(data) // 2])
        rc, out, err = run_cli(path)
        check("truncated %s: no crash" % ext, rc in (0, 1) and "Sanitizer" not in err,
              "rc=%d %s" % (rc, err))
        print("      truncated %s: %s" % (ext, (out + err).strip().replace(tmp + "/", "")))
    rng = np.random.default_rng(11)
    crashes = []
    outcomes = {}
    for ext, data in sorted(samples.items()):
        for i in range(12):
            damaged = bytearray(data)
            for _ in range(1 + i % 4):
                at = int(rng.integers(0, len(data)))
                noise = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
                damaged[at:at + 4] = noise[:len(damaged[at:at + 4])]
            path = write("damaged-%d.%s" % (i, ext), bytes(damaged))
            rc, out, err = run_cli(path)
            if rc not in (0, 1) or "Sanitizer" in err or "runtime error" in err:
                crashes.append("%s rc=%d %s" % (path, rc, err[:200]))
            elif rc == 1 and path not in err:
                crashes.append("%s: the message does not name the file: %s" % (path, err))
            outcomes.setdefault(ext, []).append(rc)
    check("random damage to each format: an error naming the file or an image, no crash",
          not crashes, "; ".join(crashes))
    print("      errors out of 12 damaged files: " +
          ", ".join("%s %d" % (ext, sum(1 for rc in rcs if rc)) for ext, rcs in outcomes.items()))


def several_files(tmp):
    a = os.path.join(tmp, "several-a.png")
    b = os.path.join(tmp, "several-b.jpg")
    Image.fromarray(test_picture(20, 10)).save(a)
    Image.fromarray(test_picture(30, 12)).save(b)
    missing = os.path.join(tmp, "several-missing.png")
    rc, out, err = run_cli(a, missing, b)
    check("several files: each one's size, an error for the missing one",
          rc == 1 and out == "%s: 20x10\n%s: 30x12\n" % (a, b) and missing in err, out + err)
    rc, out, err = run_cli(a, b, "-o", os.path.join(tmp, "x.ppm"))
    check("-o with two files is refused", rc == 2, err)


def main():
    if not CLI:
        print("WENSHU_CLI not set")
        return 1
    tmp = tempfile.mkdtemp(prefix="wenshu-image-test-")
    try:
        if not FFMPEG:
            print("note: no ffmpeg CLI; the cases that need it are skipped")
        png_cases(tmp)
        lossless_cases(tmp)
        lossy_cases(tmp)
        orientation_cases(tmp)
        broken_cases(tmp)
        several_files(tmp)
        for kind, values in measured.items():
            if values:
                print("measured %s vs PIL over %d images: mean |diff| %.3f..%.3f, max %d..%d"
                      % (kind, len(values), min(v[0] for v in values),
                         max(v[0] for v in values), min(v[1] for v in values),
                         max(v[1] for v in values)))
        if DRIVER:
            p = subprocess.run([DRIVER, *made_files], capture_output=True, text=True,
                               timeout=600)
            for line in p.stdout.splitlines():
                if line.startswith(("ok", "FAIL")):
                    print(line)
            check("test-image: the same results from 4 threads at once", p.returncode == 0,
                  p.stderr[-2000:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failures" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
