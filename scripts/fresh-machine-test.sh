#!/usr/bin/env bash
# fresh-machine-test.sh - proves the README's first two commands on a bare Debian 12: builds a
# minimal Debian 12 root with debootstrap (minbase, plus make to type the commands and
# ca-certificates), copies a clean clone of this repository's HEAD into it, without ../shared
# beside it, and runs there, as a new user would:
#
#   make test      every test; its last line, the total, must say 0 failed
#   make run       until GET /v1/health answers, then stopped
#
# Everything else (compilers, libraries, PostgreSQL, Chromium, npm packages) the project's
# own scripts must install. Needs root, debootstrap and the network to Debian's mirror and
# npm. The root is made in $FRESH_DIR (default /tmp/fer-fresh), removed at the end unless
# KEEP=1. The debootstrap stage is cached as $FRESH_CACHE (default
# /var/cache/fer-fresh/bookworm-minbase.tgz) so that a second run skips the download.
#
#   sudo scripts/fresh-machine-test.sh            (CI runs it from .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
root=${FRESH_DIR:-/tmp/fer-fresh}
cache=${FRESH_CACHE:-/var/cache/fer-fresh/bookworm-minbase.tgz}
mirror=${MIRROR:-http://deb.debian.org/debian}
start=$(date +%s)
say() { printf '== fresh machine (%ds): %s\n' $(($(date +%s) - start)) "$*"; }

[[ $(id -u) -eq 0 ]] || { echo "fresh-machine-test: needs root (debootstrap, chroot)" >&2; exit 2; }
if ! command -v debootstrap >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends debootstrap
fi

# Every mount under the root, deepest first: the ones made here, and the ones the tests
# made inside it (ip netns bind-mounts the root's /run/netns onto itself), also those left
# by an earlier run that was killed before its cleanup.
mounts_under_root() {
    awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
unmount_all() {
    local m
    mounts_under_root | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
remove_root() {
    unmount_all
    # never rm -rf through a mount that is still there (the root's /dev is the host's)
    if [[ -n $(mounts_under_root) ]]; then
        echo "fresh-machine-test: mounts remain under $root; not removing it" >&2
        return 1
    fi
    rm -rf "$root" 2>/dev/null || true
    if [[ -e $root ]]; then
        echo "fresh-machine-test: cannot remove $root; see: grep $root /proc/self/mountinfo" >&2
        return 1
    fi
}
cleanup() {
    # the server and anything else still running in the root
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && kill -9 "${p#/proc/}" 2>/dev/null
    done
    if [[ ${KEEP:-0} == 1 ]]; then unmount_all; else remove_root || true; fi
}
trap cleanup EXIT

remove_root
mkdir -p "$root" "$(dirname "$cache")"
if [[ ! -f $cache ]]; then
    say "debootstrap --make-tarball (once; cached as $cache)"
    debootstrap --variant=minbase --include=make,ca-certificates --make-tarball="$cache.part" \
        bookworm "$root/tarball-work" "$mirror" >/dev/null
    mv "$cache.part" "$cache"
    rm -rf "$root/tarball-work"
fi
say "debootstrap minbase bookworm into $root"
debootstrap --variant=minbase --include=make,ca-certificates --unpack-tarball="$cache" \
    bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
    { tail -20 "$root.debootstrap.log" >&2; exit 1; }
rm -f "$root.debootstrap.log"

# what a booted machine has: /proc, /sys, /dev with shared memory, DNS, the mirror
for m in proc sys dev dev/pts; do
    mkdir -p "$root/$m"
    case $m in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount -t sysfs sys "$root/sys" ;;
    dev) mount --bind /dev "$root/dev" ;;
    dev/pts) mount -t devpts devpts "$root/dev/pts" ;;
    esac
done
mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# a machine on this network trusts what this one does: where HTTPS goes through an
# intercepting proxy (npm's registry here), its CA is a local certificate of the host's
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1
fi
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
echo "deb $mirror bookworm-updates main" >>"$root/etc/apt/sources.list"

say "clean clone of $(git rev-parse --short HEAD) into /root/fer (no ../shared beside it)"
git clone -q --no-local "$repo" "$root/root/fer"
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb LANG=C.UTF-8 \
    bash -c 'command -v gcc pkg-config curl node >/dev/null && echo "not bare" || echo "bare: no gcc, pkg-config, curl or node"'

say "make test"
set +e
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    bash -c 'cd /root/fer && make test' 2>&1 | tee "$root.make-test.log" | tail -40
status=${PIPESTATUS[0]}
set -e
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$root.make-test.log" | tail -1)
say "make test exited $status; its total: ${last:-none}"
rm -f "$root.make-test.log"
if [[ $status -ne 0 || -z $last || ! $last =~ \ 0\ failed ]]; then
    echo "fresh-machine-test: make test failed on a bare Debian 12" >&2
    exit 1
fi

say "make run until /v1/health answers"
port=18765
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    PORT=$port bash -c 'cd /root/fer && make run' >"$root.make-run.log" 2>&1 &
healthy=0
for _ in $(seq 600); do
    if curl -sf "http://127.0.0.1:$port/v1/health" 2>/dev/null | grep -q '"status":"ok"'; then
        healthy=1
        break
    fi
    sleep 1
done
tail -5 "$root.make-run.log"
rm -f "$root.make-run.log"
if [[ $healthy -ne 1 ]]; then
    echo "fresh-machine-test: make run did not answer /v1/health within 10 minutes" >&2
    exit 1
fi
say "ok: make test and make run work on a bare Debian 12"
