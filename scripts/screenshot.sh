#!/usr/bin/env bash
# Screenshot of the real app under Xvfb with a filled gallery.
#   scripts/screenshot.sh OUT.png [MODEL.safetensors] [extra screenshot_app.py args]
# Without MODEL: the bundled model if it exists, else a tiny untrained model made on the spot
# (its pictures are noise: it shows the layout, not the art).
# Needs: xvfb (apt-get install -y xvfb libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1
#        libxcb-image0 libxcb-render-util0 libxcb-shape0 libegl1).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$root/docs/screenshot.png}")"
model="${2:-}"
shift $(( $# > 2 ? 2 : $# )) || true
python="${PYTHON:-python3}"
[ -x "$root/../venv/bin/python" ] && [ -z "${PYTHON:-}" ] && python="$root/../venv/bin/python"
tmp="$(mktemp -d)"
cleanup() { [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

cd "$root"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "$model" ]; then
  model="$("$python" -c 'from artgen_desktop.engine import bundled_model_path as b; p = b(); print(p if p.exists() else "")')"
fi
if [ -z "$model" ]; then
  model="$tmp/tiny.safetensors"
  "$python" -c "import sys; sys.path.insert(0, 'tests'); from conftest import make_tiny_model; make_tiny_model(sys.argv[1])" "$model"
  echo "no bundled model yet: using a tiny untrained model"
fi

display=":$(( 90 + RANDOM % 100 ))"
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done

# a throwaway user-data folder: the screenshot shows a first run, and leaves the real one alone
DISPLAY="$display" QT_QPA_PLATFORM=xcb ARTGEN_DATA_DIR="$tmp/userdata" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" \
  "$python" scripts/screenshot_app.py --model "$model" --out "$out" "$@"
