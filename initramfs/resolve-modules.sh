#!/bin/sh
# Resolve kernel module names to .ko files with all their dependencies, in load order
# (dependencies first), one path per line relative to the module directory.
#
# Usage: resolve-modules.sh KMODDIR NAME...
#   KMODDIR  a kernel's module tree, e.g. .cache/kernel/<pkg>/lib/modules/<kver>
#   NAME     module names (`-` and `_` are the same); names not found as .ko (built into
#            the kernel, or absent from this kernel's config) are reported on stderr
#            and skipped, so one list serves several kernels.
#
# Why not modprobe --show-depends: a kernel unpacked from a .deb has no modules.dep, and we
# must not depend on depmod having run. Each .ko names its dependencies itself in its
# `depends=` modinfo field, and soft pre-dependencies in `softdep=`.
set -eu

[ $# -ge 1 ] || { echo "usage: $0 KMODDIR NAME..." >&2; exit 2; }
kmoddir=$1
shift
[ -d "$kmoddir" ] || { echo "resolve-modules: $kmoddir is not a directory" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# index: "<normalized name> <relative path>" for every .ko(.xz|.zst|.gz) in the tree.
(cd "$kmoddir" && find . -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz') |
    sed 's|^\./||' | while read -r p; do
        n=${p##*/}
        n=${n%%.ko*}
        echo "$(echo "$n" | tr - _) $p"
    done >"$work/index"

builtin=$kmoddir/modules.builtin
: >"$work/done"
: >"$work/visiting"

lookup() { awk -v n="$1" '$1 == n { print $2; exit }' "$work/index"; }

# A softdep may name an alias rather than a file (ext4 -> "crc32c", provided by
# crc32c_generic.ko / crc32c-intel.ko): look among the files whose name contains it for
# the ones that declare the alias (or crypto-<alias>). The generic C implementation comes
# first: it loads on every CPU (crc32c-intel needs SSE4.2, which QEMU's default CPU lacks).
lookup_alias() {
    awk -v n="$1" 'index($1, n) { print (index($1, "generic") ? 0 : 1), $2 }' "$work/index" |
        sort | while read -r _ p; do
            if modinfo -F alias "$kmoddir/$p" | tr - _ | grep -qxE "(crypto_)?$1"; then
                echo "$p"
            fi
        done
}

# Depth-first: print a module after everything it depends on.
visit() {
    name=$(echo "$1" | tr - _)
    grep -qx "$name" "$work/done" && return 0
    grep -qx "$name" "$work/visiting" && return 0 # dependency cycle guard
    path=$(lookup "$name")
    if [ -z "$path" ]; then
        # Every provider of an alias, each resolved as a module of its own.
        providers=$(lookup_alias "${name#crypto_}")
        if [ -n "$providers" ]; then
            echo "$name" >>"$work/done"
            for p in $providers; do
                p=${p##*/}
                visit "${p%%.ko*}"
            done
            return 0
        fi
    fi
    if [ -z "$path" ]; then
        if [ -f "$builtin" ] && tr - _ <"$builtin" | grep -q "/$name\.ko$"; then
            echo "resolve-modules: $name is built into the kernel" >&2
        else
            echo "resolve-modules: $name not in $kmoddir, skipped" >&2
        fi
        echo "$name" >>"$work/done"
        return 0
    fi
    echo "$name" >>"$work/visiting"
    # softdep "pre:" modules must be loaded first too (e.g. crc32c for some fs).
    deps=$(modinfo -F depends "$kmoddir/$path" | tr , ' ')
    soft=$(modinfo -F softdep "$kmoddir/$path" 2>/dev/null |
        sed -n 's/.*pre: *\([^:]*\)\( post:.*\)\{0,1\}$/\1/p' | tr -s ' ')
    for d in $deps $soft; do
        # visit recurses and reuses the globals name/path: save ours.
        set -- "$name" "$path"
        visit "$d"
        name=$1
        path=$2
    done
    echo "$name" >>"$work/done"
    echo "$path"
}

for m in "$@"; do
    visit "$m"
done
