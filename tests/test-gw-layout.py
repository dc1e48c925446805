#!/usr/bin/env python3
"""The GB/T 9704-2012 layout of the PDF and PNG exports, read back.

Each draft in tests/data/gongwen/layout/ is rendered with
`wenshu-cli format DRAFT --pdf OUT.pdf` and `--png PREFIX --dpi 200`; the joint
draft (lianhe.md) and the 请示 also with --sealed. The
PDF is read back with poppler (`pdftotext -bbox-layout`: word and line boxes
in points; a box's top is the font's ascent line, which is where the layout
puts the top of a text line), the PNG by a pixel scan for rules (red and
black) and for the page number's dash. Every expected number below comes
from shared/specs/gongwen-gbt9704.md (the joint 落款 from GB/T 9704-2012
7.3.5 itself), never from the code under test:

  A4 210 x 297 mm; type area 156 x 225 mm at 28 mm left / 37 mm top;
  22 lines of 28 characters: pitch 225/22 mm, one character 156/28 mm.
  Text lines on the grid: top within 0.5 mm of 37 + k * pitch; at most 28
  characters a line (a half-width character counts one half).
  Margins: leftmost text 28 +- 1 mm, topmost text of a full page 37 +- 1 mm.
  发文机关标志: red, centred, top 35 mm below the type-area top (信函: 30 mm
  from the page top, red double rules 170 mm wide, thick over thin 4 mm
  below it and thin over thick 20 mm above the page's bottom edge).
  发文字号: two blank lines below the 标志 (on the grid: between two and
  three lines), centred; upward documents one character in from the left,
  on the line of the last 签发人, whose block ends one character in from
  the right. Red rule 4 mm below the 发文字号 (a 三号 character is 16 pt
  high), 156 mm wide. Title two blank lines below the rule (on the grid),
  centred; 主送 one blank line below it, flush left; body paragraphs
  indented two characters.
  页码 "— N —": the dash line 7 mm below the type area, odd pages one
  character in from the right, even pages one character in from the left;
  none on 信函 page 1, on a blank page or on a page holding only the 版记.
  版记: on the last page, which is even, its last rule on the type area's
  bottom edge (262 mm), thick / thin / thick rules, "印发" line above it.
  Attachments: "附件N" flush left on line 1 of a new page, title centred on
  line 3.
  落款 and 成文日期 (GB/T 9704-2012 7.3.5): unsealed (7.3.5.2), the issuer one
  blank line below the text, right-indented two characters, the date on the
  next line starting two characters right of the issuer (a longer date two
  characters in, the issuer moved left); a joint issue stacks the names one a
  line, lead agency first, right-aligned, the date under the last. Sealed
  (7.3.5.1), the date right-indented four characters with the (last) issuer
  centred over it; a joint issue sets the names side by side in issuing
  order, in rows of seals (one seal centred on each name, the last pressing
  the last name and the date) that neither cross nor touch, stay inside the
  type area's width, and whose first row's top is within one line of the
  text. The seal's size is not in the standard: 42 mm, the common size of a
  机关's seal.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

MM = 25.4 / 72.0  # mm per pt
PAGE_W, PAGE_H = 210.0, 297.0
LEFT, TOP, AREA_W, AREA_H = 28.0, 37.0, 156.0, 225.0
RIGHT, BOTTOM = LEFT + AREA_W, TOP + AREA_H
PITCH = AREA_H / 22
CELL = AREA_W / 28
EM16 = 16 * MM  # a 三号 character's height
SEAL_D = 42.0  # a 机关's seal, mm (not given by the standard; see above)
DPI = 200
PX = 25.4 / DPI  # mm per pixel

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)
    return cond


def near(value, want, tol, what):
    return check(abs(value - want) <= tol, f"{what}: {value:.2f} mm, want {want:.2f} +- {tol}")


class Line:
    def __init__(self, el):
        self.x0, self.y0 = float(el.get("xMin")) * MM, float(el.get("yMin")) * MM
        self.x1, self.y1 = float(el.get("xMax")) * MM, float(el.get("yMax")) * MM
        words = [w for w in el.iter() if w.tag.endswith("word")]
        self.text = "".join(w.text or "" for w in words)
        # (text, x0 mm, x1 mm) of each word: names side by side share a line
        self.words = [(w.text or "", float(w.get("xMin")) * MM, float(w.get("xMax")) * MM)
                      for w in words]

    def __repr__(self):
        return f"<{self.text} x {self.x0:.1f}-{self.x1:.1f} y {self.y0:.1f}-{self.y1:.1f}>"


def read_pdf(path):
    """Pages of (width mm, height mm, [Line]) from pdftotext -bbox-layout."""
    xml = subprocess.run(["pdftotext", "-bbox-layout", path, "-"], check=True,
                         capture_output=True).stdout
    root = ET.fromstring(xml)
    pages = []
    for page in root.iter():
        if not page.tag.endswith("page"):
            continue
        lines = [Line(el) for el in page.iter() if el.tag.endswith("line")]
        # pdftotext may split one visual line into several flows: merge
        # lines whose boxes share a top (within 0.3 mm) and touch.
        lines.sort(key=lambda ln: (round(ln.y0, 1), ln.x0))
        merged = []
        for ln in lines:
            if merged and abs(merged[-1].y0 - ln.y0) < 0.3 and ln.x0 - merged[-1].x1 < CELL * 0.6:
                m = merged[-1]
                m.text += ln.text
                m.words += ln.words
                m.x1, m.y1 = max(m.x1, ln.x1), max(m.y1, ln.y1)
            else:
                merged.append(ln)
        pages.append((float(page.get("width")) * MM, float(page.get("height")) * MM, merged))
    return pages


def char_width(text):
    """Width in characters: full-width 1, half-width 0.5."""
    return sum(0.5 if ord(c) < 0x2000 and c not in "—“”‘’…·" else 1.0 for c in text
               if not c.isspace())


def on_grid(y, tol=0.5):
    k = round((y - TOP) / PITCH)
    return 0 <= k < 22 and abs(y - (TOP + k * PITCH)) <= tol


# Titles (二号小标宋) are checked on the grid within 1 mm, not 0.5: where
# 小标宋 is a synthetic bold, cairo embeds it as a CFF font whose ascent
# poppler reads differently from the TrueType original.
TITLE_STARTS = ("关于", "第一季度")


def is_title(ln):
    return ln.text.startswith(TITLE_STARTS) and abs((ln.x0 + ln.x1) / 2 - (LEFT + AREA_W / 2)) < 1.0


def render(cli, draft, tmp, extra=(), name=None):
    """Render draft (with extra options, e.g. --sealed) as tmp/NAME.pdf and PNGs."""
    name = name or os.path.splitext(os.path.basename(draft))[0]
    pdf = os.path.join(tmp, name + ".pdf")
    png = os.path.join(tmp, name)
    r = subprocess.run([cli, "format", draft, "--pdf", pdf, *extra], capture_output=True,
                       text=True)
    check(r.returncode == 0, f"{name}: format --pdf exit {r.returncode}: {r.stderr.strip()}")
    m = re.search(r"pages (\d+)", r.stdout)
    r2 = subprocess.run([cli, "format", draft, "--png", png, "--dpi", str(DPI), *extra],
                        capture_output=True, text=True)
    check(r2.returncode == 0, f"{name}: format --png exit {r2.returncode}: {r2.stderr.strip()}")
    pages = read_pdf(pdf)
    check(m and int(m.group(1)) == len(pages),
          f"{name}: stdout says {m.group(0) if m else 'nothing'}, PDF has {len(pages)} pages")
    images = []
    for i in range(len(pages)):
        path = f"{png}-{i + 1}.png"
        if check(os.path.exists(path), f"{name}: {path} missing"):
            images.append(np.asarray(Image.open(path).convert("RGB")).astype(np.int32))
    leftovers = [f for f in os.listdir(tmp) if ".tmp" in f]
    check(not leftovers, f"{name}: temporary files left: {leftovers}")
    return pages, images, r.stderr


# ---- PNG scans ----------------------------------------------------------------------


def red_mask(img):
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return (r > 150) & (g < 130) & (b < 130)


def dark_mask(img):
    return img.sum(axis=2) < 3 * 110


def rules(mask, min_len_mm):
    """Horizontal rules in a mask: [(y_mm centre, x0_mm, x1_mm, thickness_mm)].
    A rule row has a run of set pixels at least min_len_mm long."""
    rows = []
    min_px = int(min_len_mm / PX)
    for y in range(mask.shape[0]):
        row = mask[y]
        if row.sum() < min_px:
            continue
        xs = np.flatnonzero(row)
        # the longest run of consecutive pixels
        breaks = np.flatnonzero(np.diff(xs) > 1)
        starts = np.concatenate(([0], breaks + 1))
        ends = np.concatenate((breaks, [len(xs) - 1]))
        k = int(np.argmax(ends - starts))
        if xs[ends[k]] - xs[starts[k]] + 1 >= min_px:
            rows.append((y, xs[starts[k]], xs[ends[k]]))
    out = []
    for y, x0, x1 in rows:
        if out and y - out[-1][-1][0] == 1:
            out[-1].append((y, x0, x1))
        else:
            out.append([(y, x0, x1)])
    return [((g[0][0] + g[-1][0] + 1) / 2 * PX, min(r[1] for r in g) * PX,
             (max(r[2] for r in g) + 1) * PX, len(g) * PX) for g in out]


def dash_line(img, line):
    """The y (mm) of the longest dark horizontal stroke inside a line's box."""
    y0, y1 = int(line.y0 / PX), int(line.y1 / PX) + 1
    x0, x1 = int(line.x0 / PX), int(line.x1 / PX) + 1
    box = dark_mask(img[y0:y1, x0:x1])
    counts = box.sum(axis=1)
    if counts.max() == 0:
        return None
    ys = np.flatnonzero(counts >= counts.max() * 0.8)
    return (y0 + ys.mean() + 0.5) * PX


# ---- checks shared by every document ------------------------------------------------------


def find(lines, pattern):
    return [ln for ln in lines if re.search(pattern, ln.text)]


def page_number_line(lines):
    nums = [ln for ln in lines if re.fullmatch(r"—\s*\d+\s*—", ln.text.strip())]
    return nums[0] if nums else None


def check_common(name, pages, images, numbered, grid_exempt):
    """numbered[i]: page i+1 prints its number. grid_exempt(page_index, line):
    lines placed off the grid by the standard (标志, 版记, 信函 header)."""
    lefts, tops = [], []
    for i, (w, h, lines) in enumerate(pages):
        near(w, PAGE_W, 0.5, f"{name} p{i + 1} page width")
        near(h, PAGE_H, 0.5, f"{name} p{i + 1} page height")
        num = page_number_line(lines)
        for ln in lines:
            if ln is num:
                continue
            check(ln.x0 >= LEFT - 0.5 and ln.x1 <= RIGHT + 0.5,
                  f"{name} p{i + 1} {ln} outside the type area's width")
            if not grid_exempt(i, ln):
                check(char_width(ln.text) <= 28,
                      f"{name} p{i + 1} {ln} has more than 28 characters")
                check(on_grid(ln.y0, 1.0 if is_title(ln) else 0.5),
                      f"{name} p{i + 1} {ln} is off the 22-line grid")
                check(ln.y1 <= BOTTOM + 0.5, f"{name} p{i + 1} {ln} below the type area")
            lefts.append(ln.x0)
        body = [ln for ln in lines if ln is not num and not grid_exempt(i, ln)]
        if i > 0 and body:
            tops.append(min(ln.y0 for ln in body))
        # page numbers
        if numbered[i]:
            if check(num is not None, f"{name} p{i + 1}: no page number"):
                check(re.sub(r"\s", "", num.text) == f"—{i + 1}—",
                      f"{name} p{i + 1}: page number reads {num.text!r}")
                if (i + 1) % 2:
                    near(num.x1, RIGHT - CELL, 1.0, f"{name} p{i + 1} odd page number right edge")
                else:
                    near(num.x0, LEFT + CELL, 1.0, f"{name} p{i + 1} even page number left edge")
                if i < len(images):
                    y = dash_line(images[i], num)
                    if check(y is not None, f"{name} p{i + 1}: no dash drawn"):
                        near(y, BOTTOM + 7.0, 1.0, f"{name} p{i + 1} page number dash line")
        else:
            check(num is None, f"{name} p{i + 1}: page number {num} where none belongs")
    near(min(lefts), LEFT, 1.0, f"{name} leftmost text (left margin)")
    for t in tops:
        near(t, TOP, 1.0, f"{name} topmost text of a continued page (top margin)")


def check_colophon(name, pages, images, cc_first, with_printer=True):
    last = len(pages)
    check(last % 2 == 0, f"{name}: the 版记 is on page {last}, not an even page")
    lines = pages[-1][2]
    cc = find(lines, "^抄送")
    if not check(cc, f"{name}: no 抄送 line on the last page"):
        return
    near(cc[0].x0, LEFT + 14 * MM, 1.0, f"{name} 抄送 one 四号 character in")
    check(cc_first in cc[0].text, f"{name}: 抄送 line reads {cc[0].text!r}")
    img = images[-1]
    found = [r for r in rules(dark_mask(img), AREA_W - 2) if r[0] > TOP]
    if not with_printer:
        check(not found, f"{name}: a letter's 版记 has no rules, found {found}")
        check(cc[-1].y1 <= BOTTOM + 0.5 and cc[-1].y1 >= BOTTOM - PITCH - 0.5,
              f"{name}: 抄送 {cc[-1]} is not at the foot of the type area")
        return
    printed = find(lines, "印发$")
    if check(printed, f"{name}: no 印发 line"):
        p = printed[0]
        check(BOTTOM - PITCH - 0.5 <= p.y0 and p.y1 <= BOTTOM + 0.5,
              f"{name}: 印发 line {p} is not in the last line of the type area")
        near(p.x1, RIGHT - 14 * MM, 1.0, f"{name} 印发日期 one 四号 character in from the right")
    if check(len(found) == 3, f"{name}: want 3 版记 rules, found {found}"):
        (y0, a0, b0, t0), (y1, a1, b1, t1), (y2, a2, b2, t2) = found
        near(y2 + t2 / 2, BOTTOM, 0.5, f"{name} last 版记 rule on the type area's bottom edge")
        for y, a, b, t in found:
            near(a, LEFT, 0.5, f"{name} 版记 rule at {y:.1f} left end")
            near(b, RIGHT, 0.5, f"{name} 版记 rule at {y:.1f} right end")
        check(t0 > t1 and t2 > t1, f"{name}: rules not thick/thin/thick ({t0:.2f}, {t1:.2f}, "
              f"{t2:.2f} mm)")
        near(t0, 0.35, 0.2, f"{name} first 版记 rule thickness")
        near(t1, 0.25, 0.2, f"{name} middle 版记 rule thickness")
        check(y0 < cc[0].y0 and cc[-1].y1 < y1 < printed[0].y0,
              f"{name}: 抄送 not between the first and the middle rule")


def red_ink(img, line):
    """The red ink of a line's box (a margin of 3 mm around it): (top, bottom,
    left, right) in mm, or None when nothing there is red."""
    y0, y1 = int((line.y0 - 3) / PX), int((line.y1 + 3) / PX)
    x0, x1 = int((line.x0 - 3) / PX), int((line.x1 + 3) / PX)
    mask = red_mask(img[y0:y1, x0:x1])
    if mask.mean() < 0.03:
        return None
    ys, xs = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return ((y0 + ys[0]) * PX, (y0 + ys[-1] + 1) * PX, (x0 + xs[0]) * PX, (x0 + xs[-1] + 1) * PX)


def check_mark(name, lines, img, mark, top):
    """The red 标志: its ink's top edge at top (mm from the page top), centred,
    no wider than the type area. Returns the bottom of its ink."""
    m = find(lines, "^" + re.escape(mark) + "$")
    if not check(m, f"{name}: no 标志 line {mark!r} in {lines[:6]}"):
        return None
    ink = red_ink(img, m[0])
    if not check(ink, f"{name}: 标志 is not red"):
        return None
    near(ink[0], top, 1.0, f"{name} 标志 top edge (red ink)")
    near((ink[2] + ink[3]) / 2, LEFT + AREA_W / 2, 1.0, f"{name} 标志 centre (red ink)")
    check(ink[3] - ink[2] <= AREA_W + 0.5, f"{name}: 标志 wider than the type area")
    return ink[1]


def check_ordinary_header(name, lines, img, mark, upward):
    mark_bottom = check_mark(name, lines, img, mark, TOP + 35.0)
    if mark_bottom is None:
        return None
    num = find(lines, "〔\\d{4}〕\\d+号")
    if not check(num, f"{name}: no 发文字号"):
        return None
    num = num[0]
    signers = find(lines, "签发人：")
    first = signers[0] if upward and signers else num
    check(2 * PITCH - 1 <= first.y0 - mark_bottom <= 3 * PITCH + 1,
          f"{name}: {first.text} {first.y0 - mark_bottom:.1f} mm below the 标志, want two blank "
          "lines")
    if upward:
        near(num.x0, LEFT + CELL, 1.0, f"{name} 发文字号 one character in (upward)")
        if check(signers, f"{name}: no 签发人"):
            s = signers[0]
            near(s.x1, RIGHT - CELL, 1.0, f"{name} 签发人 one character in from the right")
            same = [ln for ln in lines if abs(ln.y0 - num.y0) < 0.6 and ln is not num]
            check(same, f"{name}: 发文字号 not on a 签发人 line")
    else:
        near((num.x0 + num.x1) / 2, LEFT + AREA_W / 2, 1.0, f"{name} 发文字号 centre")
    red = [r for r in rules(red_mask(img), 100) if r[0] > num.y0]
    if not check(red, f"{name}: no red rule below the 发文字号"):
        return None
    rule = red[0]
    near(rule[0], num.y0 + EM16 + 4.0, 1.0, f"{name} red rule 4 mm below the 发文字号")
    near(rule[1], LEFT, 1.0, f"{name} red rule left end")
    near(rule[2], RIGHT, 1.0, f"{name} red rule right end")
    return rule[0]


def check_title_and_recipients(name, lines, after_y, title_start, recipients_start):
    t = find(lines, "^" + re.escape(title_start))
    if not check(t, f"{name}: no title line starting {title_start!r}"):
        return
    t = t[0]
    check(2 * PITCH - 1 <= t.y0 - after_y <= 3 * PITCH + 1,
          f"{name}: title {t.y0 - after_y:.1f} mm below the rule/header, want two blank lines")
    near((t.x0 + t.x1) / 2, LEFT + AREA_W / 2, 1.0, f"{name} title centre")
    title_lines = [ln for ln in lines if t.y0 - 0.5 <= ln.y0 and ln.y0 < t.y0 + 4 * PITCH and
                   abs((ln.x0 + ln.x1) / 2 - (LEFT + AREA_W / 2)) < 1.0 and not ln.text.endswith("：")]
    last_title = max(title_lines, key=lambda ln: ln.y0)
    r = find(lines, "^" + re.escape(recipients_start))
    if check(r, f"{name}: no 主送 line"):
        r = r[0]
        near(r.y0, last_title.y0 + 2 * PITCH, 0.5, f"{name} 主送 one blank line below the title")
        near(r.x0, LEFT, 0.5, f"{name} 主送 flush left")
        check(r.text.endswith("：") or char_width(r.text) > 26, f"{name}: 主送 {r.text!r}")
        body = [ln for ln in lines if abs(ln.y0 - (r.y0 + PITCH)) < 0.5]
        if check(body, f"{name}: no body line after 主送"):
            near(body[0].x0, LEFT + 2 * CELL, 0.5, f"{name} first paragraph indented 2")


def check_signature(name, lines, issuer, date, sealed=False):
    i, d = find(lines, "^" + issuer + "$"), find(lines, "^" + date + "$")
    if not (check(i, f"{name}: no signature {issuer}") and check(d, f"{name}: no date {date}")):
        return
    i, d = i[-1], d[-1]
    near(d.y0 - i.y0, PITCH, 0.5, f"{name} date on the line after the signature")
    if sealed:
        near(d.x1, RIGHT - 4 * CELL, 1.0, f"{name} sealed date right-indented 4")
        near((i.x0 + i.x1) / 2, (d.x0 + d.x1) / 2, 1.0, f"{name} issuer centred over the date")
    else:
        right = RIGHT - 2 * CELL
        check(abs(i.x1 - right) <= 1.0 or abs(d.x1 - right) <= 1.0,
              f"{name}: neither signature {i} nor date {d} right-indented 2")
        near(d.x0 - i.x0, 2 * CELL, 1.0, f"{name} date starts 2 characters right of the issuer")


# ---- the documents -----------------------------------------------------------------------


def doc_tongzhi(pages, images):
    name = "通知"
    lines = pages[0][2]
    n = len(pages)
    exempt = lambda i, ln: (i == 0 and ln.text == "XX市人民政府文件") or (
        i == n - 1 and (ln.text.startswith("抄送") or "印发" in ln.text or ln.y0 > TOP + 17 * PITCH))
    # 份号, 密级, 紧急程度 stacked flush left on lines 1-3
    for k, (label, text) in enumerate([("份号", "000123"), ("密级", "机密★1年"), ("紧急程度", "特急")]):
        f = find(lines, "^" + re.escape(text) + "$")
        if check(f, f"{name}: no {label}"):
            near(f[0].y0, TOP + k * PITCH, 0.5, f"{name} {label} on line {k + 1}")
            near(f[0].x0, LEFT, 0.5, f"{name} {label} flush left")
    rule = check_ordinary_header(name, lines, images[0], "XX市人民政府文件", False)
    if rule:
        check_title_and_recipients(name, lines, rule, "关于开展2025年安全生产", "各区县人民政府")
    all_lines = [ln for p in pages for ln in p[2]]
    check_signature(name, all_lines, "XX市人民政府", "2025年3月18日")
    att = find(all_lines, "^附件：")
    if check(att, f"{name}: no 附件说明"):
        near(att[0].x0, LEFT + 2 * CELL, 0.5, f"{name} 附件说明 indented 2")
        second = find(all_lines, "^2\\.安全生产")
        if check(second, f"{name}: no second attachment name"):
            near(second[0].x0, att[0].x0 + 3 * CELL, 1.0, f"{name} attachment names aligned")
    # the 版记 needs a page of its own here (page 3 is odd): no number on it
    numbered = [True] * (n - 1) + [False]
    only_colophon = all(ln.y0 > BOTTOM - 4 * PITCH for ln in pages[-1][2])
    check(only_colophon, f"{name}: expected a page holding only the 版记 at the end")
    check_common(name, pages, images, numbered, exempt)
    check_colophon(name, pages, images, "市委办公室")


def doc_qingshi(pages, images):
    name = "请示"
    check(len(pages) == 1, f"{name}: {len(pages)} pages, want 1")
    lines = pages[0][2]
    exempt = lambda i, ln: ln.text == "XX县人民政府文件"
    rule = check_ordinary_header(name, lines, images[0], "XX县人民政府文件", True)
    if rule:
        check_title_and_recipients(name, lines, rule, "关于申请拨付", "XX市人民政府：")
    check_signature(name, lines, "XX县人民政府", "2025年3月20日")
    note = find(lines, "^（联系人")
    d = find(lines, "^2025年3月20日$")
    if check(note and d, f"{name}: no 附注"):
        near(note[0].y0, d[0].y0 + PITCH, 0.5, f"{name} 附注 on the line after the date")
        near(note[0].x0, LEFT + 2 * CELL, 0.5, f"{name} 附注 indented 2")
    check_common(name, pages, images, [True], exempt)


def doc_han(pages, images):
    name = "函"
    check(len(pages) == 1, f"{name}: {len(pages)} pages, want 1")
    lines = pages[0][2]
    img = images[0]
    mark_bottom = check_mark(name, [ln for ln in lines if ln.y0 < 60], img, "XX市教育局", 30.0)
    if mark_bottom is None:
        return
    red = rules(red_mask(img), 150)
    check(len(red) == 4, f"{name}: want two red double rules (4 lines), found {red}")
    if len(red) == 4:
        for y, x0, x1, t in red:
            near(x0, 20.0, 1.0, f"{name} double rule at {y:.1f} left end (170 mm centred)")
            near(x1, 190.0, 1.0, f"{name} double rule at {y:.1f} right end")
        check(red[0][3] > red[1][3], f"{name}: first double rule is not thick over thin")
        check(red[3][3] > red[2][3], f"{name}: second double rule is not thin over thick")
        top_of_pair = red[0][0] - red[0][3] / 2
        near(top_of_pair - mark_bottom, 4.0, 1.0, f"{name} first double rule below the 标志")
        near(red[3][0] + red[3][3] / 2, PAGE_H - 20.0, 1.0, f"{name} second double rule")
        num = find(lines, "〔2025〕5号")
        if check(num, f"{name}: no 发文字号"):
            near(num[0].x1, RIGHT, 1.0, f"{name} 发文字号 flush right")
            near(num[0].y0 - (red[1][0] + red[1][3] / 2), EM16 * 7 / 8, 1.0,
                 f"{name} 发文字号 7/8 of a character below the double rule")
            check_title_and_recipients(name, lines, num[0].y0 + EM16, "关于商请支持",
                                       "XX市文化和旅游局：")
    check_signature(name, lines, "XX市教育局", "2025年4月2日")
    # 信函: no page number on page 1; the 版记 (抄送 only, no rules) at the foot
    exempt = lambda i, ln: ln.y0 < TOP + 3 * PITCH or ln.text.startswith("抄送")
    check_common(name, pages, images, [False], exempt)
    cc = find(lines, "^抄送")
    if check(cc, f"{name}: no 抄送"):
        check(BOTTOM - PITCH - 0.5 <= cc[-1].y0 and cc[-1].y1 <= BOTTOM + 0.5,
              f"{name}: 抄送 {cc[-1]} not at the foot of the type area")


def doc_jiyao(pages, images, stderr):
    name = "纪要"
    lines = pages[0][2]
    mark = "XX市人民政府常务会议纪要"
    check_mark(name, lines, images[0], mark, TOP + 35.0)
    all_lines = [ln for p in pages for ln in p[2]]
    for label in ("出席：", "请假：", "列席："):
        f = find(all_lines, "^" + label)
        if check(f, f"{name}: no {label}"):
            near(f[0].x0, LEFT + 2 * CELL, 0.5, f"{name} {label} indented 2")
    wrapped = [ln for ln in all_lines if ln.text.startswith("十")]
    if check(wrapped, f"{name}: the 出席 names do not wrap"):
        near(wrapped[0].x0, LEFT + 5 * CELL, 0.6, f"{name} wrapped names aligned after 出席：")
    # the 黑体 labels: the font the CLI named for 黑体 is embedded
    hei = re.search(r"黑体 → ([^（\n]+)", stderr)
    fonts = subprocess.run(["pdffonts", os.path.join(TMP, "jiyao.pdf")], capture_output=True,
                           text=True).stdout
    if hei:
        check(hei.group(1).replace(" ", "") in fonts.replace(" ", ""),
              f"{name}: 黑体 stand-in {hei.group(1)} not embedded: {fonts}")
    n = len(pages)
    exempt = lambda i, ln: (i == 0 and ln.text == mark) or (
        i == n - 1 and (ln.text.startswith("抄送") or "印发" in ln.text or ln.y0 > BOTTOM - 2 * PITCH))
    check_common(name, pages, images, [True] * n, exempt)
    check_colophon(name, pages, images, "市委办公室")


def doc_baogao(pages, images):
    name = "报告"
    check(len(pages) == 4, f"{name}: {len(pages)} pages, want 4 (body 2, attachments 2)")
    lines = pages[0][2]
    rule = check_ordinary_header(name, lines, images[0], "XX市应急管理局文件", True)
    if rule:
        check_title_and_recipients(name, lines, rule, "关于2025年第一季度", "XX市人民政府：")
    where = []
    for k in (1, 2):
        hits = [(i, ln) for i, p in enumerate(pages) for ln in p[2] if ln.text == f"附件{k}"]
        if not check(hits, f"{name}: no 附件{k} page"):
            continue
        i, a = hits[0]
        where.append(i)
        near(a.y0, TOP, 0.5, f"{name} 附件{k} on line 1 of its page")
        near(a.x0, LEFT, 0.5, f"{name} 附件{k} flush left")
        check(a is min(pages[i][2], key=lambda ln: ln.y0), f"{name}: 附件{k} does not open page")
        t = find(pages[i][2], "^第一季度")
        if check(t, f"{name}: page {i + 1} has no attachment title"):
            near(t[0].y0, TOP + 2 * PITCH, 1.0, f"{name} attachment {k} title on line 3")
            near((t[0].x0 + t[0].x1) / 2, LEFT + AREA_W / 2, 1.0,
                 f"{name} attachment {k} title centred")
    check(where == sorted(set(where)) and (not where or where[0] >= 1),
          f"{name}: attachments on pages {[w + 1 for w in where]}, want each on a new page")
    all_lines = [ln for p in pages for ln in p[2]]
    check_signature(name, all_lines, "XX市应急管理局", "2025年4月8日")
    n = len(pages)
    exempt = lambda i, ln: (i == 0 and ln.text == "XX市应急管理局文件") or (
        i == n - 1 and (ln.text.startswith("抄送") or ln.y0 > BOTTOM - 2 * PITCH))
    # the 版记 shares the last (even) page with the second attachment: numbered
    check_common(name, pages, images, [True] * n, exempt)
    check_colophon(name, pages, images, "市委办公室")


# 联合行文: three agencies, the lead one first (tests/data/gongwen/layout/lianhe.md)
JOINT_ISSUERS = ["临江市人力资源和社会保障局", "临江市教育局", "临江市财政局"]
JOINT_DATE = "2025年6月10日"


def signature_page(name, pages, date):
    """(page index, the date's line) of the last line reading date, or (None, None)."""
    hits = [(i, ln) for i, p in enumerate(pages) for ln in p[2] if ln.text == date]
    if not check(hits, f"{name}: no date line {date}"):
        return None, None
    return hits[-1]


def text_above(lines, y):
    """The lowest line whose top is above y (the end of the text before the 落款)."""
    above = [ln for ln in lines if ln.y0 < y - 0.5]
    return max(above, key=lambda ln: ln.y0) if above else None


def joint_exempt():
    """The joint 标志 (the names stacked, 文件 beside them) is placed in mm, off the grid."""
    return lambda i, ln: i == 0 and ln.y0 < TOP + 35.0 + 3 * 15 and (
        ln.text.startswith("临江市") or ln.text == "文件")


def doc_lianhe(pages, images):
    """Unsealed joint 落款 (7.3.5.2): the lead agency first, the others below it, one a
    line, right-aligned; the date on the next line."""
    name = "联合行文"
    check_common(name, pages, images, [True] * len(pages), joint_exempt())
    i, d = signature_page(name, pages, JOINT_DATE)
    if d is None:
        return
    lines = pages[i][2]
    names = []
    for k, issuer in enumerate(JOINT_ISSUERS):
        hits = [ln for ln in lines if ln.text == issuer and ln.y0 < d.y0]
        if not check(hits, f"{name}: no 落款 line {issuer!r} above the date on page {i + 1}"):
            return
        names.append(max(hits, key=lambda ln: ln.y0))
    n = len(names)
    # one a line, in issuing order, the date on the line after the last
    for k, ln in enumerate(names):
        near(ln.y0, d.y0 - (n - k) * PITCH, 0.5, f"{name} 落款 {ln.text} on line {k + 1} of {n}")
    body = text_above(lines, names[0].y0)
    if check(body, f"{name}: no text above the 落款 on page {i + 1}"):
        near(names[0].y0 - body.y0, 2 * PITCH, 0.5, f"{name} 落款 one blank line below the text")
    # the names right-aligned; the lead name (13 characters) is far longer than the date
    # (6.5) plus two, so it is the names, not the date, that sit two characters in
    for ln in names:
        near(ln.x1, RIGHT - 2 * CELL, 1.0, f"{name} 落款 {ln.text} right-indented 2")
    near(d.x0, min(ln.x0 for ln in names) + 2 * CELL, 1.0,
         f"{name} date starts 2 characters right of the names")
    check(d.x1 <= RIGHT - 2 * CELL + 1.0, f"{name}: date {d} passes the 2-character indent")


def check_seals(name, names, date, text_bottom):
    """The seals a sealed 落款 must leave room for (7.3.5.1), one SEAL_D circle for each name
    box (x0, x1, y0, y1), names in issuing order. The model: each seal centred on its name
    across; the first row of seals as low as the rule lets it, its top one line below the
    text; every later row the same height above its names (rows aligned). Then: each seal
    presses its name (the name's centre within half a radius of the seal's), the last one
    the last name and the date too, with them at or below its centre (居印章中心偏下); no
    two seals cross or touch; every seal inside the type area's width."""
    r = SEAL_D / 2
    first_row = min(n[2] for n in names)
    seal_y = text_bottom + PITCH + r - first_row  # seal centre below its names' top line
    seals = []
    for k, (x0, x1, y0, y1) in enumerate(names):
        x, y = (x0 + x1) / 2, y0 + seal_y
        seals.append((x, y))
        label = f"{name}: seal {k + 1} (at {x:.1f}, {y:.1f} mm)"
        check(x - r >= LEFT - 0.5 and x + r <= RIGHT + 0.5, f"{label} passes the type area")
        check(abs((y0 + y1) / 2 - y) <= r / 2, f"{label} does not press its name {y0:.1f} mm")
        if k == len(names) - 1 and date is not None:
            pressed = ((y0 + y1) / 2 + (date.y0 + date.y1) / 2) / 2
            check(y <= pressed <= y + r / 2, f"{label}: name and date centred at {pressed:.1f} "
                  "mm, want them at or a little below the seal's centre")
            check(date.y1 <= y + r, f"{label} does not reach the date")
    for a in range(len(seals)):
        for b in range(a + 1, len(seals)):
            dist = ((seals[a][0] - seals[b][0]) ** 2 + (seals[a][1] - seals[b][1]) ** 2) ** 0.5
            check(dist > SEAL_D, f"{name}: seals {a + 1} and {b + 1} {dist:.1f} mm apart, they "
                  f"cross or touch (diameter {SEAL_D})")


def doc_lianhe_sealed(pages, images):
    """Sealed joint 落款 (7.3.5.1): the names side by side in issuing order, in aligned rows
    of seals; the date right-indented 4 with the last name centred over it."""
    name = "联合行文（盖章）"
    check_common(name, pages, images, [True] * len(pages), joint_exempt())
    i, d = signature_page(name, pages, JOINT_DATE)
    if d is None:
        return
    lines = pages[i][2]
    found = {}  # issuer -> (x0, x1, y0, y1): the lowest word reading it above the date
    for ln in lines:
        for text, x0, x1 in ln.words:
            if text in JOINT_ISSUERS and ln.y0 < d.y0 and (
                    text not in found or ln.y0 > found[text][2]):
                found[text] = (x0, x1, ln.y0, ln.y1)
    if not check(len(found) == len(JOINT_ISSUERS),
                 f"{name}: 落款 names found {sorted(found)}, want {JOINT_ISSUERS}"):
        return
    names = [found[t] for t in JOINT_ISSUERS]
    for t, (x0, x1, y0, y1) in zip(JOINT_ISSUERS, names):
        check(on_grid(y0), f"{name}: 落款 {t} at {y0:.1f} mm is off the grid")
        check(x0 >= LEFT - 0.5 and x1 <= RIGHT + 0.5, f"{name}: 落款 {t} outside the type area")
    # issuing order: row by row from the top, left to right in a row
    rows = []
    for n in sorted(names, key=lambda b: (round(b[2], 0), b[0])):
        if rows and abs(rows[-1][0][2] - n[2]) < 0.5:
            rows[-1].append(n)
        else:
            rows.append([n])
    check([n for row in rows for n in row] == names,
          f"{name}: 落款 not in issuing order row by row: {[[round(n[0]) for n in r] for r in rows]}")
    for row in rows:
        for a, b in zip(row, row[1:]):
            check(a[1] + CELL - 0.5 <= b[0], f"{name}: names at {a[0]:.1f} and {b[0]:.1f} mm "
                  "less than a character apart")
    # 整齐排列: the names of a shorter row stand in the columns of the fullest row
    full = max(rows, key=len)
    columns = [(n[0] + n[1]) / 2 for n in full]
    for row in rows:
        for n in row:
            c = (n[0] + n[1]) / 2
            check(min(abs(c - x) for x in columns) <= 1.0,
                  f"{name}: name centred at {c:.1f} mm is not in a column {columns}")
    # the date right-indented 4, on the line after the last name, which is centred over it
    last = names[-1]
    near(d.x1, RIGHT - 4 * CELL, 1.0, f"{name} sealed date right-indented 4")
    near(d.y0 - last[2], PITCH, 0.5, f"{name} date on the line after the last name")
    near((last[0] + last[1]) / 2, (d.x0 + d.x1) / 2, 1.0,
         f"{name} last name centred over the date")
    body = text_above(lines, min(n[2] for n in names))
    if check(body, f"{name}: no text above the 落款 on page {i + 1}"):
        check_seals(name, names, d, body.y1)


def doc_qingshi_sealed(pages, images):
    """The single-agency sealed 落款 (7.3.5.1) of the 请示."""
    name = "请示（盖章）"
    check_common(name, pages, images, [True] * len(pages),
                 lambda i, ln: i == 0 and ln.text == "XX县人民政府文件")
    i, d = signature_page(name, pages, "2025年3月20日")
    if d is None:
        return
    lines = pages[i][2]
    check_signature(name, lines, "XX县人民政府", "2025年3月20日", sealed=True)
    issuer = [ln for ln in lines if ln.text == "XX县人民政府" and ln.y0 < d.y0]
    body = text_above(lines, issuer[-1].y0) if issuer else None
    if check(body, f"{name}: no text above the 落款 on page {i + 1}"):
        box = (issuer[-1].x0, issuer[-1].x1, issuer[-1].y0, issuer[-1].y1)
        check_seals(name, [box], d, body.y1)


# ---- 落款 at the foot of a page (GB/T 9704-2012 7.3.5.5) ------------------------------
# When the space left after the text cannot hold the 落款, the spacing is adjusted so
# that the 落款 never stands alone on a page: luokuan-jinzou.md (a copy of
# clean/jueding-lianhe-biaozhang.md, whose text ends three lines above the page's foot)
# must fit on page 1 with its text; luokuan-daihang.md (the same with a longer last
# paragraph, ending on the last line) must carry text to the 落款's page.

LUOKUAN_ISSUERS = ["临江市人力资源和社会保障局", "临江市教育局"]
LUOKUAN_DATE = "2025年9月5日"


def draft_body(path):
    """The body paragraphs of a fixture: the lines after the 主送 (the first line ending
    in ：) up to the 落款, read from the draft itself."""
    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith(("<!--", "#"))]
    start = next(k for k, ln in enumerate(lines) if ln.endswith("：")) + 1
    end = lines.index(LUOKUAN_ISSUERS[0])
    return lines[start:end]


def luokuan_names(lines, date, sealed):
    """The 落款 name boxes (x0, x1, y0, y1) above the date, in issuing order, or None."""
    found = {}
    for ln in lines:
        if ln.y0 >= date.y0 - 0.5 or ln.y0 < date.y0 - 4 * PITCH:
            continue
        for text, x0, x1 in (ln.words if sealed else [(ln.text, ln.x0, ln.x1)]):
            if text in LUOKUAN_ISSUERS:
                found[text] = (x0, x1, ln.y0, ln.y1)
    return [found[t] for t in LUOKUAN_ISSUERS] if len(found) == len(LUOKUAN_ISSUERS) else None


def doc_luokuan(name, pages, images, draft, sealed, carried):
    check_common(name, pages, images, [True] * len(pages), joint_exempt())
    paras = draft_body(draft)
    body_text = "".join(paras)
    i, d = signature_page(name, pages, LUOKUAN_DATE)
    if d is None:
        return
    names = luokuan_names(pages[i][2], d, sealed)
    if not check(names, f"{name}: 落款 names not found above the date on page {i + 1}"):
        return
    top = min(n[2] for n in names)
    # body lines: long enough not to be confused with a name, part of the drafted text
    body = [[ln for ln in p[2] if len(ln.text) >= 4 and ln.text.replace(" ", "") in body_text]
            for p in pages]
    above = [ln for ln in body[i] if ln.y0 < top - 0.5]
    check(len(above) >= (2 if carried else 1),
          f"{name}: the 落款's page {i + 1} holds {len(above)} lines of text above it")
    # nothing lost or doubled when lines move: the text reads as drafted, page after page
    read = "".join(ln.text.replace(" ", "") for p in body for ln in sorted(p, key=lambda l: l.y0))
    check(read == body_text, f"{name}: the text reads {read!r}, want {body_text!r}")
    if carried:
        check(i >= 1, f"{name}: the 落款 is on page {i + 1}, its text was meant to fill page 1")
        prev = body[i - 1]
        if check(prev, f"{name}: no text on page {i}"):
            last = max(ln.y0 for ln in prev)
            check(last >= TOP + 18 * PITCH - 0.5,
                  f"{name}: page {i}'s text ends at {last:.1f} mm, more than two lines were moved")
    else:
        check(len(pages) == 1, f"{name}: {len(pages)} pages, want the 落款 on page 1 with its text")
    text = max(above, key=lambda ln: ln.y0) if above else None
    if text is None:
        return
    gap = (top - text.y0) / PITCH
    if not sealed:
        check(abs(gap - round(gap)) < 0.1 and round(gap) in (1, 2),
              f"{name}: 落款 {gap:.2f} lines below the text, want the next line or one blank line")
        for n in names:
            near(n[1], RIGHT - 2 * CELL, 1.0, f"{name} 落款 right-indented 2")
        return
    # sealed: some place for the last seal must exist that presses the last name and the
    # date at or a little below its centre, whose top is within one line of the text and
    # does not cover it (7.3.5.1)
    r = SEAL_D / 2
    last = names[-1]
    mid = ((last[2] + last[3]) / 2 + (d.y0 + d.y1) / 2) / 2
    lo = max(text.y1 + r, mid - r / 2, d.y1 - r)
    hi = min(text.y1 + PITCH + r, mid)
    check(lo <= hi + 1e-6, f"{name}: no place for the seal between {lo:.1f} and {hi:.1f} mm")
    near(d.x1, RIGHT - 4 * CELL, 1.0, f"{name} sealed date right-indented 4")


# ---- title lines (GB/T 9704-2012 7.3.3) -----------------------------------------------
# 「标题回行时，要做到词意完整，排列对称，长短适宜，间距恰当」. Each title below needs two
# lines; the breaks listed were chosen by hand as keeping words whole, with the lines
# about equal or the upper one longer. A break inside a run of Latin letters or digits,
# or right after 关于, is never acceptable.
TITLE_CASES = [
    ("关于做好2025年高校毕业生就业见习工作的通知",
     ["关于做好2025年高校毕业生|就业见习工作的通知"]),
    ("关于加强和改进新时代城市社区治理工作的实施意见",
     ["关于加强和改进新时代城市|社区治理工作的实施意见",
      "关于加强和改进新时代城市社区|治理工作的实施意见"]),
    ("临江市人力资源和社会保障局关于做好高校毕业生就业见习工作的通知",
     ["临江市人力资源和社会保障局关于做好|高校毕业生就业见习工作的通知",
      "临江市人力资源和社会保障局|关于做好高校毕业生就业见习工作的通知"]),
    ("关于加快推进5G基站和IPv6规模部署工作的实施意见",
     ["关于加快推进5G基站和IPv6|规模部署工作的实施意见",
      "关于加快推进5G基站和|IPv6规模部署工作的实施意见"]),
    ("关于表扬防汛抢险先进集体和先进个人及优秀志愿者的通报",
     ["关于表扬防汛抢险先进集体和|先进个人及优秀志愿者的通报",
      "关于表扬防汛抢险先进集体|和先进个人及优秀志愿者的通报"]),
    ("关于印发《临江市城市更新与历史文化街区保护管理办法》的通知",
     ["关于印发《临江市城市更新与|历史文化街区保护管理办法》的通知",
      "关于印发《临江市城市更新与历史|文化街区保护管理办法》的通知",
      "关于印发《临江市城市更新与历史文化|街区保护管理办法》的通知"]),
]


def title_lines(pages, title):
    """The lines of page 1 that spell the title, in order."""
    out, acc = [], ""
    for ln in sorted(pages[0][2], key=lambda l: l.y0):
        t = ln.text.replace(" ", "")
        if t and title.startswith(acc + t) and (acc or t[:2] == title[:2]):
            out.append(ln)
            acc += t
            if acc == title:
                return out
        elif acc:
            break
    return out if acc == title else None


def check_titles(cli, tmp):
    for k, (title, wanted) in enumerate(TITLE_CASES):
        draft = os.path.join(tmp, f"title-{k}.md")
        with open(draft, "w", encoding="utf-8") as f:
            f.write(f"发文机关：临江市人民政府\n发文字号：临政发〔2025〕{k + 1}号\n# {title}\n"
                    "各区县人民政府：\n请认真贯彻执行。\n临江市人民政府\n2025年6月1日\n")
        pdf = os.path.join(tmp, f"title-{k}.pdf")
        r = subprocess.run([cli, "format", draft, "--pdf", pdf], capture_output=True, text=True)
        if not check(r.returncode == 0, f"title {k}: format exit {r.returncode}: {r.stderr.strip()}"):
            continue
        lines = title_lines(read_pdf(pdf), title)
        if not check(lines, f"title {title}: not found on page 1"):
            continue
        got = "|".join(ln.text.replace(" ", "") for ln in lines)
        check(got in wanted, f"title broken as {got!r}, want one of {wanted}")
        for a, b in zip(lines, lines[1:]):
            ta, tb = a.text.replace(" ", ""), b.text.replace(" ", "")
            check(not (ta[-1].isascii() and ta[-1].isalnum() and tb[0].isascii() and tb[0].isalnum()),
                  f"title {got!r}: a Latin or digit run broken")
            check(not ta.endswith("关于"), f"title {got!r}: a line ends with 关于")
            # 1.5 mm: a line that starts with Latin letters has a taller box (their ascent)
            near(b.y0 - a.y0, PITCH, 1.5, f"title {got!r}: line pitch")
        for ln in lines:
            near((ln.x0 + ln.x1) / 2, LEFT + AREA_W / 2, 1.0, f"title {got!r}: line centred")
        print(f"title: {got}")


def main():
    global TMP
    cli = os.environ.get("WENSHU_CLI")
    tests_dir = os.environ.get("WENSHU_TESTS_DIR", os.path.dirname(os.path.abspath(__file__)))
    if not cli:
        print("WENSHU_CLI is not set")
        return 1
    if not (shutil.which("pdftotext") and shutil.which("pdffonts")):
        print("SKIP: poppler-utils (pdftotext, pdffonts) is not installed")
        return 77
    data = os.path.join(tests_dir, "data", "gongwen", "layout")
    with tempfile.TemporaryDirectory() as tmp:
        TMP = tmp
        for draft, fn, extra in [("tongzhi.md", doc_tongzhi, ()), ("qingshi.md", doc_qingshi, ()),
                                 ("han.md", doc_han, ()), ("jiyao.md", doc_jiyao, ()),
                                 ("baogao.md", doc_baogao, ()), ("lianhe.md", doc_lianhe, ()),
                                 ("lianhe.md", doc_lianhe_sealed, ("--sealed",)),
                                 ("qingshi.md", doc_qingshi_sealed, ("--sealed",))]:
            n_before = len(failures)
            stem = os.path.splitext(draft)[0] + ("-sealed" if extra else "")
            pages, images, stderr = render(cli, os.path.join(data, draft), tmp, extra, stem)
            if not pages or len(images) != len(pages):
                continue
            if fn is doc_jiyao:
                fn(pages, images, stderr)
            else:
                fn(pages, images)
            print(f"{stem}: {len(pages)} pages, {len(failures) - n_before} failures")
        for draft, extra, carried in [("luokuan-jinzou.md", (), False),
                                      ("luokuan-jinzou.md", ("--sealed",), False),
                                      ("luokuan-daihang.md", (), True),
                                      ("luokuan-daihang.md", ("--sealed",), True)]:
            n_before = len(failures)
            stem = os.path.splitext(draft)[0] + ("-sealed" if extra else "")
            path = os.path.join(data, draft)
            pages, images, _ = render(cli, path, tmp, extra, stem)
            if not pages or len(images) != len(pages):
                continue
            doc_luokuan(stem, pages, images, path, bool(extra), carried)
            print(f"{stem}: {len(pages)} pages, {len(failures) - n_before} failures")
        check_titles(cli, tmp)
        # an output path that cannot be written: a clear error naming it, and
        # nothing left behind
        bad = os.path.join(tmp, "no-such-dir", "out.pdf")
        r = subprocess.run([cli, "format", os.path.join(data, "han.md"), "--pdf", bad],
                           capture_output=True, text=True)
        check(r.returncode != 0 and bad in r.stderr,
              f"unwritable PDF path: exit {r.returncode}, stderr {r.stderr.strip()!r}")
        check(not os.path.exists(os.path.dirname(bad)), "unwritable PDF path: something created")
    if failures:
        print(f"{len(failures)} layout checks failed")
        return 1
    print("all layout checks passed")
    return 0


TMP = None
if __name__ == "__main__":
    sys.exit(main())
