#!/usr/bin/env bash
# Builds the one-folder desktop bundle dist/ArtGen/ (run dist/ArtGen/ArtGen; no Python needed there).
#   packaging/build.sh [extra PyInstaller options, e.g. --clean]
# Environment:
#   ARTGEN_PACK_VENV      the build environment (default build/venv-pack), made on first use with the app's
#                         run-time dependencies, a CPU torch and PyInstaller, and nothing else (what is not
#                         installed there cannot leak into the bundle)
#   ARTGEN_TORCH          the torch requirement for it (default torch==2.13.0); it must be a CPU build
#   ARTGEN_DEFAULT_MODEL  bundle this model file instead of resources/models/default.safetensors
#   PYTHON                the Python that makes the build environment (default python3, >= 3.10)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${ARTGEN_PACK_VENV:-$root/build/venv-pack}"
cd "$root"

if [ ! -x "$venv/bin/pyinstaller" ]; then
  echo "build.sh: making the build environment $venv"
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/pip" install -q "${ARTGEN_TORCH:-torch==2.13.0}"
  # the run-time dependencies named in pyproject.toml (torch is already there), then PyInstaller
  mapfile -t deps < <("$venv/bin/python" - <<'EOF'
import tomllib
meta = tomllib.load(open("pyproject.toml", "rb"))
print("\n".join(d for d in meta["project"]["dependencies"] if not d.startswith("torch")))
print("\n".join(meta["project"]["optional-dependencies"]["packaging"]))
EOF
)
  "$venv/bin/pip" install -q "${deps[@]}"
fi

start=$(date +%s)
"$venv/bin/pyinstaller" --noconfirm --log-level WARN --distpath "$root/dist" --workpath "$root/build/pyinstaller" \
  "$@" "$root/packaging/artgen.spec"
# torch and Python ship their static symbol tables (~115 MB, used only by debuggers): drop them. The dynamic
# symbols that linking needs stay; C++ tracebacks from torch name fewer functions.
if command -v strip >/dev/null; then
  strip --strip-unneeded "$root"/dist/ArtGen/_internal/torch/lib/*.so* "$root"/dist/ArtGen/_internal/libpython3*.so*
fi
secs=$(( $(date +%s) - start ))
chmod -R a+rX "$root/dist/ArtGen"  # installable for every user (model files are written owner-only)
echo "build.sh: dist/ArtGen is $(du -sh "$root/dist/ArtGen" | cut -f1) in $(find "$root/dist/ArtGen" -type f | wc -l) files," \
     "built in ${secs} s; check it with dist/ArtGen/ArtGen --self-test (or packaging/smoke.sh)"
