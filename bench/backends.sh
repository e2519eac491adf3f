#!/bin/bash
# Per-core bzip2 decoding: the `bzip2` crate's pure-Rust backend (libbz2-rs-sys), its C
# backend (bzip2-sys, libbzip2 built statically) and rdinstall's own block decoder
# (`bz2cat 1`), all static musl release builds, single-threaded, on the same .bz2 file;
# `bzip2 -dc` and `lbzip2 -dc -n1` for reference. Prints wall and CPU seconds and MB/s of
# output. The output of each is compared with the first.
#
#   bench/backends.sh [FILE.bz2]    (default: the bench image made by bench/run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
input=${1:-/var/tmp/rdinstall-bench/img.bz2}
musl=x86_64-unknown-linux-musl
[ -s "$input" ] || { echo "backends: $input missing (run BENCH_PREPARE_ONLY=1 bench/run.sh)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for backend in rust c; do
    (cd "$here/bench/backends" && cargo build -q --release --target $musl --features $backend \
        --target-dir "$here/target/bench-backends-$backend" >&2)
done
(cd "$here" && cargo build -q --release --target $musl --example bz2cat >&2)
bytes=$(bzip2 -dc <"$input" | wc -c)
ref=""
printf '| decoder | wall s | CPU s (user+sys) | MB/s |\n| --- | --- | --- | --- |\n'
while IFS='|' read -r name cmd; do
    /usr/bin/time -f '%e %U %S' -o "$out/time" bash -c "$cmd" <"$input" >"$out/data"
    read -r wall user sys <"$out/time"
    sum=$(sha256sum <"$out/data" | cut -c1-64)
    [ -z "$ref" ] && ref=$sum
    [ "$sum" = "$ref" ] || { echo "backends: $name decoded differently" >&2; exit 1; }
    python3 -c "print(f'| $name | $wall | {$user + $sys:.2f} | {$bytes / 1e6 / $wall:.1f} |')"
done <<LIST
bzip2 -dc (C, Debian)|bzip2 -dc
lbzip2 -dc -n1|lbzip2 -dc -n1
bzip2 crate, pure-Rust backend|$here/target/bench-backends-rust/$musl/release/bz2-backend
bzip2 crate, C backend|$here/target/bench-backends-c/$musl/release/bz2-backend
rdinstall decoder, 1 thread|$here/target/$musl/release/examples/bz2cat 1
rdinstall decoder, 2 threads|$here/target/$musl/release/examples/bz2cat 2
LIST
