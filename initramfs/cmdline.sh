# Kernel command line parsing for the initrd's /init (busybox sh), sourced from
# /lib/rdinstall/cmdline.sh. Kept apart from /init so tests/init_cmdline.rs can run these
# functions under the host's busybox sh with crafted command lines.
#
# Rules, matching rdinstall's own parser (src/settings/cmdline.rs) so that both read the
# same command line alike:
# - parameters are split at whitespace except inside double quotes, which are removed
#   (`rdinstall.extra_kargs="ip=dhcp console=ttyS0"` is ONE parameter, so its `ip=dhcp`
#   is never taken as the installer's own `ip=`);
# - in `rdinstall.*` keys `-` and `_` are the same (`rdinstall.on-failure=` is
#   `rdinstall.on_failure=`); values are case-insensitive where rdinstall's are;
# - the last occurrence of a key wins.
# Every value /init uses is validated here: a bad one is reported on the console and the
# default used, so that no shell arithmetic or test ever sees it (PID 1 must not exit).

# Messages go to stderr: callers capture values with $(...).
cmdline_warn() { echo "rdinstall-init: $*" >&2; }

# _strip_quotes VAR: remove every double quote from the value of variable VAR.
_strip_quotes() {
    eval "_sq=\$$1"
    while :; do
        case "$_sq" in
        *\"*) _sq=${_sq%%\"*}${_sq#*\"} ;;
        *) break ;;
        esac
    done
    eval "$1=\$_sq"
}

# _odd_quotes WORD: true when WORD holds an odd number of double quotes.
_odd_quotes() {
    _oq=$1
    _n=0
    while :; do
        case "$_oq" in
        *\"*) _oq=${_oq#*\"}; _n=$((_n + 1)) ;;
        *) break ;;
        esac
    done
    [ $((_n % 2)) -eq 1 ]
}

# _norm_param VAR: in a `rdinstall.` key, `-` becomes `_` (the value is left alone).
_norm_param() {
    eval "_np=\$$1"
    case "$_np" in
    rdinstall.*) ;;
    *) return 0 ;;
    esac
    case "$_np" in
    *=*) _nk=${_np%%=*}; _nv="=${_np#*=}" ;;
    *) _nk=$_np; _nv= ;;
    esac
    while :; do
        case "$_nk" in
        *-*) _nk=${_nk%%-*}_${_nk#*-} ;;
        *) break ;;
        esac
    done
    eval "$1=\$_nk\$_nv"
}

# cmdline_load LINE: split LINE into CMDLINE_PARAMS, one parameter a line, quotes removed.
# Several spaces inside quotes become one (the values /init reads never need more).
cmdline_load() {
    CMDLINE_PARAMS=
    _cur=
    _inq=
    # No pathname expansion of the words (`rdinstall.disk_hint=name=sd*`).
    case $- in *f*) _noglob=1 ;; *) _noglob= ; set -f ;; esac
    for _t in $1; do
        if [ -n "$_inq" ]; then _cur="$_cur $_t"; else _cur=$_t; fi
        if _odd_quotes "$_t"; then
            if [ -n "$_inq" ]; then _inq=; else _inq=1; fi
        fi
        [ -n "$_inq" ] && continue
        _strip_quotes _cur
        _norm_param _cur
        CMDLINE_PARAMS="$CMDLINE_PARAMS$_cur
"
        _cur=
    done
    if [ -n "$_inq" ]; then
        # rdinstall refuses such a line (exit 2) and names the parameter; keep what we have.
        cmdline_warn "unterminated double quote in the kernel command line"
        _strip_quotes _cur
        _norm_param _cur
        CMDLINE_PARAMS="$CMDLINE_PARAMS$_cur
"
    fi
    [ -n "$_noglob" ] || set +f
    return 0
}

# getarg KEY: the value of the last KEY=value (1 for a bare KEY); fails when absent or
# empty. KEY is spelled with `_` (rdinstall.on_failure).
getarg() {
    _ga=
    _gf=
    while IFS= read -r _gp; do
        case "$_gp" in
        "$1="*) _ga=${_gp#"$1="}; _gf=1 ;;
        "$1") _ga=1; _gf=1 ;;
        esac
    done <<EOF
$CMDLINE_PARAMS
EOF
    [ -n "$_gf" ] && [ -n "$_ga" ] && printf '%s\n' "$_ga"
}

# arg_seconds KEY DEFAULT MAX: a whole number from 1 to MAX, else DEFAULT (with a message).
arg_seconds() {
    _as=$(getarg "$1") || { echo "$2"; return 0; }
    case "$_as" in
    *[!0-9]* | '') ;;
    *)
        # At most 6 digits before any arithmetic: no overflow, no octal surprises.
        _as=${_as#"${_as%%[!0]*}"}
        if [ -n "$_as" ] && [ ${#_as} -le 6 ] && [ "$_as" -le "$3" ]; then
            echo "$_as"
            return 0
        fi
        ;;
    esac
    cmdline_warn "ignoring $1=$(getarg "$1"): expected whole seconds from 1 to $3; using $2"
    echo "$2"
}

# arg_choice KEY DEFAULT CHOICE...: the value lowercased if it is one of CHOICEs, else
# DEFAULT (with a message when a value was given). DEFAULT may be empty.
arg_choice() {
    _ak=$1
    _ad=$2
    shift 2
    _ac=$(getarg "$_ak") || { [ -n "$_ad" ] && echo "$_ad"; return 0; }
    _ac=$(printf '%s' "$_ac" | tr 'A-Z' 'a-z')
    _ac=${_ac# }
    _ac=${_ac% }
    for _c in "$@"; do
        [ "$_ac" = "$_c" ] && { echo "$_ac"; return 0; }
    done
    cmdline_warn "ignoring $_ak=$_ac: expected one of: $*${_ad:+; using $_ad}"
    [ -n "$_ad" ] && echo "$_ad"
    return 0
}

# arg_modules: the module names of rdinstall.modules=a,b one a line; odd names are skipped.
arg_modules() {
    _am=$(getarg rdinstall.modules) || return 0
    _old_ifs=$IFS
    IFS=,
    set -f
    for _m in $_am; do
        case "$_m" in
        '') ;;
        *[!A-Za-z0-9_-]*) cmdline_warn "ignoring module name '$_m' in rdinstall.modules" ;;
        *) echo "$_m" ;;
        esac
    done
    IFS=$_old_ifs
    return 0
}

# bootif_mac: the MAC of BOOTIF=01-aa-bb-cc-dd-ee-ff (or aa-bb-…), lowercase with colons;
# fails without a valid one.
bootif_mac() {
    _b=$(getarg BOOTIF) || return 1
    _b=${_b#01-}
    _h='[0-9a-fA-F][0-9a-fA-F]'
    case "$_b" in
    $_h-$_h-$_h-$_h-$_h-$_h | $_h:$_h:$_h:$_h:$_h:$_h)
        echo "$_b" | tr '-' ':' | tr 'A-F' 'a-f'
        ;;
    *)
        cmdline_warn "ignoring BOOTIF=$_b: expected 01-aa-bb-cc-dd-ee-ff"
        return 1
        ;;
    esac
}
