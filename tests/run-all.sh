#!/bin/sh
# The README's test command: install what is missing, build, and run every
# test suite; then run the engine and e2e suites again under AddressSanitizer
# and UBSan. CI (.ci/run) calls exactly this.
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
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs --suite engine --suite e2e
