#!/usr/bin/python3
"""test-deck.py: `wenshu-cli slides` (app/deck) read back by independent tools.

The outlines are written here, so the test knows every title, bullet, level,
note and picture the deck must show. Checked:
- PPTX (zipfile + ElementTree): every part parses; [Content_Types].xml covers
  every part; every relationship's target exists; 16:9 slide size
  (12192000 x 6858000 EMU); a master, at least two layouts with title and
  body placeholders, a theme with the theme's colours and East Asian fonts;
  slides in presentation order: the title slide, then each outline slide's
  title, bullets (text and level), its layout, its notes slide's text, and its
  picture (the same bytes under ppt/media).
- LibreOffice (soffice --headless --convert-to pdf, a private profile):
  the page count equals the slide count and every title is on its page.
- PDF (poppler's pdfinfo, pdftotext, pdffonts): page count, 960 x 540 pt
  pages, each slide's title on its page, a crowded slide's last bullet drawn
  above the body's bottom edge (504 pt), a CJK font embedded.
- PNG thumbnails: count and pixel size at two resolutions.
- Bad input: malformed JSON, missing keys, wrong types, an empty slides list,
  a missing, corrupt or non-image picture, an unknown theme, an unwritable
  output: exit 2 (1 for a write error), a message naming the file, nothing
  left at the output paths.

usage: test-deck.py   (WENSHU_CLI names the binary)
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
import posixpath
import xml.etree.ElementTree as ET

CLI = os.environ.get("WENSHU_CLI", "wenshu-cli")
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def write_png(path, w, h):
    """An RGB gradient PNG, written by hand (zlib + CRCs)."""
    raw = b"".join(b"\0" + bytes(v for x in range(w) for v in (x * 255 // w, y * 255 // h, 90))
                   for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(
            ">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG")
    return struct.unpack(">II", head[16:24])


def run(args, expect=0):
    r = subprocess.run([CLI, "slides"] + args, capture_output=True, text=True, timeout=300)
    check(r.returncode == expect,
          f"slides {' '.join(args)}: exit {r.returncode}, want {expect}: {r.stderr.strip()}")
    return r


def norm(s):
    return re.sub(r"\s+", "", s)


# ---- the outlines ----

def mixed_outline(tmp):
    write_png(os.path.join(tmp, "wide.png"), 320, 160)
    jpeg = None
    if shutil.which("ffmpeg"):
        jpeg = os.path.join(tmp, "tall.jpg")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc=size=120x200:rate=1", "-frames:v", "1", jpeg], check=True)
    slides = [
        {"title": "背景与意义", "bullets": [
            "数字政府是建设网络强国、数字中国的基础性和先导性工程",
            {"text": "提升政务服务效能", "level": 1},
            {"text": "推动“一网通办”", "level": 2},
            "Cloud & <data> platform"],
         "notes": "先讲背景。\n再讲意义。", "image": False},
        {"title": "Targets for 2027", "bullets": ["Coverage", "Latency < 2 s"], "image": True},
        {"title": "图文：平台架构", "bullets": ["统一身份认证", "数据共享交换"],
         "image": "wide.png", "notes": "图片说明"},
        {"title": "没有要点的页", "bullets": []},
        {"title": "拥挤的一页：二十条很长的要点需要自动缩小字号才能放下", "bullets": [
            f"第{i + 1}条：持续优化营商环境，深化“放管服”改革，推进政务服务标准化、规范化、便利化"
            for i in range(20)], "notes": None},
    ]
    if jpeg:
        slides.append({"title": "JPEG picture", "bullets": ["Tall test pattern"],
                       "image": "tall.jpg"})
    return {"title": "关于推进数字政府建设的实施方案", "subtitle": "政策解读 · 2026 年",
            "slides": slides}


def write_outline(tmp, name, outline):
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        if isinstance(outline, str):
            f.write(outline)
        else:
            json.dump(outline, f, ensure_ascii=False)
    return path


# ---- PPTX ----

class Package:
    def __init__(self, path):
        self.zip = zipfile.ZipFile(path)
        self.names = set(self.zip.namelist())
        self.xml = {}
        for n in self.names:
            if n.endswith(".xml") or n.endswith(".rels"):
                try:
                    self.xml[n] = ET.fromstring(self.zip.read(n))
                except ET.ParseError as e:
                    check(False, f"{path}: {n} does not parse: {e}")

    def rels(self, part):
        """{rId: (type, target part name)} of a part."""
        d, base = posixpath.split(part)
        rel_name = posixpath.join(d, "_rels", base + ".rels")
        out = {}
        root = self.xml.get(rel_name)
        if root is None:
            return out
        for r in root.iter(PKG_REL + "Relationship"):
            target = posixpath.normpath(posixpath.join(d, r.get("Target")))
            out[r.get("Id")] = (r.get("Type"), target)
        return out


def shape_ph(sp):
    ph = sp.find(f"{P}nvSpPr/{P}nvPr/{P}ph")
    if ph is None:
        return None
    return ph.get("type", "obj"), int(ph.get("idx", "0"))


def paragraphs(sp):
    out = []
    for p in sp.iter(A + "p"):
        ppr = p.find(A + "pPr")
        lvl = int(ppr.get("lvl", "0")) if ppr is not None else 0
        out.append(("".join(t.text or "" for t in p.iter(A + "t")), lvl))
    return out


def check_package(pkg, name):
    types = pkg.xml["[Content_Types].xml"]
    defaults = {d.get("Extension").lower(): d.get("ContentType") for d in types.iter(CT + "Default")}
    overrides = {o.get("PartName"): o.get("ContentType") for o in types.iter(CT + "Override")}
    for n in pkg.names:
        if n == "[Content_Types].xml":
            continue
        ext = n.rsplit(".", 1)[-1].lower()
        check("/" + n in overrides or ext in defaults, f"{name}: {n} has no content type")
    for part in overrides:
        check(part[1:] in pkg.names, f"{name}: content type for missing part {part}")
    for n, root in pkg.xml.items():
        if not n.endswith(".rels"):
            continue
        d = posixpath.dirname(posixpath.dirname(n))
        for r in root.iter(PKG_REL + "Relationship"):
            if r.get("TargetMode") == "External":
                continue
            target = posixpath.normpath(posixpath.join(d, r.get("Target")))
            check(target in pkg.names, f"{name}: {n}: {r.get('Id')} points at missing {target}")
    root_rels = pkg.rels("")
    check(any(t == REL + "officeDocument" and tgt == "ppt/presentation.xml"
              for t, tgt in root_rels.values()), f"{name}: _rels/.rels has no officeDocument")
    for must in ("docProps/app.xml", "docProps/core.xml"):
        check(must in pkg.names, f"{name}: {must} missing")
    check(overrides.get("/ppt/presentation.xml", "").endswith("presentation.main+xml"),
          f"{name}: presentation.xml content type")


def check_theme_parts(pkg, name, theme):
    pres = pkg.xml["ppt/presentation.xml"]
    sz = pres.find(P + "sldSz")
    check(sz is not None and sz.get("cx") == "12192000" and sz.get("cy") == "6858000",
          f"{name}: slide size {None if sz is None else sz.attrib}, want 12192000 x 6858000")
    rels = pkg.rels("ppt/presentation.xml")
    masters = [t for ty, t in rels.values() if ty == REL + "slideMaster"]
    check(len(masters) == 1, f"{name}: {len(masters)} slide masters")
    check(any(ty == REL + "notesMaster" for ty, t in rels.values()), f"{name}: no notes master")
    themes = [t for ty, t in rels.values() if ty == REL + "theme"]
    check(len(themes) == 1, f"{name}: presentation has {len(themes)} themes")
    if themes:
        th = pkg.xml[themes[0]]
        clr = th.find(f"{A}themeElements/{A}clrScheme")
        vals = {c.tag.split("}")[1]: c.find(A + "srgbClr").get("val") for c in clr
                if c.find(A + "srgbClr") is not None}
        check(vals.get("accent1") == theme["colors"]["accent"][1:].upper(),
              f"{name}: accent1 {vals.get('accent1')}, want {theme['colors']['accent']}")
        check(vals.get("lt1") == theme["colors"]["background"][1:].upper(),
              f"{name}: lt1 {vals.get('lt1')}, want the background")
        fs = th.find(f"{A}themeElements/{A}fontScheme")
        for tag, key in (("majorFont", "title"), ("minorFont", "body")):
            ea = fs.find(f"{A}{tag}/{A}ea")
            check(ea is not None and ea.get("typeface") == theme["fonts"][key]["east_asian"],
                  f"{name}: {tag} ea {None if ea is None else ea.get('typeface')}")
            latin = fs.find(f"{A}{tag}/{A}latin")
            check(latin is not None and latin.get("typeface") == theme["fonts"][key]["latin"],
                  f"{name}: {tag} latin")
    if masters:
        m = masters[0]
        layouts = [t for ty, t in pkg.rels(m).values() if ty == REL + "slideLayout"]
        check(len(layouts) >= 2, f"{name}: {len(layouts)} layouts")
        ids = pkg.xml[m].findall(f"{P}sldLayoutIdLst/{P}sldLayoutId")
        check(len(ids) == len(layouts), f"{name}: sldLayoutIdLst lists {len(ids)} layouts")
        kinds = set()
        for lay in layouts:
            phs = {shape_ph(sp) for sp in pkg.xml[lay].iter(P + "sp")} - {None}
            types = {t for t, i in phs}
            if "ctrTitle" in types and "subTitle" in types:
                kinds.add("title")
            if "title" in types and ("obj", 1) in phs:
                kinds.add("content")
            back = [t for ty, t in pkg.rels(lay).values() if ty == REL + "slideMaster"]
            check(back == [m], f"{name}: {lay} does not point at the master")
        check(kinds == {"title", "content"}, f"{name}: layouts give {kinds}")


def check_slides(pkg, name, outline, tmp):
    pres = pkg.xml["ppt/presentation.xml"]
    rels = pkg.rels("ppt/presentation.xml")
    order = [rels[s.get(R + "id")][1] for s in pres.iter(P + "sldId")]
    want_n = len(outline["slides"]) + 1
    check(len(order) == want_n, f"{name}: {len(order)} slides, want {want_n}")
    n_slide_parts = len([n for n in pkg.names if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)])
    check(n_slide_parts == want_n, f"{name}: {n_slide_parts} slide parts")
    media_used = set()
    for i, part in enumerate(order):
        sld = pkg.xml[part]
        srels = pkg.rels(part)
        layouts = [t for ty, t in srels.values() if ty == REL + "slideLayout"]
        check(len(layouts) == 1, f"{name}: {part} has {len(layouts)} layouts")
        shapes = {shape_ph(sp): sp for sp in sld.iter(P + "sp")}
        shapes.pop(None, None)
        if i == 0:
            title = shapes.get(("ctrTitle", 0))
            check(title is not None and paragraphs(title)[0][0] == outline["title"],
                  f"{name}: slide 1 title")
            sub = shapes.get(("subTitle", 1))
            check(sub is not None and paragraphs(sub)[0][0] == outline["subtitle"],
                  f"{name}: slide 1 subtitle")
            continue
        s = outline["slides"][i - 1]
        title = shapes.get(("title", 0))
        check(title is not None and "".join(t for t, l in paragraphs(title)) == s["title"],
              f"{name}: slide {i + 1} title")
        want = [(b, 0) if isinstance(b, str) else (b["text"], b.get("level", 0))
                for b in s["bullets"]]
        body = shapes.get(("obj", 1))
        got = paragraphs(body) if body is not None else []
        check(got == want, f"{name}: slide {i + 1} bullets {got}, want {want}")
        notes = [t for ty, t in srels.values() if ty == REL + "notesSlide"]
        if s.get("notes"):
            check(len(notes) == 1, f"{name}: slide {i + 1} has no notes slide")
            if notes:
                nsh = {shape_ph(sp): sp for sp in pkg.xml[notes[0]].iter(P + "sp")}
                nb = nsh.get(("body", 1))
                text = "\n".join(t for t, l in paragraphs(nb)) if nb is not None else ""
                check(text == s["notes"], f"{name}: slide {i + 1} notes {text!r}")
                back = {ty.rsplit('/', 1)[1]: t for ty, t in pkg.rels(notes[0]).values()}
                check(back.get("slide") == part and "notesMaster" in back,
                      f"{name}: notes of slide {i + 1} relationships {back}")
        else:
            check(not notes, f"{name}: slide {i + 1} has notes it should not")
        pics = list(sld.iter(P + "pic"))
        img = s.get("image")
        if isinstance(img, str):
            check(len(pics) == 1, f"{name}: slide {i + 1} has {len(pics)} pictures")
            if pics:
                rid = pics[0].find(f"{P}blipFill/{A}blip").get(R + "embed")
                ty, target = srels.get(rid, (None, None))
                check(ty == REL + "image" and target.startswith("ppt/media/"),
                      f"{name}: slide {i + 1} picture relationship {ty} {target}")
                with open(os.path.join(tmp, img), "rb") as f:
                    check(target in pkg.names and pkg.zip.read(target) == f.read(),
                          f"{name}: slide {i + 1} picture bytes differ")
                media_used.add(target)
                ext = pics[0].find(f"{P}spPr/{A}xfrm/{A}ext")
                check(ext is not None and int(ext.get("cx")) <= 12192000,
                      f"{name}: slide {i + 1} picture size")
        else:
            check(not pics, f"{name}: slide {i + 1} has a picture it should not")
            if img is True:
                check(any(k[0] == "pic" for k in shapes), f"{name}: slide {i + 1} has no picture slot")
    media = {n for n in pkg.names if n.startswith("ppt/media/")}
    check(media == media_used, f"{name}: media {media}, used {media_used}")


def check_pptx(path, outline, theme, tmp):
    pkg = Package(path)
    name = os.path.basename(path)
    check_package(pkg, name)
    check_theme_parts(pkg, name, theme)
    check_slides(pkg, name, outline, tmp)


# ---- PDF ----

def pdf_pages(path):
    info = subprocess.run(["pdfinfo", path], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    return pages, (float(size.group(1)), float(size.group(2)))


def page_text(path, page):
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), path, "-"],
                          capture_output=True, text=True).stdout


def check_pdf(path, outline, what):
    pages, size = pdf_pages(path)
    want = len(outline["slides"]) + 1
    check(pages == want, f"{what}: {pages} pages, want {want}")
    check(abs(size[0] - 960) < 0.5 and abs(size[1] - 540) < 0.5, f"{what}: page size {size}")
    titles = [outline["title"]] + [s["title"] for s in outline["slides"]]
    for i, title in enumerate(titles[:pages]):
        check(norm(title) in norm(page_text(path, i + 1)), f"{what}: page {i + 1} lacks {title!r}")
    return pages


def check_fonts(path, what):
    out = subprocess.run(["pdffonts", path], capture_output=True, text=True).stdout
    cjk = [l for l in out.splitlines()[2:]
           if re.search(r"UMing|UKai|WenQuanYi|Hei|Song|Ming|Kai|CJK|Noto Sans SC|zh", l)
           and "Identity-H" in l]
    check(cjk, f"{what}: pdffonts lists no embedded CJK font:\n{out}")


def check_crowded(path, outline, what):
    """The crowded slide's last bullet is drawn, and above the body's bottom."""
    idx = next(i for i, s in enumerate(outline["slides"]) if len(s["bullets"]) == 20)
    page = idx + 2
    text = page_text(path, page)
    check("第20条" in norm(text), f"{what}: the crowded slide lost its last bullet")
    html = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), path, "-"],
                          capture_output=True, text=True).stdout
    ymax = [float(m) for m in re.findall(r'yMax="([\d.]+)"', html)]
    check(ymax and max(ymax) <= 504 + 2, f"{what}: text reaches y {max(ymax or [0])} pt > 504")


# ---- the runs ----

def soffice_pages(tmp, pptx):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        print("SKIP: LibreOffice (soffice) is not installed; the PPTX is not converted")
        return None
    out = os.path.join(tmp, "lo")
    os.makedirs(out, exist_ok=True)
    profile = "file://" + os.path.join(tmp, "lo-profile")
    r = subprocess.run([soffice, "-env:UserInstallation=" + profile, "--headless",
                        "--convert-to", "pdf", "--outdir", out, pptx],
                       capture_output=True, text=True, timeout=240)
    pdf = os.path.join(out, os.path.splitext(os.path.basename(pptx))[0] + ".pdf")
    if not os.path.exists(pdf) and "could not be loaded" in r.stdout + r.stderr:
        print("SKIP: LibreOffice cannot load presentations here (libreoffice-impress missing?)")
        return None
    check(os.path.exists(pdf), f"soffice could not convert {pptx}: {r.stdout} {r.stderr}")
    return pdf if os.path.exists(pdf) else None


def good_runs(tmp, themes_dir):
    outline = mixed_outline(tmp)
    src = write_outline(tmp, "mixed.json", outline)
    for theme_name in ("plain", "red", "dark"):
        with open(os.path.join(themes_dir, theme_name + ".json"), encoding="utf-8") as f:
            theme = json.load(f)
        base = os.path.join(tmp, "deck-" + theme_name)
        r = run(["--outline", src, "--theme", theme_name, "-o", base + ".pptx",
                 "--pdf", base + ".pdf", "--png", base])
        n = len(outline["slides"]) + 1
        check(r.stdout.strip() == f"slides {n}", f"{theme_name}: stdout {r.stdout!r}")
        if r.returncode != 0:
            continue
        check_pptx(base + ".pptx", outline, theme, tmp)
        pages = check_pdf(base + ".pdf", outline, theme_name + " PDF")
        check_fonts(base + ".pdf", theme_name + " PDF")
        check_crowded(base + ".pdf", outline, theme_name + " PDF")
        pngs = sorted(f for f in os.listdir(tmp) if re.fullmatch(f"deck-{theme_name}-\\d+\\.png", f))
        check(len(pngs) == n, f"{theme_name}: {len(pngs)} thumbnails, want {n}")
        for p in pngs:
            check(png_size(os.path.join(tmp, p)) == (1280, 720), f"{p}: size")
        for out in (base + ".pptx", base + ".pdf", os.path.join(tmp, pngs[0])):
            check(os.stat(out).st_mode & 0o044, f"{out}: not readable by others (mode 0600?)")
        print(f"ok: theme {theme_name}: {pages} PDF pages, {len(pngs)} thumbnails")
        if theme_name == "red":
            lo = soffice_pages(tmp, base + ".pptx")
            if lo:
                lo_pages, _ = pdf_pages(lo)
                check(lo_pages == n, f"LibreOffice: {lo_pages} pages, want {n}")
                for i, s in enumerate(outline["slides"]):
                    check(norm(s["title"]) in norm(page_text(lo, i + 2)),
                          f"LibreOffice page {i + 2} lacks {s['title']!r}")
                print(f"ok: LibreOffice converts the red deck to {lo_pages} pages")
    # thumbnails at another resolution
    r = run(["--outline", src, "--png", os.path.join(tmp, "small"), "--dpi", "48"])
    if r.returncode == 0:
        check(png_size(os.path.join(tmp, "small-1.png")) == (640, 360), "48 dpi thumbnail size")


def leftovers(tmp, stem):
    return [f for f in os.listdir(tmp) if f.startswith(stem)]


def bad_runs(tmp):
    good = {"title": "T", "slides": [{"title": "A", "bullets": ["x"]}]}
    with open(os.path.join(tmp, "corrupt.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + os.urandom(40))
    with open(os.path.join(tmp, "text.png"), "w") as f:
        f.write("not a picture\n")
    cases = [
        ("malformed", '{"title": "T", "slides": [', "malformed.json", "JSON"),
        ("top array", "[1, 2]", "top.json", "object"),
        ("no slides", {"title": "T"}, "noslides.json", "slides"),
        ("no title", {"slides": good["slides"]}, "notitle.json", "title"),
        ("empty slides", {"title": "T", "slides": []}, "empty.json", "empty"),
        ("slide not object", {"title": "T", "slides": ["x"]}, "slidestr.json", "slides[0]"),
        ("slide without title", {"title": "T", "slides": [{"bullets": []}]}, "st.json",
         "slides[0].title"),
        ("bullets a string", {"title": "T", "slides": [{"title": "A", "bullets": "x"}]},
         "bstr.json", "slides[0].bullets"),
        ("title a number", {"title": 5, "slides": good["slides"]}, "tnum.json", "title"),
        ("bullet a number", {"title": "T", "slides": [{"title": "A", "bullets": ["x", 3]}]},
         "bnum.json", "slides[0].bullets[1]"),
        ("bad level", {"title": "T", "slides": [{"title": "A", "bullets": [
            {"text": "x", "level": 9}]}]}, "blevel.json", "level"),
        ("image a number", {"title": "T", "slides": [{"title": "A", "bullets": [], "image": 1}]},
         "inum.json", "image"),
        ("too many bullets", {"title": "T", "slides": [{"title": "A", "bullets": ["x"] * 21}]},
         "many.json", "bullets"),
        ("missing image", {"title": "T", "slides": [{"title": "A", "bullets": [],
                                                      "image": "nowhere.png"}]},
         "mimg.json", "nowhere.png"),
        ("corrupt image", {"title": "T", "slides": [{"title": "A", "bullets": [],
                                                      "image": "corrupt.png"}]},
         "cimg.json", "corrupt.png"),
        ("not an image", {"title": "T", "slides": [{"title": "A", "bullets": [],
                                                     "image": "text.png"}]},
         "timg.json", "text.png"),
    ]
    for what, outline, fname, needle in cases:
        src = write_outline(tmp, fname, outline)
        out = os.path.join(tmp, "bad-out")
        r = run(["--outline", src, "-o", out + ".pptx", "--pdf", out + ".pdf", "--png", out], 2)
        err = r.stderr.strip()
        named = fname in err or needle.endswith(".png") and needle in err
        check(named and needle in err and "\n" not in err,
              f"{what}: message {err!r} should be one line naming {fname} and {needle}")
        check(not leftovers(tmp, "bad-out"), f"{what}: left {leftovers(tmp, 'bad-out')}")
    src = write_outline(tmp, "good.json", good)
    r = run(["--outline", src, "--theme", "purple", "-o", os.path.join(tmp, "bad-out.pptx")], 2)
    check(all(t in r.stderr for t in ("purple", "plain", "red", "dark")),
          f"unknown theme: {r.stderr.strip()!r} should list plain, red, dark")
    r = run(["--outline", os.path.join(tmp, "absent.json"), "-o",
             os.path.join(tmp, "bad-out.pptx")], 2)
    check("absent.json" in r.stderr, f"absent outline: {r.stderr.strip()!r}")
    # unwritable outputs: a write error (1), and the PPTX already written is removed
    r = run(["--outline", src, "-o", "/nonexistent-dir/x.pptx"], 1)
    check("/nonexistent-dir/x.pptx" in r.stderr, f"unwritable pptx: {r.stderr.strip()!r}")
    r = run(["--outline", src, "-o", os.path.join(tmp, "bad-out.pptx"), "--pdf",
             "/nonexistent-dir/x.pdf"], 1)
    check("/nonexistent-dir/x.pdf" in r.stderr, f"unwritable pdf: {r.stderr.strip()!r}")
    check(not leftovers(tmp, "bad-out"), f"unwritable pdf: left {leftovers(tmp, 'bad-out')}")
    run(["--outline", src], 2)  # no output
    run(["--outline", src, "--png", os.path.join(tmp, "bad-out"), "--dpi", "5"], 2)
    check(not leftovers(tmp, "bad-out"), "bad dpi: left files")
    print(f"ok: {len(cases) + 6} refusals")


def main():
    themes_dir = os.path.join(os.environ.get("WENSHU_ASSETS_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "assets"), "themes")
    for tool in ("pdfinfo", "pdftotext", "pdffonts"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} (poppler-utils) is not installed")
            return 77
    with tempfile.TemporaryDirectory(prefix="wenshu-deck-") as tmp:
        good_runs(tmp, themes_dir)
        bad_runs(tmp)
        stray = [f for f in os.listdir(tmp) if ".tmp-" in f]
        check(not stray, f"temporary files left: {stray}")
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("all deck checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
