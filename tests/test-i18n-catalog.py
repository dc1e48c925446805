#!/usr/bin/env python3
"""test-i18n-catalog.py: every UI string has its translation.

usage: test-i18n-catalog.py SOURCE_ROOT

For each language in ui/po/LINGUAS (zh_CN):
  - `msgfmt --check --statistics` on ui/po/<lang>.po succeeds (formats that
    match their msgid, a sane header) and reports no untranslated and no
    fuzzy message;
  - a fresh `xgettext` over ui/po/POTFILES (the keywords of meson's "glib"
    preset) gives no msgid that the .po lacks, so a new string marked with
    _() or translatable="yes" and left untranslated fails here.
And: every file POTFILES names exists, and every file under app/gui/ and
ui/ that marks a string for translation is named in POTFILES.
"""
import ast
import os
import re
import subprocess
import sys
import tempfile

# meson's i18n "glib" preset (mesonbuild/modules/i18n.py), as `ninja wenshu-pot` runs it
XGETTEXT_ARGS = [
    "--from-code=UTF-8", "--add-comments",
    "--keyword=_", "--keyword=N_", "--keyword=C_:1c,2", "--keyword=NC_:1c,2",
    "--keyword=g_dcgettext:2", "--keyword=g_dngettext:2,3", "--keyword=g_dpgettext2:2c,3",
    "--flag=N_:1:pass-c-format", "--flag=C_:2:pass-c-format", "--flag=NC_:2:pass-c-format",
    "--flag=g_dngettext:2:pass-c-format", "--flag=g_strdup_printf:1:c-format",
    "--flag=g_string_printf:2:c-format", "--flag=g_string_append_printf:2:c-format",
    "--flag=g_error_new:3:c-format", "--flag=g_set_error:4:c-format",
]
# what marks a string for translation in a C or GtkBuilder file
MARK_C = re.compile(r"\b(?:_|N_|C_|NC_|ngettext|g_dngettext|g_dpgettext2)\(\s*\"")
MARK_UI = re.compile(r"translatable=\"yes\"")
# the least the sources hold today: an extraction that finds (almost)
# nothing means the extraction broke, not that all is translated
MIN_MSGIDS = 100


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def read_list(path):
    """Non-empty, non-comment lines of a POTFILES or LINGUAS file."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def msgids(path):
    """The (msgctxt, msgid) keys of a .po/.pot file, header excluded."""
    keys, entry, field = set(), {}, None

    def flush():
        if entry.get("msgid"):
            keys.add((entry.get("msgctxt"), entry["msgid"]))

    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#~"):
                flush()
                entry, field = {}, None
                continue
            if line.startswith("#"):
                continue
            match = re.match(r"(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(\".*\")$", line)
            if match:
                if match.group(1) == "msgctxt" or (match.group(1) == "msgid" and "msgid" in entry):
                    flush()
                    entry = {}
                field = match.group(1)
                entry[field] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and field:
                entry[field] += ast.literal_eval(line)
            else:
                fail(f"{path}: cannot read the line “{line}”")
    flush()
    return keys


def check_statistics(po_path):
    """msgfmt --check --statistics: no error, nothing untranslated or fuzzy."""
    run = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, po_path],
                         capture_output=True, text=True)
    report = (run.stdout + run.stderr).strip()
    print(f"{po_path}: {report}")
    if run.returncode != 0:
        fail(f"{po_path}: msgfmt --check fails: {report}")
    if "untranslated" in report or "fuzzy" in report:
        fail(f"{po_path}: not fully translated: {report}")
    if "translated message" not in report:
        fail(f"{po_path}: msgfmt printed no statistics: {report}")


def check_potfiles_cover_sources(root, potfiles):
    """Every file under app/gui and ui that marks strings is in POTFILES."""
    listed = set(potfiles)
    missing = []
    for folder, pattern, suffix in (("app/gui", MARK_C, ".c"), ("ui", MARK_UI, ".ui")):
        for dirpath, _, names in os.walk(os.path.join(root, folder)):
            for name in sorted(names):
                if not name.endswith(suffix):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8") as f:
                    if pattern.search(f.read()) and rel not in listed:
                        missing.append(rel)
    if missing:
        fail("ui/po/POTFILES lacks files that mark strings for translation: " + " ".join(missing))


def extract(root, potfiles, out):
    run = subprocess.run(["xgettext", *XGETTEXT_ARGS, "--package-name=wenshu", "-D", root,
                          "-o", out, *potfiles], capture_output=True, text=True)
    if run.returncode != 0:
        fail("xgettext over ui/po/POTFILES fails: " + run.stderr.strip())


def main():
    if len(sys.argv) != 2:
        fail("usage: test-i18n-catalog.py SOURCE_ROOT")
    root = sys.argv[1]
    po_dir = os.path.join(root, "ui", "po")
    potfiles = read_list(os.path.join(po_dir, "POTFILES"))
    for rel in potfiles:
        if not os.path.isfile(os.path.join(root, rel)):
            fail(f"ui/po/POTFILES: {rel} does not exist")
    check_potfiles_cover_sources(root, potfiles)
    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, "wenshu.pot")
        extract(root, potfiles, pot)
        wanted = msgids(pot)
    print(f"xgettext: {len(wanted)} msgids from {len(potfiles)} files")
    if len(wanted) < MIN_MSGIDS:
        fail(f"xgettext found only {len(wanted)} msgids (expected >= {MIN_MSGIDS})")
    languages = read_list(os.path.join(po_dir, "LINGUAS"))
    if not languages:
        fail("ui/po/LINGUAS names no language")
    for lang in languages:
        po_path = os.path.join(po_dir, lang + ".po")
        if not os.path.isfile(po_path):
            fail(f"{po_path}: LINGUAS names {lang} but the file does not exist")
        check_statistics(po_path)
        have = msgids(po_path)
        missing = sorted(wanted - have, key=lambda k: k[1])
        if missing:
            fail(f"{po_path} lacks {len(missing)} msgid(s) the sources use "
                 "(run `ninja wenshu-update-po` and translate them): "
                 + "; ".join(f"“{m}”" if c is None else f"“{c}|{m}”" for c, m in missing))
        stale = len(have - wanted)
        if stale:
            print(f"note: {po_path} has {stale} msgid(s) no source uses any more")
    print("ok")


if __name__ == "__main__":
    main()
