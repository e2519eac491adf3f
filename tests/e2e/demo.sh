#!/bin/sh
# Demo: PXE-boot a machine in QEMU (TCG) that installs a small test system with rdinstall
# from a local HTTP server, then boot the installed disk; both consoles are shown live.
#
# Usage: sudo tests/e2e/demo.sh [rootfs-xz|disk-bz2|bad-checksum]   (default rootfs-xz)
# Everything stays on 127.0.0.1 and QEMU's user network; takes about a minute.
here=$(cd "$(dirname "$0")" && pwd)
E2E_SHOW_CONSOLE=1 E2E_KEEP=1 exec "$here/run.sh" "${1:-rootfs-xz}"
