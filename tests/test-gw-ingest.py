#!/usr/bin/python3
"""test-gw-ingest.py: gw_ingest_file (app/docs/gw-ingest.c) on inputs written
here at test time: UTF-8 text (BOM, CRLF), .docx files made with zipfile
(runs, tabs, breaks, tables, text boxes, deleted text, field codes), PDFs
written by hand (a text layer on two pages) and with PIL (an image only),
and every refusal: binary, non-UTF-8, empty, a .docx that is not a zip, a
damaged zip, a zip without word/document.xml, malformed XML, a PDF without
text, a file named .pdf that is not one, and inputs over the 4 MiB cap
(about 500 pages), which are refused, not truncated. Each refusal must name
the file. The expected text of each input is written here by hand. Last, a
.docx from our own exporter is read back: its paragraphs, one a line, in order.

usage: test-gw-ingest.py DRIVER
"""
import os
import subprocess
import sys
import tempfile
import zipfile

MAX_BYTES = 4 << 20  # GW_INGEST_MAX_BYTES

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def ingest(driver, path):
    r = subprocess.run([driver, "ingest", path], capture_output=True)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def expect_text(driver, path, want, what):
    rc, out, err = ingest(driver, path)
    check(rc == 0, f"{what}: refused: {err.strip()}")
    check(out == want, f"{what}: got {out[:200]!r}, want {want[:200]!r}")


def expect_refused(driver, path, words, what):
    rc, out, err = ingest(driver, path)
    check(rc == 2, f"{what}: rc {rc}, want 2 (refused); stdout {out[:80]!r}")
    check(path in err, f"{what}: the message does not name the file: {err.strip()!r}")
    check(any(w in err for w in words), f"{what}: message {err.strip()!r} lacks any of {words}")
    check(out == "", f"{what}: text was written although refused")


# ---- .docx fixtures ---------------------------------------------------------------------

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def document_xml(body, doctype=""):
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{doctype}'
            f'<w:document xmlns:w="{W_NS}" xmlns:mc="{MC_NS}"><w:body>{body}'
            '<w:sectPr/></w:body></w:document>')


def p(*runs):
    return "<w:p><w:pPr><w:pStyle w:val=\"Normal\"/><w:tabs><w:tab w:val=\"left\" w:pos=\"720\"/>" \
           "</w:tabs></w:pPr>" + "".join(runs) + "</w:p>"


def r(text):
    return f'<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">{text}</w:t></w:r>'


def write_docx(path, body_xml, extra=None, include_document=True):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        if include_document:
            z.writestr("word/document.xml", body_xml)
        for name, data in (extra or {}).items():
            z.writestr(name, data)


RICH_BODY = "".join([
    p(r("关于开展"), r("安全生产大检查的通知")),                          # split runs
    p(r("各区县人民政府：")),
    p(),                                                                   # an empty paragraph
    p(r("甲"), "<w:r><w:tab/></w:r>", r("乙"), "<w:r><w:br/></w:r>", r("丙")),
    p(r("删"), '<w:del><w:r><w:delText>已删除</w:delText></w:r></w:del>', r("改")),
    p(r("第"), '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
      '<w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>'
      '<w:r><w:fldChar w:fldCharType="separate"/></w:r>', r("3"),
      '<w:r><w:fldChar w:fldCharType="end"/></w:r>', r("页")),
    "<w:tbl><w:tr><w:tc><w:p>" + r("单元格一") + "</w:p></w:tc><w:tc><w:p>" + r("单元格二")
    + "</w:p></w:tc></w:tr></w:tbl>",
    p(r("正文 &amp; 符号 &lt;x&gt;")),
    p(r("框外"), '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent>'
      + p(r("文本框")) + '</w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict>'
      '<w:txbxContent>' + p(r("文本框")) + '</w:txbxContent></w:pict></mc:Fallback>'
      '</mc:AlternateContent>'),
    p(r("2025年3月18日")),
])

RICH_WANT = ("关于开展安全生产大检查的通知\n各区县人民政府：\n\n甲\t乙\n丙\n删改\n第3页\n"
             "单元格一\n单元格二\n正文 & 符号 <x>\n框外\n文本框\n2025年3月18日\n")


# ---- PDF fixtures -----------------------------------------------------------------------


def write_text_pdf(path, pages):
    """A minimal PDF with one Helvetica line per page."""
    write_pdf(path, [f"BT /F1 24 Tf 72 700 Td ({text}) Tj ET" for text in pages])


def write_pdf(path, streams):
    """A minimal PDF, one content stream a page, Helvetica as /F1 (offsets computed here)."""
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", None,
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for content in streams:
        stream = content.encode()
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objs)
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                    f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content} 0 R >>")
        kids.append(f"{len(objs)} 0 R")
    objs[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        body = obj.encode() if isinstance(obj, str) else obj
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    with open(path, "wb") as f:
        f.write(out)


def write_image_pdf(path):
    from PIL import Image
    Image.new("RGB", (200, 100), (255, 255, 255)).save(path, "PDF")


# ---- the tests --------------------------------------------------------------------------


def test_text(driver, tmp):
    path = os.path.join(tmp, "draft.md")
    with open(path, "wb") as f:
        f.write("\ufeff# 关于开展检查的通知\r\n各单位：\r\n正文。\r旧式换行\n".encode("utf-8"))
    expect_text(driver, path, "# 关于开展检查的通知\n各单位：\n正文。\n旧式换行\n", "txt BOM CRLF")

    path = os.path.join(tmp, "binary.txt")
    with open(path, "wb") as f:
        f.write(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)))
    expect_refused(driver, path, ["binary"], "binary")

    path = os.path.join(tmp, "gbk.txt")
    with open(path, "wb") as f:
        f.write("关于开展检查的通知".encode("gbk"))
    expect_refused(driver, path, ["UTF-8"], "GBK text")

    path = os.path.join(tmp, "empty.txt")
    open(path, "wb").close()
    expect_refused(driver, path, ["empty"], "empty file")
    path = os.path.join(tmp, "blank.txt")
    with open(path, "wb") as f:
        f.write(b" \r\n\t\n")
    expect_refused(driver, path, ["empty"], "blank file")

    path = os.path.join(tmp, "missing.txt")
    expect_refused(driver, path, ["cannot open"], "missing file")

    line = "一二三四五六七八九十，这是一行测试文本。\n"  # 64 bytes
    path = os.path.join(tmp, "cap.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(line * (MAX_BYTES // len(line.encode())))
    size = os.path.getsize(path)
    rc, out, err = ingest(driver, path)
    check(rc == 0 and len(out.encode()) == size, f"{size}-byte text under the cap: rc {rc} {err!r}")
    path = os.path.join(tmp, "500pages.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(line * (MAX_BYTES // len(line.encode()) + 1))
    expect_refused(driver, path, ["500-page"], "text over the cap")


def test_docx(driver, tmp):
    path = os.path.join(tmp, "rich.docx")
    write_docx(path, document_xml(RICH_BODY))
    expect_text(driver, path, RICH_WANT, "docx paragraphs")

    # strict OOXML namespace, stored (not deflated), name without .docx
    path = os.path.join(tmp, "strict.bin")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("word/document.xml",
                   '<w:document xmlns:w="http://purl.oclc.org/ooxml/wordprocessingml/main">'
                   '<w:body><w:p><w:r><w:t>严格</w:t></w:r></w:p></w:body></w:document>')
    expect_text(driver, path, "严格\n", "strict docx by content")

    path = os.path.join(tmp, "notzip.docx")
    with open(path, "w", encoding="utf-8") as f:
        f.write("这不是一个 zip 文件\n")
    expect_refused(driver, path, ["not a zip"], ".docx that is not a zip")

    path = os.path.join(tmp, "damaged.docx")
    with open(path, "wb") as f:
        f.write(b"PK\x03\x04" + b"\x00garbage" * 40)
    expect_refused(driver, path, ["zip"], "damaged zip")

    path = os.path.join(tmp, "nodoc.docx")
    write_docx(path, "", extra={"word/styles.xml": "<x/>"}, include_document=False)
    expect_refused(driver, path, ["word/document.xml"], "zip without document.xml")

    path = os.path.join(tmp, "badxml.docx")
    write_docx(path, "<w:document><w:body><w:p>")
    expect_refused(driver, path, ["XML"], "malformed document.xml")

    path = os.path.join(tmp, "emptydoc.docx")
    write_docx(path, document_xml(p() + p(r(" "))))
    expect_refused(driver, path, ["empty"], "docx without text")

    # an external entity is never loaded
    secret = os.path.join(tmp, "secret.txt")
    with open(secret, "w") as f:
        f.write("SECRET-CONTENT")
    doctype = f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    path = os.path.join(tmp, "xxe.docx")
    write_docx(path, document_xml(p(r("前&xxe;后")), doctype))
    rc, out, err = ingest(driver, path)
    check("SECRET" not in out, f"xxe: an external entity was expanded: {out!r}")
    check(rc == 0 and out.startswith("前"), f"xxe: rc {rc} {out!r} {err!r}")

    # 4 MiB of text in a small zip: refused, not truncated
    para = p(r("这是一段很长的正文，用来测试五百页的输入。" * 10))
    n = MAX_BYTES // len(("这是一段很长的正文，用来测试五百页的输入。" * 10).encode()) + 2
    path = os.path.join(tmp, "500pages.docx")
    write_docx(path, document_xml(para * n))
    check(os.path.getsize(path) < (1 << 20), "the big docx fixture is not small")
    expect_refused(driver, path, ["500-page"], "docx over the cap")


def test_pdf(driver, tmp):
    path = os.path.join(tmp, "text.pdf")
    write_text_pdf(path, ["Hello page one", "Second page text"])
    rc, out, err = ingest(driver, path)
    check(rc == 0, f"pdf: refused: {err!r}")
    words = out.split()
    check(words == ["Hello", "page", "one", "Second", "page", "text"], f"pdf text {out!r}")
    check(out.index("Hello") < out.index("Second"), "pdf pages out of order")

    # over 4 MiB of text on 90 pages: refused, not truncated
    line = "(" + "The quick brown fox jumps over the lazy dog. " * 8 + ") '"
    page = "BT /F1 2 Tf 2 TL 10 835 Td " + " ".join([line] * 300) + " ET"
    path = os.path.join(tmp, "500pages.pdf")
    write_pdf(path, [page] * 90)
    expect_refused(driver, path, ["500-page"], "pdf over the cap")

    path = os.path.join(tmp, "scan.pdf")
    write_image_pdf(path)
    expect_refused(driver, path, ["no text"], "pdf without text")

    path = os.path.join(tmp, "fake.pdf")
    with open(path, "w") as f:
        f.write("plain words, not a PDF\n")
    expect_refused(driver, path, ["not a PDF"], ".pdf that is not a PDF")

    path = os.path.join(tmp, "broken.pdf")
    with open(path, "wb") as f:
        f.write(b"%PDF-1.4\n\x00\x01 not really\n")
    expect_refused(driver, path, ["PDF"], "damaged PDF")


def test_round_trip(driver, tmp):
    """Our own .docx export read back: the paragraphs come out one a line, in order."""
    spec = os.path.join(tmp, "rt.spec")
    lines = ["关于开展安全生产大检查的通知", "一、总体要求", "（一）加强领导。各单位要高度重视。",
             "请于3月底前报送结果。", "XX市人民政府", "2025年3月18日"]
    with open(spec, "w", encoding="utf-8") as f:
        f.write(f"kind\t通知\nissuer\tXX市人民政府\ntitle\t{lines[0]}\nh1\t{lines[1]}\n"
                f"h2\t{lines[2]}\npara\t{lines[3]}\nsignature\t{lines[4]}\ndate\t{lines[5]}\n")
    out = os.path.join(tmp, "rt.docx")
    r = subprocess.run([driver, "docx", spec, out], capture_output=True, text=True)
    check(r.returncode == 0, f"round trip: export failed: {r.stderr}")
    rc, text, err = ingest(driver, out)
    got = [l for l in text.split("\n") if l.strip()]
    check(rc == 0 and got == ["XX市人民政府文件"] + lines, f"round trip: {got} {err!r}")


def main():
    driver = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        test_text(driver, tmp)
        test_docx(driver, tmp)
        test_pdf(driver, tmp)
        test_round_trip(driver, tmp)
    if failures:
        print(f"{len(failures)} failures")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
