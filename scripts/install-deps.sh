#!/usr/bin/env bash
# Installs every system package tracering needs to build, test and benchmark,
# on Debian 12. Idempotent: packages already present are left alone, and the
# package lists are refreshed only when something is missing.
set -euo pipefail

PACKAGES=(
    build-essential cmake ninja-build pkg-config git
    libboost-dev
    libflatbuffers-dev flatbuffers-compiler python3-flatbuffers
    libcapnp-dev capnproto libssl-dev zlib1g-dev
    libgtest-dev libgmock-dev googletest libbenchmark-dev
    systemtap-sdt-dev
    python3 python3-pytest pybind11-dev python3-dev
    clang-format
    # Bitcoin Core with tracering (contrib/bitcoin-core/build-bitcoind.sh): libevent, SQLite
    # for the wallet, and ccache, which makes rebuilds of it cheap.
    libevent-dev libsqlite3-dev ccache
    # tracering-extractor (tools/extractor): protobuf for peer-observer's events (and a Python
    # decoder of them), the NATS client library it publishes with, and a NATS server for tests.
    protobuf-compiler libprotobuf-dev python3-protobuf libnats-dev nats-server
)
for arg in "$@"; do
    case "$arg" in
        # The real-node, eBPF and LTTng benchmarks: bpftrace, callgrind, perf (ping_flood.sh
        # --perf), ps, LTTng-UST (its provider in tracering_bench), its session daemon and
        # babeltrace2 (bench/peers.sh).
        --bench) PACKAGES+=(bpftrace valgrind linux-perf procps liblttng-ust-dev lttng-tools babeltrace2) ;;
        # The libFuzzer targets (fuzz/, .ci/configs/fuzz.sh): clang and its fuzzer runtime.
        --fuzz) PACKAGES+=(clang libclang-rt-dev) ;;
        *)
            echo "usage: scripts/install-deps.sh [--bench] [--fuzz]" >&2
            exit 1
            ;;
    esac
done

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
