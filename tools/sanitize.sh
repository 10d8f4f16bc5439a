#!/usr/bin/env bash
# Run the C-kernel test files under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   bash tools/sanitize.sh [pytest args...]      (default: the C kernel and equivalence tests)
#
# Builds gradcore with -fsanitize=address,undefined into a throw-away virtual environment
# (not the one you develop in; SANITIZE_DIR=... to keep it), preloads libasan into Python (the
# interpreter itself is not instrumented), and runs pytest with the `c` backend. Leak detection
# is off: CPython keeps allocations alive at exit by design.
#
# Fails (non-zero exit) when: the instrumented build or install fails; the installed extension
# carries no ASan/UBSan instrumentation; the self-test (a deliberate heap overflow in this
# Python process) is not caught, i.e. a report would not stop a run; any test fails; any
# ASan/UBSan report (each aborts the process: halt_on_error, -fno-sanitize-recover).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=${SANITIZE_DIR:-$(mktemp -d)}
start=$(date +%s)
fail() { echo "sanitizers: ERROR: $*"; exit 1; }

python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
if ! pip install --quiet scikit-build-core cython cython-cmake scipy numpy ninja cmake \
    "pytest>=8" "hypothesis>=6.100" tqdm threadpoolctl > "$work/pip-deps.log" 2>&1; then
  grep -v "^WARNING: Location" "$work/pip-deps.log"; fail "installing the build dependencies failed"
fi
# (-O1 here is overridden by the Release build type's -O3 for the kernels: they are checked as shipped)
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1"
# --no-deps: the runtime dependencies the C tests need are installed above (numba and
# matplotlib, regular dependencies, are not needed here: the `c` backend is tested alone).
# install.strip=false: keep -g's symbols, so reports name the kernel function and source line.
if ! pip install --quiet --no-deps --no-build-isolation -Cbuild-dir="$work/build" \
    -Cinstall.strip=false \
    -Ccmake.define.CMAKE_C_FLAGS="$flags" \
    -Ccmake.define.CMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -Ccmake.define.CMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" . \
    > "$work/pip-build.log" 2>&1; then
  grep -v "^WARNING: Location" "$work/pip-build.log"; fail "the instrumented build failed"
fi
echo "sanitizers: instrumented build and install took $(( $(date +%s) - start )) s"

cd "$work"   # import the installed (instrumented) package, not the source tree
so=$(python -c "import importlib.util as u; print(u.find_spec('gradcore._kernels').origin)")
case "$so" in "$work"/venv/*) ;; *) fail "gradcore._kernels is not the instrumented build: $so";; esac
undef=$(nm -D --undefined-only "$so")
grep -q "__asan_report" <<< "$undef" || fail "$so has no AddressSanitizer instrumentation"
grep -q "__ubsan_handle" <<< "$undef" || fail "$so has no UBSan instrumentation"

asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
export LD_PRELOAD="$asan $ubsan"
# Reports go to files (log_path), not only to stderr: pytest captures a test's stderr and an
# aborting process never prints it, and a report from a subprocess must count too.
reports="$work/reports"
rm -rf "$reports"; mkdir -p "$reports" "$work/selftest"
options() { # $1: folder for the report files
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$1/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$1/ubsan"
}

# Self-test: a heap-buffer-overflow (ctypes.memmove reads 8 bytes past a NumPy buffer; ASan's
# memmove interceptor checks it) must write a report and kill the process. If it does not
# (libasan not preloaded, options ignored), a real report would not stop the run either.
options "$work/selftest"
set +e
(python -c "
import ctypes, numpy as np
a = np.zeros(16, np.uint8); b = np.zeros(64, np.uint8)
ctypes.memmove(b.ctypes.data, a.ctypes.data, 24)
print('no report')"; exit $?) > "$work/selftest/out.log" 2>&1  # (...; exit): bash reports the abort in the log
rc=$?
set -e
if [ "$rc" -eq 0 ] || ! cat "$work"/selftest/asan.* 2>/dev/null | grep -q "heap-buffer-overflow"; then
  cat "$work/selftest/out.log" "$work"/selftest/asan.* 2>/dev/null || true
  fail "self-test: a heap overflow was not reported as a failure (exit $rc)"
fi
echo "sanitizers: self-test ok (a deliberate heap overflow is reported and exits $rc)"

options "$reports"
if [ $# -eq 0 ]; then
  set -- $(cd "$repo" && ls tests/test_c_*.py tests/test_gemm_provider.py tests/test_equivalence*.py 2>/dev/null)
fi
args=()
for a in "$@"; do  # make test paths absolute: pytest runs from the work folder
  if [ -e "$repo/${a%%::*}" ]; then args+=("$repo/$a"); else args+=("$a"); fi
done
# GRADCORE_REQUIRE_BACKENDS=c: a missing/broken instrumented extension is a failure, not a skip.
set +e
GRADCORE_REQUIRE_BACKENDS=c \
  python -m pytest -q -p no:cacheprovider --rootdir "$repo" -c "$repo/pyproject.toml" "${args[@]}"
rc=$?
set -e
if compgen -G "$reports/*" > /dev/null; then
  for f in "$reports"/*; do echo "---- $f"; cat "$f"; done
  fail "ASan/UBSan report(s) above (pytest exit code $rc)"
fi
[ "$rc" -eq 0 ] || fail "pytest exit code $rc"
echo "sanitizers: clean (no ASan/UBSan report) in $(( $(date +%s) - start )) s"
