#!/bin/bash
# Peak memory of `rdinstall install` on the worst inputs we can build: valid, corrupt and
# hostile images, each format. Measured with /usr/bin/time -f %M (peak RSS of the process),
# printed as a Markdown table (append to bench/RESULTS.md by hand).
#
#   sudo bench/memory.sh              # builds the release binary unless RDINSTALL_BIN is set
#
# Environment: RDINSTALL_BIN, MEM_DIR (work directory, default /var/tmp/rdinstall-mem).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${MEM_DIR:-/var/tmp/rdinstall-mem}
mkdir -p "$dir"
if [ -z "${RDINSTALL_BIN:-}" ]; then
    (cd "$here" && cargo build --release --target x86_64-unknown-linux-musl --bin rdinstall >&2)
fi
rdinstall=${RDINSTALL_BIN:-$here/target/x86_64-unknown-linux-musl/release/rdinstall}
disk=$dir/disk.img
trap 'rm -f "$disk"' EXIT

make() { # NAME COMMAND: the image, made once (no pipefail: `yes | head` ends by SIGPIPE)
    [ -s "$dir/$1" ] || { bash -c "$2" >"$dir/$1.tmp" && mv "$dir/$1.tmp" "$dir/$1"; }
}

# Valid images that expand a lot (one byte value, short periods) or not at all (random).
make zeros-200M.bz2 "head -c 200M /dev/zero | bzip2 -9 -c"
make a-50M-l1.bz2 "head -c 50M /dev/zero | tr '\\0' a | bzip2 -1 -c"
make period5-100M.bz2 "yes abcd | head -c 100M | bzip2 -9 -c"
make random-64M.bz2 "head -c 64M /dev/urandom | bzip2 -9 -c"
make zeros-1G-lbzip2.bz2 "head -c 1G /dev/zero | lbzip2 -c"
make random-64M.xz "head -c 64M /dev/urandom | xz -T2 -0 -c"
make zeros-1G-T0.xz "head -c 1G /dev/zero | xz -T0 -c"
make random-256M-6.xz "head -c 256M /dev/urandom | xz -T0 -6 --block-size=24MiB -c"
make random-64M.zst "head -c 64M /dev/urandom | zstd -q -c"
make zeros-1G-long.zst "head -c 1G /dev/zero | zstd -q --long=27 -c"
make random-64M.gz "head -c 64M /dev/urandom | gzip -1 -c"
# Corrupt: one bit flipped in the middle, or cut in half.
for f in zeros-200M.bz2 random-64M.bz2 random-64M.xz random-64M.zst random-64M.gz; do
    make "flip-$f" "python3 -c \"import sys; d=bytearray(open('$dir/$f','rb').read()); d[len(d)//2]^=0x10; sys.stdout.buffer.write(d)\""
    make "cut-$f" "head -c \$(( \$(stat -c %s $dir/$f) / 2 )) $dir/$f"
done
# Hostile: 3 MiB with no block boundary; the block magic every 97 bytes (every piece a false
# boundary to merge); an xz header asking for a 1.5 GiB dictionary.
make nobound.bz2 "printf BZh9; head -c 3M /dev/urandom"
make falsemagic.bz2 "printf BZh9; python3 -c \"import sys; sys.stdout.buffer.write((b'1AY&SY' + bytes(91)) * 40000)\""
make dict1536M.xz "head -c 1M /dev/urandom | xz --lzma2=dict=1536MiB -c"

printf '| image | exit | peak RSS MiB |\n| --- | --- | --- |\n'
for f in $(cd "$dir" && ls | grep -v '\.tmp$\|^disk.img$' | sort); do
    rm -f "$disk"
    truncate -s 2G "$disk"
    code=0
    /usr/bin/time -f %M -o "$dir/rss" "$rdinstall" install --image "$dir/$f" --disk "$disk" \
        --yes --progress none >/dev/null 2>&1 || code=$?
    printf '| %s | %s | %s |\n' "$f" "$code" "$(( $(tail -1 "$dir/rss") / 1024 ))"
done
