#!/usr/bin/env python3
"""test-gw-check.py: the format check over the hand-written corpus.

usage: test-gw-check.py CORPUS_DIR [DRIVER]

CORPUS_DIR holds clean/*.md (drafts with no fault at all) and faulty/*.md,
each opening with `<!-- expect: rule-id rule-id ... -->` that names every
fault the draft has. Each draft goes through `$WENSHU_CLI check --json`
(DRIVER, test-gw-parse --check, stands in while the CLI has no `check`).

Passes when:
  - every clean draft reports no issue (errors and warnings) and exits 0;
  - every expected rule of a faulty draft is reported, no error-severity rule
    outside its list is, and it exits 1 when an error is expected, else 0;
  - every issue has a line, a known severity, a Chinese message and a fix;
  - the corpus has >= 10 clean and >= 40 faulty drafts;
  - a binary file, an empty file and a draft without a title exit 2 with a
    message that names the file.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

EXPECT = re.compile(r"<!--\s*expect:([^>]*)-->")


def command(driver):
    cli = os.environ.get("WENSHU_CLI")
    if cli and os.path.exists(cli):
        probe = subprocess.run([cli, "check"], capture_output=True, text=True)
        if 'unknown command "check"' not in probe.stderr:
            return [cli, "check", "--json"]
    if not driver:
        sys.exit("no wenshu-cli with `check` and no driver given")
    print("note: wenshu-cli has no `check` yet; using", driver)
    return [driver, "--check"]


def run(cmd, path):
    p = subprocess.run(cmd + [path], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def expected_rules(path):
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    m = EXPECT.search(first)
    if not m:
        return None
    return set(m.group(1).split())


def has_han(s):
    return any("\u4e00" <= ch <= "\u9fff" for ch in s)


def check_file(cmd, path, clean, failures):
    name = os.path.relpath(path)
    rc, out, err = run(cmd, path)
    if rc == 2:
        failures.append(f"{name}: refused: {err.strip()}")
        return 0
    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        failures.append(f"{name}: not JSON (rc {rc}): {out[:200]} {err[:200]}")
        return 0
    issues = report.get("issues", [])
    for it in issues:
        if it.get("severity") not in ("error", "warning") or not isinstance(it.get("line"), int):
            failures.append(f"{name}: malformed issue {it}")
        if not has_han(it.get("message", "")) or not has_han(it.get("fix", "")):
            failures.append(f"{name}: issue {it.get('rule')} lacks a Chinese message or fix")
    found = {it["rule"] for it in issues}
    errors = {it["rule"] for it in issues if it["severity"] == "error"}
    if clean:
        if issues:
            failures.append(f"{name}: clean draft flagged: " +
                            "; ".join(f"{i['line']} {i['rule']}: {i['message']}" for i in issues))
        if rc != 0:
            failures.append(f"{name}: clean draft exit {rc}")
        return len(issues)
    want = expected_rules(path)
    if not want:
        failures.append(f"{name}: no <!-- expect: ... --> line")
        return 0
    missing = want - found
    extra = errors - want
    if missing:
        failures.append(f"{name}: missed {sorted(missing)} (found {sorted(found)})")
    if extra:
        failures.append(f"{name}: unexpected errors {sorted(extra)}: " +
                        "; ".join(f"{i['line']} {i['rule']}: {i['message']}"
                                  for i in issues if i["rule"] in extra))
    want_rc = 1 if errors else 0
    if rc != want_rc:
        failures.append(f"{name}: exit {rc}, want {want_rc}")
    return len(want & found)


def check_refusals(cmd, failures):
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "binary.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "empty.md": b"",
            "latin1.md": "关于".encode("utf-8") + b"\xb9\xd8\xd3\xda\n",
            "notitle.md": "各单位要认真落实，确保工作取得实效。\n具体要求另行通知。\n".encode(),
        }
        for fname, data in cases.items():
            path = os.path.join(tmp, fname)
            with open(path, "wb") as f:
                f.write(data)
            rc, out, err = run(cmd, path)
            if rc != 2:
                failures.append(f"{fname}: exit {rc}, want 2 (out {out[:100]})")
            if fname not in err:
                failures.append(f"{fname}: message does not name the file: {err.strip()}")


def main():
    corpus = sys.argv[1]
    driver = sys.argv[2] if len(sys.argv) > 2 else None
    cmd = command(driver)
    failures = []
    counts = {}
    for sub in ("clean", "faulty"):
        d = os.path.join(corpus, sub)
        files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".md"))
        counts[sub] = len(files)
        hits = 0
        for path in files:
            hits += check_file(cmd, path, sub == "clean", failures)
        print(f"{sub}: {len(files)} drafts, {hits} {'issues' if sub == 'clean' else 'expected faults found'}")
    if counts["clean"] < 10 or counts["faulty"] < 40:
        failures.append(f"corpus too small: {counts}")
    check_refusals(cmd, failures)
    for f in failures:
        print("FAIL", f)
    print("ok" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
