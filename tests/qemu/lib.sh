# Shared helpers for the QEMU tests (source it: `. tests/qemu/lib.sh`).
#
# Environment:
#   RDINSTALL_TEST_CACHE   cache for the kernel and test-system images (default <repo>/.cache)
#   RDINSTALL_QEMU_ACCEL   tcg (default here: the host's /dev/kvm is paravirtual and hangs
#                          stock guests) or kvm on real hardware
#   RDINSTALL_BIN          a static rdinstall binary to test (default: cargo build, musl)

QEMU_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE:-$0}")" 2>/dev/null && pwd)
[ -f "$QEMU_LIB_DIR/lib.sh" ] || QEMU_LIB_DIR=$(cd "$(dirname "$0")/../qemu" && pwd)
REPO=$(cd "$QEMU_LIB_DIR/../.." && pwd)
CACHE=${RDINSTALL_TEST_CACHE:-$REPO/.cache}

qlog() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# The case tally of the scenario scripts: a case sets `case_ok=1` and `name`, `fail MSG`
# marks it failed, `tally_case [LOG]` counts it. A failed case adds its name to $failures,
# shows the last lines of LOG (its console) and sets KEEP_WORK=1 (the work directory stays).
passed=0
failed=0
failures=
KEEP_WORK=
fail() { qlog "  FAIL: $*"; case_ok=; }
tally_case() {
    if [ -n "$case_ok" ]; then
        passed=$((passed + 1))
        return
    fi
    failed=$((failed + 1))
    failures="$failures $name"
    KEEP_WORK=1
    if [ -n "${1:-}" ]; then
        qlog "  last console lines ($1):"
        grep -av '^\s*$' "$1" 2>/dev/null | tail -n 25 | sed 's/^/    | /' >&2
    fi
}

# The unpacked cloud kernel directory (has vmlinuz, kver, lib/modules/<kver>).
kernel_dir() { "$QEMU_LIB_DIR/fetch-kernel.sh"; }

# The static musl rdinstall binary under test (RDINSTALL_BIN, or a debug musl build: the
# release profile's LTO build is slow and not needed to test behaviour).
rdinstall_bin() {
    if [ -n "${RDINSTALL_BIN:-}" ]; then
        echo "$RDINSTALL_BIN"
        return
    fi
    (cd "$REPO" && cargo build --quiet --target x86_64-unknown-linux-musl >&2) || return 1
    echo "$REPO/target/x86_64-unknown-linux-musl/debug/rdinstall"
}

# The guest virtio modules in load order (no modules.dep in the .deb; see TESTBED.md).
virtio_modules() {
    "$REPO/initramfs/resolve-modules.sh" "$1" virtio_pci virtio_blk virtio_net 2>/dev/null
}

# qemu_accel_args: the accelerator part of the command line.
qemu_accel_args() {
    case "${RDINSTALL_QEMU_ACCEL:-tcg}" in
        kvm) echo "-accel kvm -cpu host -smp 2" ;;
        *) echo "-accel tcg,thread=multi -smp 2" ;;
    esac
}

# qemu_run LOG TIMEOUT_SEC ARGS...: run a headless VM, serial console to LOG.
# Returns QEMU's exit status, or 124 when the timeout killed it. Every VM gets -no-reboot,
# so a guest reboot (or a kernel panic with panic=-1) ends QEMU like a poweroff does.
qemu_run() {
    log=$1 tmo=$2
    shift 2
    # shellcheck disable=SC2046
    timeout --kill-after=5 "$tmo" qemu-system-x86_64 $(qemu_accel_args) -m 1024 \
        -display none -monitor none -serial "file:$log" -no-reboot "$@" </dev/null
}

# wait_for_line FILE PATTERN TIMEOUT: poll a log until grep -E finds PATTERN.
wait_for_line() {
    _i=0
    while [ "$_i" -lt "$(($3 * 5))" ]; do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.2
        _i=$((_i + 1))
    done
    return 1
}

# bios_debug_args FILE: SeaBIOS's debug port to FILE ("Boot failed", "No bootable device").
bios_debug_args() { echo "-debugcon file:$1 -global isa-debugcon.iobase=0x402"; }

# qemu_run_until LOG TIMEOUT_SEC PATTERN ARGS...: like qemu_run, but stop the VM as soon as
# the serial log matches PATTERN (grep -E), e.g. the initrd's emergency shell, which would
# otherwise wait for a console nobody types into. Returns 125 when stopped that way.
# WATCH_LOG=FILE watches another file instead (e.g. the BIOS's -debugcon log).
qemu_run_until() {
    log=$1 tmo=$2 pat=$3
    shift 3
    : >"$log"
    _watch=${WATCH_LOG:-$log}
    qemu_run "$log" "$tmo" "$@" &
    _qpid=$!
    while kill -0 "$_qpid" 2>/dev/null; do
        if grep -qaE "$pat" "$_watch" 2>/dev/null; then
            sleep 1 # let the console flush the lines after the match
            pkill -TERM -P "$_qpid" 2>/dev/null # the timeout process under our subshell
            kill "$_qpid" 2>/dev/null
            wait "$_qpid" 2>/dev/null
            return 125
        fi
        sleep 0.5
    done
    wait "$_qpid"
}
