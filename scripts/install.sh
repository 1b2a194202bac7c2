#!/usr/bin/env bash
# Install everything desk-agent and its tests need on Debian/Ubuntu (as root, or with sudo):
# the virtual screen and input tools, Tk, fonts, OCR, Chromium for MiniWoB++, the CPU build of torch,
# and the project itself with its test and local-model extras. Safe to run again: it only installs
# what is missing. Used by the README's first command and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Debian packages: a file that proves it is there -> package
declare -A want=(
  [/usr/bin/Xvfb]=xvfb
  [/usr/bin/xdotool]=xdotool
  [/usr/bin/xdpyinfo]=x11-utils
  [/usr/bin/xrdb]=x11-xserver-utils
  [/usr/bin/chromium]=chromium
  [/usr/bin/chromedriver]=chromium-driver
  [/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf]=fonts-dejavu-core
  [/usr/share/doc/libtk8.6]=libtk8.6
  [/usr/bin/tesseract]=tesseract-ocr
)
missing=()
for path in "${!want[@]}"; do
  [ -e "$path" ] || missing+=("${want[$path]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install: Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -c 'import tkinter' || { echo "install: this Python has no tkinter (Tk): install a Python built with Tk (e.g. python3-tk)" >&2; exit 1; }

# torch first, pinned to the CPU wheel (a plain "torch" would pull a multi-GB CUDA build); then the
# project with its test extra and the local-model extra (the transformers backend is tested with a
# tiny random GLM-4.5V-architecture model built inside the tests).
python3 -m pip install -q --disable-pip-version-check torch==2.13.0
python3 -m pip install -q --disable-pip-version-check -e '.[test,local]'
echo "install: done — try: agent demo"
