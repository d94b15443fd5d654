#!/usr/bin/env bash
# Builds the Debian package of hardenctl: the release binary, man pages and shell completions
# generated from the clap definition (`hardenctl generate`), the systemd unit and the default
# policy from packaging/, put together by cargo-deb ([package.metadata.deb] in Cargo.toml).
# Usage: scripts/package-deb.sh [OUTPUT_DIR]   (default: <target dir>/debian)
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked

target_dir="${CARGO_TARGET_DIR:-target}"
out="${1:-$target_dir/debian}"
mkdir -p "$out"

cargo build --release --locked
bin="$target_dir/release/hardenctl"

# cargo-deb reads these from the crate's own target/ (asset paths other than target/release/ are
# not remapped to CARGO_TARGET_DIR).
gen=target/generated
rm -rf "$gen"
"$bin" generate man --out "$gen/man"
gzip -9n "$gen"/man/*.1
"$bin" generate completions --out "$gen/completions"

cargo deb --no-build --output "$out" | tail -n 1
