#!/bin/bash
# End-to-end PXE install test: PXE-boot QEMU (TCG) with the project's initrd, let rdinstall
# install a test system from the local HTTP server, then boot the target disk alone and
# check that the installed system comes up and prints its cloud-config.
#
# Usage: tests/e2e/run.sh [CASE...]       (default: all cases)
#   cases: disk-bz2 rootfs-xz bad-checksum static-ip shell-fallback kexec ipxe-script
#          uefi-ipxe break-pre debian-cloudinit
#   env E2E_KEEP=1        keep the work directory (logs, disks) and print its path
#   env RDINSTALL_BIN     rdinstall binary to put in the initrd (default: musl debug build)
#   env RDINSTALL_QEMU_ACCEL=kvm   on real hardware
# Prints "N passed, N failed" last; exits 0 only when every case passed.
# Needs root (loop mounts in mk-testsystem), qemu-system-x86, ipxe-qemu, pxelinux,
# syslinux-common, extlinux, busybox-static, cpio, kmod, python3, xz-utils, bzip2, zstd.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu/lib.sh"

all_cases="disk-bz2 rootfs-xz bad-checksum static-ip shell-fallback kexec ipxe-script uefi-ipxe break-pre debian-cloudinit"
cases=${*:-$all_cases}
PXE_TIMEOUT=${E2E_PXE_TIMEOUT:-180}
BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-60}
TOKEN=e2e-secret-token

t0=$(date +%s)
work=$(mktemp -d /tmp/rdinstall-e2e.XXXXXX)
httpd_pid=
cleanup() {
    [ -n "$httpd_pid" ] && kill "$httpd_pid" 2>/dev/null
    if [ -n "${E2E_KEEP:-}${KEEP_WORK:-}" ]; then
        qlog "work directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

die() { qlog "e2e setup failed: $*"; echo "0 passed, 1 failed"; exit 1; }

# --- setup: kernel, rdinstall, initrd, test system, servers --------------------------
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
[ -f /usr/lib/PXELINUX/pxelinux.0 ] || die "/usr/lib/PXELINUX/pxelinux.0 missing (apt-get install pxelinux)"
kdir=$(kernel_dir) || die "fetching the cloud kernel"
bin=$(rdinstall_bin) || die "building rdinstall for x86_64-unknown-linux-musl"
tsys=$("$QEMU_LIB_DIR/mk-testsystem.sh") || die "building the test system images"
qlog "kernel $(cat "$kdir/kver"), rdinstall $bin"
tftp=$work/tftp
mkdir -p "$tftp/pxelinux.cfg"
if [ -n "${E2E_INITRD:-}" ]; then
    # Another initrd under test (tests/qemu/dracut-test.sh --boot passes dracut's).
    cp "$E2E_INITRD" "$tftp/initrd.img"
else
    "$REPO/initramfs/build.sh" --rdinstall "$bin" --kernel-dir "$kdir" -o "$tftp/initrd.img" ||
        die "initramfs/build.sh"
fi
cp /usr/lib/PXELINUX/pxelinux.0 /usr/lib/syslinux/modules/bios/ldlinux.c32 "$tftp/"
cp "$kdir/vmlinuz" "$tftp/vmlinuz"

www=$work/www
mkdir -p "$www/images" "$www/cloud-configs"
for f in disk.img.bz2 rootfs.ext4.xz; do ln -s "$tsys/$f" "$www/images/$f"; done
# For the iPXE cases, which fetch kernel and initrd over HTTP.
ln -s "$tftp/vmlinuz" "$www/vmlinuz"
ln -s "$tftp/initrd.img" "$www/initrd.img"
ovmf=/usr/share/ovmf/OVMF.fd
reports=$work/reports.jsonl
: >"$reports"
python3 "$QEMU_LIB_DIR/httpd.py" --root "$www" --reports "$reports" --port-file "$work/port" \
    --access-log "$work/access.log" 2>"$work/httpd.log" &
httpd_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port" 2>/dev/null) || die "the test HTTP server did not start: $(cat "$work/httpd.log")"
qlog "test HTTP server on 127.0.0.1:$port (guest sees http://10.0.2.100/)"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# pxe_config MAC APPEND: a per-MAC pxelinux config (pxelinux looks for 01-<mac> first).
pxe_config() {
    f=$tftp/pxelinux.cfg/01-$(echo "$1" | tr : -)
    cat >"$f" <<CFG
DEFAULT install
PROMPT 0
LABEL install
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND console=ttyS0 panic=-1 $2
  IPAPPEND 2
CFG
}

# show_console LOG: with E2E_SHOW_CONSOLE=1 (tests/e2e/demo.sh), follow a console log live.
show_console() {
    [ -n "${E2E_SHOW_CONSOLE:-}" ] || return 0
    : >"$1"
    tail -n +1 -f "$1" 2>/dev/null | sed -u 's/^/    console| /' >&2 &
    tail_pid=$!
}
stop_console() {
    [ -n "${tail_pid:-}" ] || return 0
    sleep 0.5
    pkill -P "$tail_pid" 2>/dev/null
    kill "$tail_pid" 2>/dev/null
    tail_pid=
}

# pxe_boot NAME MAC DISK [BOOTFILE [QEMU ARGS...]]: network-boot a VM with one virtio disk
# (BOOTFILE from DHCP: pxelinux.0 by TFTP by default, or an http:// iPXE script); serial
# log in $work/NAME.pxe.log.
pxe_boot() {
    _name=$1 _mac=$2 _disk=$3 _bootfile=${4:-pxelinux.0}
    shift 3
    [ $# -gt 0 ] && shift
    # Stop at an emergency shell (ours, or dracut's) instead of waiting for the timeout.
    qemu_run_until "$work/$_name.pxe.log" "$PXE_TIMEOUT" 'rdinstall-init: starting a shell|Entering emergency mode|dracut:/#' -boot n \
        -netdev "user,id=n0,restrict=on,tftp=$tftp,bootfile=$_bootfile,guestfwd=tcp:10.0.2.100:80-cmd:/bin/busybox nc 127.0.0.1 $port" \
        -device "virtio-net-pci,netdev=n0,mac=$_mac" \
        -drive "file=$_disk,format=raw,if=virtio" "$@"
}

# ipxe_script NAME IMAGE KIND SUM EXTRA: initramfs/examples/rdinstall.ipxe, as shipped, pointed
# at the test server and this case as $www/NAME.ipxe. Every substitution must apply: the
# example is what is under test, so a change to it fails here instead of going untested.
ipxe_script() {
    _out=$www/$1.ipxe
    sed -e "s|^set base .*|set base http://10.0.2.100|" \
        -e "s|images/debian-12.img.bz2|images/$2|" \
        -e "s|rdinstall.image_kind=disk|rdinstall.image_kind=$3|" \
        -e "s|sha256:REPLACE_WITH_THE_SHA256_OF_THE_FILE|$4|" \
        -e "s|rdinstall.report=\${base}/report |rdinstall.report=\${base}/report/$1 rdinstall.report_token=$TOKEN |" \
        -e "s|rdinstall.on_success=reboot rdinstall.on_failure=shell|rdinstall.on_success=poweroff rdinstall.on_failure=poweroff panic=-1 $5|" \
        "$REPO/initramfs/examples/rdinstall.ipxe" >"$_out"
    for _want in "set base http://10.0.2.100" "images/$2 " "image_kind=$3 " "$4 " "report/$1 " "on_success=poweroff " \
        'BOOTIF=01-${net0/mac:hexhyp}' 'cloud-configs/${net0/mac}.yml' 'rdinstall.disk=auto'; do
        grep -qF -- "$_want" "$_out" || fail "initramfs/examples/rdinstall.ipxe changed: no '$_want' after substitution"
    done
}

# disk_boot NAME DISK: boot the disk alone, no network.
disk_boot() {
    # shellcheck disable=SC2046
    WATCH_LOG=$work/$1.bios.log qemu_run_until "$work/$1.boot.log" "$BOOT_TIMEOUT" 'No bootable device' \
        $(bios_debug_args "$work/$1.bios.log") -boot c -nic none -drive "file=$2,format=raw,if=virtio"
}

# case_done: count the case named $name by $case_ok (tally_case in lib.sh).
case_done() {
    qlog "  case $name: $([ -n "$case_ok" ] && echo ok || echo FAILED)"
    tally_case
}
# disk_untouched DISK: its first MiB (where a partition table would go) is still all zeros.
disk_untouched() { [ -z "$(head -c 1048576 "$1" | tr -d '\0' | head -c 1)" ]; }

# The cloud-config each case's machine fetches (by its MAC).
mkconfig() {
    cat >"$www/cloud-configs/$1.yml" <<YML
#cloud-config
hostname: e2e-$2
write_files:
  - path: /etc/e2e-case
    content: "$2"
YML
}

# run_case NAME MAC IMAGE KIND EXPECT [extra kernel args]
run_case() {
    name=$1 mac=$2 image=$3 kind=$4 expect=$5
    shift 5
    qlog "case $name: $kind image $image, expect $expect"
    case_ok=1
    ts=$(date +%s)
    disk=$work/$name.disk
    rm -f "$disk"
    if [ "$expect" = failed ]; then
        # Start from a disk that boots, to see the failed install leave it unbootable.
        cp --sparse=always "$tsys/disk.img" "$disk"
    fi
    truncate -s 4G "$disk"
    mkconfig "$mac" "$name"
    sum=${CHECKSUM_OVERRIDE:-sha256:$(sha "$www/images/$image")}
    # BOOT=ipxe: the shipped iPXE script instead of pxelinux; BOOT=uefi-ipxe: the same under
    # UEFI firmware (OVMF, QEMU's iPXE EFI driver for virtio-net).
    bootfile=pxelinux.0
    firmware=
    case ${BOOT:-pxelinux} in
        pxelinux)
            pxe_config "$mac" "rdinstall.image=http://10.0.2.100/images/$image rdinstall.image_checksum=$sum \
rdinstall.image_kind=$kind rdinstall.disk=/dev/vda rdinstall.config=http://10.0.2.100/cloud-configs/\${mac}.yml \
rdinstall.report=http://10.0.2.100/report/$name rdinstall.report_token=$TOKEN \
rdinstall.on_success=poweroff rdinstall.on_failure=poweroff $*" ;;
        ipxe | uefi-ipxe)
            ipxe_script "$name" "$image" "$kind" "$sum" "$*"
            bootfile=http://10.0.2.100/$name.ipxe
            [ "$BOOT" = uefi-ipxe ] && firmware="-bios $ovmf" ;;
    esac
    show_console "$work/$name.pxe.log"
    # shellcheck disable=SC2086
    pxe_boot "$name" "$mac" "$disk" "$bootfile" $firmware
    rc=$?
    stop_console
    tp=$(($(date +%s) - ts))
    if [ "$rc" -eq 124 ]; then
        fail "PXE install VM did not power off within ${PXE_TIMEOUT}s"
    elif [ "$rc" -eq 125 ]; then
        fail "the installer VM was stopped at the initrd's emergency shell"
    elif [ "$rc" -ne 0 ]; then
        fail "QEMU exited with $rc during the PXE install"
    fi
    if [ -z "${E2E_DRACUT:-}" ]; then
        grep -aq 'rdinstall-init: loaded' "$work/$name.pxe.log" || fail "the initrd's /init did not run"
        grep -aqE 'rdinstall-init: (network up|static)' "$work/$name.pxe.log" || fail "the initrd did not bring up the network"
    fi
    if grep -aqE 'rdinstall-init: starting a shell|Entering emergency mode' "$work/$name.pxe.log"; then
        fail "the initrd fell back to a shell: $(grep -a 'rdinstall-init:' "$work/$name.pxe.log" | tail -n3 | tr '\n' ' ')"
    fi
    if [ "$expect" = failed ]; then
        python3 "$here/check-reports.py" "$reports" "/report/$name" failed --exit-code 4 --token "$TOKEN" ||
            fail "reports"
    else
        python3 "$here/check-reports.py" "$reports" "/report/$name" succeeded --token "$TOKEN" || fail "reports"
    fi
    # The kernel prints its own command line; nothing else may show the token.
    if grep -avE '(Kernel c|C)ommand line:' "$work/$name.pxe.log" | grep -aqF "$TOKEN"; then fail "the report token appears on the console"; fi
    grep -aq 'reboot: Power down' "$work/$name.pxe.log" || fail "the installer VM did not power off"
    if [ -n "${EXPECT_KEXEC:-}" ]; then
        # The installed system started in the same VM, without the firmware.
        plog=$work/$name.pxe.log
        grep -aq 'kexec: loaded' "$plog" || fail "rdinstall did not load the installed kernel"
        grep -aq "TESTSYSTEM-UP .*id=${kind%%fs}" "$plog" || fail "the installed system did not come up through kexec"
        grep -aq "hostname: e2e-$name" "$plog" || fail "the kexec'd system did not find its cloud-config"
        if sed -n '/kexec: loaded/,$p' "$plog" | grep -aq 'iPXE\|SeaBIOS'; then fail "the machine went through the firmware again"; fi
    fi

    tb=$(date +%s)
    show_console "$work/$name.boot.log"
    disk_boot "$name" "$disk"
    rc=$?
    stop_console
    blog=$work/$name.boot.log
    if [ "$expect" = failed ]; then
        if grep -aq TESTSYSTEM-UP "$blog"; then fail "the disk still boots after a failed install"; fi
        [ "$rc" -eq 125 ] || qlog "  (disk boot ended with $rc, expected the BIOS to find no bootable disk)"
    else
        case $rc in
            0) ;;
            125) fail "booting the installed disk: the BIOS found no bootable disk" ;;
            *) fail "booting the installed disk: QEMU exit $rc (124: timeout ${BOOT_TIMEOUT}s)" ;;
        esac
        grep -aq "TESTSYSTEM-UP .*id=${kind%%fs}" "$blog" || fail "the installed test system did not come up (no TESTSYSTEM-UP)"
        grep -aq 'TESTSYSTEM-BEGIN user-data mode=600' "$blog" || fail "no user-data with mode 600 in the NoCloud seed"
        grep -aq "hostname: e2e-$name" "$blog" || fail "the installed user-data is not this machine's cloud-config"
        grep -aq 'TESTSYSTEM-BEGIN meta-data' "$blog" || fail "no meta-data in the NoCloud seed"
        if [ "$kind" = rootfs ]; then
            grep -aq 'TESTSYSTEM: kernel command line: .*root=UUID=' "$blog" || fail "extlinux.conf root is not root=UUID="
            if grep -aq 'TESTSYSTEM: kernel command line: .*rd.live.image' "$blog"; then
                fail "extlinux.conf still has live arguments"
            fi
        fi
    fi
    qlog "  case $name: install ${tp}s, disk boot $(($(date +%s) - tb))s: $([ -n "$case_ok" ] && echo ok || echo FAILED)"
    tally_case "$work/$name.pxe.log"
}

# boot_to_shell APPEND: PXE-boot case $name ($mac) with APPEND onto a fresh zeroed 4 GiB
# $disk; the VM must stop at the initrd's shell.
boot_to_shell() {
    disk=$work/$name.disk
    truncate -s 4G "$disk"
    pxe_config "$mac" "$1"
    pxe_boot "$name" "$mac" "$disk"
    rc=$?
    [ "$rc" -eq 125 ] || fail "expected the VM to stop at the initrd's shell, QEMU exit $rc"
}

# shell_case: an install that fails in preflight (the image 404s) with on_failure=shell
# ends at the initrd's shell with the exit code on the console, and reports `failed`.
shell_case() {
    name=shell-fallback mac=52:54:00:e2:e0:05
    qlog "case $name: missing image, on_failure=shell"
    case_ok=1
    mkconfig "$mac" "$name"
    boot_to_shell "rdinstall.image=http://10.0.2.100/images/missing.img.bz2 rdinstall.disk=/dev/vda \
rdinstall.report=http://10.0.2.100/report/$name rdinstall.retries=1 rdinstall.on_failure=shell"
    grep -aq 'rdinstall-init: rdinstall failed with exit code 3' "$work/$name.pxe.log" ||
        fail "no 'rdinstall failed with exit code 3' from /init"
    python3 "$here/check-reports.py" "$reports" "/report/$name" failed --exit-code 3 || fail "reports"
    # The disk started as zeros: its first MiB (where a partition table would go) still is.
    disk_untouched "$disk" || fail "the disk was written although preflight failed"
    case_done
}

# break_case: rdinstall.break=pre stops at the initrd's shell before rdinstall runs: the
# disk stays untouched and nothing is reported.
break_case() {
    name=break-pre mac=52:54:00:e2:e0:09
    qlog "case $name: rdinstall.break=pre"
    case_ok=1
    boot_to_shell "rdinstall.image=http://10.0.2.100/images/disk.img.bz2 rdinstall.disk=/dev/vda \
rdinstall.report=http://10.0.2.100/report/$name rdinstall.break=pre rdinstall.on_success=poweroff"
    grep -aq 'rdinstall.break=pre: rdinstall has not run yet' "$work/$name.pxe.log" ||
        fail "no break=pre message from /init"
    grep -aq 'rdinstall-init: network up' "$work/$name.pxe.log" || fail "the network was not up at the break"
    if grep -aq "/report/$name" "$reports"; then
        fail "rdinstall reported although it should not have run"
    fi
    disk_untouched "$disk" || fail "the disk was written at break=pre"
    case_done
}

# debian_case: a real distribution and the real cloud-init. The Debian 12 rootfs image of
# tests/qemu/mk-debian.sh (debootstrap from the Debian archive, cloud-init as packaged) is
# PXE-installed as image_kind=rootfs; the disk then boots Debian through extlinux, and
# cloud-init finds the NoCloud seed rdinstall wrote: it sets the hostname, writes a file,
# runs a command that prints both on the serial console, and powers the machine off.
debian_case() {
    name=debian-cloudinit mac=52:54:00:e2:e0:0a
    qlog "case $name: Debian 12 rootfs image with cloud-init"
    case_ok=1
    if ! dimg=$("$QEMU_LIB_DIR/mk-debian.sh"); then
        fail "building the Debian image (tests/qemu/mk-debian.sh)"
    else
        ln -sf "$dimg/rootfs.ext4.zst" "$www/images/debian12.ext4.zst"
        disk=$work/$name.disk
        rm -f "$disk"
        truncate -s 4G "$disk"
        cat >"$www/cloud-configs/$mac.yml" <<'YML'
#cloud-config
hostname: rdinstall-debian
write_files:
  - path: /root/rdinstall-proof
    content: "from-the-nocloud-seed\n"
runcmd:
  - [sh, -c, 'echo "CLOUDINIT-RUNCMD host=$(hostname) proof=$(cat /root/rdinstall-proof)" >/dev/ttyS0']
power_state:
  mode: poweroff
  condition: true
YML
        pxe_config "$mac" "rdinstall.image=http://10.0.2.100/images/debian12.ext4.zst \
rdinstall.image_checksum=sha256:$(sha "$dimg/rootfs.ext4.zst") rdinstall.image_kind=rootfs rdinstall.disk=/dev/vda \
rdinstall.config=http://10.0.2.100/cloud-configs/\${mac}.yml rdinstall.extra_kargs=console=ttyS0 \
rdinstall.report=http://10.0.2.100/report/$name rdinstall.report_token=$TOKEN \
rdinstall.on_success=poweroff rdinstall.on_failure=poweroff"
        show_console "$work/$name.pxe.log"
        pxe_boot "$name" "$mac" "$disk"
        rc=$?
        stop_console
        [ "$rc" -eq 0 ] || fail "the PXE install VM ended with $rc (124: timeout ${PXE_TIMEOUT}s, 125: a shell)"
        python3 "$here/check-reports.py" "$reports" "/report/$name" succeeded --token "$TOKEN" || fail "reports"
        # Debian's systemd and cloud-init (Python) under TCG: minutes, not seconds.
        tb=$(date +%s)
        show_console "$work/$name.boot.log"
        qemu_run "$work/$name.boot.log" "${E2E_DEBIAN_TIMEOUT:-600}" -boot c \
            -nic user,restrict=on,model=virtio-net-pci -drive "file=$disk,format=raw,if=virtio"
        rc=$?
        stop_console
        blog=$work/$name.boot.log
        [ "$rc" -eq 0 ] || fail "booting the installed Debian: QEMU exit $rc (124: timeout; cloud-init's power_state ends the VM)"
        grep -aq 'Cloud-init v\.' "$blog" || fail "cloud-init did not run in the installed Debian"
        grep -aq 'CLOUDINIT-RUNCMD host=rdinstall-debian proof=from-the-nocloud-seed' "$blog" ||
            fail "cloud-init did not apply the cloud-config (hostname, write_files, runcmd)"
        qlog "  Debian boot and cloud-init: $(($(date +%s) - tb))s"
    fi
    case_done
}

for c in $cases; do
    case "$c" in
        disk-bz2) run_case disk-bz2 52:54:00:e2:e0:01 disk.img.bz2 disk succeeded ;;
        rootfs-xz) run_case rootfs-xz 52:54:00:e2:e0:02 rootfs.ext4.xz rootfs succeeded ;;
        static-ip)
            # ip= instead of DHCP, with the hostname rdinstall reports and expands.
            run_case static-ip 52:54:00:e2:e0:04 rootfs.ext4.xz rootfs succeeded \
                ip=10.0.2.15::10.0.2.2:255.255.255.0:e2e-static:eth0:none:10.0.2.3
            grep -aq 'rdinstall-init: static 10.0.2.15' "$work/static-ip.pxe.log" ||
                { qlog "  FAIL: static-ip: /init did not configure ip="; passed=$((passed - 1)); failed=$((failed + 1)); }
            grep -q '"hostname": "e2e-static"' "$reports" ||
                { qlog "  FAIL: static-ip: reports do not carry the hostname from ip="; passed=$((passed - 1)); failed=$((failed + 1)); }
            ;;
        shell-fallback) shell_case ;;
        break-pre) break_case ;;
        debian-cloudinit) debian_case ;;
        kexec)
            # on_success=kexec (a later key wins over run_case's poweroff): the installed
            # system starts in the installer's VM, prints its seed and powers off.
            EXPECT_KEXEC=1 run_case kexec 52:54:00:e2:e0:06 disk.img.bz2 disk succeeded rdinstall.on_success=kexec ;;
        ipxe-script) BOOT=ipxe run_case ipxe-script 52:54:00:e2:e0:07 rootfs.ext4.xz rootfs succeeded ;;
        uefi-ipxe)
            if [ -f "$ovmf" ]; then
                BOOT=uefi-ipxe run_case uefi-ipxe 52:54:00:e2:e0:08 disk.img.bz2 disk succeeded
            else
                qlog "case uefi-ipxe: $ovmf missing (apt-get install ovmf)"; failed=$((failed + 1)); failures="$failures uefi-ipxe"
            fi ;;
        bad-checksum)
            CHECKSUM_OVERRIDE=sha256:$(printf '0%.0s' $(seq 64)) \
                run_case bad-checksum 52:54:00:e2:e0:03 disk.img.bz2 disk failed ;;
        *) qlog "unknown case $c (known: $all_cases)"; failed=$((failed + 1)) ;;
    esac
done

qlog "e2e finished in $(($(date +%s) - t0))s${failures:+; failed:$failures}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
