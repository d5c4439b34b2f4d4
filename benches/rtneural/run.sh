#!/usr/bin/env bash
# W1 and W2 one sample per call, RTNeural beside constnet on the same machine: RTNeural's
# compile-time API (ModelT) with its Eigen backend, built with g++ -O3 -march=native as its
# README advises, and constnet's best-of bench in a default build, run in turn ROUNDS times.
#
#   RTNEURAL_DIR=/path/to/RTNeural bash benches/rtneural/run.sh [ROUNDS]
#
# RTNEURAL_DIR is a checkout of https://github.com/jatinchowdhury18/RTNeural (its
# `modules/Eigen` and `modules/json` included); nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
: "${RTNEURAL_DIR:?set RTNEURAL_DIR to a checkout of RTNeural}"
out="target/rtneural"
mkdir -p "$out"
g++ -std=c++17 -O3 -march=native -DNDEBUG -DRTNEURAL_USE_EIGEN=1 \
    -DRTNEURAL_DEFAULT_ALIGNMENT=32 -DEIGEN_STACK_ALLOCATION_LIMIT=0 \
    -I"$RTNEURAL_DIR" -I"$RTNEURAL_DIR/modules/Eigen" -I"$RTNEURAL_DIR/modules/json" \
    benches/rtneural/bench.cpp -o "$out/bench"
constnet="$(cargo bench -p constnet-benches --bench best_of --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*best_of[^"]*\)".*/\1/p' | tail -1)"
for round in $(seq "$rounds"); do
    echo "== round $round"
    "$out/bench"
    "$constnet" W1 | grep -v '^peak'
    "$constnet" W2 | grep 'one sample'
done
