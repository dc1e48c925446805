#!/bin/sh
# The clip benchmark of issue 6: the whole `wenshu-cli clip` pipeline on a
# ten-minute test video (colour scenes every 25 s over testsrc2, 320x180,
# 25 fps, H.264 + AAC, made by ffmpeg) with the tiny qwen2vl model and
# projector, split into decode (scene cuts + frame sampling), encode (the
# vision encoder) and generate (map and reduce). One JSON line per run.
# usage: [RUNS=3] [FPS=1] tests/bench/clip.sh [BUILD_DIR] [WORK_DIR]
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
work="${2:-$build/bench-models}"
cli="$build/app/cli/wenshu-cli"
mkdir -p "$work"
text="$work/tiny-qwen2vl.gguf"
proj="$work/tiny-qwen2vl-mmproj.gguf"
clip="$work/clip-10min.mp4"
[ -f "$text" ] || "$cli" synth --arch qwen2vl --preset tiny -o "$text" >/dev/null
[ -f "$proj" ] || "$cli" synth --mmproj qwen2vl_merger -o "$proj" >/dev/null
if [ ! -f "$clip" ]; then
    ffmpeg -v error -f lavfi -i testsrc2=size=320x180:rate=25:duration=600 \
        -f lavfi -i "color=c=red:s=320x180:r=25:d=600" \
        -f lavfi -i "sine=frequency=440:duration=600" \
        -filter_complex "[1]hue=h='360*floor(t/25)/8'[c];[0][c]blend=all_expr='if(lt(mod(T,50),25),A,B)'[v]" \
        -map "[v]" -map 2:a -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 50 -c:a aac "$clip"
fi
for run in $(seq "${RUNS:-3}"); do
    "$cli" clip "$clip" -m "$text" --mmproj "$proj" -o "$work/clip-summary.md" \
        --fps "${FPS:-1}" --timings -c 4096 2>/dev/null | tail -1
done
