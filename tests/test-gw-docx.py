#!/usr/bin/python3
"""test-gw-docx.py: the .docx export (app/docs/gw-docx.c) read back with
Python's zipfile and ElementTree, against the numbers of GB/T 9704-2012
(shared/specs/gongwen-gbt9704.md) computed here independently.

The driver (test-gw-docs-driver docx SPEC OUT) builds the gw_doc by hand from
a key/value spec, so the test knows every element the document must show.
Checked: the package (parts, content types, relationships), the page and
margins, the document grid, the styles and their fonts (no theme font
anywhere), the odd/even PAGE footers, evenAndOddHeaders, the 版记 (a floating
table at the foot of the type area, its rules as borders, later sections
starting on a new page with footers of their own), the red rule, the order of
the text, the 信函/纪要/请示 variants, and that a failed export leaves nothing
behind.

When LibreOffice (soffice), pdftotext and pdftoppm are installed, the drafts in
data/gongwen/layout (and one generated draft that needs a blank page before its
版记) go through `wenshu-cli format -o X.docx --pdf X.pdf`, LibreOffice converts
the DOCX files in one call, and its PDFs are compared with wenshu's: page count,
text on the 28 mm margin, the first line of each later page in the first grid
line, page numbers, the 标志's place on page 1, the 版记's page and its last rule
on the type area's bottom edge (pixel scan); for the joint-issue draft (lianhe,
also exported --sealed) each 落款 name and the date: whole on one line, at the
PDF's x (±2 mm) and on its grid line. Without them that part prints a skip
line.

usage: test-gw-docx.py DRIVER
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import xml.etree.ElementTree as ET

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"

TWIPS_PER_MM = 1440 / 25.4
FONTS = {"仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312", "宋体"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def mm(twips):
    return float(twips) / TWIPS_PER_MM


def near(value, want, tol, what):
    check(abs(value - want) <= tol, f"{what}: {value:.3f}, want {want} ± {tol}")


# ---- fixtures --------------------------------------------------------------------------

NOTICE = [
    ("kind", "通知"), ("copy_number", "000123"), ("secrecy", "机密★1年"), ("urgency", "特急"),
    ("issuer", "XX市人民政府"), ("doc_number", "X政发〔2025〕3号"),
    ("title", "关于开展安全生产大检查的通知"), ("recipients", "各区县人民政府，市政府各部门"),
    ("para", "为切实加强安全生产工作，经研究，决定开展安全生产大检查。"),
    ("h1", "一、总体要求"), ("h2", "（一）加强领导。各单位要高度重视。"),
    ("h3", "1.明确责任"), ("h4", "（1）细化措施"), ("para", "请于3月底前报送结果。"),
    ("attachment", "检查安排表"), ("att_title", "安全生产大检查安排表"),
    ("att_para", "第一阶段：自查。"), ("attachment", "联络员名单"),
    ("signature", "XX市人民政府"), ("date", "2025年3月18日"),
    ("note", "联系人：王五，电话：12345678"),
    ("cc", "市委办公室，市人大常委会办公室"), ("printer", "XX市人民政府办公室"),
    ("print_date", "2025年3月18日"),
]

REQUEST = [
    ("kind", "请示"), ("issuer", "XX县人民政府"), ("doc_number", "X县发〔2025〕7号"),
    ("signer", "张三"), ("signer", "李四"), ("signer", "王五"),
    ("title", "关于申请专项资金的请示"), ("recipients", "XX市人民政府"),
    ("para", "我县今年遭受洪灾，特申请专项资金。"), ("para", "妥否，请批示。"),
    ("signature", "XX县人民政府"), ("date", "2025年4月1日"), ("sealed", "1"),
    ("note", "联系人：赵六，电话：87654321"),
]

LETTER = [
    ("kind", "函"), ("issuer", "XX市教育局"), ("doc_number", "X教函〔2025〕12号"),
    ("title", "关于商请支持教师培训的函"), ("recipients", "XX大学"),
    ("para", "为提升教师能力，商请贵校支持。"), ("para", "此函。"),
    ("signature", "XX市教育局"), ("date", "2025年5月6日"), ("cc", "XX市教育局办公室"),
]

MINUTES = [
    ("kind", "纪要"), ("issuer", "XX市人民政府常务会议"), ("doc_number", "第5期"),
    ("title", "市政府常务会议纪要"), ("para", "会议研究了安全生产工作。"),
    ("attendees", "张三、李四、王五"), ("absentees", "赵六"), ("observers", "钱七"),
]


ORDER = [
    ("kind", "命令"), ("issuer", "XX省人民政府"), ("doc_number", "第12号"),
    ("para", "《XX省安全生产条例》已经省政府常务会议通过，现予公布，自2025年6月1日起施行。"),
    ("signature", "省长　张三"), ("date", "2025年5月6日"),
]


JOINT = [
    ("kind", "通知"), ("issuer", "XX市人民政府"), ("issuer", "XX军分区"),
    ("issuer", "XX市教育局"), ("doc_number", "X政发〔2025〕9号"),
    ("title", "关于做好征兵工作的通知"), ("recipients", "各区县人民政府"),
    ("para", "现就做好征兵工作通知如下。"), ("signature", "XX市人民政府"),
    ("date", "2025年7月1日"),
]


# A joint 落款: three agencies, one a line ("\\n" in a spec value is a newline); Chinese
# characters only, so that the names' widths are whole grid cells whatever the font. One
# issuer in the 标志 and no 主送, so that the sealed 落款 (seven lines and two blank ones
# above) fits on page 1 without the layout closing its gap (7.3.5.5).
JOINT_SIGNATURE = [
    ("kind", "通知"), ("issuer", "临江市人力资源和社会保障局"), ("doc_number", "临人社发〔2025〕41号"),
    ("title", "关于做好就业见习工作的通知"), ("para", "现就做好就业见习工作通知如下。"),
    ("signature", "临江市人力资源和社会保障局\\n临江市教育局\\n临江市财政局"),
    ("date", "2025年6月10日"),
]


def write_spec(path, items):
    with open(path, "w", encoding="utf-8") as f:
        for key, value in items:
            f.write(f"{key}\t{value}\n")


def export(driver, tmp, name, items):
    spec = os.path.join(tmp, name + ".spec")
    out = os.path.join(tmp, name + ".docx")
    write_spec(spec, items)
    r = subprocess.run([driver, "docx", spec, out], capture_output=True, text=True)
    check(r.returncode == 0, f"{name}: export failed: {r.stderr.strip()}")
    return out


# ---- reading the package ---------------------------------------------------------------


class Docx:
    def __init__(self, path):
        self.zip = zipfile.ZipFile(path)
        self.names = self.zip.namelist()
        self.xml = {n: ET.fromstring(self.zip.read(n)) for n in self.names if n.endswith((".xml", ".rels"))}
        rels = self.xml["word/_rels/document.xml.rels"]
        self.rels = {r.get("Id"): "word/" + r.get("Target") for r in rels.iter(PKG_REL + "Relationship")}
        self.doc = self.xml["word/document.xml"]
        self.styles = {}
        for s in self.xml["word/styles.xml"].iter(W + "style"):
            self.styles[s.get(W + "styleId")] = s
        self.defaults = self.xml["word/styles.xml"].find(W + "docDefaults")

    def style_chain(self, style_id):
        chain = []
        while style_id and style_id in self.styles and len(chain) < 10:
            s = self.styles[style_id]
            chain.append(s)
            based = s.find(W + "basedOn")
            style_id = based.get(W + "val") if based is not None else None
        return chain

    def style_by_name(self, name):
        for sid, s in self.styles.items():
            if s.find(W + "name").get(W + "val") == name:
                return sid
        return None

    def style_rpr(self, style_id, tag, attr):
        """The first value of rPr/tag@attr along the style chain, then docDefaults."""
        for s in self.style_chain(style_id):
            e = s.find(f"{W}rPr/{W}{tag}")
            if e is not None and e.get(W + attr) is not None:
                return e.get(W + attr)
        e = self.defaults.find(f"{W}rPrDefault/{W}rPr/{W}{tag}")
        return e.get(W + attr) if e is not None else None

    def style_ppr(self, style_id, tag, attr):
        for s in self.style_chain(style_id):
            e = s.find(f"{W}pPr/{W}{tag}")
            if e is not None and e.get(W + attr) is not None:
                return e.get(W + attr)
        return None


def para_text(p):
    """The text of a paragraph's (or a run's) runs; tab stops in w:pPr are not text."""
    runs = [p] if p.tag == W + "r" else list(p.iter(W + "r"))
    out = []
    for e in (e for r in runs for e in r.iter()):
        if e.tag == W + "t":
            out.append(e.text or "")
        elif e.tag == W + "tab":
            out.append("\t")
        elif e.tag == W + "br":
            out.append("\n")
    return "".join(out)


def para_style(p):
    s = p.find(f"{W}pPr/{W}pStyle")
    return s.get(W + "val") if s is not None else "Normal"


def sections(d):
    """[(paragraphs, sectPr)] in document order."""
    body = d.doc.find(W + "body")
    result, current = [], []
    for child in body:
        if child.tag == W + "p":
            current.append(child)
            sp = child.find(f"{W}pPr/{W}sectPr")
            if sp is not None:
                result.append((current, sp))
                current = []
        elif child.tag == W + "sectPr":
            result.append((current, child))
    return result


def footer_of(d, sect, kind):
    for ref in sect.findall(W + "footerReference"):
        if ref.get(W + "type") == kind:
            return d.xml[d.rels[ref.get(R + "id")]]
    return None


# ---- checks ----------------------------------------------------------------------------


def check_package(d, name):
    check(d.names[0] == "[Content_Types].xml", f"{name}: [Content_Types].xml is not first")
    for part in ["[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/styles.xml",
                 "word/settings.xml", "word/fontTable.xml", "word/_rels/document.xml.rels",
                 "docProps/core.xml", "docProps/app.xml"]:
        check(part in d.names, f"{name}: no {part}")
    overrides = {o.get("PartName"): o.get("ContentType")
                 for o in d.xml["[Content_Types].xml"].iter(CT + "Override")}
    for n in d.names:
        if n.endswith(".xml") and n != "[Content_Types].xml":
            check("/" + n in overrides, f"{name}: no content type for {n}")
    check(overrides.get("/word/document.xml", "").endswith("document.main+xml"),
          f"{name}: document.xml content type")
    for rid, target in d.rels.items():
        check(target in d.names, f"{name}: relationship {rid} -> missing {target}")
    top = {r.get("Target") for r in d.xml["_rels/.rels"].iter(PKG_REL + "Relationship")}
    check("word/document.xml" in top, f"{name}: _rels/.rels lacks the main document")
    check(not any("theme" in n for n in d.names), f"{name}: a theme part is present")


def check_no_theme_fonts(d, name):
    for part, root in d.xml.items():
        for e in root.iter():
            for a in e.attrib:
                local = a.split("}")[-1]
                check(not local.endswith("Theme"), f"{name}: {part} has theme attribute {local}")


def check_all_fonts(d, name):
    """Every run's resolved fonts are standard names, eastAsia and ascii/hAnsi alike."""
    parts = ["word/document.xml"] + [n for n in d.names if n.startswith(("word/footer", "word/header"))]
    for part in parts:
        for p in d.xml[part].iter(W + "p"):
            style = para_style(p)
            for r in p.iter(W + "r"):
                if r.find(W + "t") is None:
                    continue
                fonts = r.find(f"{W}rPr/{W}rFonts")
                for slot in ("eastAsia", "ascii", "hAnsi"):
                    v = fonts.get(W + slot) if fonts is not None else None
                    v = v or d.style_rpr(style, "rFonts", slot)
                    check(v in FONTS, f"{name}: {part} run '{para_text(r)}' {slot} font {v}")


def check_section(d, sect, name):
    size = sect.find(W + "pgSz")
    check(size.get(W + "w") == "11906" and size.get(W + "h") == "16838", f"{name}: not A4")
    m = sect.find(W + "pgMar")
    near(mm(m.get(W + "top")), 37, 0.5, f"{name}: top margin mm")
    near(mm(m.get(W + "left")), 28, 0.5, f"{name}: left margin mm")
    near(mm(m.get(W + "bottom")), 35, 0.5, f"{name}: bottom margin mm")
    near(mm(m.get(W + "right")), 26, 0.5, f"{name}: right margin mm")
    width = 11906 - int(m.get(W + "left")) - int(m.get(W + "right"))
    height = 16838 - int(m.get(W + "top")) - int(m.get(W + "bottom"))
    near(mm(width), 156, 0.5, f"{name}: type area width mm")
    near(mm(height), 225, 0.5, f"{name}: type area height mm")
    grid = sect.find(W + "docGrid")
    check(grid is not None and grid.get(W + "type") == "linesAndChars", f"{name}: grid type")
    pitch = int(grid.get(W + "linePitch"))
    check(height // pitch == 22, f"{name}: {height // pitch} lines of {pitch} twips, want 22")
    near(pitch / 20, 29, 0.5, f"{name}: line pitch pt")
    char_pitch = 16 + int(grid.get(W + "charSpace")) / 4096  # pt, from the 16 pt default
    check(int((width / 20) // char_pitch) == 28,
          f"{name}: {(width / 20) / char_pitch:.3f} chars of {char_pitch:.3f} pt, want 28")
    return pitch, width


def check_footers(d, sect, name, pitch):
    m = sect.find(W + "pgMar")
    odd, even = footer_of(d, sect, "default"), footer_of(d, sect, "even")
    check(odd is not None and even is not None, f"{name}: no odd/even footers")
    if odd is None or even is None:
        return
    for footer, side, jc in ((odd, "right", "right"), (even, "left", "left")):
        p = footer.find(W + "p")
        style = para_style(p)
        text = para_text(p)
        check(text == "— 1 —", f"{name}: footer text {text!r}")
        instr = "".join(e.text or "" for e in p.iter(W + "instrText"))
        types = [e.get(W + "fldCharType") for e in p.iter(W + "fldChar")]
        check(instr.strip() == "PAGE" and types == ["begin", "separate", "end"],
              f"{name}: footer field {instr!r} {types}")
        got_jc = p.find(f"{W}pPr/{W}jc")
        got_jc = got_jc.get(W + "val") if got_jc is not None else d.style_ppr(style, "jc", "val")
        check(got_jc == jc, f"{name}: {side} footer aligned {got_jc}")
        ind = p.find(f"{W}pPr/{W}ind")
        indent = int(ind.get(W + side)) if ind is not None else 0
        sz = int(d.style_rpr(style, "sz", "val"))
        check(sz == 28, f"{name}: page number size {sz / 2} pt, want 14 (四号)")
        check(indent == sz * 10, f"{name}: {side} footer indent {indent}, want one 四号 char")
        check(d.style_rpr(style, "rFonts", "eastAsia") == "宋体", f"{name}: page number not 宋体")
        # the number's line: exact height, its top 7 mm below the type area
        line = int(d.style_ppr(style, "spacing", "line") or 0)
        rule = d.style_ppr(style, "spacing", "lineRule")
        check(rule == "exact" and line > 0, f"{name}: footer line not exact")
        top_above_edge = mm(int(m.get(W + "footer")) + line)
        near(mm(int(m.get(W + "bottom"))) - top_above_edge, 7, 0.5,
             f"{name}: page number below the type area mm")


def check_styles(d, name, pitch):
    def want(sid, font, sz, what):
        check(sid is not None, f"{name}: no style for {what}")
        if sid is None:
            return
        ea = d.style_rpr(sid, "rFonts", "eastAsia")
        check(ea == font, f"{name}: {what} eastAsia font {ea}, want {font}")
        for slot in ("ascii", "hAnsi"):
            check(d.style_rpr(sid, "rFonts", slot) is not None, f"{name}: {what} no {slot} font")
        got = int(d.style_rpr(sid, "sz", "val"))
        check(got == sz, f"{name}: {what} size {got / 2} pt, want {sz / 2}")

    want("Title", "方正小标宋简体", 44, "title")
    check(d.style_ppr("Title", "jc", "val") == "center", f"{name}: title not centred")
    body = d.style_by_name("公文正文")
    want(body, "仿宋_GB2312", 32, "body")
    check(d.style_ppr(body, "ind", "firstLineChars") == "200", f"{name}: body first line not 2 chars")
    near(int(d.style_ppr(body, "ind", "firstLine")) / (8845 / 28), 2, 0.05,
         f"{name}: body first line indent in chars")
    check(d.style_ppr(body, "spacing", "lineRule") == "exact" and
          int(d.style_ppr(body, "spacing", "line")) == pitch,
          f"{name}: body line spacing not exact {pitch}")
    for level, font in enumerate(["黑体", "楷体_GB2312", "仿宋_GB2312", "仿宋_GB2312"], 1):
        sid = d.style_by_name(f"heading {level}")
        want(sid, font, 32, f"heading {level}")
        check(sid and d.style_ppr(sid, "outlineLvl", "val") == str(level - 1),
              f"{name}: heading {level} outline level")
    want(d.style_by_name("版记"), "仿宋_GB2312", 28, "版记")
    mark = d.style_by_name("发文机关标志")
    check(mark is not None, f"{name}: no 发文机关标志 style")
    if mark:
        check(d.style_rpr(mark, "color", "val") == "FF0000", f"{name}: the mark is not red")
        check(d.style_rpr(mark, "rFonts", "eastAsia") == "方正小标宋简体", f"{name}: mark font")
    number = d.style_by_name("发文字号")
    check(number is not None and d.style_ppr(number, "jc", "val") == "center",
          f"{name}: no centred 发文字号 style")


def expected_texts(items):
    """The strings the document must show, in order, from the spec."""
    keys = dict(items)
    out = []
    for key, value in items:
        if key in ("kind", "format", "sealed", "issuer", "signer", "att_title", "att_para"):
            continue
        if key == "recipients":
            value += "："
        elif key == "note":
            value = f"（{value}）"
        elif key == "cc":
            value = f"抄送：{value}。"
        elif key == "print_date":
            value += "印发"
        elif key == "attachment":
            names = [v for k, v in items if k == "attachment"]
            if len(names) > 1:
                value = f"{names.index(value) + 1}.{value}"
        out.append(value)
    # attachment pages come after the signature block, before the 版记
    colophon = [t for t in out if t.startswith("抄送：") or t.endswith("印发") or t == keys.get("printer")]
    out = [t for t in out if t not in colophon]
    for i, (key, value) in enumerate(items):
        if key in ("att_title", "att_para"):
            out.append(value)
    return out + colophon


def check_text_order(d, items, name):
    text = "\n".join(para_text(p) for p in d.doc.iter(W + "p"))
    pos = 0
    for want in expected_texts(items):
        at = text.find(want, pos)
        check(at >= 0, f"{name}: '{want}' missing or out of order")
        if at >= 0:
            pos = at + len(want)


def check_notice(d, items):
    name = "notice"
    check_package(d, name)
    check_no_theme_fonts(d, name)
    check_all_fonts(d, name)
    settings = d.xml["word/settings.xml"]
    check(settings.find(W + "evenAndOddHeaders") is not None, f"{name}: no evenAndOddHeaders")
    secs = sections(d)
    main_paras, main = secs[0]
    pitch, width = check_section(d, main, name)
    check_footers(d, main, name, pitch)
    check_styles(d, name, pitch)
    check_text_order(d, items, name)

    # body blocks carry the styles of their level
    want_style = {"para": "公文正文", "h1": "heading 1", "h2": "heading 2", "h3": "heading 3",
                  "h4": "heading 4"}
    by_text = {para_text(p): para_style(p) for p in main_paras}
    for key, value in items:
        if key in want_style:
            sid = by_text.get(value)
            got = d.styles[sid].find(W + "name").get(W + "val") if sid in d.styles else None
            check(got == want_style[key], f"{name}: '{value}' has style {got}, want {want_style[key]}")

    # the red rule: a full-width red paragraph border right after the 发文字号, ~4 mm below it
    texts = [para_text(p) for p in main_paras]
    i = texts.index(dict(items)["doc_number"])
    rule = main_paras[i + 1]
    bottom = rule.find(f"{W}pPr/{W}pBdr/{W}bottom")
    check(bottom is not None and bottom.get(W + "color") == "FF0000", f"{name}: no red rule after 发文字号")
    ind = rule.find(f"{W}pPr/{W}ind")
    check(ind is None or (int(ind.get(W + "left", 0)) == 0 and int(ind.get(W + "right", 0)) == 0),
          f"{name}: the red rule is not the type area's width (156 mm)")
    rule_style = para_style(rule)
    line = int(rule.find(f"{W}pPr/{W}spacing").get(W + "line")) if rule.find(f"{W}pPr/{W}spacing") is not None \
        else int(d.style_ppr(rule_style, "spacing", "line"))
    near(mm(line), 4, 0.3, f"{name}: red rule below the 发文字号 mm")
    # the mark's top edge 35 mm below the top of the type area (3 header lines above it)
    mark = next(p for p in main_paras if para_style(p) == d.style_by_name("发文机关标志"))
    before = int(mark.find(f"{W}pPr/{W}spacing").get(W + "before"))
    near(mm(before + 3 * pitch), 35, 0.5, f"{name}: mark top below the type area mm")

    check_colophon(d, name, items)


def check_colophon(d, name, items, letter=False):
    """The 版记: a floating table in the last section, anchored to the foot of the type area
    (vertical position: the bottom of the margin box), as wide as the type area (156 mm from
    the 28 mm margin); its rules are the table's borders, thick (0.35 mm) first and last and
    thin (0.25 mm) between (a 信函 has none, and no 印发 line). Every section after the first
    starts on a new page (nextPage: an evenPage break would leave LibreOffice to drop or add
    the blank page) with footers of its own; the text's section keeps the page numbers."""
    keys = dict(items)
    secs = sections(d)
    check(1 <= len(secs) <= 3, f"{name}: {len(secs)} sections, want 1 to 3 (text, blank page, 版记)")
    for i, (paras, sect) in enumerate(secs[1:], 2):
        t = sect.find(W + "type")
        check(t is not None and t.get(W + "val") == "nextPage", f"{name}: section {i} is not a nextPage section")
        check_section(d, sect, f"{name} section {i}")
        for kind in ("default", "even", "first"):
            check(footer_of(d, sect, kind) is not None,
                  f"{name}: section {i} lacks its own {kind} footer (would inherit one)")
    for i, (paras, sect) in enumerate(secs[1:-1], 2):  # a blank page: no number, nothing on it
        check(not any(para_text(p) for p in paras), f"{name}: the blank page has text")
        for kind in ("default", "even", "first"):
            f = footer_of(d, sect, kind)
            check(f is None or not list(f.iter(W + "fldChar")), f"{name}: the blank page has a number")
    body = d.doc.find(W + "body")
    tables = [t for t in body.findall(W + "tbl") if t.find(f"{W}tblPr/{W}tblpPr") is not None]
    check(len(tables) == 1, f"{name}: {len(tables)} floating tables, want one (the 版记)")
    if len(tables) != 1:
        return
    tbl = tables[0]
    children = list(body)
    at = children.index(tbl)
    check(at + 1 < len(children) and children[at + 1].tag == W + "p",
          f"{name}: no paragraph after the 版记 table to anchor it")
    last_start = 0
    for j, child in enumerate(children):  # the first element of the last section
        if child.tag == W + "p" and child.find(f"{W}pPr/{W}sectPr") is not None:
            last_start = j + 1
    check(at >= last_start, f"{name}: the 版记 is not in the last section")
    pos = tbl.find(f"{W}tblPr/{W}tblpPr")
    check(pos.get(W + "vertAnchor") == "margin" and pos.get(W + "tblpYSpec") == "bottom",
          f"{name}: the 版记 is not at the foot of the type area: {pos.attrib}")
    if pos.get(W + "horzAnchor") == "page":
        near(mm(pos.get(W + "tblpX")), 28, 0.5, f"{name}: 版记 left edge from the page mm")
    else:
        check(pos.get(W + "horzAnchor") in ("margin", "text") and int(pos.get(W + "tblpX", "0")) == 0,
              f"{name}: 版记 not on the left margin: {pos.attrib}")
    width = tbl.find(f"{W}tblPr/{W}tblW")
    check(width is not None and width.get(W + "type") == "dxa", f"{name}: 版记 table width not in twips")
    if width is not None:
        near(mm(width.get(W + "w")), 156, 0.5, f"{name}: 版记 width mm")
    borders = tbl.find(f"{W}tblPr/{W}tblBorders")

    def rule(side):
        b = borders.find(W + side) if borders is not None else None
        if b is None or b.get(W + "val") in ("nil", "none"):
            return None
        return int(b.get(W + "sz")) / 8 * 25.4 / 72  # mm

    for side in ("left", "right", "insideV"):
        check(rule(side) is None, f"{name}: the 版记 has a {side} border")
    rows = tbl.findall(W + "tr")
    row_text = ["".join(para_text(p) for p in r.iter(W + "p")) for r in rows]
    want = [f"抄送：{keys['cc']}。"] if "cc" in keys else []
    if not letter and ("printer" in keys or "print_date" in keys):
        want.append(f"{keys.get('printer', '')}\t{keys['print_date']}印发" if "print_date" in keys
                    else keys["printer"])
    check(row_text == want, f"{name}: 版记 rows {row_text}, want {want}")
    if letter:
        for side in ("top", "bottom", "insideH"):
            check(rule(side) is None, f"{name}: a 信函's 版记 has a {side} rule")
        return
    for side, width_mm in (("top", 0.35), ("bottom", 0.35)):
        check(rule(side) is not None, f"{name}: no {side} rule on the 版记")
        if rule(side) is not None:
            near(rule(side), width_mm, 0.05, f"{name}: 版记 {side} rule mm")
    if len(rows) > 1:
        check(rule("insideH") is not None, f"{name}: no rule between the 版记's rows")
        if rule("insideH") is not None:
            near(rule("insideH"), 0.25, 0.05, f"{name}: 版记 middle rule mm")
    for r in rows:  # each row at least one grid line, the last exactly one
        h = r.find(f"{W}trPr/{W}trHeight")
        check(h is not None and int(h.get(W + "val")) in range(570, 590),
              f"{name}: a 版记 row is not one grid line high")
    if rows:
        h = rows[-1].find(f"{W}trPr/{W}trHeight")
        check(h is not None and h.get(W + "hRule") == "exact", f"{name}: the last 版记 row may grow")


def check_request(d, items):
    name = "request"
    check_package(d, name)
    check_no_theme_fonts(d, name)
    check_all_fonts(d, name)
    check_text_order(d, [(k, v) for k, v in items if k != "signer"], name)
    paras = list(d.doc.iter(W + "p"))
    texts = [para_text(p) for p in paras]
    line = next((i for i, t in enumerate(texts) if t.startswith("X县发〔2025〕7号")), None)
    check(line is not None, f"{name}: no line starting with the 发文字号")
    if line is None:
        return
    check("签发人：" in texts[line - 1] or "签发人：" in texts[line],
          f"{name}: 签发人 not beside the 发文字号: {texts[line - 1:line + 1]}")
    check("王五" in texts[line] and "张三" in texts[line - 1] and "李四" in texts[line - 1],
          f"{name}: two signers a line, the last with the 发文字号: {texts[line - 1:line + 1]}")
    for p in paras[line - 1:line + 1]:
        for r in p.iter(W + "r"):
            t = para_text(r)
            if t in ("张三　李四", "王五"):
                f = r.find(f"{W}rPr/{W}rFonts")
                check(f is not None and f.get(W + "eastAsia") == "楷体_GB2312",
                      f"{name}: signer names not in 楷体")
    ind = paras[line].find(f"{W}pPr/{W}ind")
    check(ind is not None and int(ind.get(W + "left")) in range(300, 330),
          f"{name}: 发文字号 not one character in")
    # the names of both lines start at one left tab stop; the widest line ends one char in
    tabs = [p.find(f"{W}pPr/{W}tabs/{W}tab") for p in paras[line - 1:line + 1]]
    check(all(t is not None and t.get(W + "val") == "left" for t in tabs) and
          len({t.get(W + "pos") for t in tabs}) == 1, f"{name}: 签发人 lines not on one tab stop")
    if all(t is not None for t in tabs):
        char = 8845 / 28
        end = int(tabs[0].get(W + "pos")) + (4 + 5) * char  # 签发人： + 张三　李四
        near(end / char, 27, 0.1, f"{name}: widest 签发人 line ends at char")
    # sealed: the date ends four characters in from the right (a right tab stop there), the
    # agency centred over it
    lines = signature_lines(d)
    check([l["texts"] for l in lines] == [["XX县人民政府"], ["2025年4月1日"]],
          f"{name}: 落款 lines {[l['texts'] for l in lines]}")
    if len(lines) == 2:
        check_signature_common(lines, name)
        check(lines[1]["anchors"][0][0] == "right", f"{name}: sealed date not right-aligned")
        near(lines[1]["anchors"][0][1] / CHAR, 28 - 4, 0.02, f"{name}: sealed date's end in chars")
        check(lines[0]["anchors"][0][0] == "center", f"{name}: sealed agency not centred")
        centre = lines[1]["anchors"][0][1] - nominal_width("2025年4月1日") / 2
        near(lines[0]["anchors"][0][1] / CHAR, centre / CHAR, 0.5,
             f"{name}: sealed agency's centre in chars (the date's centre)")
    secs = sections(d)
    check(len(secs) == 1, f"{name}: {len(secs)} sections, want 1 (no 版记)")
    check(secs[-1][1].find(W + "type") is None, f"{name}: a section break without a 版记")
    check_footers(d, secs[0][1], name, check_section(d, secs[0][1], name)[0])


def check_letter(d, items):
    name = "letter"
    check_package(d, name)
    check_no_theme_fonts(d, name)
    check_all_fonts(d, name)
    check_text_order(d, items, name)
    sect = sections(d)[0][1]
    check(sect.find(W + "titlePg") is not None, f"{name}: no first-page header/footer")
    first_hdr = [ref for ref in sect.findall(W + "headerReference") if ref.get(W + "type") == "first"]
    check(len(first_hdr) == 1, f"{name}: no first-page header")
    if first_hdr:
        hdr = d.xml[d.rels[first_hdr[0].get(R + "id")]]
        check_letter_header(d, hdr, sect, name)
    first_ftr = footer_of(d, sect, "first")
    check(first_ftr is not None and not list(first_ftr.iter(W + "fldChar")),
          f"{name}: page 1 must carry no page number")
    check_footers(d, sect, name, check_section(d, sect, name)[0])
    check_colophon(d, name, items, letter=True)


def check_letter_header(d, hdr, sect, name):
    """信函 page 1: the 标志 30 mm from the page's top, a red thick-over-thin double rule
    170 mm long, centred, under it. Either a floating table placed from the page's edges
    (its bottom border is the rule; the header's own paragraphs then stay low enough that
    the text starts at the 37 mm margin), or a header paragraph with a bottom border."""
    tbl = hdr.find(W + "tbl")
    if tbl is None:
        p = hdr.find(W + "p")
        check(para_text(p) == "XX市教育局", f"{name}: header mark {para_text(p)!r}")
        b = p.find(f"{W}pPr/{W}pBdr/{W}bottom")
        check(b is not None and b.get(W + "color") == "FF0000" and "thickThin" in b.get(W + "val"),
              f"{name}: no red thick-over-thin rule under the mark")
        ind = p.find(f"{W}pPr/{W}ind")
        width = 8845 - int(ind.get(W + "left")) - int(ind.get(W + "right"))
        near(mm(width), 170, 0.5, f"{name}: header rule length mm")
        near(mm(int(sect.find(W + "pgMar").get(W + "header"))), 30, 0.5, f"{name}: mark from the top mm")
        return
    text = "".join(para_text(p) for p in tbl.iter(W + "p"))
    check(text == "XX市教育局", f"{name}: header mark {text!r}")
    pos = tbl.find(f"{W}tblPr/{W}tblpPr")
    check(pos is not None and pos.get(W + "vertAnchor") == "page" and pos.get(W + "horzAnchor") == "page",
          f"{name}: the header's mark table is not placed on the page")
    if pos is None:
        return
    near(mm(pos.get(W + "tblpY")), 30, 1.5, f"{name}: mark from the top mm")
    width = int(tbl.find(f"{W}tblPr/{W}tblW").get(W + "w"))
    near(mm(width), 170, 0.5, f"{name}: header rule length mm")
    near(mm(pos.get(W + "tblpX")) + mm(width) / 2, 105, 0.5, f"{name}: header rule centre mm")
    b = tbl.find(f"{W}tblPr/{W}tblBorders/{W}bottom")
    check(b is not None and b.get(W + "color") == "FF0000" and "thickThin" in b.get(W + "val"),
          f"{name}: no red thick-over-thin rule under the mark")
    h = tbl.find(f"{W}tr/{W}trPr/{W}trHeight")
    rule_y = mm(int(pos.get(W + "tblpY")) + int(h.get(W + "val")))
    check(40 < rule_y < 60, f"{name}: the double rule {rule_y:.1f} mm from the top, want it under "
          "the mark (4 mm below its ink)")
    for p in hdr.findall(W + "p"):  # in the header's flow: no more than the 7 mm above the text
        sp = p.find(f"{W}pPr/{W}spacing")
        line = int(sp.get(W + "line")) if sp is not None and sp.get(W + "line") else None
        check(line is not None and sp.get(W + "lineRule") == "exact" and mm(line) < 7 and not para_text(p),
              f"{name}: a header paragraph pushes the text below the 37 mm margin")


def check_minutes(d, items):
    name = "minutes"
    check_package(d, name)
    check_no_theme_fonts(d, name)
    check_all_fonts(d, name)
    check_text_order(d, [(k, v) for k, v in items if k not in ("attendees", "absentees", "observers")
                         and k != "title"], name)
    paras = list(d.doc.iter(W + "p"))
    texts = [para_text(p) for p in paras]
    check(texts and texts[0] == dict(items)["title"], f"{name}: the 纪要 标志 does not come first")
    # the 纪要 标志 is "XXXX纪要" (GB/T 9704 10.3): the title, red, not repeated below it
    title = dict(items)["title"]
    marks = [p for p in paras if para_text(p) == title]
    check(len(marks) == 1, f"{name}: the 纪要 title appears {len(marks)} times, want once, as the 标志")
    if marks:
        check(para_style(marks[0]) == d.style_by_name("发文机关标志"), f"{name}: the 纪要 标志 has no mark style")
        check(d.style_rpr(para_style(marks[0]), "color", "val") == "FF0000", f"{name}: the 纪要 标志 is not red")
    for label, key in (("出席：", "attendees"), ("请假：", "absentees"), ("列席：", "observers")):
        want = label + dict(items)[key]
        check(want in texts, f"{name}: no line {want}")
        if want in texts:
            p = paras[texts.index(want)]
            r = p.find(W + "r")
            f = r.find(f"{W}rPr/{W}rFonts")
            check(para_text(r) == label and f is not None and f.get(W + "eastAsia") == "黑体",
                  f"{name}: {label} not in 黑体")


def check_order(d, items):
    name = "order"
    check_package(d, name)
    check_no_theme_fonts(d, name)
    check_all_fonts(d, name)
    check_text_order(d, items, name)
    sect = sections(d)[0][1]
    pitch = check_section(d, sect, name)[0]
    paras = list(d.doc.iter(W + "p"))
    mark = paras[0]
    check(para_text(mark) == "XX省人民政府令", f"{name}: mark {para_text(mark)!r}")
    before = int(mark.find(f"{W}pPr/{W}spacing").get(W + "before"))
    near(mm(before), 20, 0.5, f"{name}: mark top below the type area mm")
    number = paras[1]
    check(para_text(number) == "第12号", f"{name}: 令号 not right below the mark")
    near(int(number.find(f"{W}pPr/{W}spacing").get(W + "before")) / pitch, 2, 0.01,
         f"{name}: 令号 lines below the mark")
    check(not any(b.get(W + "color") == "FF0000" for b in d.doc.iter(W + "bottom")),
          f"{name}: the order format has no red rule")


def check_joint(d, items):
    """Joint issue: the names stacked in the lead order, 文件 to their right, centred."""
    name = "joint"
    check_package(d, name)
    check_no_theme_fonts(d, name)
    check_all_fonts(d, name)
    check_text_order(d, items, name)
    pitch = check_section(d, sections(d)[0][1], name)[0]
    tbl = d.doc.find(f"{W}body/{W}tbl")
    check(tbl is not None, f"{name}: no table for the joint mark")
    if tbl is None:
        return
    cells = tbl.findall(f"{W}tr/{W}tc")
    check(len(cells) == 2, f"{name}: {len(cells)} cells, want 2")
    names = [para_text(p) for p in cells[0].findall(W + "p")]
    check(names == [v for k, v in items if k == "issuer"], f"{name}: names {names}")
    check([para_text(p) for p in cells[1].findall(W + "p")] == ["文件"], f"{name}: no 文件 cell")
    check(cells[1].find(f"{W}tcPr/{W}vAlign").get(W + "val") == "center", f"{name}: 文件 not centred")
    check(tbl.find(f"{W}tblPr/{W}jc").get(W + "val") == "center", f"{name}: mark not centred")
    width = sum(int(c.get(W + "w")) for c in tbl.findall(f"{W}tblGrid/{W}gridCol"))
    check(width <= 8845, f"{name}: mark wider than the type area: {width}")
    for p in cells[0].findall(W + "p") + cells[1].findall(W + "p"):
        check(d.style_rpr(para_style(p), "color", "val") == "FF0000", f"{name}: mark not red")
    # the spacer above puts the mark's top 35 mm below the type area's top
    spacer = d.doc.find(f"{W}body/{W}p")
    line = int(spacer.find(f"{W}pPr/{W}spacing").get(W + "line"))
    near(mm(line), 35, 0.5, f"{name}: joint mark top below the type area mm")


CHAR = 8845 / 28  # one grid character of the 156 mm type area, twips
LINE = 12756 // 22  # the grid's line pitch, twips


def nominal_width(text):
    """A text's width in twips on the grid: a Chinese character one cell, a digit or Latin
    letter about half of one (the fonts' own widths decide the last digit)."""
    return sum(CHAR if ord(c) > 0x7F else CHAR / 2 for c in text)


def first_anchor(p):
    """Where a paragraph's alignment and indents hold its first text, as a tab stop would:
    (val, twips from the type area's left edge); right: the end, left: the start, center:
    the middle of the measure the indents leave."""
    ind = p.find(f"{W}pPr/{W}ind")
    jc = p.find(f"{W}pPr/{W}jc")
    left = int(ind.get(W + "left", 0)) if ind is not None else 0
    right = int(ind.get(W + "right", 0)) if ind is not None else 0
    val = jc.get(W + "val") if jc is not None else "left"
    pos = {"right": 8845 - right, "center": (left + 8845 - right) / 2}.get(val, left)
    return val, pos


def signature_lines(d):
    """The 落款's paragraphs (style 发文机关署名): for each, its texts between tabs, where
    each text is held [(val, twips)] (the first by the paragraph's alignment and indents,
    the others by its tab stops), its space before (twips), keepNext, and whether its text
    holds a leading tab or a break."""
    sid = d.style_by_name("发文机关署名")
    out = []
    for p in d.doc.iter(W + "p"):
        if para_style(p) != sid:
            continue
        text = para_text(p)
        sp = p.find(f"{W}pPr/{W}spacing")
        keep = p.find(f"{W}pPr/{W}keepNext")
        tabs = [(t.get(W + "val"), int(t.get(W + "pos"))) for t in p.findall(f"{W}pPr/{W}tabs/{W}tab")]
        out.append({"texts": [t for t in text.split("\t") if t],
                    "anchors": [first_anchor(p)] + tabs,
                    "before": int(sp.get(W + "before", 0)) if sp is not None else 0,
                    "keep": keep is not None and keep.get(W + "val", "1") not in ("0", "false"),
                    "stray": text.startswith("\t") or "\n" in text})
    return out


def check_signature_common(lines, name):
    """Every 落款 line: no leading tab nor break (read back, it is the 落款 itself), a
    place for each text, the places in order inside the type area; the lines kept
    together, the last not kept with what follows."""
    for l in lines:
        check(not l["stray"], f"{name}: a leading tab or a break in the 落款 line {l['texts']}")
        check(len(l["anchors"]) == len(l["texts"]),
              f"{name}: 落款 line {l['texts']} placed at {l['anchors']}")
        pos = [t[1] for t in l["anchors"]]
        check(pos == sorted(pos) and all(0 <= p <= 8845 for p in pos),
              f"{name}: 落款 places {pos} out of order or outside the type area")
    check(all(l["keep"] for l in lines[:-1]) and not lines[-1]["keep"],
          f"{name}: 落款 lines not kept together: {[l['keep'] for l in lines]}")


def check_joint_signature(d, items):
    """Unsealed joint 落款 (GB/T 9704 7.3.5.2): one agency a line in issuing order, one blank
    line below the text, right-aligned two characters in from the right; the date on the
    next line, its first character two characters right of the widest name's first."""
    name = "joint-signature"
    check_package(d, name)
    check_text_order(d, [(k, v) for k, v in items if k != "signature"], name)
    keys = dict(items)
    agencies = keys["signature"].split("\\n")
    lines = signature_lines(d)
    check([l["texts"] for l in lines] == [[a] for a in agencies] + [[keys["date"]]],
          f"{name}: 落款 lines {[l['texts'] for l in lines]}, want one agency a line, then the date")
    if len(lines) != len(agencies) + 1:
        return
    check_signature_common(lines, name)
    right = 8845 - 2 * CHAR
    for l in lines[:-1]:
        check(l["anchors"][0][0] == "right", f"{name}: {l['texts']} not right-aligned")
        near(l["anchors"][0][1], right, 3, f"{name}: {l['texts']} right end, twips")
    widest = max(nominal_width(a) for a in agencies)  # the agencies are Chinese only
    check(lines[-1]["anchors"][0][0] == "left", f"{name}: the date not left-aligned")
    near(lines[-1]["anchors"][0][1], right - widest + 2 * CHAR, 3, f"{name}: the date's start, twips")
    near(lines[0]["before"], LINE, 2, f"{name}: space above the 落款, twips (one blank line)")
    check(all(l["before"] == 0 for l in lines[1:]), f"{name}: blank lines inside the 落款")


def check_joint_signature_sealed(d, items):
    """Sealed joint 落款 (GB/T 9704 7.3.5.1): the agencies side by side in issuing order, in
    rows; seals (about 42 mm, a gap between) neither cross nor touch, side by side or row
    above row; the date four characters in from the right, the last agency centred over it,
    all inside the type area."""
    name = "joint-signature-sealed"
    check_package(d, name)
    keys = dict(items)
    agencies = keys["signature"].split("\\n")
    lines = signature_lines(d)
    rows = [l["texts"] for l in lines[:-1]]
    check([a for r in rows for a in r] == agencies and lines[-1]["texts"] == [keys["date"]],
          f"{name}: 落款 lines {[l['texts'] for l in lines]}")
    if [a for r in rows for a in r] != agencies:
        return
    check_signature_common(lines, name)
    check(len(rows) < len(agencies), f"{name}: no two agencies side by side: rows {rows}")
    seal = 42 * TWIPS_PER_MM
    for l in lines[:-1]:
        # each name centred on its seal's column; the first of a row starts at its left
        # edge, which for a name of Chinese characters is its centre less half its width
        centres = [pos + (nominal_width(t) / 2 if val == "left" else 0)
                   for t, (val, pos) in zip(l["texts"], l["anchors"])]
        check(all(val == "center" for val, _ in l["anchors"][1:]) and
              (len(l["anchors"]) > 1 or l["anchors"][0][0] == "center"),
              f"{name}: {l['texts']} not centred on their columns: {l['anchors']}")
        for a, b in zip(centres, centres[1:]):
            check(b - a > seal, f"{name}: seals side by side {mm(b - a):.1f} mm apart, touching")
        for text, c in zip(l["texts"], centres):
            half = max(nominal_width(text), seal) / 2
            check(c - half >= -3 and c + half <= 8845 + 3,
                  f"{name}: {text} or its seal passes the type area (centre {mm(c):.1f} mm)")
        l["centres"] = centres
    for l in lines[1:-1]:
        check(l["before"] + LINE > seal, f"{name}: rows of seals {mm(l['before'] + LINE):.1f} mm "
              "apart, touching")
    near(lines[0]["before"], 2 * LINE, 2, f"{name}: space above the 落款, twips (two blank lines)")
    check(lines[-1]["before"] == 0, f"{name}: a blank line above the date")
    check(lines[-1]["anchors"][0][0] == "right", f"{name}: the date not right-aligned")
    near(lines[-1]["anchors"][0][1], 8845 - 4 * CHAR, 3, f"{name}: the date's end, twips")
    centre = lines[-1]["anchors"][0][1] - nominal_width(keys["date"]) / 2
    near(lines[-2]["centres"][-1] / CHAR, centre / CHAR, 0.5,
         f"{name}: the last agency's centre in chars (the date's centre)")


# A date longer than the agency's name: GB/T 9704 7.3.5.2 sets the date two characters in
# from the right and moves the name left (its first character two left of the date's).
LONG_DATE = [
    ("kind", "通知"), ("issuer", "临江市教育局"), ("title", "关于放假安排的通知"),
    ("para", "现将放假安排通知如下。"), ("signature", "临江市教育局"), ("date", "2025年12月31日"),
]


def check_long_date(d, items):
    name = "long-date"
    keys = dict(items)
    lines = signature_lines(d)
    check([l["texts"] for l in lines] == [[keys["signature"]], [keys["date"]]],
          f"{name}: 落款 lines {[l['texts'] for l in lines]}")
    if len(lines) != 2:
        return
    check_signature_common(lines, name)
    date, agency = lines[1]["anchors"][0], lines[0]["anchors"][0]
    check(date[0] == "right" and agency[0] == "right", f"{name}: not right-aligned: {date}, {agency}")
    near(date[1], 8845 - 2 * CHAR, 3, f"{name}: the date's end, twips (two characters in)")
    # the name's first character two characters left of the date's first; the date's width
    # depends on the font's digits (half a cell each, nominally)
    want = date[1] - nominal_width(keys["date"]) - 2 * CHAR + nominal_width(keys["signature"])
    near(agency[1] / CHAR, want / CHAR, 0.75, f"{name}: the name's end in chars")


def check_failure(driver, tmp):
    """A failed export leaves nothing at the output path nor beside it."""
    spec = os.path.join(tmp, "fail.spec")
    write_spec(spec, NOTICE)
    missing = os.path.join(tmp, "no-such-dir", "out.docx")
    r = subprocess.run([driver, "docx", spec, missing], capture_output=True, text=True)
    check(r.returncode == 2 and missing in r.stderr, f"missing dir: rc {r.returncode}, {r.stderr!r}")
    check(not os.path.exists(os.path.dirname(missing)), "missing dir: something was created")
    # the target is a directory: the rename fails, and the temporary file goes
    target = os.path.join(tmp, "adir.docx")
    os.mkdir(target)
    before = set(os.listdir(tmp))
    r = subprocess.run([driver, "docx", spec, target], capture_output=True, text=True)
    check(r.returncode == 2 and target in r.stderr, f"dir target: rc {r.returncode}, {r.stderr!r}")
    check(set(os.listdir(tmp)) == before, f"dir target: left {set(os.listdir(tmp)) - before}")
    check(os.path.isdir(target) and not os.listdir(target), "dir target: the directory was touched")
    # replacing an existing file: complete, and no temporary left
    out = os.path.join(tmp, "replace.docx")
    with open(out, "w") as f:
        f.write("old")
    r = subprocess.run([driver, "docx", spec, out], capture_output=True, text=True)
    check(r.returncode == 0 and zipfile.is_zipfile(out), "replacing an existing file failed")
    check(not [n for n in os.listdir(tmp) if ".tmp-" in n], "a temporary file was left")


# ---- LibreOffice against the PDF export ------------------------------------------------

PAGE_W, PAGE_H = 210.0, 297.0
TOP, LEFT, AREA_H, AREA_W = 37.0, 28.0, 225.0, 156.0
FOOT = TOP + AREA_H                # 262 mm: the type area's bottom edge
PITCH = AREA_H / 22                # one grid line, 10.23 mm
EM3 = 16 * 25.4 / 72               # a 三号 (16 pt) character, 5.64 mm
EM4 = 14 * 25.4 / 72               # a 四号 (14 pt) character, 4.94 mm
NUMBER_ZONE = FOOT + 2             # below this: the page number's line
LAYOUT_FIXTURES = ["tongzhi", "qingshi", "han", "jiyao", "baogao", "lianhe"]
# Fixtures exported again with wenshu-cli options: name -> (fixture, options).
LAYOUT_VARIANTS = {"lianhe-sealed": ("lianhe", ["--sealed"])}
# The 落款 of fixtures whose 落款 is compared line by line: its names, then the date
# (from the draft's last lines).
SIGNATURES = {
    "lianhe": ["临江市人力资源和社会保障局", "临江市教育局", "临江市财政局", "2025年6月10日"],
}


def lo_convert(soffice, tmp, docxs):
    """docx files -> PDFs with one LibreOffice call in a profile of its own (tests may run
    side by side); {docx: pdf or None}."""
    outdir = os.path.join(tmp, "lo-out")
    os.makedirs(outdir, exist_ok=True)
    profile = "file://" + os.path.join(tmp, "lo-profile")
    r = subprocess.run([soffice, "-env:UserInstallation=" + profile, "--headless",
                        "--convert-to", "pdf", "--outdir", outdir] + docxs,
                       capture_output=True, text=True, timeout=240)
    result = {}
    for docx in docxs:
        pdf = os.path.join(outdir, os.path.splitext(os.path.basename(docx))[0] + ".pdf")
        check(os.path.exists(pdf), f"soffice could not convert {docx}: rc {r.returncode} {r.stderr}")
        result[docx] = pdf if os.path.exists(pdf) else None
    return result


WORD_BOX = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>')


def pdf_pages(pdf):
    """[[(word, x0, y0, x1, y1) in mm]] per page, from pdftotext -bbox (a box spans the
    font's ascent to its descent)."""
    out = subprocess.run(["pdftotext", "-bbox", pdf, "-"], capture_output=True, text=True).stdout
    pages = []
    for line in out.splitlines():
        if "<page " in line:
            pages.append([])
        m = WORD_BOX.search(line)
        if m and pages:
            x0, y0, x1, y1 = (float(v) * 25.4 / 72 for v in m.groups()[:4])
            pages[-1].append((m.group(5), x0, y0, x1, y1))
    return pages


def page_number(words):
    """The "— N —" group at the foot of a page: (N, x0, x1), or None."""
    foot = sorted((w for w in words if w[2] > FOOT), key=lambda w: w[1])
    text = "".join(w[0] for w in foot)
    if not (text.startswith("—") and text.endswith("—") and text[1:-1].isdigit()):
        return None
    return int(text[1:-1]), foot[0][1], foot[-1][3]


def text_words(words):
    """The words above the page number's line."""
    return [w for w in words if w[2] < NUMBER_ZONE]


def lowest_black_rule(pdf, page, dpi=100):
    """The y (mm) of the lowest dark row spanning most of the type area's width on a page,
    from a grey PNM render (pdftoppm -gray); None when there is none."""
    out = subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), "-f", str(page), "-l", str(page),
                          pdf], capture_output=True).stdout
    if not out.startswith(b"P5"):
        return None
    fields, pos = [], 2
    while len(fields) < 3:  # width, height, maxval, separated by whitespace
        while out[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while not out[pos:pos + 1].isspace():
            pos += 1
        fields.append(int(out[start:pos]))
    width, height, _ = fields
    pixels = out[pos + 1:]
    px = dpi / 25.4
    x0, x1 = int((LEFT + 5) * px), int((LEFT + AREA_W - 5) * px)
    lowest = None
    for y in range(height):
        row = pixels[y * width + x0:y * width + x1]
        dark = sum(1 for v in row if v < 128)
        if dark > 0.9 * len(row):
            lowest = y
    return None if lowest is None else (lowest + 0.5) / px


def compare_fixture(name, lo_pages, our_pages, lo_pdf, our_pdf, letter):
    """LibreOffice's rendering of the DOCX against wenshu's PDF of the same draft. The spec
    gives the reference numbers; the PDF says where the page breaks and the 版记 fell."""
    check(len(lo_pages) == len(our_pages),
          f"{name}: LibreOffice {len(lo_pages)} pages, the PDF {len(our_pages)}")
    print(f"{name}: pages LibreOffice {len(lo_pages)}, PDF {len(our_pages)}")
    n = min(len(lo_pages), len(our_pages))
    for i in range(n):
        lo, ours = text_words(lo_pages[i]), text_words(our_pages[i])
        check(bool(lo) == bool(ours), f"{name}: page {i + 1} blank in one of them only")
        if not lo or not ours:
            continue
        # flush-left text (wrapped body lines, 主送, 附件N): on the 28 mm margin
        if min(w[1] for w in ours) < LEFT + 1:
            for who, ws in (("LibreOffice", lo), ("PDF", ours)):
                near(min(w[1] for w in ws), LEFT, 1, f"{name}: {who} page {i + 1} left edge mm")
        # a page that starts on grid line 1: the first line's box lies in that line, between
        # its top and a 16 pt character's height above its bottom. The PDF sets the ascent
        # line at the top; LibreOffice sets the text lower in its exact line height. A face
        # with a taller ascent than the line's (黑体 in a heading) may start up to 1 mm higher.
        if i > 0 and min(w[2] for w in ours) < TOP + PITCH:
            for who, ws in (("LibreOffice", lo), ("PDF", ours)):
                top = min(w[2] for w in ws)
                check(TOP - 1 <= top <= TOP + PITCH - EM3 + 0.5,
                      f"{name}: {who} page {i + 1} top of the text {top:.1f} mm, want the box in "
                      f"[{TOP}, {TOP + PITCH - EM3:.1f}] mm (the first grid line)")
        # page numbers: the same pages carry them, at the same places
        ln, on = page_number(lo_pages[i]), page_number(our_pages[i])
        check((ln and ln[0]) == (on and on[0]), f"{name}: page {i + 1} number LibreOffice {ln}, PDF {on}")
        if ln:
            if ln[0] % 2:
                near(ln[2], PAGE_W - 26 - EM4, 1, f"{name}: LibreOffice odd page {i + 1} number right end mm")
            else:
                near(ln[1], LEFT + EM4, 1, f"{name}: LibreOffice even page {i + 1} number left start mm")
            top = min(w[2] for w in lo_pages[i] if w[2] > FOOT)
            near(top - FOOT, 7, 1.5, f"{name}: LibreOffice page {i + 1} number below the type area mm")
    if not lo_pages or not our_pages or not lo_pages[0] or not our_pages[0]:
        return
    # page 1: the 发文机关标志, the largest type, 35 mm below the type area's top (信函: 30 mm
    # from the page's top); font boxes differ by font, so the boxes' centres are compared
    marks = []
    for who, ws in (("LibreOffice", lo_pages[0]), ("PDF", our_pages[0])):
        tallest = max(w[4] - w[2] for w in ws)
        mark = [w for w in ws if w[4] - w[2] > tallest - 0.5]
        y0, y1 = min(w[2] for w in mark), max(w[4] for w in mark)
        want = 30.0 if letter else TOP + 35.0
        check(y0 - 3 <= want <= y1, f"{name}: {who} 标志 box {y0:.1f}-{y1:.1f} mm, want its top near {want}")
        marks.append((y0 + y1) / 2)
    near(marks[0], marks[1], 2, f"{name}: 标志 centre, LibreOffice against the PDF, mm")
    print(f"{name}: 标志 centre LibreOffice {marks[0]:.1f} mm, PDF {marks[1]:.1f} mm")
    # the 版记: on the same page in both, the last one; its last line on the type area's
    # last grid line, and (but for a 信函) its last rule on the type area's bottom edge
    def colophon_page(pages):
        return next((i for i, ws in enumerate(pages, 1) if any(w[0].startswith("抄送") for w in ws)), None)
    lp, op = colophon_page(lo_pages), colophon_page(our_pages)
    if op is None:
        return
    check(lp == op == len(our_pages), f"{name}: 版记 on page {lp} in LibreOffice, {op} in the PDF "
          f"of {len(our_pages)}")
    check(letter or op % 2 == 0, f"{name}: the 版记's page {op} is odd")
    print(f"{name}: 版记 page LibreOffice {lp}, PDF {op}")
    for who, pages, pdf, page in (("LibreOffice", lo_pages, lo_pdf, lp), ("PDF", our_pages, our_pdf, op)):
        if page is None:
            continue
        bottom = max(w[4] for w in text_words(pages[page - 1]))
        check(FOOT - PITCH + EM4 - 0.5 <= bottom <= FOOT + 0.5,
              f"{name}: {who} 版记's last line ends at {bottom:.1f} mm, want it in the last grid line")
        if not letter:
            rule = lowest_black_rule(pdf, page)
            check(rule is not None and abs(rule - FOOT) <= 1,
                  f"{name}: {who} last 版记 rule at {rule} mm, want {FOOT} ± 1")
            print(f"{name}: {who} last 版记 rule at {rule and round(rule, 1)} mm")


def text_pieces(pages, gap=3.0):
    """Words joined into pieces of one line: words on one line (box tops within 0.5 mm) less
    than gap mm apart. LibreOffice writes a date as several words ("2025" "年" "6" ...) a
    millimetre apart; names side by side under seals lie a character (5.6 mm) or more
    apart. [(text, page, x0, y0, x1, y1)] in reading order."""
    out = []
    for n, words in enumerate(pages, 1):
        for w in sorted(text_words(words), key=lambda w: (round(w[2], 0), w[1])):
            last = out[-1] if out else None
            if last and last[1] == n and abs(last[3] - w[2]) < 0.5 and 0 <= w[1] - last[4] < gap:
                out[-1] = (last[0] + w[0], n, last[2], last[3], w[3], max(last[5], w[4]))
            else:
                out.append((w[0], n, w[1], w[2], w[3], w[4]))
    return out


def compare_signature(name, lo_pages, our_pages, want, sealed):
    """The 落款 in LibreOffice's PDF of the DOCX against wenshu's PDF: each name and the date
    whole on one line (not wrapped), on the same page, at the same x within 2 mm (names:
    both ends; the date: the end its tab stop holds, the start unsealed, the end sealed, as
    LibreOffice's substitute for 仿宋 is not the layout's and its digits are wider), and
    on the same grid line: the boxes' tops differ by the same amount (within 1 mm) as
    those of the text line just above the 落款, set in the same face (the two PDFs use
    different fonts with different ascents, so their boxes' tops differ by about 2 mm),
    and that line itself lies on the PDF's grid line (within 3 mm, a grid line being
    10.2 mm): the same text goes to the 落款's page in both."""
    found = {}
    for who, pages in (("LibreOffice", lo_pages), ("PDF", our_pages)):
        pieces = text_pieces(pages)
        at = [max((i for i, p in enumerate(pieces) if p[0] == t), default=None) for t in want]
        check(None not in at, f"{name}: {who}: 落款 pieces {[t for t, i in zip(want, at) if i is None]} "
              "not found whole on one line (wrapped?)")
        if None in at:
            return
        above = [p for p in pieces[:min(at)] if p[1] == pieces[at[0]][1] and p[3] < pieces[at[0]][3] - 1]
        check(bool(above), f"{name}: {who}: no text line above the 落款 on its page")
        if not above:
            return
        found[who] = ([pieces[i] for i in at], above[-1])
        # nothing else on the 落款's lines (a wrapped piece would start a line of its own)
        rows = {(pieces[i][1], round(pieces[i][3])) for i in at}
        stray = [p[0] for p in pieces if (p[1], round(p[3])) in rows and p[0] not in want]
        check(not stray, f"{name}: {who}: stray text on the 落款's lines: {stray}")
    lo, ours = found["LibreOffice"], found["PDF"]
    check(lo[1][0] == ours[1][0], f"{name}: the line above the 落款 differs: {lo[1][0]!r}, {ours[1][0]!r}")
    offset = lo[1][3] - ours[1][3]
    check(abs(offset) <= 3, f"{name}: the line above the 落款 ({ours[1][0][:12]}…) is {offset:.1f} mm "
          "lower in LibreOffice: not on the PDF's grid line (the fonts' boxes differ by ~2 mm)")
    for text, l, o in zip(want, lo[0], ours[0]):
        is_date = text == want[-1]
        check(l[1] == o[1], f"{name}: {text} on page {l[1]} in LibreOffice, {o[1]} in the PDF")
        # the date's held end: its start unsealed, unless it is set two characters in
        # from the right (longer than the names); its end sealed
        date_two_in = abs(o[4] - (LEFT + AREA_W - 2 * AREA_W / 28)) < 0.1
        if not is_date or not (sealed or date_two_in):
            near(l[2], o[2], 2, f"{name}: {text} start, LibreOffice against the PDF, mm")
        if not is_date or sealed or date_two_in:
            near(l[4], o[4], 2, f"{name}: {text} end, LibreOffice against the PDF, mm")
        near(l[3] - o[3], offset, 1, f"{name}: {text} top, LibreOffice less the PDF, against the "
             f"line above's {offset:.2f} mm")
        print(f"{name}: {text} LibreOffice x {l[2]:.2f}-{l[4]:.2f} top {l[3]:.2f} mm; "
              f"PDF x {o[2]:.2f}-{o[4]:.2f} top {o[3]:.2f} mm")
    print(f"{name}: the line above the 落款: top LibreOffice {lo[1][3]:.2f}, PDF {ours[1][3]:.2f} mm")


def lines_grid_copy(src, dst):
    """A copy whose document grid is lines only. LibreOffice does not narrow a character to
    Word's character pitch (linesAndChars): a character that does not fit one cell takes
    two, and punctuation and Latin letters take a whole cell, so its lines break earlier than
    Word's. With lines only it sets the (0.25 pt condensed) characters at their own width,
    28 a line as in Word and in the PDF."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for n in zin.namelist():
            data = zin.read(n)
            if n == "word/document.xml":
                data = data.replace(b'w:type="linesAndChars"', b'w:type="lines"')
            zout.writestr(n, data)


def soffice_compare(tmp):
    """Every draft in data/gongwen/layout through `wenshu-cli format -o X.docx --pdf X.pdf`;
    LibreOffice converts the DOCX files to PDF in one call, and each is compared with the
    PDF export (compare_fixture). Skipped without soffice, pdftotext or wenshu-cli."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice or not shutil.which("pdftotext") or not shutil.which("pdftoppm"):
        print("skip: soffice (or pdftotext, pdftoppm) not installed; LibreOffice comparison not run")
        return
    cli, tests_dir = os.environ.get("WENSHU_CLI"), os.environ.get("WENSHU_TESTS_DIR")
    if not cli or not os.path.exists(cli) or not tests_dir:
        print("skip: WENSHU_CLI or WENSHU_TESTS_DIR not set; LibreOffice comparison not run")
        return
    drafts = {name: os.path.join(tests_dir, "data", "gongwen", "layout", name + ".md")
              for name in LAYOUT_FIXTURES}
    drafts["blank-page"] = os.path.join(tmp, "blank-page.md")
    with open(drafts["blank-page"], "w", encoding="utf-8") as f:
        f.write(BLANK_PAGE_DRAFT)
    options = {name: [] for name in drafts}
    for name, (fixture, opts) in LAYOUT_VARIANTS.items():
        drafts[name], options[name] = drafts[fixture], opts
    made = {}
    for name, draft in drafts.items():
        docx, pdf = os.path.join(tmp, name + ".docx"), os.path.join(tmp, name + ".pdf")
        r = subprocess.run([cli, "format", draft, "-o", docx, "--pdf", pdf] + options[name],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"{name}: wenshu-cli format failed: {r.stderr.strip()[-300:]}")
        if r.returncode == 0:
            lines = os.path.join(tmp, "lines", name + ".docx")
            os.makedirs(os.path.dirname(lines), exist_ok=True)
            lines_grid_copy(docx, lines)
            made[name] = (lines, pdf, Docx(docx))
    converted = lo_convert(soffice, tmp, [m[0] for m in made.values()])
    for name, (lines, pdf, d) in made.items():
        lo_pdf = converted.get(lines)
        if not lo_pdf:
            continue
        info = subprocess.run(["pdfinfo", lo_pdf], capture_output=True, text=True).stdout
        check(re.search(r"Page size:\s+595\.\d* x 841\.\d*", info) is not None,
              f"{name}: LibreOffice's pages are not A4")
        letter = any(ref.get(W + "type") == "first" for ref in d.doc.iter(W + "headerReference"))
        our_pages = pdf_pages(pdf)
        if name == "blank-page":
            check(len(our_pages) == 4 and not text_words(our_pages[2]),
                  f"{name}: the PDF has {len(our_pages)} pages and no blank page 3: the draft no "
                  "longer ends on an even page without room for the 版记")
        lo_pages = pdf_pages(lo_pdf)
        compare_fixture(name, lo_pages, our_pages, lo_pdf, pdf, letter)
        fixture = LAYOUT_VARIANTS.get(name, (name, []))[0]
        if fixture in SIGNATURES:
            compare_signature(name, lo_pages, our_pages, SIGNATURES[fixture],
                              "--sealed" in options[name])


# A 通知 whose text ends low on page 2, an even page without room for the 版记:
# the layout leaves page 3 blank and sets the 版记 on page 4, neither numbered.
# Only full-width characters, one line each (2 indent + 26), so that its lines
# break the same whatever the fonts.
BLANK_PAGE_DRAFT = ("发文机关：XX市人民政府\n发文字号：X政发〔2025〕9号\n# 关于做好冬季安全工作的通知\n"
                    "各区县人民政府：\n" + "各单位要加强值班值守确保各项工作落实到位不留死角切。\n" * 27 +
                    "XX市人民政府\n2025年12月1日\n抄送：市委办公室。\n"
                    "印发机关：XX市人民政府办公室\n印发日期：2025年12月1日\n")


def main():
    driver = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        notice = export(driver, tmp, "notice", NOTICE)
        if os.path.exists(notice):
            check_notice(Docx(notice), NOTICE)
        path = export(driver, tmp, "request", REQUEST)
        if os.path.exists(path):
            check_request(Docx(path), REQUEST)
        path = export(driver, tmp, "letter", LETTER)
        if os.path.exists(path):
            check_letter(Docx(path), LETTER)
        path = export(driver, tmp, "minutes", MINUTES)
        if os.path.exists(path):
            check_minutes(Docx(path), MINUTES)
        path = export(driver, tmp, "order", ORDER)
        if os.path.exists(path):
            check_order(Docx(path), ORDER)
        path = export(driver, tmp, "joint", JOINT)
        if os.path.exists(path):
            check_joint(Docx(path), JOINT)
        path = export(driver, tmp, "joint-signature", JOINT_SIGNATURE)
        if os.path.exists(path):
            check_joint_signature(Docx(path), JOINT_SIGNATURE)
        path = export(driver, tmp, "joint-signature-sealed", JOINT_SIGNATURE + [("sealed", "1")])
        if os.path.exists(path):
            check_joint_signature_sealed(Docx(path), JOINT_SIGNATURE)
        path = export(driver, tmp, "long-date", LONG_DATE)
        if os.path.exists(path):
            check_long_date(Docx(path), LONG_DATE)
        check_failure(driver, tmp)
        soffice_compare(tmp)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
