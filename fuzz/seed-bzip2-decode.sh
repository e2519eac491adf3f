#!/bin/sh
# Seeds for the bzip2_decode fuzz target: small inputs of the kinds that broke or stress the
# decoder (runs around the run-length limits, periodic content, all byte values, empty),
# compressed by each bzip2 compressor at hand. Writes fuzz/corpus/bzip2_decode/.
set -eu
cd "$(dirname "$0")"
out=corpus/bzip2_decode
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
emit() { # NAME: compress $tmp/in with every tool into the corpus
    for tool in "bzip2 -1" "bzip2 -9" "lbzip2 -n1" "pbzip2 -p1"; do
        command -v "${tool%% *}" >/dev/null || continue
        $tool -c <"$tmp/in" >"$tmp/out"
        cp "$tmp/out" "$out/$(sha1sum <"$tmp/out" | cut -c1-40)"
    done
}
: >"$tmp/in"; emit
for n in 1 3 4 5 6 254 255 256 259 260 261 514 600 4000; do
    head -c "$n" /dev/zero | tr '\0' a >"$tmp/in"; printf b >>"$tmp/in"; emit
done
for p in 1 2 3 4 5 7 8 13 16 31 64; do
    python3 -c "import sys; sys.stdout.buffer.write(bytes((i*97+13)%256 for i in range($p))*(3000//$p))" >"$tmp/in"; emit
done
python3 -c "import sys; sys.stdout.buffer.write(bytes(range(256)))" >"$tmp/in"; emit
head -c 2000 /dev/urandom >"$tmp/in"; emit
# Two streams back to back.
printf hello | bzip2 -c >"$tmp/out"; printf world | bzip2 -c >>"$tmp/out"
cp "$tmp/out" "$out/$(sha1sum <"$tmp/out" | cut -c1-40)"
ls "$out" | wc -l
