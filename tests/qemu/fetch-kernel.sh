#!/bin/sh
# Fetch the Debian cloud kernel package and unpack it into a cache directory, without
# installing it (the host's /boot and module tree stay untouched).
#
# Usage: tests/qemu/fetch-kernel.sh            -> prints the kernel directory
#   env RDINSTALL_TEST_CACHE  cache root (default: <repo>/.cache)
#   env RDINSTALL_KERNEL_PKG  exact package (default: what linux-image-cloud-amd64 depends on)
#
# Result: $CACHE/kernel/<pkg>/ with boot/vmlinuz-<kver> and lib/modules/<kver>/, plus
# files `vmlinuz` (symlink) and `kver` in that directory. Idempotent: a second run only
# prints the path. Needs `apt-get update` to have run once on a fresh machine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${RDINSTALL_TEST_CACHE:-$repo/.cache}

pkg=${RDINSTALL_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
    # The meta-package names the current ABI's image package.
    pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
    if [ -z "$pkg" ]; then
        # Without package lists: reuse whatever is already unpacked.
        pkg=$(ls -1 "$cache/kernel" 2>/dev/null | sort -V | tail -n1 || true)
    fi
    [ -n "$pkg" ] || {
        echo "fetch-kernel: cannot resolve linux-image-cloud-amd64; run 'apt-get update' first" >&2
        exit 1
    }
fi

dest=$cache/kernel/$pkg
if [ -f "$dest/kver" ] && [ -e "$dest/vmlinuz" ]; then
    echo "$dest"
    exit 0
fi

mkdir -p "$cache/debs"
tmp=$(mktemp -d "$cache/kernel.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
    (cd "$tmp" && apt-get download "$pkg" >&2) || {
        echo "fetch-kernel: 'apt-get download $pkg' failed (network? apt-get update?)" >&2
        exit 1
    }
    mv "$tmp"/*.deb "$cache/debs/"
    deb=$(ls "$cache/debs/${pkg}_"*.deb | head -n1)
fi
dpkg-deb -x "$deb" "$tmp/root"
kimg=$(ls "$tmp/root/boot/"vmlinuz-* | head -n1)
kver=${kimg##*/vmlinuz-}
ln -s "boot/vmlinuz-$kver" "$tmp/root/vmlinuz"
echo "$kver" >"$tmp/root/kver"
rm -rf "$dest"
mkdir -p "$cache/kernel"
mv "$tmp/root" "$dest"
echo "fetch-kernel: unpacked $pkg ($kver) into $dest" >&2
echo "$dest"
