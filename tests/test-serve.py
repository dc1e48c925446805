#!/usr/bin/env python3
"""`wenshu-cli serve` end to end, with the Python standard library only.

The reference for every reply is `wenshu-cli run` at temperature 0 on the
same chat (the CLI's greedy output is checked against numpy elsewhere):
  - /health and /v1/models;
  - streamed and non-streamed replies equal each other and the CLI's, also
    cut at a stop sequence (the CLI's text cut at its first occurrence);
  - an image sent as a data URL gives the CLI's `--mmproj --image` reply
    (and not the reply without the image);
  - malformed JSON, wrong types, huge fields, invalid base64, n=2, no
    messages, 9 images, deep nesting, a body over --max-body: each gets a 4xx
    with an OpenAI error object, and /health still answers after each; then
    a seeded fuzz loop of mutated bodies gets only 2xx/4xx;
  - --api-key: 401 without or with a wrong key; a non-loopback --host
    without a key is refused;
  - a client that drops a stream mid-way: the server goes on serving;
  - load: 32 clients x 10 requests against --parallel 2 --queue 8: each gets
    200 or an explicit 503 with Retry-After, none hangs, and the resident
    memory after the run stays within 10 % (or 20 MB) of that after a
    warm-up round. Prints p50/p99 latency.
usage: test-serve.py (WENSHU_CLI names the binary)
"""
import base64
import http.client
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

CLI = os.environ.get("WENSHU_CLI", "wenshu-cli")
failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def cli(*args):
    p = subprocess.run([CLI, *args], capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("wenshu-cli %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                             p.stderr.decode()))
    return p.stdout.decode("utf-8")


def cli_reply(*args, with_prompt_tokens=False):
    """The reply `wenshu-cli run` prints (its stdout less the closing newline),
    and the prompt token count from its "[N prompt tokens" line when asked."""
    p = subprocess.run([CLI, "run", "--temp", "0", *args], capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("wenshu-cli run failed: %s" % p.stderr.decode())
    out = p.stdout.decode("utf-8")
    assert out.endswith("\n")
    if not with_prompt_tokens:
        return out[:-1]
    line = [x for x in p.stderr.decode().splitlines() if " prompt tokens" in x][-1]
    return out[:-1], int(line.lstrip("[").split()[0])


def sanitized():
    """Whether the binary is an AddressSanitizer build."""
    with open(CLI, "rb") as f:
        return b"__asan_init" in f.read()


def png_bytes(width, height, seed):
    """An RGB PNG written with zlib (no imaging library)."""
    rng = random.Random(seed)
    rows = b"".join(b"\x00" + bytes(rng.randrange(256) for _ in range(width * 3))
                    for _ in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Server:
    """A `wenshu-cli serve` process on a free loopback port."""

    def __init__(self, tmp, name, *args):
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([CLI, "serve", "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = None
        deadline = time.time() + 60
        while self.port is None and time.time() < deadline and self.proc.poll() is None:
            for line in open(self.log_path, encoding="utf-8", errors="replace"):
                if line.startswith("listening on http://127.0.0.1:"):
                    self.port = int(line.rsplit(":", 1)[1])
            time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("serve did not start: " + self.log_text())

    def log_text(self):
        return open(self.log_path, encoding="utf-8", errors="replace").read()

    def alive(self):
        return self.proc.poll() is None

    def request(self, method, path, body=None, headers=None, timeout=60):
        """(status, headers dict, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            h = {"Content-Type": "application/json"}
            h.update(headers or {})
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def chat(self, body, headers=None, timeout=60):
        status, h, data = self.request("POST", "/v1/chat/completions", body, headers, timeout)
        return status, h, data

    def stream(self, body, timeout=60):
        """(status, [chunk objects], saw [DONE])."""
        body = dict(body, stream=True)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            if resp.status != 200:
                return resp.status, [json.loads(resp.read())], False
            assert resp.getheader("Content-Type").startswith("text/event-stream")
            chunks, done = [], False
            for line in resp:
                line = line.decode("utf-8").rstrip("\n")
                if not line:
                    continue
                assert line.startswith("data: "), line
                if line == "data: [DONE]":
                    done = True
                    continue
                chunks.append(json.loads(line[6:]))
            return resp.status, chunks, done
        finally:
            conn.close()

    def healthy(self):
        try:
            status, _, data = self.request("GET", "/health", timeout=10)
            return status == 200 and json.loads(data) == {"status": "ok"}
        except OSError:
            return False

    def rss_kb(self):
        for line in open("/proc/%d/status" % self.proc.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.returncode is not None:
            return self.proc.returncode
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        text = self.log_text()
        bad = [line for line in text.splitlines()
               if "Sanitizer" in line or "runtime error" in line or "CRITICAL" in line or
               "WARNING" in line]
        check(not bad, "%s: no sanitizer or GLib report in the log (%s)" %
              (os.path.basename(self.log_path), bad[:3]))
        return rc


def user(text):
    return {"messages": [{"role": "user", "content": text}]}


def stream_text(chunks):
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])


# ---- replies against the CLI ------------------------------------------------------------

def check_endpoints(srv, model_id):
    status, _, data = srv.request("GET", "/health")
    check(status == 200 and json.loads(data) == {"status": "ok"}, "/health answers ok")
    status, _, data = srv.request("GET", "/v1/models")
    models = json.loads(data)
    check(status == 200 and models["object"] == "list" and models["data"][0]["id"] == model_id
          and models["data"][0]["object"] == "model", "/v1/models lists %s" % model_id)
    status, _, data = srv.request("GET", "/v1/models/" + model_id)
    check(status == 200 and json.loads(data)["id"] == model_id, "/v1/models/%s" % model_id)
    status, h, _ = srv.request("DELETE", "/v1/models")
    check(status == 405 and "GET" in h.get("Allow", ""), "DELETE /v1/models: 405 with Allow")
    status, _, data = srv.request("GET", "/v1/nothing")
    check(status == 404 and "error" in json.loads(data), "unknown path: 404 with an error")


def check_replies(srv, model, system_prompt):
    cases = [("Hello there", 16), ("写一份通知", 24), ("the the the", 5)]
    for text, n in cases:
        want = cli_reply("-m", model, "-p", text, "-n", str(n))
        body = dict(user(text), temperature=0, max_tokens=n)
        status, _, data = srv.chat(body)
        reply = json.loads(data)
        got = reply["choices"][0]["message"]["content"]
        check(status == 200 and reply["object"] == "chat.completion" and
              reply["choices"][0]["message"]["role"] == "assistant",
              "%r: a chat.completion" % text)
        check(got == want, "%r: non-streamed reply equals the CLI's (%r vs %r)" % (text, got, want))
        usage = reply["usage"]
        check(usage["completion_tokens"] <= n and usage["prompt_tokens"] > 0 and
              usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"],
              "%r: usage adds up %r" % (text, usage))
        check(reply["choices"][0]["finish_reason"] ==
              ("length" if usage["completion_tokens"] == n else "stop"),
              "%r: finish_reason %s" % (text, reply["choices"][0]["finish_reason"]))
        status, chunks, done = srv.stream(dict(body, stream_options={"include_usage": True}))
        check(status == 200 and done and chunks[0]["object"] == "chat.completion.chunk" and
              chunks[0]["choices"][0]["delta"].get("role") == "assistant",
              "%r: a stream of chunks, role first, then [DONE]" % text)
        check(stream_text(chunks) == want, "%r: streamed reply equals the CLI's" % text)
        finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
        check(len(finals) == 1 and finals[0]["choices"][0]["finish_reason"] ==
              reply["choices"][0]["finish_reason"] and chunks[-1]["usage"] == usage,
              "%r: one finish_reason chunk, the usage chunk last" % text)

    # A system message, and a stop sequence cut where the CLI's text has it.
    text = "Hello there"
    want = cli_reply("-m", model, "--system", system_prompt, "-p", text, "-n", "24")
    body = {"messages": [{"role": "system", "content": system_prompt},
                         {"role": "user", "content": [{"type": "text", "text": text}]}],
            "temperature": 0, "max_tokens": 24}
    status, _, data = srv.chat(body)
    check(json.loads(data)["choices"][0]["message"]["content"] == want,
          "system message and text parts: the CLI's reply")
    stop = want[len(want) // 2: len(want) // 2 + 2] if len(want) >= 4 else None
    if stop:
        cut = want[:want.index(stop)]
        status, _, data = srv.chat(dict(body, stop=[stop, "\u0001never"]))
        reply = json.loads(data)["choices"][0]
        check(reply["message"]["content"] == cut and reply["finish_reason"] == "stop",
              "stop %r: the reply ends before it (%r)" % (stop, reply["message"]["content"]))
        status, chunks, done = srv.stream(dict(body, stop=stop))
        check(stream_text(chunks) == cut and done, "stop %r: the stream ends before it" % stop)


def check_image(tmp, srv, text_model):
    img_path = os.path.join(tmp, "picture.png")
    data = png_bytes(56, 84, seed=3)
    open(img_path, "wb").write(data)
    prompt = "Hi"
    want, want_prompt = cli_reply("-m", text_model, "--mmproj", srv.mmproj, "--image", img_path,
                                  "-p", prompt, "-n", "12", with_prompt_tokens=True)
    plain, plain_prompt = cli_reply("-m", text_model, "-p", prompt, "-n", "12",
                                    with_prompt_tokens=True)
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": prompt}]}],
        "temperature": 0, "max_tokens": 12}
    status, _, reply = srv.chat(body)
    reply = json.loads(reply)
    got = reply["choices"][0]["message"]["content"] if status == 200 else reply
    check(status == 200 and got == want, "image as a data URL: the CLI's --image reply (%r)" % got)
    check(want != plain, "the image changes the reply (%r vs %r)" % (want, plain))
    got_prompt = reply["usage"]["prompt_tokens"] if status == 200 else 0
    check(got_prompt == want_prompt and want_prompt > plain_prompt,
          "image: %d prompt tokens as the CLI's (%d; %d without it)" %
          (got_prompt, want_prompt, plain_prompt))
    status, chunks, _ = srv.stream(body)
    check(stream_text(chunks) == want, "image, streamed: the CLI's --image reply")
    status, _, reply = srv.chat(dict(body, messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8gd29ybGQ="}}]}]))
    err = json.loads(reply).get("error", {})
    check(status == 400 and "image 1" in err.get("message", "") and "/tmp" not in
          err.get("message", ""), "bytes that are no image: 400 naming image 1 (%s)" %
          err.get("message"))
    wide = "data:image/png;base64," + base64.b64encode(png_bytes(4100, 2, seed=4)).decode()
    status, _, reply = srv.chat(dict(body, messages=[{"role": "user", "content": [
        {"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": url}},
        {"type": "image_url", "image_url": {"url": wide}}]}]))
    err = json.loads(reply).get("error", {})
    check(status == 400 and "image 2" in err.get("message", "") and "4096" in
          err.get("message", ""), "an image 4100 pixels wide: 400 (%s)" % err.get("message"))


def check_json_schema(srv):
    """response_format json_schema: the reply is JSON that follows the schema
    (checked here with Python's json module and the schema's own words)."""
    schema = {"type": "object", "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 12},
        "count": {"type": "integer", "minimum": 1, "maximum": 20},
        "done": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["red", "blue"]},
                 "minItems": 1, "maxItems": 3}}}
    body = dict(user("A JSON record, please"), temperature=0, max_tokens=64,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "record", "schema": schema}})
    status, _, data = srv.chat(body)
    text = json.loads(data)["choices"][0]["message"]["content"] if status == 200 else ""
    try:
        obj = json.loads(text)
        follows = (list(obj) == ["title", "count", "done", "tags"] and
                   isinstance(obj["title"], str) and 1 <= len(obj["title"]) <= 12 and
                   type(obj["count"]) is int and 1 <= obj["count"] <= 20 and
                   type(obj["done"]) is bool and 1 <= len(obj["tags"]) <= 3 and
                   all(t in ("red", "blue") for t in obj["tags"]))
    except ValueError:
        follows = False
    check(status == 200 and follows, "json_schema: the reply follows the schema (%r)" % text)
    status, chunks, done = srv.stream(body)
    check(stream_text(chunks) == text and done, "json_schema: streamed, the same JSON")
    bad = dict(body, response_format={"type": "json_schema", "json_schema": {
        "schema": {"type": "object", "properties": {"x": {"type": "integer", "minimum": -5}}}}})
    expect_4xx(srv, "json_schema with a negative minimum", bad)


# ---- bad requests and fuzz ---------------------------------------------------------------

def expect_4xx(srv, name, body, want_status=400, headers=None):
    """body (a dict, or bytes sent as they are) gets want_status and an
    OpenAI error object, and the server still answers /health."""
    status, _, data = srv.chat(body, headers=headers)
    try:
        err = json.loads(data)["error"]
        shaped = isinstance(err["message"], str) and err["type"] and "param" in err and \
            "code" in err
    except (ValueError, KeyError, TypeError):
        shaped = False
    check(status == want_status and shaped and srv.healthy(),
          "%s: %d with an error object, /health still answers (%d %s)" %
          (name, want_status, status, data[:120]))


def check_bad_requests(srv):
    img = "data:image/png;base64," + base64.b64encode(png_bytes(8, 8, 1)).decode()
    image_part = {"type": "image_url", "image_url": {"url": img}}
    cases = [
        ("malformed JSON", b'{"messages": [{"role": "user", "content": "hi"}'),
        ("not an object", b'[1, 2, 3]'),
        ("empty body", b""),
        ("invalid UTF-8", b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}'),
        ("messages a string", {"messages": "hi"}),
        ("no messages", {"model": "x"}),
        ("empty messages", {"messages": []}),
        ("message not an object", {"messages": ["hi"]}),
        ("content a number", {"messages": [{"role": "user", "content": 5}]}),
        ("role a number", {"messages": [{"role": 7, "content": "hi"}]}),
        ("unknown role", {"messages": [{"role": "wizard", "content": "hi"}]}),
        ("temperature a string", dict(user("hi"), temperature="hot")),
        ("temperature out of range", dict(user("hi"), temperature=7)),
        ("max_tokens fractional", dict(user("hi"), max_tokens=1.5)),
        ("max_tokens zero", dict(user("hi"), max_tokens=0)),
        ("stream a string", dict(user("hi"), stream="yes")),
        ("stop a number", dict(user("hi"), stop=3)),
        ("five stop sequences", dict(user("hi"), stop=["a", "b", "c", "d", "e"])),
        ("n=2", dict(user("hi"), n=2)),
        ("response_format json_schema", dict(user("hi"), response_format={"type": "json_schema"})),
        ("an unknown part type", {"messages": [{"role": "user", "content": [{"type": "audio"}]}]}),
        ("invalid base64", {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,!!!notbase64"}}]}]}),
        ("base64 with bad padding", {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD="}}]}]}),
        ("an http image URL", {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}]}]}),
        ("9 images", {"messages": [{"role": "user", "content": [image_part] * 9}]}),
        ("an image in a system message", {"messages": [{"role": "system", "content": [image_part]},
                                                      {"role": "user", "content": "hi"}]}),
        ("the media marker in text", user("look: <__media__>")),
        ("a prompt longer than the context", user("the " * 3000)),
        ("a huge string (1 MB)", user("x" * (1 << 20))),
        ("nesting 100000 deep", b"[" * 100000 + b"]" * 100000),
    ]
    for name, body in cases:
        expect_4xx(srv, name, body)
    status, _, _ = srv.chat(b"x" * (5 << 20))
    check(status == 413 and srv.healthy(), "a body over --max-body: 413 (%d)" % status)


def mutate(rng, value, depth=0):
    """A randomly changed copy of a JSON value."""
    pool = [None, True, False, 0, -1, 2 ** 31, 2 ** 63 - 1, 1e308, -0.5, 0.7, "", "x" * 5000,
            "\u0000", "<|im_start|>", "data:image/png;base64,AAAA", [], {}, [1, "a"], {"a": 1}]
    if isinstance(value, dict) and value and rng.random() < 0.8:
        value = dict(value)
        key = rng.choice(list(value))
        choice = rng.random()
        if choice < 0.2:
            del value[key]
        elif choice < 0.3:
            value[rng.choice(["stream", "n", "stop", "seed", "top_k", "max_tokens", "top_p",
                              "response_format", "stream_options", "tools", "logprobs"])] = \
                rng.choice(pool)
        else:
            value[key] = mutate(rng, value[key], depth + 1)
        return value
    if isinstance(value, list) and value and rng.random() < 0.8:
        value = list(value)
        i = rng.randrange(len(value))
        choice = rng.random()
        if choice < 0.2:
            del value[i]
        elif choice < 0.4:
            value.append(value[i])
        else:
            value[i] = mutate(rng, value[i], depth + 1)
        return value
    return rng.choice(pool)


def mutate_bytes(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(data) + 1)
        op = rng.random()
        if op < 0.4 and data:
            del data[i:i + rng.randint(1, 8)]
        elif op < 0.7:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        else:
            data[i:i] = rng.choice([b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\u12",
                                    b"null", b"1e999", b"-"])
    return bytes(data)


def check_fuzz(srv, rounds, seed, with_image):
    """rounds mutated bodies (half structured, half byte-level) of a valid request."""
    rng = random.Random(seed)
    parts = [{"type": "text", "text": "Hi"}]
    if with_image:
        img = "data:image/png;base64," + base64.b64encode(png_bytes(8, 8, 2)).decode()
        parts.append({"type": "image_url", "image_url": {"url": img}})
    valid = {"model": "m", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": parts},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "More"}],
        "max_tokens": 4, "temperature": 0.5, "top_p": 0.9, "stop": ["\n"], "seed": 1,
        "stream": False}
    if not with_image:
        valid["max_tokens"] = 24
        valid["response_format"] = {"type": "json_schema", "json_schema": {"schema": {
            "type": "object", "properties": {
                "a": {"type": "array", "items": {"type": "number", "maximum": 9}},
                "b": {"type": "string", "enum": ["x", "y"]}}}}}
    status, _, _ = srv.chat(valid)
    check(status == 200, "fuzz: the unmutated body is valid (%d)" % status)
    counts, bad = {}, []
    for i in range(rounds):
        if i % 2:
            body = mutate_bytes(rng, json.dumps(valid).encode())
        else:
            body = json.dumps(mutate(rng, valid)).encode()
        try:
            status, _, _ = srv.chat(body, timeout=60)
        except OSError as e:
            status = "error %s" % e
        counts[status] = counts.get(status, 0) + 1
        if not (isinstance(status, int) and (200 <= status < 300 or 400 <= status < 500)):
            bad.append((status, body[:200]))
    print("fuzz statuses: %s" % sorted(counts.items(), key=str))
    check(not bad and srv.alive() and srv.healthy() and counts.get(200, 0) > 0,
          "fuzz: %d mutated bodies, only 2xx/4xx, some valid (%s)" % (rounds, bad[:3]))


# ---- keys, hosts, dropped clients, load ---------------------------------------------------

def check_api_key(tmp, model):
    srv = Server(tmp, "key", "-m", model, "--api-key", "s3cret", "--max-tokens", "4")
    try:
        expect_4xx(srv, "no key", user("hi"), 401)
        expect_4xx(srv, "a wrong key", user("hi"), 401, headers={"Authorization": "Bearer nope"})
        status, _, _ = srv.request("GET", "/v1/models")
        check(status == 401, "no key: /v1/models 401")
        status, _, _ = srv.chat(user("hi"), headers={"Authorization": "Bearer s3cret"})
        check(status == 200, "the right key: 200")
    finally:
        srv.stop()
    p = subprocess.run([CLI, "serve", "-m", model, "--host", "0.0.0.0", "--port", "0"],
                       capture_output=True, timeout=30)
    check(p.returncode == 2 and b"--api-key" in p.stderr,
          "--host 0.0.0.0 without a key: refused (rc %d)" % p.returncode)


def check_dropped_stream(tmp, model):
    """Clients that hang up after the first chunk of a long stream: their
    generation stops early (the log line says how far it got), and the
    server goes on serving."""
    srv = Server(tmp, "drop", "-m", model, "--ctx", "512", "--max-tokens", "400",
                 "--threads", "1")
    try:
        body = json.dumps(dict(user("Tell a long story"), stream=True, temperature=0,
                               max_tokens=400)).encode()
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" %
                      len(body) + body)
            first = s.recv(4096)
            s.close()
            check(first.startswith(b"HTTP/1.1 200"), "a stream starts, then its client hangs up")
        status, _, data = srv.chat(dict(user("Hello there"), temperature=0, max_tokens=4))
        check(status == 200 and srv.healthy() and srv.alive(),
              "after dropped streams the server goes on serving")
        _, _, full = srv.chat(dict(user("Tell a long story"), temperature=0, max_tokens=400))
        n_full = json.loads(full)["usage"]["completion_tokens"]
        deadline = time.time() + 20
        while time.time() < deadline and srv.log_text().count(" aborted ") < 3:
            time.sleep(0.1)
        cut = [int(line.rsplit("completion=", 1)[1]) for line in srv.log_text().splitlines()
               if " aborted " in line]
        check(len(cut) == 3 and min(cut) < n_full,
              "dropped streams are logged as aborted and stopped early (%s of %d tokens)" %
              (cut, n_full))
        check("Tell a long story" not in srv.log_text(), "the log holds no content")
        check_shutdown(srv)
    finally:
        srv.stop()


def check_shutdown(srv):
    """SIGTERM with streams in flight and requests queued: the server stops
    (exit 0) and each client gets its stream's end or a 503, none hangs."""
    outcomes = []

    def client():
        try:
            status, chunks, done = srv.stream(dict(user("Tell a long story"), max_tokens=400),
                                              timeout=30)
            outcomes.append(status == 503 or (status == 200 and done))
        except (OSError, ValueError, http.client.HTTPException):
            outcomes.append(False)
    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    rc = srv.stop()
    for t in threads:
        t.join(timeout=40)
    check(rc == 0 and len(outcomes) == 4 and all(outcomes),
          "SIGTERM with requests in flight: exit %d, clients %s" % (rc, outcomes))


def load_round(srv, n_clients, n_requests, results):
    def client(k):
        for j in range(n_requests):
            t0 = time.time()
            try:
                body = dict(user("client %d request %d" % (k, j)), max_tokens=8, seed=j)
                status, h, data = srv.chat(body, timeout=60)
                ok = status == 200 and json.loads(data)["choices"][0]["message"] is not None
                if status == 503:
                    ok = h.get("Retry-After") is not None and "error" in json.loads(data)
                results.append((status if ok else "bad %d" % status, time.time() - t0))
            except (OSError, ValueError) as e:
                results.append(("error %s" % e, time.time() - t0))
    threads = [threading.Thread(target=client, args=(k,)) for k in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def check_load(tmp, model):
    srv = Server(tmp, "load", "-m", model, "--parallel", "2", "--queue", "8",
                 "--max-tokens", "16", "--ctx", "512")
    try:
        # Concurrent requests on two sessions: each the CLI's greedy reply.
        want = cli_reply("-m", model, "-p", "Hello there", "-n", "16")
        replies = []

        def same():
            status, _, data = srv.chat(dict(user("Hello there"), temperature=0, max_tokens=16))
            replies.append(json.loads(data)["choices"][0]["message"]["content"]
                           if status == 200 else status)
        threads = [threading.Thread(target=same) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(replies == [want] * 8, "8 concurrent requests on 2 sessions: the CLI's reply each")
        warm = []
        load_round(srv, 32, 2, warm)
        rss_warm = srv.rss_kb()
        results = []
        t0 = time.time()
        load_round(srv, 32, 10, results)
        wall = time.time() - t0
        rss_after = srv.rss_kb()
        statuses = {}
        for status, _ in results:
            statuses[status] = statuses.get(status, 0) + 1
        lat = sorted(dt for status, dt in results if status == 200)
        p50 = lat[len(lat) // 2] * 1000 if lat else 0
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0
        print("load: 32 clients x 10 requests in %.1f s: %s; 200 latency p50 %.1f ms, "
              "p99 %.1f ms; RSS %d kB after warm-up, %d kB after" %
              (wall, statuses, p50, p99, rss_warm, rss_after))
        check(len(results) == 320 and set(statuses) <= {200, 503} and statuses.get(200, 0) > 0,
              "load: every request got 200 or 503 (%s)" % statuses)
        growth = rss_after - rss_warm
        if sanitized():
            print("load: RSS not checked in a sanitizer build (freed memory is quarantined)")
        else:
            check(growth <= max(rss_warm // 10, 20 * 1024),
                  "load: RSS flat (%+d kB over %d kB)" % (growth, rss_warm))
        check(srv.healthy(), "load: the server still answers")
        log = srv.log_text()
        check(log.count("POST /v1/chat/completions") >= 392 and "Hello" not in log,
              "load: one log line a request, without content")
    finally:
        rc = srv.stop()
    check(rc == 0, "SIGTERM: the server stops cleanly (rc %d)" % rc)


def main():
    tmp = tempfile.mkdtemp(prefix="wenshu-serve-test-")
    model = os.path.join(tmp, "tiny.gguf")
    cli("synth", "--arch", "qwen2", "--preset", "tiny", "-o", model)
    vl_text = os.path.join(tmp, "qwen-vl.gguf")
    vl_proj = os.path.join(tmp, "qwen-vl-proj.gguf")
    cli("synth", "--arch", "qwen2vl", "--preset", "tiny", "-o", vl_text)
    cli("synth", "--mmproj", "qwen2vl_merger", "-o", vl_proj)

    srv = Server(tmp, "main", "-m", model, "--max-tokens", "64", "--max-body", str(4 << 20))
    try:
        check_endpoints(srv, "tiny.gguf")
        check_replies(srv, model, "You write 公文.")
        check_json_schema(srv)
        check_bad_requests(srv)
        check_fuzz(srv, 300, 20261206, False)
    finally:
        srv.stop()

    vsrv = Server(tmp, "vision", "-m", vl_text, "--mmproj", vl_proj, "--max-tokens", "64")
    vsrv.mmproj = vl_proj
    try:
        check_image(tmp, vsrv, vl_text)
        expect_4xx(vsrv, "9 images (vision server)", {"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}}] * 9}]})
        check_fuzz(vsrv, 100, 7, True)
    finally:
        vsrv.stop()

    small = os.path.join(tmp, "small.gguf")
    cli("synth", "--arch", "qwen2", "--preset", "small", "-o", small)
    check_dropped_stream(tmp, small)
    check_api_key(tmp, model)
    check_load(tmp, model)
    shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failures" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
