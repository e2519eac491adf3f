#!/bin/sh
# Build the rdinstall PXE initrd: a compressed newc cpio with the static rdinstall binary,
# busybox, extlinux and syslinux's MBR code, kernel modules for common disks and NICs, and
# /init (initramfs/init).
#
# Usage: initramfs/build.sh [options]
#   -o FILE            output (default: ./initrd.img)
#   --rdinstall PATH   static rdinstall binary (default: build it with
#                      `cargo build --release --target x86_64-unknown-linux-musl`)
#   --kmoddir DIR      kernel module tree to take modules from (.../lib/modules/<kver>)
#   --kernel-dir DIR   same, given as an unpacked kernel package root (tests/qemu/fetch-kernel.sh)
#   --no-modules       no kernel modules (for kernels with the drivers built in)
#   --modules FILE     module list (default: initramfs/modules.list); --add-module NAME adds one
#   --init FILE        use another /init (the QEMU scenario tests do)
#   --add SRC[:DST]    copy a file or program into the image (dynamic programs bring their
#                      libraries, found with ldd); repeatable
#   --compress C       zstd (default), xz, gzip or none; the kernel must support it
#                      (CONFIG_RD_ZSTD / CONFIG_RD_XZ / CONFIG_RD_GZIP)
#   --busybox PATH     static busybox (default: /bin/busybox from busybox-static)
#
# Needs: busybox-static, extlinux, syslinux-common, cpio, kmod (modinfo, depmod), zstd/xz.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

out=initrd.img
rdinstall=
kmoddir=
no_modules=
modlist=$here/modules.list
extra_mods=
init=$here/init
adds=
compress=zstd
busybox=/bin/busybox

die() { echo "initramfs/build.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        -o | --output) out=$2; shift 2 ;;
        --rdinstall) rdinstall=$2; shift 2 ;;
        --kmoddir) kmoddir=$2; shift 2 ;;
        --kernel-dir)
            kd=$2
            kmoddir=$(ls -d "$kd"/lib/modules/*/ 2>/dev/null | head -n1)
            [ -n "$kmoddir" ] || die "no lib/modules/<kver> under $kd"
            shift 2 ;;
        --no-modules) no_modules=1; shift ;;
        --modules) modlist=$2; shift 2 ;;
        --add-module) extra_mods="$extra_mods $2"; shift 2 ;;
        --init) init=$2; shift 2 ;;
        --add) adds="$adds $2"; shift 2 ;;
        --compress) compress=$2; shift 2 ;;
        --busybox) busybox=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -eu/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

case "$compress" in
    zstd) comp="zstd -19 -T0 -q -c" ;;
    xz) comp="xz -9 --check=crc32 -T0 -c" ;; # the kernel's xz decoder needs crc32 or none
    gzip) comp="gzip -9 -n -c" ;;
    none) comp="cat" ;;
    *) die "--compress must be zstd, xz, gzip or none, not $compress" ;;
esac

if [ -z "$rdinstall" ]; then
    echo "initramfs/build.sh: building rdinstall (release, x86_64-unknown-linux-musl)" >&2
    (cd "$repo" && cargo build --release --target x86_64-unknown-linux-musl >&2) ||
        die "cargo build failed; needs 'rustup target add x86_64-unknown-linux-musl' and musl-tools"
    rdinstall=$repo/target/x86_64-unknown-linux-musl/release/rdinstall
fi
[ -x "$rdinstall" ] || die "rdinstall binary $rdinstall is missing or not executable"
if file -L "$rdinstall" | grep -q 'dynamically linked'; then
    die "$rdinstall is dynamically linked; build it with --target x86_64-unknown-linux-musl"
fi
[ -x "$busybox" ] || die "$busybox missing: apt-get install busybox-static"
file -L "$busybox" | grep -q 'statically linked' || die "$busybox is not static: apt-get install busybox-static"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# copy_prog SRC DST: copy a program; for a dynamic ELF also its loader and libraries at
# their own paths (what ldd prints), so it runs next to the static tools.
# The destination may be a busybox applet link (/sbin/mke2fs -> /bin/busybox): cp would
# write through that absolute link into the HOST's /bin/busybox, so always remove the
# destination first (--remove-destination).
copy_prog() {
    mkdir -p "$stage$(dirname "$2")"
    cp -L --remove-destination "$1" "$stage$2"
    if file -L "$1" | grep -q 'dynamically linked'; then
        ldd "$1" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r lib; do
            [ -e "$stage$lib" ] && [ ! -L "$stage$lib" ] && continue
            mkdir -p "$stage$(dirname "$lib")"
            cp -L --remove-destination "$lib" "$stage$lib"
        done
    fi
}

mkdir -p "$stage"/bin "$stage"/sbin "$stage"/usr/bin "$stage"/usr/sbin "$stage"/etc \
    "$stage"/proc "$stage"/sys "$stage"/dev "$stage"/run "$stage"/tmp "$stage"/var \
    "$stage"/root "$stage"/usr/share/udhcpc "$stage"/usr/lib/syslinux/mbr
ln -s ../run "$stage/var/run"
cp "$busybox" "$stage/bin/busybox"
# Relative links, so nothing in the staging tree points at the host's own /bin/busybox.
for app in $("$busybox" --list-full); do
    [ -e "$stage/$app" ] || ln -s "$(echo "$app" | sed 's|[^/]*/|../|g; s|[^/]*$||')bin/busybox" "$stage/$app"
done
# Our own programs replace busybox applets of the same name.
cp --remove-destination "$rdinstall" "$stage/usr/bin/rdinstall"
# A debug build carries ~100 MB of debug info; the initrd needs none of it.
strip --strip-debug "$stage/usr/bin/rdinstall" 2>/dev/null || true
copy_prog "$(command -v extlinux || echo /usr/bin/extlinux)" /usr/bin/extlinux
for f in mbr.bin gptmbr.bin; do
    cp "/usr/lib/syslinux/mbr/$f" "$stage/usr/lib/syslinux/mbr/$f" ||
        die "/usr/lib/syslinux/mbr/$f missing: apt-get install syslinux-common"
done
cp --remove-destination "$init" "$stage/init"
chmod 755 "$stage/init"
# The command line parser /init sources (tests/init_cmdline.rs runs it on the host).
mkdir -p "$stage/lib/rdinstall"
cp "$here/cmdline.sh" "$stage/lib/rdinstall/cmdline.sh"
cp --remove-destination "$here/udhcpc.script" "$stage/usr/share/udhcpc/default.script"
echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
echo "root:x:0:" >"$stage/etc/group"
printf '127.0.0.1 localhost\n' >"$stage/etc/hosts"
: >"$stage/etc/resolv.conf"
for a in $adds; do
    src=${a%%:*}
    dst=${a#*:}
    [ "$dst" = "$a" ] && dst=$src
    case "$src" in /*) ;; *) src=$(command -v "$src" || echo "$src") ;; esac
    case "$dst" in /*) ;; *) dst=$src ;; esac
    [ -e "$src" ] || die "--add $a: $src not found"
    copy_prog "$src" "$dst"
done

nmods=0
if [ -z "$no_modules" ] && [ -n "$kmoddir" ]; then
    kmoddir=${kmoddir%/}
    kver=${kmoddir##*/}
    names=$(sed 's/#.*//' "$modlist" | tr -s ' \n' '  ')
    dst=$stage/lib/modules/$kver
    mkdir -p "$dst"
    "$here/resolve-modules.sh" "$kmoddir" $names $extra_mods 2>"$stage/resolve.log" >"$dst/rdinstall.load" ||
        { cat "$stage/resolve.log" >&2; die "resolving modules in $kmoddir failed"; }
    grep -v 'built into' "$stage/resolve.log" | sed 's/^/  /' >&2 || true
    rm "$stage/resolve.log"
    while read -r ko; do
        mkdir -p "$dst/$(dirname "$ko")"
        cp "$kmoddir/$ko" "$dst/$ko"
        nmods=$((nmods + 1))
    done <"$dst/rdinstall.load"
    for f in modules.builtin modules.builtin.modinfo modules.order; do
        [ -f "$kmoddir/$f" ] && cp "$kmoddir/$f" "$dst/"
    done
    # modules.dep etc. so `modprobe` works from the debug shell and for rdinstall.modules=.
    depmod -b "$stage" "$kver" 2>/dev/null || echo "  (depmod failed; modprobe will not work, insmod does)" >&2
elif [ -z "$no_modules" ]; then
    echo "initramfs/build.sh: no --kmoddir/--kernel-dir given: building without kernel modules" >&2
fi

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | $comp >"$out.tmp"
mv "$out.tmp" "$out"

kib() { du -sk --apparent-size "$1" | cut -f1; }
size=$(stat -c %s "$out")
mods=0
[ -d "$stage/lib/modules" ] && mods=$(kib "$stage/lib/modules")
printf 'initramfs/build.sh: %s: %d KiB (%s, %.1f MiB) from %d KiB: rdinstall %d KiB, busybox %d KiB, %d modules %d KiB\n' \
    "$out" $((size / 1024)) "$compress" "$(echo "$size" | awk '{print $1/1048576}')" "$(kib "$stage")" \
    "$(kib "$stage/usr/bin/rdinstall")" "$(kib "$stage/bin/busybox")" "$nmods" "$mods" >&2
