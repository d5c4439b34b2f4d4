#!/usr/bin/env bash
# How long a user waits after editing one width of a 10-layer network (deep.rs): a release
# rebuild and a `cargo check`, each timed over ROUNDS edits that alternate fc7's width
# between 40 and 44, in a scratch crate depending on this checkout. Prints every time and
# the median of each.
#
#   bash benches/rebuild/run.sh [ROUNDS]      (default 5)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rounds="${1:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "deep"
version = "0.1.0"
edition = "2024"

[dependencies]
constnet = { path = "$repo" }

[workspace]
TOML
cp "$here/deep.rs" "$work/src/main.rs"
cp "$repo/rust-toolchain.toml" "$work/"
cd "$work"
cargo build --release -q
cargo check -q
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
edit() { sed -i "s/fc7: Dense<64, [0-9]*>/fc7: Dense<64, $1>/; s/fc8: Dense<[0-9]*, 48>/fc8: Dense<$1, 48>/" src/main.rs; }
timed() {
    local start end
    start=$(date +%s%N)
    "$@" -q
    end=$(date +%s%N)
    awk -v ns=$((end - start)) 'BEGIN { printf "%.2f", ns / 1e9 }'
}
for kind in release check; do
    times=()
    for i in $(seq "$rounds"); do
        edit $((i % 2 == 1 ? 40 : 44))
        if [ "$kind" = release ]; then t=$(timed cargo build --release); else t=$(timed cargo check); fi
        times+=("$t")
    done
    echo "$kind: ${times[*]} s; median $(printf '%s\n' "${times[@]}" | median) s"
done
