#!/bin/bash
# Install-throughput benchmark: rdinstall versus the plain tools, same machine, same run.
#
#   sudo bench/run.sh                    # ~1 GiB image (default)
#   sudo BENCH_SIZE_MB=256 bench/run.sh  # quick run
#
# Generates a realistic disk image (MBR + one ext4 partition filled to BENCH_FILL_PCT with files
# from /usr: binaries, libraries, compressed docs, text; the free space is zeros),
# compresses it as users' images are made: .bz2 by the reference `bzip2 -9`, .gz by gzip -6,
# .xz by `xz -T0` (the default preset, several independent blocks) and .zst by zstd -T0 -9;
# serves them from a loopback HTTP server and times, for each format:
#   rdinstall install --image http://127.0.0.1:PORT/img.FMT --disk FILE --yes --progress none
#   curl -s URL | DECODER | dd of=FILE bs=4M
# with the best plain decoder a user would type: bzip2 -dc and lbzip2 -dc, pigz -dc (and
# gzip -dc), xz -dc -T<cores>, zstd -dc; plus `curl | bz2cat | dd` (the parallel bzip2
# decoder alone) and plain `curl | dd` (raw).
# Prints MB/s of image written, the ratio rdinstall/baseline, and peak RSS (largest process
# of the pipeline, from /usr/bin/time -v). Results go to bench/RESULTS.md (BENCH_OUT).
#
# Environment:
#   BENCH_SIZE_MB   image size in MiB (default 1024)
#   BENCH_FILL_PCT  share of the image filled with file data, rest zeros (default 55)
#   BENCH_REPEAT    runs per command, the fastest is reported (default 2)
#   BENCH_DIR       work directory (default /var/tmp/rdinstall-bench; images are cached)
#   BENCH_OUT       results file (default bench/RESULTS.md)
#   RDINSTALL_BIN   use this binary instead of building one
#   BZ2CAT_BIN      use this bz2cat instead of building one
#   BENCH_PREPARE_ONLY=1  only make the image and its compressed forms
# Needs: curl lbzip2 bzip2 gzip pigz xz zstd python3 mkfs.ext4 /usr/bin/time (Debian: apt-get
# install curl lbzip2 bzip2 pigz xz-utils zstd python3 e2fsprogs fdisk time).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
size_mb=${BENCH_SIZE_MB:-1024}
fill_pct=${BENCH_FILL_PCT:-55}
repeat=${BENCH_REPEAT:-2}
dir=${BENCH_DIR:-/var/tmp/rdinstall-bench}
out=${BENCH_OUT:-$here/bench/RESULTS.md}
target=$dir/target.img
target_musl=x86_64-unknown-linux-musl

for tool in curl lbzip2 bzip2 gzip pigz xz zstd python3 mkfs.ext4 sfdisk cmp /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (see the header of $0)" >&2; exit 1; }
done
mkdir -p "$dir"

# --- binaries -----------------------------------------------------------------------
if [ -n "${BENCH_PREPARE_ONLY:-}" ]; then
    :
elif [ -z "${RDINSTALL_BIN:-}" ] || [ -z "${BZ2CAT_BIN:-}" ]; then
    echo "bench: building release binaries (musl, LTO: takes a while)" >&2
    (cd "$here" && cargo build --release --target $target_musl --bin rdinstall --example bz2cat >&2)
fi
rdinstall=${RDINSTALL_BIN:-$here/target/$target_musl/release/rdinstall}
bz2cat=${BZ2CAT_BIN:-$here/target/$target_musl/release/examples/bz2cat}
have_install=no
if [ -z "${BENCH_PREPARE_ONLY:-}" ] && "$rdinstall" install --help >/dev/null 2>&1; then
    have_install=yes
fi

# --- the image ----------------------------------------------------------------------
img=$dir/img-${size_mb}M-${fill_pct}pct-v2.raw
if [ ! -s "$img" ]; then
    echo "bench: making a ${size_mb} MiB ext4 image, ${fill_pct}% file data from /usr" >&2
    stage=$dir/stage
    rm -rf "$stage"
    # Hard links, not copies: mkfs.ext4 -d reads the files; nothing is duplicated on disk.
    python3 - "$stage" $((size_mb * 1024 * 1024 * fill_pct / 100)) <<'EOF'
import os, sys
stage, budget = sys.argv[1], int(sys.argv[2])
used = 0
for root, dirs, files in os.walk("/usr"):
    dirs.sort()
    for name in sorted(files):
        src = os.path.join(root, name)
        if os.path.islink(src) or not os.path.isfile(src):
            continue
        size = os.path.getsize(src)
        if used + size > budget:
            continue
        dst = os.path.join(stage, os.path.relpath(src, "/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            continue
        used += size
    if used > budget * 0.98:
        break
print(f"bench: staged {used >> 20} MiB of files", file=sys.stderr)
EOF
    rm -f "$img.tmp"
    truncate -s "${size_mb}M" "$img.tmp"
    # A whole disk: MBR, one Linux partition from 1 MiB to the end holding the filesystem.
    echo 'start=2048, type=83' | sfdisk -q "$img.tmp" >/dev/null
    mkfs.ext4 -q -F -E offset=1048576,lazy_itable_init=0,lazy_journal_init=0 -d "$stage" \
        "$img.tmp" $(( (size_mb - 1) * 1024 ))k
    rm -rf "$stage"
    mv "$img.tmp" "$img"
fi
bytes=$(stat -c %s "$img")
for fmt in bz2 gz xz zst; do
    [ -s "$img.$fmt" ] && continue
    echo "bench: compressing to .$fmt" >&2
    case $fmt in
        bz2) bzip2 -9 -c "$img" >"$img.$fmt.tmp" ;;
        gz) gzip -6 -c "$img" >"$img.$fmt.tmp" ;;
        xz) xz -T0 -c "$img" >"$img.$fmt.tmp" ;;
        zst) zstd -q -T0 -9 -c "$img" >"$img.$fmt.tmp" ;;
    esac
    mv "$img.$fmt.tmp" "$img.$fmt"
done
[ -n "${BENCH_PREPARE_ONLY:-}" ] && { ls -l "$img"*; exit 0; }
ln -sf "$img" "$dir/img.raw"
for fmt in bz2 gz xz zst; do ln -sf "$img.$fmt" "$dir/img.$fmt"; done

# --- the HTTP server ----------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$dir" "$port" >/dev/null 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; rm -f "$target" "$dir"/time.*; }
trap cleanup EXIT
for _ in $(seq 50); do curl -sf -o /dev/null -r 0-0 "http://127.0.0.1:$port/img.raw" && break; sleep 0.1; done
url=http://127.0.0.1:$port

# --- timing -------------------------------------------------------------------------
# run NAME COMMAND: runs COMMAND (a shell string) BENCH_REPEAT times, keeps the fastest.
# Sets $secs and $rss_mb.
run() {
    local name=$1 cmd=$2 best="" best_rss=0 t0 t1 s rss
    for _ in $(seq "$repeat"); do
        rm -f "$target"
        truncate -s "$bytes" "$target"
        sync
        t0=$(date +%s.%N)
        if ! /usr/bin/time -v -o "$dir/time.$$" bash -o pipefail -c "$cmd" >/dev/null 2>"$dir/err.$$"; then
            echo "bench: $name failed: $(tail -3 "$dir/err.$$")" >&2
            secs=""; rss_mb=""; return 0
        fi
        t1=$(date +%s.%N)
        s=$(python3 -c "print(round($t1 - $t0, 3))")
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time.$$")
        if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $s < $best else 1)"; then
            best=$s; best_rss=$rss
        fi
    done
    rm -f "$dir/err.$$"
    if ! cmp -s -n "$bytes" "$img" "$target"; then
        echo "bench: $name wrote a target that differs from the image" >&2
        exit 1
    fi
    secs=$best
    rss_mb=$((best_rss / 1024))
}

declare -A t rss
# fsync: an installer must have the data on the disk when it says "done"; rdinstall
# does, so the baselines do too.
dd_to="dd of=$target bs=4M conv=notrunc,fsync status=none"
measure() { # KEY CMD
    echo "bench: $1" >&2
    run "$1" "$2"
    t[$1]=$secs; rss[$1]=$rss_mb
}
measure raw-curl "curl -s $url/img.raw | $dd_to"
measure bz2-bzip2 "curl -s $url/img.bz2 | bzip2 -dc | $dd_to"
measure bz2-lbzip2 "curl -s $url/img.bz2 | lbzip2 -dc | $dd_to"
measure bz2-bz2cat "curl -s $url/img.bz2 | $bz2cat | $dd_to"
measure gz-gzip "curl -s $url/img.gz | gzip -dc | $dd_to"
measure gz-pigz "curl -s $url/img.gz | pigz -dc | $dd_to"
measure xz-xz "curl -s $url/img.xz | xz -dc -T$(nproc) | $dd_to"
measure zst-zstd "curl -s $url/img.zst | zstd -q -dc | $dd_to"
if [ $have_install = yes ]; then
    for fmt in raw bz2 gz xz zst; do
        measure "$fmt-rdinstall" "$rdinstall install --image $url/img.$fmt --disk $target --yes --progress none"
    done
fi

# --- report -------------------------------------------------------------------------
mbps() { [ -n "${1:-}" ] && python3 -c "print(f'{$bytes / 1e6 / $1:.1f}')" || echo "failed"; }
ratio() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && python3 -c "print(f'{$2 / $1:.2f}')" || echo "-"; }
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
{
    echo "## Install throughput ($(date -u +%Y-%m-%d), $(nproc) cores, $cpu)"
    echo
    echo "Command: \`BENCH_SIZE_MB=$size_mb BENCH_FILL_PCT=$fill_pct BENCH_REPEAT=$repeat bench/run.sh\`"
    echo
    echo "Image: $((bytes >> 20)) MiB disk (MBR, one ext4 partition), ${fill_pct}% files from /usr, rest zeros."
    echo "Compressed by: bzip2 -9 (the reference), gzip -6, xz -T0 ($(xz -lv "$img.xz" | awk '/Blocks:/ {print $2; exit}') blocks), zstd -T0 -9."
    echo "Compressed: $(for f in bz2 gz xz zst; do printf '%s %s MB, ' $f $(( $(stat -L -c %s "$img.$f") / 1000000 )); done | sed 's/, $//')."
    echo "Served from 127.0.0.1 by python3 http.server, written to a file in /var/tmp."
    echo "MB/s = image bytes written / wall time (fastest of $repeat); RSS = peak of the largest process."
    echo
    echo "| format | baseline pipeline | baseline MB/s | baseline RSS MiB | rdinstall MB/s | rdinstall RSS MiB | rdinstall / baseline |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    row() { # FMT BASEKEY LABEL OURKEY
        echo "| $1 | $3 | $(mbps "${t[$2]:-}") | ${rss[$2]:-} | $(mbps "${t[$4]:-}") | ${rss[$4]:-} | $(ratio "${t[$4]:-}" "${t[$2]:-}") |"
    }
    if [ $have_install = yes ]; then
        row raw raw-curl "curl \\| dd" raw-rdinstall
        row bz2 bz2-bzip2 "curl \\| bzip2 -dc \\| dd" bz2-rdinstall
        row bz2 bz2-lbzip2 "curl \\| lbzip2 -dc \\| dd" bz2-rdinstall
        row gz gz-pigz "curl \\| pigz -dc \\| dd" gz-rdinstall
        row gz gz-gzip "curl \\| gzip -dc \\| dd" gz-rdinstall
        row xz xz-xz "curl \\| xz -dc -T$(nproc) \\| dd" xz-rdinstall
        row zst zst-zstd "curl \\| zstd -dc \\| dd" zst-rdinstall
    else
        echo "| (rdinstall install not available in this build: rows below use bz2cat) | | | | | | |"
    fi
    echo
    echo "The parallel bzip2 decoder alone (\`curl | bz2cat | dd\`, bench/bz2cat.rs):"
    echo
    echo "| pipeline | MB/s | RSS MiB | bz2cat / this |"
    echo "| --- | --- | --- | --- |"
    for k in bz2-bz2cat bz2-bzip2 bz2-lbzip2 raw-curl; do
        echo "| $k | $(mbps "${t[$k]:-}") | ${rss[$k]:-} | $(ratio "${t[bz2-bz2cat]:-}" "${t[$k]:-}") |"
    done
    echo
} | tee "$out"
