#!/bin/sh
# initqueue/online hook ($1: the interface that came up): run the install once.
# rdinstall reports and reboots or powers off by itself (rdinstall.on_success/on_failure);
# when it returns, the error is already on the console: give the emergency shell.
if getarg rdinstall.image= >/dev/null && [ ! -e /tmp/rdinstall.started ]; then
    : >/tmp/rdinstall.started
    info "rdinstall: network is up on $1, installing"
    rdinstall install --from-cmdline
    rc=$?
    echo "$rc" >/tmp/rdinstall.exit
    if [ "$rc" -ne 0 ]; then
        warn "rdinstall failed with exit code $rc"
        emergency_shell -n rdinstall "rdinstall failed with exit code $rc"
    fi
fi
