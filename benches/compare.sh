#!/usr/bin/env bash
# The best-of bench (best_of.rs) in the two builds a user gets: the default one (for any
# x86-64; constnet picks the CPU's instruction set at run time) and one for this CPU
# (`-C target-cpu=native`, in target/native). Builds both, then runs them in turn ROUNDS
# times, so that both see the same machine load; each run measures the FMA peak first.
#
#   bash benches/compare.sh [ROUNDS] [FILTER]      (default 3 rounds, every workload)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
filter="${2:-W}"
build() {
    cargo bench -p constnet-benches --bench best_of --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*best_of[^"]*\)".*/\1/p' | tail -1
}
default_bin="$(build)"
native_bin="$(RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native build)"
for round in $(seq "$rounds"); do
    for kind in default native; do
        bin="${kind}_bin"
        echo "== round $round, $kind build"
        "${!bin}" "$filter"
    done
done
