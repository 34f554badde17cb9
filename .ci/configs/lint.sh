#!/usr/bin/env bash
# Lint: public-header layering, shell syntax and shellcheck when installed, the
# .clang-format file loads, and clang-format over the C++ sources; all strict
# (TRACERING_STRICT_FORMAT=0 turns the format check into a report).
set -euo pipefail
CI_NAME=lint
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

ci_step "dependencies"
./scripts/install-deps.sh

ci_step "layering (scripts/check-layering.py)"
python3 scripts/check-layering.py

ci_step "shell syntax"
parsed=0
SHELL_SCRIPTS=(.ci/run .ci/common.sh .ci/configs/*.sh scripts/*.sh tests/install/run.sh
    tests/e2e/*.sh contrib/bitcoin-core/*.sh contrib/bitcoin-core/test/*.sh bench/*.sh
    bench/bitcoind/*.sh)
for script in "${SHELL_SCRIPTS[@]}"; do
    [ -f "$script" ] || continue
    bash -n "$script"
    parsed=$((parsed + 1))
done
echo "$parsed scripts parse"
if command -v shellcheck >/dev/null; then
    shellcheck -x --severity=warning "${SHELL_SCRIPTS[@]}"
    echo "shellcheck: clean"
fi

ci_step "python syntax (functional tests, benchmarks, the module and its tests)"
for script in contrib/bitcoin-core/test/functional/*.py bench/bitcoind/*.py bench/*.py \
    python/tracering/*.py tests/python/*.py tests/install/*.py; do
    python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' "$script"
done

ci_step "clang-format $(clang-format --version | sed 's/.*version \([0-9.]*\).*/\1/')"
# The style file itself must load; a typo in it would make every check below vacuous.
clang-format --dump-config >/dev/null

# Tracked and new (not ignored) C++ files; generated code and build trees excluded.
sources=()
while IFS= read -r -d '' file; do
    case "$file" in
        build*/* | */generated/* | *_generated.h | *.capnp.h | *.capnp.c++) continue ;;
    esac
    [ -f "$file" ] && sources+=("$file")
done < <(git ls-files -z --cached --others --exclude-standard -- '*.h' '*.cpp')

unformatted=()
for file in "${sources[@]}"; do
    if ! clang-format --dry-run --Werror "$file" >/dev/null 2>&1; then
        unformatted+=("$file")
    fi
done

if [ ${#unformatted[@]} -eq 0 ]; then
    echo "clang-format: all ${#sources[@]} files formatted"
elif [ "${TRACERING_STRICT_FORMAT:-1}" = "1" ]; then
    printf 'clang-format: needs formatting: %s\n' "${unformatted[@]}"
    echo "clang-format: ${#unformatted[@]} of ${#sources[@]} files differ (fix: clang-format -i FILE)"
    exit 1
else
    printf 'clang-format: needs formatting: %s\n' "${unformatted[@]}"
    echo "clang-format: ${#unformatted[@]} of ${#sources[@]} files differ" \
         "(report only, as TRACERING_STRICT_FORMAT=0 asked)"
fi

ci_step "passed"
