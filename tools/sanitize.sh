#!/usr/bin/env bash
# Run the C-kernel test files under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   bash tools/sanitize.sh [pytest args...]      (default: the C kernel and equivalence tests)
#
# Builds gradcore with -fsanitize=address,undefined into a throw-away virtual environment
# (not the one you develop in), preloads libasan into Python (the interpreter itself is not
# instrumented), and runs pytest with the `c` backend. Leak detection is off: CPython keeps
# allocations alive at exit by design. Any ASan/UBSan report makes the run fail.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${SANITIZE_DIR:-$(mktemp -d)}
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
pip install --quiet scikit-build-core cython cython-cmake scipy numpy ninja cmake \
    "pytest>=8" "hypothesis>=6.100" tqdm threadpoolctl 2>&1 | grep -v "^WARNING: Location" || true
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1"
pip install --quiet --no-build-isolation -Cbuild-dir="$work/build" \
    -Ccmake.define.CMAKE_C_FLAGS="$flags" \
    -Ccmake.define.CMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -Ccmake.define.CMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" . \
    2>&1 | grep -v "^WARNING: Location" || true
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
export LD_PRELOAD="$asan $ubsan"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
repo=$(pwd)
if [ $# -eq 0 ]; then
  set -- $(ls tests/test_c_*.py tests/test_gemm_provider.py tests/test_equivalence.py 2>/dev/null)
fi
args=()
for a in "$@"; do  # make test paths absolute: pytest runs from the work folder
  if [ -e "$a" ]; then args+=("$repo/$a"); else args+=("$a"); fi
done
cd "$work"   # import the installed (instrumented) package, not the source tree
python -m pytest -q -p no:cacheprovider --rootdir "$repo" -c "$repo/pyproject.toml" "${args[@]}"
echo "sanitizers: clean (no ASan/UBSan report)"
