#!/bin/sh
# Demo of the main job on a built-in default.
#
#   demo/run.sh            a machine PXE-boots in QEMU (TCG): iPXE → pxelinux → kernel + the
#                          rdinstall initrd; rdinstall installs a small test system from an HTTP
#                          server on 127.0.0.1 with its cloud-config, reports, powers off; then
#                          the installed disk boots alone and prints its cloud-config.
#                          Both consoles are shown live (about two minutes the first time).
#   demo/run.sh CASE       the same with another case: rootfs-xz (default), disk-bz2, bad-checksum,
#                          kexec, uefi-ipxe, or debian-cloudinit (a real Debian 12 with the real
#                          cloud-init: debootstraps it first, a few minutes; tests/e2e/README.md)
#   demo/run.sh --local    no VM: install a sample image into a sparse disk file on this machine.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup-debian.sh
cargo build --release --target x86_64-unknown-linux-musl
BIN=$PWD/target/x86_64-unknown-linux-musl/release/rdinstall

if [ "${1:-}" != "--local" ]; then
    RDINSTALL_BIN=$BIN exec tests/e2e/demo.sh "${1:-rootfs-xz}"
fi
WORK=$(mktemp -d /tmp/rdinstall-demo.XXXXXX)
HTTP_PID=""
cleanup() { [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

echo "== making a sample 64 MiB disk image (MBR + ext4 partition) in $WORK"
truncate -s 64M "$WORK/sample.img"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$WORK/sample.img"
mkdir -p "$WORK/root/etc" "$WORK/root/boot"
echo "rdinstall demo" > "$WORK/root/etc/motd"
truncate -s 63M "$WORK/part.ext4"
mkfs.ext4 -q -F -d "$WORK/root" "$WORK/part.ext4"
dd if="$WORK/part.ext4" of="$WORK/sample.img" bs=1M seek=1 conv=notrunc status=none
bzip2 -k -9 "$WORK/sample.img"
SUM=$(sha256sum "$WORK/sample.img.bz2" | cut -d' ' -f1)

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$WORK" && exec python3 -m http.server "$PORT" --bind 127.0.0.1 >/dev/null 2>&1) &
HTTP_PID=$!
sleep 1

echo "== installing http://127.0.0.1:$PORT/sample.img.bz2 into a 1 GiB sparse disk file"
truncate -s 1G "$WORK/disk.img"
"$BIN" install --image "http://127.0.0.1:$PORT/sample.img.bz2" --image-checksum "sha256:$SUM" \
    --disk "$WORK/disk.img" --yes --progress plain

echo "== result"
sfdisk -l "$WORK/disk.img"
cmp -n "$(stat -c %s "$WORK/sample.img")" "$WORK/sample.img" "$WORK/disk.img" && echo "disk holds the image byte for byte"
