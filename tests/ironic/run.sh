#!/bin/bash
# rdinstall as the deploy ramdisk of a real OpenStack Ironic (39.0.0 from PyPI, standalone),
# `direct` deploy interface, driven by Ironic end to end.
#
# Everything runs inside a private network namespace (removed on exit): a bridge with
# Ironic's API and an HTTP server (deploy kernel/initrd, disk images) on 192.168.150.1,
# dnsmasq for DHCP, and a QEMU VM (TCG) on a tap. Ironic enrolls the VM by its MAC, writes
# the iPXE config for its deploy; the VM is booted with our kernel and initrd and exactly the
# kernel arguments of that config (`${mac}` filled in as iPXE would). The agent (rdinstall
# agent) looks the node up, heartbeats over TLS (Ironic's default require_tls = true), and
# Ironic drives the deploy.
#
# Usage: tests/ironic/run.sh [CASE...]    (default: all)
#   cases: whole-disk ipxe-boot bad-checksum root-hint plain-http (restarts Ironic with require_tls = false)
#   env IRONIC_KEEP=1      keep the work directory
#   env RDINSTALL_BIN      static rdinstall binary for the initrd (default: musl debug build)
#   env RDINSTALL_IRONIC_CACHE  where the Ironic venv is cached (default /var/cache/rdinstall-ironic)
# Prints "N passed, N failed" last; exits 0 only when every case passed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../qemu/lib.sh"

IRONIC_VERSION=39.0.0
all_cases="whole-disk ipxe-boot bad-checksum root-hint plain-http"
cases=${*:-$all_cases}
DEPLOY_TIMEOUT=${IRONIC_DEPLOY_TIMEOUT:-300}
BOOT_TIMEOUT=${IRONIC_BOOT_TIMEOUT:-90}
NET=192.168.150
HOSTIP=$NET.1
API=http://$HOSTIP:6385
HTTP_PORT=8080
# Ironic's http_root (boot.ipxe, the nodes' iPXE configs, its copies of the deploy ramdisk).
BOOT_PORT=8081

t0=$(date +%s)
work=$(mktemp -d /tmp/rdinstall-ironic.XXXXXX)
ns=rdi-ironic-$$
pids=""
qemu_pid=
cleanup() {
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
    for p in $pids; do kill "$p" 2>/dev/null; done
    # Everything inside the namespace was started by this script (Ironic's workers, dnsmasq,
    # the HTTP server, QEMU): stop what is left before removing it.
    if ip netns pids "$ns" >/dev/null 2>&1; then
        for p in $(ip netns pids "$ns"); do kill "$p" 2>/dev/null; done
        sleep 1
        for p in $(ip netns pids "$ns"); do kill -9 "$p" 2>/dev/null; done
    fi
    for p in $pids; do wait "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    if [ -n "${IRONIC_KEEP:-}${KEEP_WORK:-}" ]; then
        qlog "work directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { qlog "ironic setup failed: $*"; echo "0 passed, 1 failed"; IRONIC_KEEP=1; exit 1; }
inns() { ip netns exec "$ns" "$@"; }

# --- prerequisites ---------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root (network namespace, tap, loop mounts)"
for c in qemu-system-x86_64 dnsmasq ip python3 curl; do
    command -v "$c" >/dev/null || die "$c missing (scripts/setup-debian.sh installs it)"
done

# The Ironic venv, cached between runs (pip install takes ~40 s; nothing is compiled).
icache=${RDINSTALL_IRONIC_CACHE:-/var/cache/rdinstall-ironic}
venv=$icache/venv-$IRONIC_VERSION
if [ ! -f "$venv/.ready" ]; then
    qlog "installing ironic==$IRONIC_VERSION into $venv"
    rm -rf "$venv"
    mkdir -p "$icache"
    python3 -m venv "$venv" || die "python3 -m venv (apt-get install python3-venv)"
    "$venv/bin/pip" install -q "ironic==$IRONIC_VERSION" python-ironicclient >"$work/pip.log" 2>&1 ||
        die "pip install ironic==$IRONIC_VERSION failed: $(tail -n5 "$work/pip.log")"
    touch "$venv/.ready"
fi
"$venv/bin/python" -c "import ironic, importlib.metadata as m; assert m.version('ironic') == '$IRONIC_VERSION'" ||
    die "the venv at $venv does not hold ironic $IRONIC_VERSION"

kdir=$(kernel_dir) || die "fetching the cloud kernel"
bin=$(rdinstall_bin) || die "building rdinstall for x86_64-unknown-linux-musl"
tsys=$("$QEMU_LIB_DIR/mk-testsystem.sh") || die "building the test system images"
www=$work/www
mkdir -p "$www/images"
"$REPO/initramfs/build.sh" --rdinstall "$bin" --kernel-dir "$kdir" -o "$www/initrd.img" >"$work/initrd.log" 2>&1 ||
    die "initramfs/build.sh: $(tail -n5 "$work/initrd.log")"
cp "$kdir/vmlinuz" "$www/vmlinuz"
ln -s "$tsys/disk.img" "$www/images/disk.img"
sha=$(sha256sum "$tsys/disk.img" | cut -d' ' -f1)
qlog "kernel $(cat "$kdir/kver"), initrd $(stat -c %s "$www/initrd.img") bytes, rdinstall $bin"

# --- the private network -----------------------------------------------------------------
ip netns add "$ns" || die "ip netns add"
inns ip link set lo up
inns ip link add br0 type bridge || die "no bridge support"
inns ip addr add "$HOSTIP/24" dev br0
inns ip link set br0 up
inns ip tuntap add tap0 mode tap || die "no tun/tap support"
inns ip link set tap0 master br0
inns ip link set tap0 up
ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null --interface=br0 --bind-interfaces \
    --except-interface=lo --port=0 --dhcp-range=$NET.10,$NET.99,1h --dhcp-host=52:54:00:1c:00:04,$NET.44 \
    --dhcp-boot="http://$HOSTIP:$BOOT_PORT/boot.ipxe" \
    --dhcp-leasefile="$work/dnsmasq.leases" --pid-file="$work/dnsmasq.pid" --log-dhcp \
    >"$work/dnsmasq.log" 2>&1 &
pids="$pids $!"
: >"$work/reports.jsonl"
ip netns exec "$ns" python3 "$QEMU_LIB_DIR/httpd.py" --root "$www" --reports "$work/reports.jsonl" \
    --bind "$HOSTIP" --port "$HTTP_PORT" --access-log "$work/access.log" 2>"$work/httpd.log" &
pids="$pids $!"

# --- Ironic, standalone --------------------------------------------------------------------
mkdir -p "$work/httproot" "$work/tftproot" "$work/master" "$work/images" "$work/deploy-logs" "$work/ironic-tmp"
ip netns exec "$ns" python3 "$QEMU_LIB_DIR/httpd.py" --root "$work/httproot" --reports "$work/boot-posts.jsonl" \
    --bind "$HOSTIP" --port "$BOOT_PORT" --access-log "$work/boot-access.log" 2>"$work/boot-httpd.log" &
pids="$pids $!"
cat >"$work/ironic.conf" <<CONF
[DEFAULT]
auth_strategy = noauth
rpc_transport = none
host = rdinstall-ci
debug = true
log_file = $work/ironic.log
tempdir = $work/ironic-tmp
enabled_hardware_types = manual-management
enabled_boot_interfaces = ipxe
enabled_deploy_interfaces = direct
enabled_power_interfaces = fake
enabled_management_interfaces = noop
enabled_network_interfaces = noop
default_network_interface = noop
enabled_inspect_interfaces = no-inspect
enabled_raid_interfaces = no-raid
enabled_bios_interfaces = no-bios
enabled_console_interfaces = no-console
enabled_vendor_interfaces = no-vendor
enabled_rescue_interfaces = no-rescue
enabled_firmware_interfaces = no-firmware

[api]
host_ip = $HOSTIP
port = 6385

[database]
connection = sqlite:///$work/ironic.sqlite

[dhcp]
dhcp_provider = none

[conductor]
automated_clean = false
sync_power_state_interval = -1

[deploy]
http_root = $work/httproot
http_url = http://$HOSTIP:$BOOT_PORT
default_boot_mode = bios

[pxe]
tftp_root = $work/tftproot
tftp_master_path = $work/master
instance_master_path = $work/master
images_path = $work/images
# rdinstall.report=: events also go to the operator's receiver, besides Ironic's channel
# ($$ is oslo.config's escaped $; iPXE fills in \${mac}).
kernel_append_params = console=ttyS0 panic=-1 rdinstall.report=http://$HOSTIP:$HTTP_PORT/report/$\${mac}

[agent]
deploy_logs_collect = on_failure
deploy_logs_storage_backend = local
deploy_logs_local_path = $work/deploy-logs
post_deploy_get_power_state_retries = 2
post_deploy_get_power_state_retry_interval = 1

[service_catalog]
endpoint_override = $API
CONF
inns "$venv/bin/ironic-dbsync" --config-file "$work/ironic.conf" create_schema >"$work/dbsync.log" 2>&1 ||
    die "ironic-dbsync create_schema: $(tail -n5 "$work/dbsync.log")"
# start_ironic: run Ironic (API + conductor, one process tree) and wait for its API.
ironic_pid=
start_ironic() {
    ip netns exec "$ns" "$venv/bin/ironic" --config-file "$work/ironic.conf" >>"$work/ironic.out" 2>&1 &
    ironic_pid=$!
    pids="$pids $ironic_pid"
    for _ in $(seq 120); do
        inns curl -sf "$API/" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    return 1
}
# stop_ironic: stop it and wait until its port is free again.
stop_ironic() {
    kill "$ironic_pid" 2>/dev/null
    wait "$ironic_pid" 2>/dev/null
    for _ in $(seq 60); do
        inns curl -sf "$API/" >/dev/null 2>&1 || return 0
        sleep 0.5
    done
}
start_ironic || die "Ironic's API did not come up: $(tail -n5 "$work/ironic.log" "$work/ironic.out")"
qlog "Ironic $IRONIC_VERSION up at $API (in namespace $ns)"

bm() {
    inns env OS_AUTH_TYPE=none OS_ENDPOINT="$API" OS_BAREMETAL_API_VERSION=latest \
        "$venv/bin/baremetal" "$@"
}
field() { bm node show "$1" -f value -c "$2"; }

# wait_state NODE STATE TIMEOUT [QEMU-PID]: poll provision_state until STATE (or a *failed).
wait_state() {
    _end=$(($(date +%s) + $3))
    while [ "$(date +%s)" -lt "$_end" ]; do
        _st=$(field "$1" provision_state 2>/dev/null)
        [ "$_st" = "$2" ] && return 0
        case "$_st" in *failed) [ "$2" != "$_st" ] && { qlog "  node is '$_st': $(field "$1" last_error)"; return 1; } ;; esac
        sleep 2
    done
    qlog "  node still '$_st' after $3 s (wanted '$2')"
    return 1
}

# enroll NAME MAC [baremetal node create args...]: prints the node UUID, node `available`.
enroll() {
    _n=$1 _m=$2
    shift 2
    _u=$(bm node create --driver manual-management --name "$_n" \
        --driver-info deploy_kernel="http://$HOSTIP:$HTTP_PORT/vmlinuz" \
        --driver-info deploy_ramdisk="http://$HOSTIP:$HTTP_PORT/initrd.img" \
        --property capabilities=boot_mode:bios "$@" -f value -c uuid) || return 1
    bm port create "$_m" --node "$_u" >/dev/null || return 1
    bm node manage "$_u" --wait 60 >/dev/null || return 1
    bm node provide "$_u" --wait 60 >/dev/null || return 1
    echo "$_u"
}

# kernel_args NODE MAC: the kernel line Ironic wrote into the node's iPXE config, as iPXE
# would pass it (kernel path, initrd= and the retry jump removed, ${mac} filled in).
kernel_args() {
    _cfg=$work/httproot/$1/config
    [ -f "$_cfg" ] || return 1
    sed -n '/^:deploy/,/^boot/p' "$_cfg" | sed -n 's/^kernel //p' | head -n1 |
        sed -e 's/--timeout [0-9]* //' -e 's/ || goto retry$//' -e "s/\${mac}/$2/g" |
        awk '{ $1 = ""; for (i = 2; i <= NF; i++) if ($i ~ /^initrd=/) $i = ""; print }' |
        tr -s ' ' | sed 's/^ //'
}

# boot_agent NAME MAC ARGS DISK...: start the VM with the deploy kernel and initrd (background,
# sets qemu_pid); console in $work/NAME.console. With BOOT_MODE=ipxe the VM network-boots
# instead: QEMU's iPXE ROM gets boot.ipxe from Ironic's http_root (dnsmasq's boot file), which
# chains the node's config, and loads the kernel and ramdisk Ironic cached and serves (ARGS
# unused).
boot_agent() {
    _n=$1 _m=$2 _a=$3
    shift 3
    _drives=""
    for _d in "$@"; do _drives="$_drives -drive file=$_d,format=raw,if=virtio"; done
    if [ "${BOOT_MODE:-kernel}" = ipxe ]; then
        set -- -boot n
    else
        set -- -kernel "$www/vmlinuz" -initrd "$www/initrd.img" -append "$_a"
    fi
    # Not through inns(): $! must be the process that becomes QEMU's `timeout`, so that
    # killing it stops the VM (a function in the background is a subshell).
    # shellcheck disable=SC2046,SC2086
    ip netns exec "$ns" timeout --kill-after=5 "$DEPLOY_TIMEOUT" qemu-system-x86_64 $(qemu_accel_args) -m 1024 \
        -display none -monitor none -serial "file:$work/$_n.console" -no-reboot "$@" \
        -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
        -device "virtio-net-pci,netdev=n0,mac=$_m" $_drives </dev/null &
    qemu_pid=$!
}

# vm_exit TIMEOUT: wait for the VM to end by itself; its exit status (124: still running).
vm_exit() {
    _end=$(($(date +%s) + $1))
    while kill -0 "$qemu_pid" 2>/dev/null; do
        [ "$(date +%s)" -ge "$_end" ] && { kill "$qemu_pid"; wait "$qemu_pid"; qemu_pid=; return 124; }
        sleep 1
    done
    wait "$qemu_pid"
    _rc=$?
    qemu_pid=
    return $_rc
}

# disk_boots NAME DISK: the disk alone boots the test system.
disk_boots() {
    # shellcheck disable=SC2046
    WATCH_LOG=$work/$1.bios.log qemu_run_until "$work/$1.boot.log" "$BOOT_TIMEOUT" 'No bootable device' \
        $(bios_debug_args "$work/$1.bios.log") -boot c -nic none -drive "file=$2,format=raw,if=virtio"
    grep -aq 'TESTSYSTEM-UP .*id=disk' "$work/$1.boot.log"
}

# config2_partition DISK: prints the number of the MBR partition whose ISO9660 label is config-2.
config2_partition() {
    python3 - "$1" <<'PY'
import struct, sys
f = open(sys.argv[1], "rb")
mbr = f.read(512)
for i in range(4):
    e = mbr[446 + 16 * i: 462 + 16 * i]
    if e[4] == 0:
        continue
    start = struct.unpack("<I", e[8:12])[0] * 512
    f.seek(start + 32768)
    pvd = f.read(72)
    if pvd[1:6] == b"CD001" and pvd[40:72].strip(b" \0") == b"config-2":
        print(i + 1)
        sys.exit(0)
sys.exit(1)
PY
}

# case_done: count the case (tally_case in lib.sh), its console shown when it failed.
case_done() {
    tally_case "$work/$name.console"
    qlog "  case $name: $([ -n "$case_ok" ] && echo ok || echo FAILED) in $(($(date +%s) - ts))s"
}

# deploy NAME MAC SUM [deploy args...]: set the image and deploy; boot the VM with Ironic's
# kernel arguments. Sets $node (enrolled before), starts the VM with $disks.
deploy() {
    _n=$1 _m=$2 _sum=$3
    shift 3
    bm node set "$node" --instance-info image_source="http://$HOSTIP:$HTTP_PORT/images/disk.img" \
        --instance-info image_os_hash_algo=sha256 --instance-info image_os_hash_value="$_sum" \
        --instance-info image_disk_format=raw || { fail "baremetal node set --instance-info"; return 1; }
    bm node deploy "$node" "$@" || { fail "baremetal node deploy"; return 1; }
    wait_state "$node" "wait call-back" 60 || { fail "the node did not reach 'wait call-back'"; return 1; }
    kargs=$(kernel_args "$node" "$_m") || { fail "Ironic wrote no iPXE config for the node"; return 1; }
    case "$kargs" in *ipa-api-url=*BOOTIF=$_m*) ;; *) fail "unexpected kernel arguments from Ironic: $kargs"; return 1 ;; esac
    qlog "  kernel arguments from Ironic: $kargs"
    # shellcheck disable=SC2086
    boot_agent "$_n" "$_m" "$kargs" $disks
}

# begin_case DESCRIPTION: start case $name (counted by case_done, timed from here).
begin_case() {
    qlog "case $name: $*"
    case_ok=1
    ts=$(date +%s)
}

# one_disk: a fresh 4 GiB disk as the VM's only disk ($disk, $disks).
one_disk() {
    disk=$work/$name.disk
    truncate -s 4G "$disk"
    disks=$disk
}

# whole_disk_case [NAME MAC]: BOOT_MODE=ipxe boots through QEMU's iPXE ROM and Ironic's files.
whole_disk_case() {
    name=${1:-whole-disk} mac=${2:-52:54:00:1c:00:01}
    begin_case "whole-disk raw image, require_tls = true (default), boot: ${BOOT_MODE:-kernel}"
    one_disk
    node=$(enroll "$name" "$mac") || { fail "enrolling the node"; case_done; return; }
    deploy "$name" "$mac" "$sha" || { case_done; return; }
    wait_state "$node" active "$DEPLOY_TIMEOUT" || fail "the node did not become active"
    vm_exit 60
    rc=$?
    [ "$rc" -eq 0 ] || fail "the VM did not power off by itself (QEMU status $rc)"
    grep -aq 'reboot: Power down' "$work/$name.console" || fail "the agent did not power the VM off"
    grep -aq 'rdinstall-init: ipa-api-url= given' "$work/$name.console" || fail "/init did not start the agent"
    grep -aq 'agent: command API on port 9999, advertised as https://' "$work/$name.console" ||
        fail "the agent did not serve HTTPS"
    [ "$(field "$node" last_error)" = "None" ] || fail "last_error: $(field "$node" last_error)"
    if [ "${BOOT_MODE:-}" = ipxe ]; then
        # (iPXE itself prints on the VGA console only: its requests show it at work.)
        for _f in boot.ipxe "pxelinux.cfg/$(echo "$mac" | tr : -)" "$node/deploy_kernel" "$node/deploy_ramdisk"; do
            grep -q "\"GET /$_f HTTP" "$work/boot-access.log" ||
                fail "iPXE did not fetch /$_f from Ironic's http_root"
        done
        grep -aq "Command line:.*BOOTIF=$mac" "$work/$name.console" ||
            fail "the kernel did not get iPXE's BOOTIF=$mac"
    fi
    python3 "$REPO/tests/e2e/check-reports.py" "$work/reports.jsonl" "/report/$mac" succeeded ||
        fail "the install's events did not reach the rdinstall.report= URL"
    tb=$(date +%s)
    disk_boots "$name" "$disk" || fail "the deployed disk does not boot the test system alone"
    qlog "  deploy $((tb - ts))s, disk boot $(($(date +%s) - tb))s"
    case_done
}

bad_checksum_case() {
    name=bad-checksum mac=52:54:00:1c:00:02
    begin_case "wrong image_os_hash_value"
    one_disk
    node=$(enroll "$name" "$mac") || { fail "enrolling the node"; case_done; return; }
    deploy "$name" "$mac" "$(printf '0%.0s' $(seq 64))" || { case_done; return; }
    wait_state "$node" "deploy failed" "$DEPLOY_TIMEOUT" || fail "the node did not go to 'deploy failed'"
    err=$(field "$node" last_error)
    qlog "  last_error: $err"
    case "$err" in *checksum*) ;; *) fail "last_error does not name the checksum: $err" ;; esac
    python3 "$REPO/tests/e2e/check-reports.py" "$work/reports.jsonl" "/report/$mac" failed --exit-code 4 ||
        fail "the failure did not reach the rdinstall.report= URL"
    # The agent's logs, as Ironic stored them (deploy_logs_local_path), hold rdinstall's log.
    logs=""
    for _ in $(seq 30); do
        logs=$(ls "$work/deploy-logs/$node"* 2>/dev/null | head -n1)
        [ -n "$logs" ] && break
        sleep 1
    done
    if [ -z "$logs" ]; then
        fail "Ironic stored no deploy logs in $work/deploy-logs"
    elif ! tar -xzOf "$logs" rdinstall.log 2>/dev/null | grep -q 'checksum mismatch'; then
        fail "the stored logs ($logs) have no rdinstall.log naming the checksum mismatch"
    fi
    kill "$qemu_pid" 2>/dev/null
    wait "$qemu_pid" 2>/dev/null
    qemu_pid=
    # The failed write was scrubbed: no partition table is left to boot from.
    if [ "$(od -An -tx1 -j510 -N2 "$disk" | tr -d ' ')" = 55aa ]; then fail "the disk keeps a partition table after the failed deploy"; fi
    case_done
}

root_hint_case() {
    name=root-hint mac=52:54:00:1c:00:03
    begin_case "two disks, properties.root_device {\"size\": \">= 5\"}, and a configdrive"
    small=$work/$name.small.disk big=$work/$name.big.disk
    truncate -s 4G "$small"
    truncate -s 6G "$big"
    # Without a hint the smallest disk (vda) would be chosen; the hint picks vdb.
    disks="$small $big"
    node=$(enroll "$name" "$mac" --property root_device='{"size": ">= 5"}') || { fail "enrolling the node"; case_done; return; }
    deploy "$name" "$mac" "$sha" --config-drive '{"meta_data": {"uuid": "rdinstall-ci", "hostname": "root-hint"}, "user_data": "#cloud-config\nhostname: root-hint\n"}' ||
        { case_done; return; }
    wait_state "$node" active "$DEPLOY_TIMEOUT" || fail "the node did not become active"
    vm_exit 60 || fail "the VM did not power off by itself"
    if [ -n "$(head -c 1048576 "$small" | tr -d '\0' | head -c 1)" ]; then fail "the small disk (no hint match) was written"; fi
    p=$(config2_partition "$big") || fail "no config-2 partition on the deployed disk"
    [ -n "${p:-}" ] && qlog "  config-2 is partition $p of the 6 GiB disk"
    disk_boots "$name" "$big" || fail "the hinted disk does not boot the test system alone"
    case_done
}

# plain_http_case: Ironic with [agent] require_tls = false, the agent told to serve plain
# HTTP (ipa-enable-auto-tls=0) on another port and to advertise an explicit address
# (ipa-listen-port, ipa-advertise-host/-port), through the node's own kernel_append_params. Restarts Ironic with that setting; runs last.
plain_http_case() {
    name=plain-http mac=52:54:00:1c:00:04
    begin_case "require_tls = false, plain HTTP command API on port 9998"
    stop_ironic
    printf '\n[agent]\nrequire_tls = false\n' >>"$work/ironic.conf"
    start_ironic || { fail "Ironic did not come back with require_tls = false"; case_done; return; }
    one_disk
    node=$(enroll "$name" "$mac" --driver-info kernel_append_params="console=ttyS0 panic=-1 ipa-enable-auto-tls=0 ipa-listen-port=9998 ipa-advertise-host=$NET.44 ipa-advertise-port=9998") ||
        { fail "enrolling the node"; case_done; return; }
    deploy "$name" "$mac" "$sha" || { case_done; return; }
    wait_state "$node" active "$DEPLOY_TIMEOUT" || fail "the node did not become active"
    vm_exit 60 || fail "the VM did not power off by itself"
    grep -aq "agent: command API on port 9998, advertised as http://$NET.44:9998" "$work/$name.console" ||
        fail "the agent did not serve plain HTTP on port 9998 advertised as $NET.44 (dnsmasq's fixed address for it)"
    disk_boots "$name" "$disk" || fail "the deployed disk does not boot the test system alone"
    case_done
}

for c in $cases; do
    case "$c" in
        whole-disk) whole_disk_case ;;
        ipxe-boot) BOOT_MODE=ipxe whole_disk_case ipxe-boot 52:54:00:1c:00:05 ;;
        bad-checksum) bad_checksum_case ;;
        root-hint) root_hint_case ;;
        plain-http) plain_http_case ;;
        *) qlog "unknown case $c (known: $all_cases)"; failed=$((failed + 1)) ;;
    esac
done

qlog "ironic tests finished in $(($(date +%s) - t0))s${failures:+; failed:$failures}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
