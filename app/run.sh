#!/bin/sh
# Install what is missing, build, and start Wenshu. Until the GTK app exists
# this starts `wenshu-cli chat` on $MODEL (a GGUF file); without one it writes
# and opens a tiny demo model with random weights (its replies are noise).
set -eu
cd "$(dirname "$0")/.."
tests/install-deps.sh
if [ -d build/meson-private ]; then
    meson setup --reconfigure build >/dev/null
else
    meson setup build >/dev/null
fi
meson compile -C build
cli=build/app/cli/wenshu-cli
model="${MODEL:-}"
if [ -z "$model" ]; then
    model=build/demo-tiny.gguf
    [ -f "$model" ] || "$cli" synth --arch qwen2 --preset tiny -o "$model"
    echo "No MODEL given: opening a tiny demo model with random weights." >&2
    echo "Run with MODEL=/path/to/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf app/run.sh for real replies." >&2
fi
exec "$cli" chat -m "$model"
