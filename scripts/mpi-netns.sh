#!/usr/bin/env bash
# mpi-netns.sh - two simulated hosts on this machine, for MPI runs across a real network path.
#
# Two network namespaces (fer-h1, fer-h2), joined by a veth pair with the loopback-range
# addresses 127.10.0.1 and 127.10.0.2 (each namespace routes 127.10.0.0/24 over the veth, not
# to its own lo). mpirun starts in fer-h1 and reaches fer-h2 through this script as its
# launcher, in place of ssh; the ranks talk over TCP on the veth only (no shared memory between
# the "hosts"). Its processes are not bound to cores: the two "hosts" share this machine's.
# Needs root (ip netns).
#
#   scripts/mpi-netns.sh up [RATE]        make the hosts; RATE (e.g. 1gbit) shapes both directions
#   scripts/mpi-netns.sh mpirun ARGS...   mpirun across them: one rank per host (-np 2)
#   scripts/mpi-netns.sh down             remove them
#
# FER_NETNS (default fer-h) names the namespaces, so that two users of the script need not
# meet.
set -euo pipefail
prefix=${FER_NETNS:-fer-h}
here=$(cd "$(dirname "$0")" && pwd)

up() {
    down 2>/dev/null || true
    ip netns add "${prefix}1"
    ip netns add "${prefix}2"
    ip link add "${prefix}v1" netns "${prefix}1" type veth peer name "${prefix}v2" netns "${prefix}2"
    for n in 1 2; do
        local ns=${prefix}$n dev=${prefix}v$n
        ip -n "$ns" addr add "127.10.0.$n/24" dev "$dev"
        # 127/8 is the loopback's: let it leave through the veth, and keep only 127.0.0.1 local
        ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.route_localnet=1 \
            "net.ipv4.conf.$dev.route_localnet=1"
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "$dev" up
        ip -n "$ns" route del local 127.0.0.0/8 dev lo table local
        if [[ -n ${1:-} ]]; then
            ip netns exec "$ns" tc qdisc add dev "$dev" root tbf rate "$1" burst 256kb latency 50ms
        fi
    done
}

down() {
    ip netns del "${prefix}1" 2>/dev/null || true
    ip netns del "${prefix}2" 2>/dev/null || true
}

# mpirun's launcher: "agent [ssh options] HOST COMMAND..." runs COMMAND in HOST's namespace.
agent() {
    while [[ $# -gt 0 && $1 == -* ]]; do shift; done
    local host=$1
    shift
    case $host in
    127.10.0.1) exec ip netns exec "${prefix}1" /bin/sh -c "$*" ;;
    127.10.0.2) exec ip netns exec "${prefix}2" /bin/sh -c "$*" ;;
    *) echo "mpi-netns: unknown host $host" >&2; exit 1 ;;
    esac
}

run_mpirun() {
    local hosts
    hosts=$(mktemp /tmp/fer_hosts_XXXXXX)
    printf '127.10.0.1 slots=1\n127.10.0.2 slots=1\n' >"$hosts"
    local rc=0
    ip netns exec "${prefix}1" mpirun --hostfile "$hosts" --bind-to none \
        --mca plm_rsh_agent "$here/mpi-netns.sh agent" \
        --mca btl self,tcp --mca oob_tcp_if_include 127.10.0.0/24 \
        --mca btl_tcp_if_include 127.10.0.0/24 "$@" || rc=$?
    rm -f "$hosts"
    return $rc
}

case ${1:-} in
up) shift; up "$@" ;;
down) down ;;
agent) shift; agent "$@" ;;
mpirun) shift; run_mpirun "$@" ;;
*) echo "usage: mpi-netns.sh up [RATE] | mpirun ARGS... | down" >&2; exit 2 ;;
esac
