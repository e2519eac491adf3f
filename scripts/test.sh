#!/bin/sh
# The whole test suite: installs what it needs, builds the static binary, runs every test
# (unit, integration on loop devices and a loopback HTTP server, QEMU guests).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup-debian.sh
cargo build --release --target x86_64-unknown-linux-musl
file target/x86_64-unknown-linux-musl/release/rdinstall
ls -l target/x86_64-unknown-linux-musl/release/rdinstall
# The QEMU tests put exactly this static binary into the PXE initrd.
export RDINSTALL_BIN="$PWD/target/x86_64-unknown-linux-musl/release/rdinstall"
# Tests share loop devices and QEMU's CPU time: two test threads keep them predictable here.
cargo test --all-targets -- --test-threads=2
