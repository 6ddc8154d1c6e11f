#!/usr/bin/env bash
# Check that a wheel of genzoo works on its own: build it with `python -m build --wheel`, install it into a
# fresh virtual environment (torch installed first, as the Makefile does), then, from a folder outside the
# repository, train, evaluate and check that the recipes, the embedded dataset and the classifier weights
# are inside the installed package.
#
#   scripts/check_wheel.sh                 # uses .venv (made by `make install` if missing) to build
#   TORCH=torch scripts/check_wheel.sh     # any torch >= 2.2 in the fresh environment
#   KEEP_TMP=1 scripts/check_wheel.sh      # keep the temporary folder for inspection
#
# Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
TORCH="${TORCH:-torch==2.13.0}"   # the Makefile's default: the local CPU wheel on genzoo's build machines
PY="${PY:-python3}"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/genzoo-wheel.XXXXXX")"
cleanup() { if [ "${KEEP_TMP:-0}" = 1 ]; then echo "check_wheel: kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT
step() { echo "check_wheel: $*"; }

# 1. The build tool, in the project's virtual environment.
if [ ! -x "$VENV/bin/python" ]; then
    step "no $VENV; running make install"
    make -C "$ROOT" install
fi
if ! "$VENV/bin/python" -c "import build" 2>/dev/null; then
    step "installing build into $VENV"
    "$VENV/bin/pip" install -q build
fi

# 2. Build from a clean copy of the source (tracked and new files, nothing ignored), so that stale files
#    in build/ or *.egg-info from earlier builds cannot end up in the wheel.
step "building the wheel"
mkdir -p "$TMP/src"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) | (cd "$ROOT" && xargs -0 cp --parents -t "$TMP/src" 2>/dev/null || true)
test -f "$TMP/src/pyproject.toml" || { echo "check_wheel: copying the source failed" >&2; exit 1; }
"$VENV/bin/python" -m build --wheel --outdir "$TMP/dist" "$TMP/src" > "$TMP/build.log" 2>&1 \
    || { tail -n 40 "$TMP/build.log" >&2; echo "check_wheel: the wheel did not build" >&2; exit 1; }
WHEEL="$(ls "$TMP"/dist/genzoo-*.whl)"
step "built $(basename "$WHEEL")"

# 3. A fresh virtual environment: torch first, then the wheel with its dependencies.
step "installing $TORCH and the wheel into a fresh virtual environment"
"$PY" -m venv "$TMP/venv"
for what in "$TORCH" "$WHEEL"; do
    "$TMP/venv/bin/pip" install -q "$what" > "$TMP/pip.log" 2>&1 \
        || { tail -n 40 "$TMP/pip.log" >&2; echo "check_wheel: pip install $what failed" >&2; exit 1; }
done

# 4. Use it from a folder that is not the repository.
mkdir -p "$TMP/work"
cd "$TMP/work"
export GENZOO_OFFLINE=1   # everything below must work from the package alone
unset GENZOO_DATA PYTHONPATH || true
G="$TMP/venv/bin/genzoo"
RUN="$TMP/work/runs/wheel-dcgan"

step "genzoo list"
"$G" list > list.txt
grep -q "dcgan" list.txt || { cat list.txt >&2; echo "check_wheel: genzoo list shows no dcgan" >&2; exit 1; }

step "genzoo train dcgan --dataset embedded --steps 20"
"$G" train dcgan --dataset embedded --steps 20 --out "$RUN" --quiet
test -f "$RUN/config.yaml" || { echo "check_wheel: no config.yaml in $RUN" >&2; exit 1; }

step "genzoo evaluate --n 200"
"$G" evaluate "$RUN" --n 200
test -f "$RUN/metrics.json" || { echo "check_wheel: no metrics.json in $RUN" >&2; exit 1; }

step "package contents"
GENZOO_REPO="$ROOT" GENZOO_SRC="$TMP/src/src/genzoo" "$TMP/venv/bin/python" - <<'EOF'
import os
import sys
from importlib.resources import files
from pathlib import Path

import genzoo

src = Path(os.environ["GENZOO_SRC"])
pkg = files("genzoo")
where = Path(genzoo.__file__).resolve()
assert str(where).startswith(sys.prefix), f"genzoo imported from {where}, not from the fresh environment"
assert not str(where).startswith(os.environ["GENZOO_REPO"]), f"genzoo imported from the repository: {where}"

problems = []
for sub, pattern in [("recipes", "*.yaml"), ("data/embedded", "*.gz"), ("weights", "*.safetensors")]:
    want = sorted(p.name for p in (src / sub).glob(pattern))
    folder = pkg.joinpath(*sub.split("/"))
    have = sorted(p.name for p in folder.iterdir() if p.name.endswith(pattern[1:])) if folder.is_dir() else []
    if not want:
        problems.append(f"{sub}: no {pattern} in the source tree")
    missing = sorted(set(want) - set(have))
    if missing:
        problems.append(f"{sub}: missing from the wheel: {', '.join(missing)}")
    for name in have:
        if not folder.joinpath(name).read_bytes():
            problems.append(f"{sub}/{name}: empty")
    print(f"  {sub}: {len(have)} files")

recipes = genzoo.list_recipes() if hasattr(genzoo, "list_recipes") else []
if "dcgan" not in list(recipes):
    problems.append(f"list_recipes() has no dcgan: {recipes!r}")
if problems:
    sys.exit("check_wheel: " + "; ".join(problems))
print(f"  genzoo {getattr(genzoo, '__version__', '?')} from {where.parent}")
EOF

step "ok"
