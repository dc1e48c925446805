#!/bin/sh
# The README's test command: install what is missing, build, and run every
# test suite; then run the engine, e2e and vulkan suites again under
# AddressSanitizer and UBSan; then build the libFuzzer targets with clang and run each for a
# short while over its seed corpus. CI (.ci/run) calls exactly this.
set -eu
cd "$(dirname "$0")/.."
tests/install-deps.sh --tests

# meson setup, or reconfigure when the directory is already a build tree.
setup() {
    dir="$1"
    shift
    if [ -d "$dir/meson-private" ]; then
        meson setup --reconfigure "$dir" "$@"
    else
        meson setup "$dir" "$@"
    fi
}

setup build -Dwerror=true
meson test -C build --print-errorlogs
setup build-asan -Dwerror=true -Dbuildtype=debugoptimized -Db_sanitize=address,undefined
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs --suite engine --suite e2e --suite vulkan

if [ ! -d build-fuzz/meson-private ]; then
    CC=clang meson setup build-fuzz -Dfuzz=true -Dbuildtype=debugoptimized
fi
ninja -C build-fuzz tests/fuzz/fuzz-gguf tests/fuzz/fuzz-tokenizer
for target in gguf tokenizer; do
    work=$(mktemp -d)
    build-fuzz/tests/fuzz/fuzz-$target -max_total_time=20 -print_final_stats=1 \
        "$work" tests/fuzz/corpus/$target
    rm -rf "$work"
done
