#!/usr/bin/env bash
# Install desk-agent on Debian/Ubuntu (as root, or with sudo): the virtual screen, input and
# accessibility tools, Tk, fonts, OCR, Chromium; then a virtual environment in .venv with the project
# and its test extra, and `agent` on PATH. Safe to run again: it only installs what is missing.
#
#   bash scripts/install.sh            # what `agent demo`, `agent fill`, `agent record` ... and the tests need
#   bash scripts/install.sh --local    # also the local-weights extra (torch 2.13.0, transformers)
#
# Why a virtual environment on the system Python: Debian's Python is "externally managed" (pip refuses
# to install into it), its Tk (python3-tk) and its accessibility binding (python3-gi + gir1.2-atspi-2.0,
# built for exactly that interpreter) come from apt. A venv made with --system-site-packages sees both
# and takes everything else from PyPI. Set DESK_AGENT_PYTHON to use another interpreter (>= 3.11).
#
# torch is installed only with --local: on plain PyPI `torch==2.13.0` is the multi-GB CUDA build, and
# nothing but the transformers backend (`agent run --model-path`) needs it.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL=0
for arg in "$@"; do
  case "$arg" in
    --local) LOCAL=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install: unknown option $arg (use --local)" >&2; exit 2 ;;
  esac
done

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
  [/usr/bin/python3]=python3
  [/usr/share/doc/python3-venv]=python3-venv
  [/usr/share/doc/python3-tk]=python3-tk
  [/usr/share/doc/python3-gi]=python3-gi
  [/usr/share/doc/gir1.2-atspi-2.0]=gir1.2-atspi-2.0
  [/usr/share/doc/python3-pyatspi]=python3-pyatspi
  [/usr/libexec/at-spi-bus-launcher]=at-spi2-core
  [/usr/bin/dbus-launch]=dbus-x11
  [/usr/bin/gtk3-widget-factory]=gtk-3-examples
  [/usr/bin/dbus-daemon]=dbus-daemon
  [/usr/bin/yad]=yad
  [/usr/bin/x11vnc]=x11vnc            # live view (agent desktop --view): VNC server on the X display
  [/usr/bin/websockify]=websockify    # live view: WebSocket bridge + web server for noVNC
  [/usr/share/novnc/vnc.html]=novnc   # live view: the browser VNC client
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

# The interpreter: the system Python (it has apt's Tk and accessibility binding) unless told otherwise.
PY="${DESK_AGENT_PYTHON:-/usr/bin/python3}"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "install: $PY is older than Python 3.11; set DESK_AGENT_PYTHON to a newer one" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  echo "install: virtual environment .venv (from $PY, with its system packages)"
  "$PY" -m venv --system-site-packages .venv
fi
VPY=.venv/bin/python
$VPY -c 'import tkinter' || { echo "install: $PY has no tkinter (Tk): apt-get install python3-tk" >&2; exit 1; }
$VPY -c 'import gi; gi.require_version("Atspi", "2.0"); from gi.repository import Atspi' 2>/dev/null \
  || echo "install: note: no AT-SPI binding for $PY (accessibility trees unavailable; apt-get install python3-gi gir1.2-atspi-2.0)" >&2

pip_install() { $VPY -m pip install -q --disable-pip-version-check "$@"; }
if [ "$LOCAL" -eq 1 ]; then
  # torch first and pinned: 2.13.0 (a CPU wheel where one is on disk, as on this project's CI machines)
  pip_install torch==2.13.0
  pip_install -e '.[test,local]'
else
  pip_install -e '.[test]'
fi

# `agent` on PATH
BIN=/usr/local/bin
[ "$(id -u)" -eq 0 ] || { BIN="$HOME/.local/bin"; mkdir -p "$BIN"; }
ln -sf "$PWD/.venv/bin/agent" "$BIN/agent"
case ":$PATH:" in
  *":$BIN:"*) ;;
  *) echo "install: add $BIN to your PATH (export PATH=\"$BIN:\$PATH\")" >&2 ;;
esac
hash -r 2>/dev/null || true
echo "install: done ($($VPY --version), .venv) — try: agent demo"
