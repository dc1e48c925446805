#!/usr/bin/python3
"""test-gw-docx.py: the .docx export (app/docs/gw-docx.c) read back with
Python's zipfile and ElementTree, against the numbers of GB/T 9704-2012
(shared/specs/gongwen-gbt9704.md) computed here independently.

The driver (test-gw-docs-driver docx SPEC OUT) builds the gw_doc by hand from
a key/value spec, so the test knows every element the document must show.
Checked: the package (parts, content types, relationships), the page and
margins, the document grid, the styles and their fonts (no theme font
anywhere), the odd/even PAGE footers, evenAndOddHeaders, the 版记 section
without a number, the red rule, the 版记 rules, the order of the text, the
信函/纪要/请示 variants, and that a failed export leaves nothing behind.
When LibreOffice (soffice) is installed, the file is also converted to PDF and
its pages and margins compared with `wenshu-cli format --pdf`; without it that
part is skipped.

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
    ("signature", "XX市教育局"), ("date", "2025年5月6日"),
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
    check(len(secs) == 2, f"{name}: {len(secs)} sections, want 2 (text, 版记)")
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

    # the 版记 section: on an even page, at the foot, no page number
    col_paras, col = secs[1]
    check(col.find(W + "type") is not None and col.find(W + "type").get(W + "val") == "evenPage",
          f"{name}: 版记 section does not start on an even page")
    check(col.find(W + "vAlign") is not None and col.find(W + "vAlign").get(W + "val") == "bottom",
          f"{name}: 版记 not at the foot of the type area")
    check_section(d, col, name + " 版记")
    for kind in ("default", "even", "first"):
        f = footer_of(d, col, kind)
        check(f is not None, f"{name}: 版记 section lacks its own {kind} footer (would inherit a number)")
        if f is not None:
            check(not list(f.iter(W + "fldChar")) and not "".join(para_text(p) for p in f.iter(W + "p")),
                  f"{name}: 版记 {kind} footer is not empty")
    rules = []
    for p in col_paras:
        for side in ("top", "bottom"):
            b = p.find(f"{W}pPr/{W}pBdr/{W}{side}")
            if b is not None:
                rules.append(int(b.get(W + "sz")) / 8 * 25.4 / 72)  # mm
    check(len(rules) == 3, f"{name}: {len(rules)} 版记 rules, want 3")
    if len(rules) == 3:
        near(rules[0], 0.35, 0.05, f"{name}: first 版记 rule mm")
        near(rules[1], 0.25, 0.05, f"{name}: middle 版记 rule mm")
        near(rules[2], 0.35, 0.05, f"{name}: last 版记 rule mm")
    col_text = [para_text(p) for p in col_paras]
    check(any(t.startswith("XX市人民政府办公室\t") and t.endswith("2025年3月18日印发") for t in col_text),
          f"{name}: 印发机关 and 印发日期 not on one line: {col_text}")


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
    # sealed: the date four characters in from the right
    date = paras[texts.index("2025年4月1日")]
    near(int(date.find(f"{W}pPr/{W}ind").get(W + "right")) / (8845 / 28), 4, 0.05,
         f"{name}: sealed date right indent in chars")
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
        p = hdr.find(W + "p")
        check(para_text(p) == "XX市教育局", f"{name}: header mark {para_text(p)!r}")
        b = p.find(f"{W}pPr/{W}pBdr/{W}bottom")
        check(b is not None and b.get(W + "color") == "FF0000" and "thickThin" in b.get(W + "val"),
              f"{name}: no red thick-over-thin rule under the mark")
        ind = p.find(f"{W}pPr/{W}ind")
        width = 8845 - int(ind.get(W + "left")) - int(ind.get(W + "right"))
        near(mm(width), 170, 0.5, f"{name}: header rule length mm")
        near(mm(int(sect.find(W + "pgMar").get(W + "header"))), 30, 0.5, f"{name}: mark from the top mm")
    first_ftr = footer_of(d, sect, "first")
    check(first_ftr is not None and not list(first_ftr.iter(W + "fldChar")),
          f"{name}: page 1 must carry no page number")
    check_footers(d, sect, name, check_section(d, sect, name)[0])


def check_minutes(d, items):
    name = "minutes"
    check_package(d, name)
    check_no_theme_fonts(d, name)
    check_all_fonts(d, name)
    check_text_order(d, [(k, v) for k, v in items if k not in ("attendees", "absentees", "observers")], name)
    paras = list(d.doc.iter(W + "p"))
    texts = [para_text(p) for p in paras]
    check(any("XX市人民政府常务会议纪要" == t for t in texts), f"{name}: no 纪要 mark")
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


def lo_convert(soffice, tmp, docx):
    """docx -> PDF with LibreOffice headless, in a profile of its own; the PDF path or None."""
    outdir = os.path.join(tmp, "lo-out")
    os.makedirs(outdir, exist_ok=True)
    profile = "file://" + os.path.join(tmp, "lo-profile")
    r = subprocess.run([soffice, "-env:UserInstallation=" + profile, "--headless",
                        "--convert-to", "pdf", "--outdir", outdir, docx],
                       capture_output=True, text=True, timeout=240)
    pdf = os.path.join(outdir, os.path.splitext(os.path.basename(docx))[0] + ".pdf")
    check(r.returncode == 0 and os.path.exists(pdf), f"soffice could not convert {docx}: {r.stderr}")
    return pdf if os.path.exists(pdf) else None


WORD_BOX = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>')


def pdf_pages(pdf):
    """[[(word, x0, y0, x1, y1) in mm]] per page, from pdftotext -bbox."""
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
    foot = sorted((w for w in words if w[2] > 262), key=lambda w: w[1])
    text = "".join(w[0] for w in foot)
    if not (text.startswith("—") and text.endswith("—") and text[1:-1].isdigit()):
        return None
    return int(text[1:-1]), foot[0][1], foot[-1][3]


def soffice_compare(driver, tmp, docx):
    """LibreOffice's reading of the file: A4, margins, page numbers odd right / even left one
    四号 character in, the 版记 on the last, even page without a number; and, when
    `wenshu-cli format` exists, its DOCX against its PDF. Skipped without soffice.
    LibreOffice snaps a 16 pt character to two 15.8 pt grid cells where Word narrows it
    (linesAndChars), and ignores vAlign=bottom, so line breaks and the 版记's height on its
    page are not compared."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice or not shutil.which("pdftotext"):
        print("skip: soffice (or pdftotext) not installed; LibreOffice comparison not run")
        return
    pdf = lo_convert(soffice, tmp, docx)
    if not pdf:
        return
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True).stdout
    check("595" in info and "841" in info, "LibreOffice: the pages are not A4")
    pages = pdf_pages(pdf)
    check(len(pages) % 2 == 0, f"LibreOffice: {len(pages)} pages; the 版记 page must be even")
    first = pages[0]
    near(min(w[1] for w in first), 28, 1, "LibreOffice: page 1 left edge of the text mm")
    near(min(w[2] for w in first), 37, 3, "LibreOffice: page 1 top of the text mm")
    last = pages[-1]
    check(any(w[0].startswith("抄送") for w in last), "LibreOffice: 版记 not on the last page")
    check(page_number(last) is None, "LibreOffice: the 版记 page carries a page number")
    char = 14 * 25.4 / 72
    for i, words in enumerate(pages[:-1], 1):
        if not words:
            continue
        num = page_number(words)
        check(num is not None and num[0] == i, f"LibreOffice: page {i} number {num}")
        if num is None:
            continue
        if i % 2:
            near(num[2], 210 - 26 - char, 1, f"LibreOffice: odd page {i} number right end mm")
        else:
            near(num[1], 28 + char, 1, f"LibreOffice: even page {i} number left start mm")
        top = min(w[2] for w in words if w[2] > 262)
        near(top - 262, 7, 1.5, f"LibreOffice: page {i} number below the type area mm")

    cli = os.environ.get("WENSHU_CLI")
    if not cli:
        return
    draft = os.path.join(tmp, "notice.md")
    with open(draft, "w", encoding="utf-8") as f:
        f.write(NOTICE_DRAFT)
    ours_docx, ours_pdf = os.path.join(tmp, "cli.docx"), os.path.join(tmp, "cli.pdf")
    r = subprocess.run([cli, "format", draft, "-o", ours_docx, "--pdf", ours_pdf],
                       capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(ours_docx) or not os.path.exists(ours_pdf):
        print("skip: wenshu-cli format not available:", r.stderr.strip()[:200])
        return
    # LibreOffice reads a copy whose grid is lines only: with the character grid it would
    # give each 16 pt character two cells, where Word narrows it to the 15.8 pt pitch.
    lines_docx = os.path.join(tmp, "cli-lines.docx")
    with zipfile.ZipFile(ours_docx) as src, zipfile.ZipFile(lines_docx, "w") as dst:
        for n in src.namelist():
            data = src.read(n)
            if n == "word/document.xml":
                data = data.replace(b'w:type="linesAndChars"', b'w:type="lines"')
            dst.writestr(n, data)
    lo = lo_convert(soffice, tmp, lines_docx)
    if not lo:
        return
    lo_pages, our_pages = pdf_pages(lo), pdf_pages(ours_pdf)
    print(f"pages: LibreOffice {len(lo_pages)}, wenshu-cli PDF {len(our_pages)} (the DOCX gives "
          "the 版记 an even page of its own; LibreOffice's PDF drops the blank page before it)")
    date = re.compile("2025年3月18日(?!印发)")

    def date_page(pages):
        return next((i for i, words in enumerate(pages, 1)
                     if date.search("".join(w[0] for w in words))), None)

    check(date_page(lo_pages) is not None and date_page(lo_pages) == date_page(our_pages),
          f"成文日期 on page {date_page(lo_pages)} in LibreOffice, {date_page(our_pages)} in the PDF")
    for who, pages in (("LibreOffice", lo_pages), ("wenshu-cli PDF", our_pages)):
        check(bool(pages) and any(w[0].startswith("抄送") for w in pages[-1]),
              f"{who}: the 版记 is not on the last page")
        if pages and pages[0]:
            near(min(w[1] for w in pages[0]), 28, 1, f"{who}: page 1 left edge mm")
            near(min(w[2] for w in pages[0]), 37, 3, f"{who}: page 1 top of the text mm")


NOTICE_DRAFT = """发文机关：XX市人民政府
发文字号：X政发〔2025〕3号
# 关于开展安全生产大检查的通知
各区县人民政府，市政府各部门：
为切实加强安全生产工作，经研究，决定开展安全生产大检查。
一、总体要求
（一）加强领导。各单位要高度重视。
附件：1.检查安排表
2.联络员名单
XX市人民政府
2025年3月18日
抄送：市委办公室，市人大常委会办公室。
印发机关：XX市人民政府办公室
印发日期：2025年3月18日
"""


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
        check_failure(driver, tmp)
        if os.path.exists(notice):
            soffice_compare(driver, tmp, notice)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
