#!/usr/bin/python3
"""Generate tests/data/tokenizer-corpus.txt, the tokenizer test corpus.

Run from the repository root:  /usr/bin/python3 tests/tools/gen-tokenizer-corpus.py

The corpus is bytes, one test line per '\\n'. It mixes fixed fragments
(Chinese official documents, English, code, numbers, full-width forms, emoji,
whitespace runs, other scripts, contractions, special tokens, NFC cases) with
seeded random combinations of them, and holds lines of invalid UTF-8 written
as raw bytes. It avoids U+0085 and U+FEFF (JavaScript's \\s disagrees with
White_Space on them) and characters newer than Unicode 14 (the NFC tables).
"""
import random

OUT = "tests/data/tokenizer-corpus.txt"

GONGWEN = [
    "关于做好2024年第一季度安全生产工作的通知",
    "国办发〔2024〕12号",
    "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：",
    "一、总体要求",
    "（一）坚持以人民为中心的发展思想。",
    "1.加强组织领导，压实工作责任。",
    "（1）各地区要于2024年3月15日前完成自查自纠。",
    "二、重点任务",
    "（二）深入开展隐患排查整治，确保不留死角、不留盲区。",
    "2.健全长效机制，推动安全生产治理模式向事前预防转型。",
    "（3）请于每月5日前报送上月工作进展情况。",
    "三、保障措施",
    "特此通知。",
    "附件：1.工作方案  2.联系人名单",
    "关于申请2024年度专项经费的请示",
    "妥否，请批示。",
    "关于2023年工作总结和2024年工作计划的报告",
    "现将有关情况报告如下：",
    "联系人：张三，电话：010-12345678，手机：13800138000。",
    "XX市人民政府办公厅\n2024年3月15日",
    "（此件公开发布）",
    "抄送：市委办公室，市人大常委会办公室，市政协办公室。",
    "第一章 总则",
    "第二条 本办法所称“数据”，是指任何以电子或者其他方式对信息的记录。",
    "根据《中华人民共和国安全生产法》和《国务院关于进一步加强安全生产工作的决定》，制定本方案。",
    "各单位要高度重视，认真组织实施；对工作不力的，予以通报批评！",
    "请示事项是否可行？请予审定。",
    "经研究，同意你单位的请示。",
    "本通知自印发之日起施行，有效期至2026年12月31日。",
    "二〇二四年三月十五日",
]

ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "It's a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.",
    "We'll see what they're doing; I'd say it's fine, but you've been warned.",
    "DON'T SHOUT! I'M LISTENING, AND WE'LL HEAR YOU'RE RIGHT.",
    "She said: \"Hello, world!\" and left -- quickly.",
    "Dr. Smith's report (2nd ed.) costs $19.99, i.e. about 20% off.",
    "e-mail: someone@example.com; URL: https://example.org/path?q=1&r=2#frag",
    "Rock 'n' roll isn't dead; 'tis the season.",
    "O'Neill's dog's bone's gone.",
    "   leading spaces and trailing spaces   ",
    "Tabs\tbetween\twords\t\tand two tabs",
    "Mixed    runs     of      spaces",
    "naïve café coöperate façade résumé",
    "Ünïcödé ÀÉÎÕÜ àéîõü ñ ß",
]

CODE = [
    "#include <stdio.h>",
    "int main(int argc, char **argv) {",
    "    printf(\"%d\\n\", argc);",
    "    for (int i = 0; i < 10; ++i) { sum += a[i] * b[i]; }",
    "\treturn 0;",
    "}",
    "def fib(n: int) -> int:",
    "    if n < 2:",
    "        return n",
    "    return fib(n - 1) + fib(n - 2)",
    "class Foo(object):  # a comment",
    "        self.x_y = [1, 2, 3]  # 中文注释",
    "{",
    "  \"name\": \"文书\",",
    "  \"version\": \"0.1.0\",",
    "  \"numbers\": [1, 2.5, -3e10, null, true, false],",
    "    \"nested\": {\"a\": {\"b\": []}}",
    "}",
    "if (x != y && y >= z || !flag) x <<= 2;",
    "SELECT id, name FROM users WHERE age > 30 ORDER BY name;",
    "x = lambda a, b: a ** b // 3 % 2",
    "<div class=\"box\"><p>text</p></div>",
    "$ ls -la /tmp | grep '^d' > out.txt 2>&1",
]

NUMBERS = [
    "123456789", "3.14159", "1,000,000", "0.000001", "-42", "+86 138 0013 8000",
    "(010) 6512-3456", "2024-03-15T08:30:00Z", "1e-9", "0x7FFFFFFF", "100%", "¥1,234.56",
    "12345678901234567890", "3/4", "1st 2nd 3rd 4th", "v1.2.3-rc.4", "007", "Ⅻ ⅳ ① ② ③ ½ ¾ ²",
]

FULLWIDTH = [
    "（）。，；：“”‘’《》【】！？、…—～",
    "ＡＢＣ　ａｂｃ　１２３　＋－＝",
    "全角数字２０２４年３月１５日",
    "「引号」『书名』〈注〉〔2024〕",
    "中文，English，混排；test。",
    "“引用”与‘单引号’",
    "　　首行缩进两个全角空格。",
]

EMOJI = [
    "👍", "👍🏽", "👨‍👩‍👧‍👦", "🇨🇳🇺🇸", "❤️", "🏳️‍🌈", "😀😃😄", "🤔 thinking",
    "✅ done ❌ failed", "👩🏻‍💻 coding", "🔥🔥🔥", "⭐️⭐️", "👋 hi!", "☕️+🍰=😊",
]

WHITESPACE = [
    " ", "  ", "\t", "\t\t", "   x", "x   ", "a \t b", " \n", "\r", "a\u00a0b", "a\u3000b",
    "\u2003em space", "x\u200bzero width", "\u202fnarrow", "line\u2028sep",
]

SCRIPTS = [
    "日本語のテキストです。カタカナとひらがな。",
    "東京都千代田区１－２－３",
    "한국어 텍스트입니다. 안녕하세요!",
    "مرحبا بالعالم، هذا نص عربي.",
    "Привет, мир! Съешь же ещё этих мягких французских булок.",
    "สวัสดีครับ ภาษาไทยไม่มีช่องว่าง",
    "नमस्ते दुनिया। हिन्दी पाठ।",
    "Γειά σου Κόσμε· ελληνικά.",
    "שלום עולם",
    "Tiếng Việt có dấu: Đường phố Hà Nội.",
    "Ελληνικά ΑΒΓ αβγ",
    "Ελλάς 123 Ѐ ѐ Ӂ",
]

CONTRACTIONS = [
    "it's", "It'S", "don't", "DON'T", "they're", "THEY'RE", "we've", "WE'VE", "I'm", "I'M",
    "we'll", "WE'LL", "We'Ll", "he'd", "HE'D", "'s", "'t", "'re", "'ll", "' s", "''", "'''",
    "rock'n'roll", "'hello'", "x'y", "5's", "’s curly",
]

SPECIALS = [
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>",
    "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>",
    "<think>\n\n</think>\n\n",
    "text<|im_end|>more",
    "<|im_",
    "<|im_start",
    "<|im_end|",
    "<<|im_end|>>",
    "<|im_start|><|im_start|>",
    "<tool_call>{\"name\": \"f\"}</tool_call>",
    "<|vision_start|><|image_pad|><|vision_end|>",
    "< |im_start| >",
    "<|IM_START|>",
    "<|fim_prefix|>def<|fim_suffix|>pass<|fim_middle|>",
    "<think>思考中</think>答案",
]

NFC_CASES = [
    "e\u0301", "cafe\u0301", "A\u030a", "\u212b", "\u2126", "\u00c5",
    "\u1100\u1161\u11a8", "\u1100\u1161", "\uac00\u11a8", "\uf900\uf901", "\u0344",
    "a\u0323\u0302", "a\u0302\u0323", "q\u0307\u0323", "\u1e0b\u0323",
    "\u0928\u093c", "\u0915\u093c", "\u0d4a", "\u0d46\u0d3e", "o\u0308\u0304",
    "\u03b1\u0313\u0300\u0345", "\u1f82", "s\u0323\u0307", "\u0041\u0301\u0301",
    "\u0061\u0316\u0301\u0334", "\u05b8\u05b9", "Ko\u0308ln", "\u2000",
    "\u0958", "\u2adc", "\u1b05\u1b35", "\u0e33", "\u0f73", "\u00c7\u0301",
]

INVALID = [
    b"\xff", b"\xfe\xff", b"abc\xc3", b"\xc3(", b"\xe4\xb8", b"\xe4\xb8x", b"\xed\xa0\x80",
    b"\xf0\x9f\x98", b"\xf0\x9f\x98 ok", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\x80\x80\x80",
    b"\xe0\x80\x80", b"\xf8\x88\x80\x80\x80", b"good \xe6\x96\x87\xe4 bad", b"\xc2",
    b"<|im_start|>\xff<|im_end|>", b"\xef\xbf\xbd real replacement", b"a\xf5b", b"\xe2\x82",
    b"\xf0\x90\x80", b"\xf1\x80\x80\x80\x80", b"\xdf\xbf\xdf", b"\xce\xba\xe1\xbd\xb9\xcf\x83",
]

SEPARATORS = ["", " ", "  ", "\t", "，", "。", "\u3000", " - ", "\r", ": ", "...", "!"]

POOLS = [GONGWEN, ENGLISH, CODE, NUMBERS, FULLWIDTH, EMOJI, WHITESPACE, SCRIPTS, CONTRACTIONS,
         SPECIALS, NFC_CASES]


def fixed_lines():
    lines = []
    for pool in POOLS:
        for frag in pool:
            lines.extend(frag.encode("utf-8").split(b"\n"))
    lines.extend(INVALID)
    # Long lines: the BPE and splitters must stay fast on them.
    lines.append(("文书" * 400).encode())
    lines.append(("a" * 3000).encode())
    lines.append((" " * 500 + "x").encode())
    lines.append(("1234567890" * 50).encode())
    lines.append(("!?" * 300).encode())
    lines.append(("\t " * 200).encode())
    lines.append(b"")
    lines.append(b"line ending in crlf\r")
    lines.append(b"   \r")
    lines.append(b"\r\r\r")
    return lines


def random_line(rng):
    parts = []
    for _ in range(rng.randint(1, 5)):
        pool = rng.choice(POOLS)
        frag = rng.choice(pool)
        if rng.random() < 0.1:
            frag = frag.upper() if rng.random() < 0.5 else frag.lower()
        parts.append(frag)
        parts.append(rng.choice(SEPARATORS))
    text = "".join(parts).encode("utf-8")
    if rng.random() < 0.05:
        bad = rng.choice(INVALID)
        cut = rng.randint(0, len(text))
        text = text[:cut] + bad + text[cut:]
    return text.split(b"\n")


def main():
    rng = random.Random(20240315)
    lines = fixed_lines()
    while len(lines) < 2400:
        lines.extend(random_line(rng))
    # A few \r\n-terminated lines (the '\r' stays in the line).
    lines = [l + b"\r" if i % 97 == 0 else l for i, l in enumerate(lines)]
    data = b"\n".join(lines) + b"\n"
    assert b"\xc2\x85" not in data and b"\xef\xbb\xbf" not in data
    with open(OUT, "wb") as f:
        f.write(data)
    print(f"{OUT}: {len(lines)} lines, {len(data)} bytes")


if __name__ == "__main__":
    main()
