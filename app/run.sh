#!/bin/sh
# Install what is missing, build, and start Wenshu: the desktop app
# (`wenshu`, GTK4 + libadwaita) on $MODEL (a GGUF file; its mmproj is found
# beside it). Without MODEL it writes and opens a tiny demo model with random
# weights (its replies are noise). Without a display (no $DISPLAY or
# $WAYLAND_DISPLAY), or where the GUI could not be built, it starts
# `wenshu-cli chat` in the terminal instead.
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
gui=build/app/gui/wenshu
model="${MODEL:-}"
if [ -z "$model" ]; then
    model=build/demo-tiny.gguf
    [ -f "$model" ] || "$cli" synth --arch qwen2 --preset tiny -o "$model"
    echo "No MODEL given: opening a tiny demo model with random weights." >&2
    echo "Run with MODEL=/path/to/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf app/run.sh for real replies." >&2
fi
if [ -x "$gui" ] && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    # the settings schema compiled in the build tree (uninstalled run)
    GSETTINGS_SCHEMA_DIR="$PWD/build/assets${GSETTINGS_SCHEMA_DIR:+:$GSETTINGS_SCHEMA_DIR}"
    export GSETTINGS_SCHEMA_DIR
    # the UI's translations compiled in the build tree (ui/po/<lang>/LC_MESSAGES)
    WENSHU_LOCALEDIR="$PWD/build/ui/po"
    export WENSHU_LOCALEDIR
    exec "$gui" --model "$model"
fi
[ -x "$gui" ] || echo "The desktop app was not built (GTK4/libadwaita missing?): starting the CLI chat." >&2
[ -x "$gui" ] && echo "No display: starting the CLI chat instead of the desktop app." >&2
exec "$cli" chat -m "$model"
