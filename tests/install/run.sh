#!/usr/bin/env bash
# Install test: builds and installs tracering (libraries, tools, the Python module) into a
# temporary prefix, then builds and runs the project in tests/install against it with
# find_package(tracering COMPONENTS ...), and checks the installed Python module with
# tests/install/check_python.py: imported from the prefix alone, it reads a ping flood that
# the installed tracering-loadgen sends to the installed tracering-testnode. The module is
# optional (built when pybind11 and Python's headers are found); without it that check is
# skipped, saying so and why.
#
#   tests/install/run.sh [work-dir]
#
# Everything goes under work-dir (default: a new directory from mktemp, removed on success).
# Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
JOBS="${TRACERING_JOBS:-2}"

if [ $# -ge 1 ] && [ -n "$1" ]; then
    WORK="$1"
    mkdir -p "$WORK"
    WORK="$(cd "$WORK" && pwd)"
    CLEANUP=0
else
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/tracering-install.XXXXXX")"
    CLEANUP=1
fi

BUILD="$WORK/build"
PREFIX="$WORK/prefix"
TEST_BUILD="$WORK/test-build"
BOGUS_BUILD="$WORK/test-build-bogus"

finish() {
    local rc=$?
    if [ "$rc" -eq 0 ] && [ "$CLEANUP" -eq 1 ]; then
        rm -rf "$WORK"
    elif [ "$rc" -ne 0 ]; then
        echo "install test: FAILED (exit $rc); files kept in $WORK" >&2
    fi
}
trap finish EXIT

step() { echo "== install test: $*"; }

# A fresh prefix each time, so nothing from an earlier install can satisfy find_package.
rm -rf "$PREFIX" "$TEST_BUILD" "$BOGUS_BUILD"

step "configure tracering ($BUILD)"
# The tools are built and installed too: the Python module needs them, and its check runs
# the installed test node and load generator.
cmake -S "$ROOT" -B "$BUILD" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DTRACERING_INSTALL=ON \
    -DTRACERING_BUILD_TESTS=OFF \
    -DTRACERING_BUILD_BENCH=OFF \
    -DTRACERING_BUILD_TOOLS=ON \
    -DTRACERING_BUILD_PYTHON=ON 2>&1 | tee "$WORK/configure.log"

step "build tracering"
cmake --build "$BUILD" --parallel "$JOBS"

step "install tracering into $PREFIX"
cmake --install "$BUILD"

step "configure the test project against $PREFIX"
# The package registry is off so that only the prefix given here can be found.
cmake -S "$ROOT/tests/install" -B "$TEST_BUILD" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF

step "build the test project"
cmake --build "$TEST_BUILD" --parallel "$JOBS"

step "run"
"$TEST_BUILD/tracering_install_test_producer_only"
"$TEST_BUILD/tracering_install_test"

step "an unknown component is refused by name"
if cmake -S "$ROOT/tests/install" -B "$BOGUS_BUILD" -G Ninja \
        -DCMAKE_PREFIX_PATH="$PREFIX" \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
        -DTRACERING_INSTALL_TEST_EXTRA_COMPONENT=bogus >"$WORK/bogus.log" 2>&1; then
    echo "install test: FAILED: find_package(tracering COMPONENTS bogus) succeeded" >&2
    exit 1
fi
if ! grep -q "no component 'bogus'" "$WORK/bogus.log"; then
    echo "install test: FAILED: unclear error for an unknown component:" >&2
    cat "$WORK/bogus.log" >&2
    exit 1
fi

step "the Python module, installed in $PREFIX"
shopt -s nullglob
module_dirs=("$PREFIX"/lib/python3*/dist-packages/tracering)
shopt -u nullglob
if ! ninja -C "$BUILD" -t query tracering_python >/dev/null 2>&1; then
    # The build has no target for the module; the configure step said why.
    reason="$(grep -o 'pybind11 or Python 3 headers not found.*' "$WORK/configure.log" || true)"
    echo "install test: SKIPPED the Python module check: ${reason:-the build has no module" \
        "(tracering_python), see $WORK/configure.log}"
else
    if [ ${#module_dirs[@]} -ne 1 ] || [ ! -f "${module_dirs[0]}/__init__.py" ]; then
        echo "install test: FAILED: the Python module was built but is not installed in" \
            "$PREFIX/lib/python3.N/dist-packages/tracering (found: ${module_dirs[*]:-nothing})" >&2
        exit 1
    fi
    # The interpreter the module was built for (CMake's choice), else python3.N of its folder.
    python="$(sed -n 's/^_Python3_EXECUTABLE:INTERNAL=//p' "$BUILD/CMakeCache.txt")"
    if [ -z "$python" ]; then
        python="$(basename "$(dirname "$(dirname "${module_dirs[0]}")")")"
    fi
    # A clean environment and a scratch working directory: only the prefix can provide it.
    (cd "$WORK" && env -i PATH="$PATH" HOME="$WORK" PYTHONPATH="$(dirname "${module_dirs[0]}")" \
        PYTHONDONTWRITEBYTECODE=1 "$python" -s "$ROOT/tests/install/check_python.py" "$PREFIX" "$WORK")
fi

echo "install test: passed"
