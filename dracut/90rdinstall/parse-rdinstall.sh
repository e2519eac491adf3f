#!/bin/sh
# cmdline hook: with rdinstall.image= there is no root to mount. Ask for the network and
# tell dracut's root checks that this "root" is handled, so it waits for the network
# instead of giving up on a missing root=.
if getarg rdinstall.image= >/dev/null; then
    info "rdinstall: install requested, bringing up the network"
    echo "rd.neednet=1" >/etc/cmdline.d/90rdinstall.conf
    [ -z "$root" ] && root=rdinstall
    rootok=1
fi
