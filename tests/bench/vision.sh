#!/bin/sh
# The acceptance benchmark of the vision issue: a Qwen2-VL-2B-shaped mmproj
# (F32, from `synth`), a 60 s 1280x720 clip made by ffmpeg (testsrc2, H.264),
# and `wenshu-cli bench --mmproj`: the encode time of one 448x448 and one
# 1280x720 image, and the decode-and-sample time of the clip at 2 fps. One
# JSON line per device.
# usage: [DEVICES="cpu vulkan"] [REPS=2] [SIZES=448x448,1280x720] tests/bench/vision.sh [BUILD_DIR] [WORK_DIR]
set -eu
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
work="${2:-$build/bench-models}"
cli="$build/app/cli/wenshu-cli"
threads="${THREADS:-2}"
mkdir -p "$work"
proj="$work/qwen2-vl-2b-mmproj-f32.gguf"
clip="$work/clip-60s-720p.mp4"
[ -f "$proj" ] || "$cli" synth --mmproj qwen2vl_merger --preset qwen2-vl-2b -o "$proj"
[ -f "$clip" ] || ffmpeg -v error -f lavfi -i testsrc2=size=1280x720:rate=30:duration=60 \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 60 "$clip"
for device in ${DEVICES:-cpu vulkan}; do
    "$cli" bench --mmproj "$proj" --clip "$clip" -t "$threads" -r "${REPS:-2}" \
        --sizes "${SIZES:-448x448,1280x720}" \
        --device "$device" --json
done
