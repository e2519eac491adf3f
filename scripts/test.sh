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
# Everything was installed above: a test that would skip for a missing prerequisite (QEMU,
# root, dracut, a mkfs tool) fails instead, so the summary never counts a skip as a pass.
export RDINSTALL_REQUIRE_QEMU=1
# Tests share loop devices and QEMU's CPU time: two test threads keep them predictable here.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# --no-fail-fast: a failing test binary must not hide the results of the ones after it.
cargo test --all-targets --no-fail-fast -- --test-threads=2 2>&1 | tee "$log" || status=1
# cargo's exit status through the pipe:
grep -q '^error: test failed\|^error: [0-9]* targets failed\|^error: could not compile' "$log" && status=1
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
exit $status
