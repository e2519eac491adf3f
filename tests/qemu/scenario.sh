#!/bin/bash
# Guest scenario test for disk teardown (issue: disks): boot the cloud kernel with an
# initrd holding rdinstall plus lvm2, mdadm and cryptsetup (tests/qemu/scenario-init), which
# builds an active LVM volume group on one disk, an assembled RAID1 on two others, and
# active swap inside an open LUKS2 mapping and on a plain partition of two more, then runs
# `rdinstall install` / `rdinstall wipe` onto them. Prints "N passed, N failed".
#
# Usage: tests/qemu/scenario.sh        (env E2E_KEEP=1 keeps the work directory)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

t0=$(date +%s)
work=$(mktemp -d /tmp/rdinstall-scenario.XXXXXX)
httpd_pid=
cleanup() {
    [ -n "$httpd_pid" ] && kill "$httpd_pid" 2>/dev/null
    if [ -n "${E2E_KEEP:-}" ]; then qlog "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
die() { qlog "scenario setup failed: $*"; echo "0 passed, 1 failed"; exit 1; }

for p in /sbin/lvm /sbin/mdadm /sbin/cryptsetup; do
    [ -x "$p" ] || die "$p missing (apt-get install lvm2 mdadm cryptsetup-bin)"
done
kdir=$(kernel_dir) || die "fetching the cloud kernel"
bin=$(rdinstall_bin) || die "building rdinstall"
tsys=$("$here/mk-testsystem.sh") || die "building the test system images"

mkdir -p "$work/scenario"
sha256sum "$tsys/disk.img.bz2" | cut -d' ' -f1 >"$work/scenario/disk.img.bz2.sha256"
"$REPO/initramfs/build.sh" --rdinstall "$bin" --kernel-dir "$kdir" --init "$here/scenario-init" \
    --add /sbin/lvm --add /sbin/mdadm --add /sbin/mke2fs --add /sbin/dmsetup \
    --add /sbin/cryptsetup --add-module dm_crypt --add-module xts --add-module ecb \
    --add-module algif_skcipher \
    --add "$work/scenario/disk.img.bz2.sha256:/scenario/disk.img.bz2.sha256" \
    --compress gzip -o "$work/initrd.img" || die "initramfs/build.sh"

mkdir -p "$work/www/images"
ln -s "$tsys/disk.img.bz2" "$work/www/images/disk.img.bz2"
python3 "$here/httpd.py" --root "$work/www" --reports "$work/reports.jsonl" --port-file "$work/port" \
    2>"$work/httpd.log" &
httpd_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port" 2>/dev/null) || die "the test HTTP server did not start"

for d in a b c; do truncate -s 256M "$work/disk-$d.img"; done
# d and e: partition 1 (64 MiB) becomes LUKS2 with swap inside, partition 2 plain swap.
for d in d e; do
    truncate -s 128M "$work/disk-$d.img"
    printf 'start=2048, size=131072, type=83\nstart=133120, type=82\n' |
        sfdisk -q "$work/disk-$d.img" || die "sfdisk disk-$d.img"
done
log=$work/console.log
qlog "booting the scenario VM (console: $log)"
qemu_run "$log" "${SCENARIO_TIMEOUT:-300}" -kernel "$kdir/vmlinuz" -initrd "$work/initrd.img" \
    -append "console=ttyS0 panic=-1" \
    -netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:/bin/busybox nc 127.0.0.1 $port" \
    -device virtio-net-pci,netdev=n0 \
    -drive "file=$work/disk-a.img,format=raw,if=virtio" \
    -drive "file=$work/disk-b.img,format=raw,if=virtio" \
    -drive "file=$work/disk-c.img,format=raw,if=virtio" \
    -drive "file=$work/disk-d.img,format=raw,if=virtio" \
    -drive "file=$work/disk-e.img,format=raw,if=virtio"
rc=$?

grep -aE '^(SCENARIO|rdinstall|error|warning|wipe|disk|swap)' "$log" | sed 's/^/  | /' >&2
passed=$(grep -ac '^SCENARIO-PASS' "$log")
failed=$(grep -ac '^SCENARIO-FAIL' "$log")
if ! grep -aq '^SCENARIO-DONE' "$log"; then
    qlog "the scenario did not finish (QEMU exit $rc; 124 = timeout); last console lines:"
    tail -n 30 "$log" | sed 's/^/  | /' >&2
    failed=$((failed + 1))
    E2E_KEEP=1
fi
[ "$failed" -eq 0 ] || E2E_KEEP=1
qlog "scenario finished in $(($(date +%s) - t0))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
