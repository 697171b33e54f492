#!/usr/bin/env bash
# Smoke test of the frozen bundle, run the way an artist's machine would: no Python, no project on any path.
#   packaging/smoke.sh [SCREENSHOT.png]        (default build/smoke/screenshot.png)
# 1. builds dist/ArtGen if it is not there (ARTGEN_SMOKE_REBUILD=1 rebuilds anyway);
# 2. `ArtGen --self-test` with an empty HOME and TMPDIR, which must both be empty again afterwards;
# 3. `ArtGen train …` on a few drawn pictures: the fine-tune dialog's route in the bundle;
# 4. the GUI under Xvfb for ARTGEN_SMOKE_SECONDS (default 30) after its window appears, then a screenshot
#    of its window; the app must still be running then;
# 5. none of this may have written into dist/ArtGen.
# Needs: xvfb, imagemagick (import, convert), x11-utils (xwininfo).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$root/build/smoke/screenshot.png}")"
exe="$root/dist/ArtGen/ArtGen"
seconds="${ARTGEN_SMOKE_SECONDS:-30}"
mkdir -p "$(dirname "$out")"
tmp="$(mktemp -d)"
cleanup() {
  [ -n "${app_pid:-}" ] && kill "$app_pid" 2>/dev/null
  [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ ! -x "$exe" ] || [ -n "${ARTGEN_SMOKE_REBUILD:-}" ]; then
  "$root/packaging/build.sh"
fi
echo "smoke: bundle $(du -sh "$root/dist/ArtGen" | cut -f1)"

# a bare environment: only the system's own programs on PATH, nothing of Python's
bare() { env -i PATH=/usr/bin:/bin HOME="$tmp/home" TMPDIR="$tmp/tmp" LANG=C.UTF-8 OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$@"; }
mkdir -p "$tmp/home" "$tmp/tmp"
touch "$tmp/start"  # nothing in dist/ArtGen may be newer than this at the end: the bundle is read-only

echo "smoke: self-test"
bare "$exe" --self-test
left="$(find "$tmp/home" "$tmp/tmp" -mindepth 1 | head -5)"
if [ -n "$left" ]; then
  echo "smoke: FAILED: the self-test left files behind:"; echo "$left"; exit 1
fi

echo "smoke: fine-tune route (ArtGen train) on 8 drawn pictures"
mkdir -p "$tmp/pictures"
for i in 0 1 2 3; do
  r=$(( 10 + i * 4 ))
  convert -size 64x64 xc:white -fill black -draw "circle 32,32 32,$r" "$tmp/pictures/circle-$i.png"
  echo "A black circle." > "$tmp/pictures/circle-$i.txt"
  convert -size 64x64 xc:white -fill gray50 -draw "rectangle $r,$r $(( 64 - r )),$(( 64 - r ))" "$tmp/pictures/square-$i.png"
  echo "A grey square." > "$tmp/pictures/square-$i.txt"
done
bare ARTGEN_DATA_DIR="$tmp/userdata" "$exe" train "$tmp/pictures" --out "$tmp/tuned.safetensors" --preset tiny \
  --steps 4 --prior-steps 4 --batch-size 4 --tone-cache "$tmp/tones" --no-adapt-threads --progress-json \
  > "$tmp/train.log"
grep -q '"event": "done"' "$tmp/train.log" || { echo "smoke: FAILED: no done event"; cat "$tmp/train.log"; exit 1; }
bare "$exe" info "$tmp/tuned.safetensors" > /dev/null
echo "smoke: trained and read back a model ($(grep -c '^{"event"' "$tmp/train.log") progress-json events)"

echo "smoke: GUI under Xvfb"
display=":$(( 90 + RANDOM % 100 ))"
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
bare DISPLAY="$display" QT_QPA_PLATFORM=xcb ARTGEN_DATA_DIR="$tmp/userdata" "$exe" >"$tmp/gui.log" 2>&1 &
app_pid=$!
for _ in $(seq 600); do
  DISPLAY="$display" xwininfo -root -tree 2>/dev/null | grep -q '"ArtGen' && break
  kill -0 "$app_pid" 2>/dev/null || { echo "smoke: FAILED: the GUI exited"; cat "$tmp/gui.log"; exit 1; }
  sleep 0.1
done
DISPLAY="$display" xwininfo -root -tree | grep -q '"ArtGen' || { echo "smoke: FAILED: no window"; cat "$tmp/gui.log"; exit 1; }
echo "smoke: window up; waiting ${seconds} s"
sleep "$seconds"
kill -0 "$app_pid" 2>/dev/null || { echo "smoke: FAILED: the GUI exited"; cat "$tmp/gui.log"; exit 1; }
# the whole screen, trimmed to the window (no window manager: the rest of the screen is black)
DISPLAY="$display" import -window root "$tmp/screen.png"
convert "$tmp/screen.png" -trim +repage "$out"
kill "$app_pid"; wait "$app_pid" 2>/dev/null || true
app_pid=""
changed="$(find "$root/dist/ArtGen" -newer "$tmp/start" | head -5)"
if [ -n "$changed" ]; then echo "smoke: FAILED: the app wrote into its own folder:"; echo "$changed"; exit 1; fi
if [ -s "$tmp/gui.log" ]; then echo "smoke: GUI output:"; sed 's/^/  /' "$tmp/gui.log" | tail -20; fi
echo "smoke: ok; screenshot $out"
