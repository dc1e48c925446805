#!/usr/bin/env python3
"""End-to-end checks of `wenshu-cli models` against a loopback HTTP server.

The server (http.server in a thread) serves one fixture file, 3 MiB of
seeded random bytes, under paths that pick its behaviour:
  /normal/F    honours Range (206) and serves the file
  /norange/F   ignores Range: always 200 with the whole file
  /corrupt/F   honours Range, with one byte flipped
  /slow/F      honours Range, 64 KiB every 30 ms (for Ctrl+C)
  /redirect/F  302 to /normal/F
  /badrange/F  answers any Range with a 206 from byte 0 (a wrong Content-Range)
  /stall/F     sends 100 KiB, then nothing for 4 s (a timeout)
  /missing/F   404; /s401/F 401; /s503/F 503
Any path can be told to cut the connection after K body bytes for its next
N requests. Every request's path and Range header are recorded.

The expected digests come from Python's hashlib over the fixture bytes, never
from the code under test. A fixture catalogue points at the server. The real
catalogue assets/models.json is validated too (fields, sizes, digests, URLs).
"""
import hashlib
import http.server
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CLI = os.environ.get("WENSHU_CLI")
TESTS_DIR = os.environ.get("WENSHU_TESTS_DIR", os.path.dirname(os.path.abspath(__file__)))
ASSET_CATALOG = os.path.join(TESTS_DIR, "..", "assets", "models.json")
FILE_NAME = "blob.gguf"
BLOB = random.Random(20261206).randbytes(3 * 1024 * 1024)
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()
FLIP_AT = 1234567
CORRUPT = BLOB[:FLIP_AT] + bytes([BLOB[FLIP_AT] ^ 0x5A]) + BLOB[FLIP_AT + 1:]
CORRUPT_SHA = hashlib.sha256(CORRUPT).hexdigest()
CUT_AFTER = 1024 * 1024
failures = []


def check(name, cond, detail=""):
    print(("ok    " if cond else "FAIL  ") + name + ("" if cond else ": " + str(detail)[:2000]))
    if not cond:
        failures.append(name)


# ---- the server ------------------------------------------------------------

class State:
    lock = threading.Lock()
    requests = []       # (path, Range header or None, status)
    cuts = {}           # path -> [remaining requests to cut, bytes before the cut]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # the client hung up (Ctrl+C, a cut): nothing to answer

    def do_GET(self):
        parts = self.path.split("/")
        mode = parts[1] if len(parts) == 3 else ""
        rng = self.headers.get("Range")
        if mode == "redirect":
            self.record(rng, 302)
            self.send_response(302)
            self.send_header("Location", "/normal/" + parts[2])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode not in ("normal", "norange", "corrupt", "slow", "badrange", "stall") \
                or parts[2] != FILE_NAME:
            code = {"s401": 401, "s503": 503}.get(mode, 404)
            self.record(rng, code)
            body = b"no"
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = CORRUPT if mode == "corrupt" else BLOB
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and mode not in ("norange", "badrange"):
            start = int(m.group(1))
        if start >= len(data):
            self.record(rng, 416)
            self.send_response(416)
            self.send_header("Content-Range", "bytes */%d" % len(data))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = 206 if start > 0 or (mode == "badrange" and rng) else 200
        self.record(rng, status)
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        with State.lock:
            cut = State.cuts.get(self.path)
            limit = None
            if cut and cut[0] > 0:
                cut[0] -= 1
                limit = cut[1]
        if limit is not None:
            self.wfile.write(body[:limit])
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "stall":
            self.wfile.write(body[:100 * 1024])
            self.wfile.flush()
            time.sleep(4)
            self.close_connection = True
            return
        step = 64 * 1024
        for off in range(0, len(body), step):
            try:
                self.wfile.write(body[off:off + step])
            except (BrokenPipeError, ConnectionResetError):
                return
            if mode == "slow":
                time.sleep(0.03)

    def record(self, rng, status):
        with State.lock:
            State.requests.append((self.path, rng, status))


def start_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def requests_for(path):
    with State.lock:
        return [r for r in State.requests if r[0] == path]


# ---- the client -------------------------------------------------------------

def run(env, *args, preexec=None, timeout=120):
    p = subprocess.run([CLI, "models", *args], capture_output=True, timeout=timeout, env=env,
                       preexec_fn=preexec)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    crashed = p.returncode < 0 or "Sanitizer" in err or "runtime error" in err
    check("no crash: models " + " ".join(args), not crashed, err)
    return p.returncode, out, err


def entry(base, model_id, url_path, sha=BLOB_SHA, size=len(BLOB), ms_path=None):
    return {
        "id": model_id, "name": "Fixture " + model_id, "capabilities": ["text"],
        "min_ram_mb": 1, "min_vram_mb": 1, "license": "test",
        "files": [{"name": FILE_NAME, "role": "model", "size": size, "sha256": sha,
                   "sources": {"huggingface": base + url_path,
                               "modelscope": base + (ms_path or url_path)}}],
    }


def fixture_catalog(base, path):
    models = [
        entry(base, "fx-normal", "/redirect/" + FILE_NAME),
        entry(base, "fx-cut", "/normal/" + FILE_NAME),
        entry(base, "fx-norange", "/norange/" + FILE_NAME),
        entry(base, "fx-corrupt", "/corrupt/" + FILE_NAME),
        entry(base, "fx-nohash", "/slow/" + FILE_NAME, sha=None),
        entry(base, "fx-big", "/normal/big.gguf", size=10**17),
        entry(base, "fx-missing", "/missing/" + FILE_NAME),
        entry(base, "fx-mirror", "/missing/" + FILE_NAME, ms_path="/normal/" + FILE_NAME),
        entry(base, "fx-badrange", "/badrange/" + FILE_NAME),
        entry(base, "fx-stall", "/stall/" + FILE_NAME),
        entry(base, "fx-401", "/s401/" + FILE_NAME),
        entry(base, "fx-503", "/s503/" + FILE_NAME),
    ]
    with open(path, "w") as f:
        json.dump({"version": 1, "models": models}, f)


def sha_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (CUT_AFTER, CUT_AFTER))


# ---- the cases ----------------------------------------------------------------

def test_resume(env, models):
    path = "/normal/" + FILE_NAME
    with State.lock:
        State.cuts[path] = [1, CUT_AFTER]
    rc, out, err = run(env, "pull", "fx-cut")
    part = os.path.join(models, "fx-cut", FILE_NAME + ".part")
    check("cut: pull fails", rc == 1, err)
    check("cut: message names the URL and the kept .part",
          "closed the connection" in err or "broke" in err, err)
    check("cut: says resumable", part in err and "resume" in err, err)
    check("cut: .part kept with the bytes sent", os.path.exists(part)
          and os.path.getsize(part) == CUT_AFTER, os.path.exists(part) and os.path.getsize(part))
    check("cut: state file beside the .part", os.path.exists(part + ".json"))
    rc, out, err = run(env, "pull", "fx-cut")
    dest = os.path.join(models, "fx-cut", FILE_NAME)
    reqs = requests_for(path)
    check("resume: second pull succeeds", rc == 0, err)
    check("resume: server saw Range from the .part's size",
          len(reqs) >= 2 and reqs[-1][1] == "bytes=%d-" % CUT_AFTER and reqs[-1][2] == 206, reqs)
    check("resume: verified and resumed", "verified" in out and "resumed" in out, out)
    check("resume: file is the fixture", os.path.exists(dest) and sha_of(dest) == BLOB_SHA)
    check("resume: no .part left", not os.path.exists(part) and not os.path.exists(part + ".json"))
    check("resume: progress line shows % and MB/s", "%" in err and "MB/s" in err and "left" in err,
          err)
    rc, out, err = run(env, "list")
    check("list: fx-cut installed", re.search(r"fx-cut\s.*installed", out) is not None, out)


def test_ignore_range(env, models):
    path = "/norange/" + FILE_NAME
    with State.lock:
        State.cuts[path] = [1, CUT_AFTER]
    rc, _, err = run(env, "pull", "fx-norange")
    check("norange: first pull cut", rc == 1, err)
    rc, out, err = run(env, "pull", "fx-norange")
    reqs = requests_for(path)
    dest = os.path.join(models, "fx-norange", FILE_NAME)
    check("norange: second pull succeeds", rc == 0, err)
    check("norange: asked with Range, got 200", reqs[-1][1] == "bytes=%d-" % CUT_AFTER
          and reqs[-1][2] == 200, reqs)
    check("norange: restarted cleanly, right bytes", os.path.exists(dest)
          and os.path.getsize(dest) == len(BLOB) and sha_of(dest) == BLOB_SHA)
    check("norange: not reported as resumed", "resumed" not in out, out)


def test_corrupt(env, models):
    rc, out, err = run(env, "pull", "fx-corrupt")
    d = os.path.join(models, "fx-corrupt")
    check("corrupt: rejected", rc == 1, err)
    check("corrupt: message has expected and actual hashes",
          BLOB_SHA in err and CORRUPT_SHA in err and "mismatch" in err, err)
    check("corrupt: file and .part removed", not os.path.exists(os.path.join(d, FILE_NAME))
          and not os.path.exists(os.path.join(d, FILE_NAME + ".part")))


def test_redirect_and_path(env, models):
    rc, out, err = run(env, "pull", "fx-normal")
    check("redirect: followed and verified", rc == 0 and "verified" in out, err)
    check("redirect: server saw the 302", any(r[2] == 302 for r in requests_for(
        "/redirect/" + FILE_NAME)))
    rc, out, err = run(env, "path", "fx-normal")
    check("path: prints the model file", rc == 0
          and out.strip() == os.path.join(models, "fx-normal", FILE_NAME), out + err)
    rc, out, err = run(env, "pull", "fx-normal")
    check("pull again: already there, no request", rc == 0 and "already there" in out, out + err)


def test_no_hash_and_verify(env, models):
    rc, out, err = run(env, "pull", "fx-nohash")
    dest = os.path.join(models, "fx-nohash", FILE_NAME)
    check("nohash: downloaded but not verified", rc == 0 and "no published checksum" in out
          and "not verified" in out, out + err)
    check("nohash: recorded hash is the real one", BLOB_SHA in out, out)
    rc, out, err = run(env, "verify", "fx-nohash")
    check("verify nohash: says no published checksum", rc == 0
          and "no published checksum" in out, out + err)
    with open(dest, "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 1]))
    rc, out, err = run(env, "verify", "fx-nohash")
    check("verify nohash: modified file detected", rc == 1 and "DIFFERS" in out, out + err)
    rc, out, err = run(env, "verify", "fx-cut")
    check("verify: intact file OK", rc == 0 and "OK" in out and BLOB_SHA in out, out + err)
    with open(os.path.join(models, "fx-cut", FILE_NAME), "r+b") as f:
        f.seek(2000)
        f.write(b"\0\1\2")
    rc, out, err = run(env, "verify")
    check("verify all: modified catalogue file detected", rc == 1 and "MISMATCH" in out
          and BLOB_SHA in out, out + err)


def test_disk_space(env, models):
    rc, out, err = run(env, "pull", "fx-big")
    check("space: refused", rc == 1 and "not enough free space" in err and models in err, err)
    check("space: numbers named", "100000000000000000 bytes" in err, err)
    check("space: nothing written, nothing asked", not os.path.exists(os.path.join(models, "fx-big"))
          and not requests_for("/normal/big.gguf"))


def test_write_error(env, models):
    rc, out, err = run(env, "pull", "fx-corrupt", preexec=limit_file_size)
    part = os.path.join(models, "fx-corrupt", FILE_NAME + ".part")
    check("fsize: clear write error naming the file", rc == 1 and "cannot write " + part in err
          and "File too large" in err, err)
    check("fsize: .part kept (resumable)", os.path.exists(part)
          and os.path.getsize(part) == CUT_AFTER, err)
    shutil.rmtree(os.path.join(models, "fx-corrupt"))


def test_http_errors_and_mirror(env, models):
    rc, out, err = run(env, "pull", "fx-missing")
    check("404: named with the URL", rc == 1 and "HTTP 404" in err and "/missing/" + FILE_NAME
          in err, err)
    rc, out, err = run(env, "pull", "fx-mirror", "--mirror", "modelscope")
    check("--mirror modelscope uses the other URL", rc == 0 and "verified" in out, out + err)
    shutil.rmtree(os.path.join(models, "fx-mirror"))
    zh = dict(env, LANG="zh_CN.UTF-8", LC_ALL="")
    rc, out, err = run(zh, "pull", "fx-mirror")
    check("LANG=zh_CN defaults to modelscope", rc == 0 and "from modelscope" in err, err)
    shutil.rmtree(os.path.join(models, "fx-mirror"))
    sh = dict(env, TZ="Asia/Shanghai")
    rc, out, err = run(sh, "pull", "fx-mirror")
    check("TZ=Asia/Shanghai defaults to modelscope", rc == 0, err)
    rc, out, err = run(env, "pull", "fx-mirror", "--mirror", "nowhere")
    check("bad --mirror refused", rc == 2 and "nowhere" in err, err)
    rc, out, err = run(env, "pull", "no-such-model")
    check("unknown model named", rc == 1 and "no-such-model" in err, err)


def test_bad_range_and_timeout(env, models):
    path = "/badrange/" + FILE_NAME
    with State.lock:
        State.cuts[path] = [1, CUT_AFTER]
    rc, _, err = run(env, "pull", "fx-badrange")
    check("badrange: first pull cut", rc == 1, err)
    rc, out, err = run(env, "pull", "fx-badrange")
    reqs = requests_for(path)
    dest = os.path.join(models, "fx-badrange", FILE_NAME)
    check("badrange: a wrong Content-Range restarts from 0 and verifies", rc == 0
          and os.path.exists(dest) and sha_of(dest) == BLOB_SHA, err)
    check("badrange: asked again without Range", len(reqs) >= 3 and reqs[-2][1] is not None
          and reqs[-1][1] is None and reqs[-1][2] == 200, reqs)
    t0 = time.time()
    rc, out, err = run(env, "pull", "fx-stall", "--timeout", "1")
    took = time.time() - t0
    part = os.path.join(models, "fx-stall", FILE_NAME + ".part")
    check("timeout: a stalled server fails with a clear message", rc == 1
          and "timed out" in err.lower() and "/stall/" + FILE_NAME in err, err)
    check("timeout: within the limit, .part kept", took < 3.5 and os.path.exists(part),
          (took, err))
    for code in ("401", "503"):
        rc, out, err = run(env, "pull", "fx-" + code)
        check("HTTP %s named with the URL" % code, rc == 1 and "HTTP " + code in err
              and "/s%s/%s" % (code, FILE_NAME) in err, err)


def test_recommend(env, work):
    mib = 1024 * 1024
    spec = [("small", 100, 1000, 500), ("gpu-mid", 200, 6000, 2000), ("cpu-mid", 300, 3000, 9000),
            ("large", 400, 16000, 8000)]
    cat = os.path.join(work, "recommend.json")
    with open(cat, "w") as f:
        json.dump({"models": [{"id": i, "name": i, "capabilities": ["text"], "license": "x",
                               "min_ram_mb": ram, "min_vram_mb": vram,
                               "files": [{"name": i + ".gguf", "role": "model", "size": size * mib,
                                          "sha256": None,
                                          "sources": {"huggingface": "https://h/" + i + ".gguf",
                                                      "modelscope": "https://m/" + i + ".gguf"}}]}
                              for i, size, ram, vram in spec]}, f)

    def reference(ram, vram):  # the documented rule, written again here
        def largest(fits):
            best = None
            for i, size, r, v in spec:
                if fits(r, v) and (best is None or size > best[1]):
                    best = (i, size)
            return best
        gpu = largest(lambda r, v: vram > 0 and v <= vram)
        cpu = largest(lambda r, v: ram > 0 and r <= ram)
        if gpu and (not cpu or gpu[1] >= cpu[1]):
            return gpu[0]
        return cpu[0] if cpu else None

    for ram, vram in [(0, 0), (999, 0), (1000, 0), (4000, 0), (4000, 2000), (20000, 0),
                      (2000, 9000), (8000, 2500), (0, 500), (64000, 24000)]:
        rc, out, err = run(dict(env, WENSHU_CATALOG=cat), "recommend", "--ram", str(ram),
                           "--vram", str(vram))
        want = reference(ram, vram)
        got = out.strip() if rc == 0 else None
        check("recommend ram %d vram %d -> %s" % (ram, vram, want), got == want
              and (rc == 0) == (want is not None), (rc, out, err))


def test_ctrl_c(env, models):
    shutil.rmtree(os.path.join(models, "fx-nohash"), ignore_errors=True)
    p = subprocess.Popen([CLI, "models", "pull", "fx-nohash"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    part = os.path.join(models, "fx-nohash", FILE_NAME + ".part")
    deadline = time.time() + 20
    while time.time() < deadline and not (os.path.exists(part) and os.path.getsize(part) > 0):
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    err = err.decode("utf-8", "replace")
    kept = os.path.getsize(part) if os.path.exists(part) else -1
    check("Ctrl+C: exit 130, paused", p.returncode == 130 and "paused" in err, (p.returncode, err))
    check("Ctrl+C: .part kept", 0 < kept < len(BLOB), kept)
    rc, out, err = run(env, "pull", "fx-nohash")
    reqs = requests_for("/slow/" + FILE_NAME)
    check("Ctrl+C: next pull resumes", rc == 0 and reqs[-1][1] == "bytes=%d-" % kept, (reqs, err))


def test_import(env, models, work):
    usb = os.path.join(work, "usb")
    os.makedirs(usb)
    with open(os.path.join(usb, FILE_NAME), "wb") as f:
        f.write(BLOB)
    shutil.rmtree(os.path.join(models, "fx-normal"), ignore_errors=True)
    tiny = os.path.join(usb, "tiny.gguf")
    p = subprocess.run([CLI, "synth", "--preset", "tiny", "-o", tiny], capture_output=True)
    check("synth tiny for import", p.returncode == 0, p.stderr)
    rc, out, err = run(env, "import", usb, "--name", "usb-model")
    check("import folder: catalogue file verified", rc == 0 and "verified against the catalogue"
          in out and "fx-normal" in out, out + err)
    check("import folder: copied into the model dir",
          sha_of(os.path.join(models, "fx-normal", FILE_NAME)) == BLOB_SHA)
    check("import folder: tiny GGUF became a custom model", "custom model usb-model" in out, out)
    with open(tiny, "rb") as f:
        tiny_sha = hashlib.sha256(f.read()).hexdigest()
    rc, out, err = run(env, "verify", "usb-model")
    check("verify custom: recorded hash matches", rc == 0 and tiny_sha in out, out + err)
    rc, out, err = run(env, "list")
    check("list shows the custom model", "usb-model" in out and "custom" in out, out)
    bad = os.path.join(work, "bad.gguf")
    with open(bad, "wb") as f:
        f.write(b"GGUF" + b"\xff" * 64)
    rc, out, err = run(env, "import", bad)
    check("import: unreadable GGUF refused with the file named", rc == 1 and bad in err, err)
    check("import: nothing left of it", not os.path.exists(os.path.join(models, "bad")))
    rc, out, err = run(env, "rm", "usb-model")
    check("rm: removes the folder", rc == 0 and not os.path.exists(
        os.path.join(models, "usb-model")), out + err)
    rc, out, err = run(env, "rm", "usb-model")
    check("rm: missing model named", rc == 1 and "usb-model" in err, err)
    rc, out, err = run(env, "path", "fx-big")
    check("path: not installed is an error", rc == 1 and "fx-big" in err, err)


def test_bad_catalog(env, work):
    bad = os.path.join(work, "bad-catalog.json")
    with open(bad, "w") as f:
        json.dump({"models": [{"id": "x", "name": "x", "license": "x", "capabilities": ["text"],
                               "min_ram_mb": 1, "min_vram_mb": 1,
                               "files": [{"name": "a.gguf", "role": "model", "size": 5,
                                          "sha256": "abc", "sources": {}}]}]}, f)
    rc, out, err = run(dict(env, WENSHU_CATALOG=bad), "list")
    check("bad catalogue: file and problem named", rc == 1 and bad in err and "sha256" in err, err)


def validate_asset_catalog():
    with open(ASSET_CATALOG) as f:
        cat = json.load(f)
    ids = set()
    for m in cat["models"]:
        for key in ("id", "name", "license", "capabilities", "min_ram_mb", "min_vram_mb", "files"):
            check("catalogue %s has %s" % (m.get("id"), key), key in m)
        check("catalogue id unique: " + m["id"], m["id"] not in ids)
        ids.add(m["id"])
        check("catalogue caps known: " + m["id"], m["capabilities"] and set(m["capabilities"])
              <= {"text", "images", "video", "reasoning"})
        check("catalogue memory > 0: " + m["id"], m["min_ram_mb"] > 0 and m["min_vram_mb"] > 0)
        roles = [f["role"] for f in m["files"]]
        check("catalogue one model file: " + m["id"], roles.count("model") == 1
              and set(roles) <= {"model", "mmproj"})
        for f in m["files"]:
            tag = m["id"] + "/" + f["name"]
            check("catalogue size > 0: " + tag, isinstance(f["size"], int) and f["size"] > 0)
            sha = f["sha256"]
            check("catalogue sha256 null or 64 hex: " + tag,
                  sha is None or re.fullmatch(r"[0-9a-f]{64}", sha) is not None)
            for mirror in ("huggingface", "modelscope"):
                url = f["sources"][mirror]
                check("catalogue %s https: %s" % (mirror, tag), url.startswith("https://")
                      and url.endswith("/" + f["name"]))
    need = {"qwen2.5-vl-3b", "qwen2-vl-2b", "smolvlm2-500m-video", "qwen2.5-3b", "qwen2.5-7b",
            "qwen3-4b", "deepseek-r1-distill-qwen-1.5b", "deepseek-r1-distill-qwen-7b"}
    check("catalogue holds the issue's models", need <= ids, need - ids)


def main():
    if not CLI:
        print("WENSHU_CLI not set")
        return 1
    validate_asset_catalog()
    server = start_server()
    base = "http://127.0.0.1:%d" % server.server_address[1]
    work = tempfile.mkdtemp(prefix="wenshu-models-")
    try:
        models = os.path.join(work, "models")
        cat = os.path.join(work, "catalog.json")
        fixture_catalog(base, cat)
        env = dict(os.environ, WENSHU_MODELS_DIR=models, WENSHU_CATALOG=cat, LANG="C", LC_ALL="",
                   LC_MESSAGES="", TZ="UTC")
        rc, out, err = run(env, "list")
        check("list works on an empty folder", rc == 0 and "fx-normal" in out, out + err)
        rc, out, err = run(dict(env, WENSHU_CATALOG=ASSET_CATALOG), "list")
        check("list on the real catalogue marks a recommendation or says none fits",
              rc == 0 and ("*" in out or "none fits" in out), out + err)
        test_resume(env, models)
        test_ignore_range(env, models)
        test_corrupt(env, models)
        test_redirect_and_path(env, models)
        test_no_hash_and_verify(env, models)
        test_disk_space(env, models)
        test_write_error(env, models)
        test_http_errors_and_mirror(env, models)
        test_bad_range_and_timeout(env, models)
        test_recommend(env, work)
        test_ctrl_c(env, models)
        test_import(env, models, work)
        test_bad_catalog(env, work)
    finally:
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
