#!/usr/bin/env bash
# cluster.sh - requests per second of POST /v1/predict through nginx against the number of
# `fer serve` behind it, all on one PostgreSQL (tests/cluster_lib.sh: the deployment of
# docs/deploy.md on loopback). Each server analyses one image at a time (--threads 1), so
# the servers are the unit of scale; one server with --threads 2 and no nginx is the
# baseline of threads in one process. wrk holds CONNECTIONS (default 8) requests open for
# SECONDS_EACH (default 10) per row, after a 2 s warm-up; the body is a repository photo
# with two faces, sent raw. Prints a table and keeps it in bench/out/cluster.md.
#
#   bash bench/cluster.sh              SERVERS="1 2" SECONDS_EACH=5 bash bench/cluster.sh
# Needs build/fer, wrk, nginx-light, postgresql (scripts/install-deps.sh --bench).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_EACH:-10}
conns=${CONNECTIONS:-8}
counts=${SERVERS:-1 2 3 4}
FER=${FER:-build/fer}
photo=tests/data/photos/two_portraits.jpg
command -v wrk >/dev/null || { echo "cluster.sh: wrk missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
[[ -x $FER ]] || { echo "cluster.sh: $FER not built (make)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/fer_cluster_bench_XXXXXX)
source tests/cluster_lib.sh
cluster_token=bench-token
trap 'cluster_stop; rm -rf "$tmp"' EXIT
cluster_init "$tmp" || { echo "cluster.sh: missing$cluster_missing" >&2; exit 1; }
cluster_start_pg
mkdir -p bench/out

export FER_BENCH_PHOTO="$PWD/$photo" # for bench/predict.lua

# measure LABEL URL: one row of the table
measure() {
    wrk -t1 -c2 -d2s -s bench/predict.lua "$2" >/dev/null 2>&1 || true
    local line
    line=$(wrk -t2 -c"$conns" -d"${secs}s" --timeout 30s -s bench/predict.lua "$2" | grep '^RESULT' || true)
    echo "$1 ${line:-RESULT 0 1 0 0 -1}" >>"$tmp/results"
    echo "  $1: ${line:-none}" >&2
}

: >"$tmp/results"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run" | tee "$tmp/machine"
cluster_start_servers 1 --quiet --threads 2
measure "one-server-2-threads-direct" "http://127.0.0.1:${cluster_ports[0]}/v1/predict"
cluster_stop_servers
for n in $counts; do
    cluster_start_servers "$n" --quiet
    cluster_start_nginx
    : >"$tmp/nginx/access.log"
    measure "$n" "http://127.0.0.1:$cluster_port/v1/predict"
    # how nginx shared the requests among the servers
    grep -o 'upstream=[0-9.:]*' "$tmp/nginx/access.log" | sort | uniq -c | awk '{print $1}' |
        sort -rn | paste -sd/ >"$tmp/share$n"
    cluster_stop_servers
done

/usr/bin/python3 - "$tmp" "$secs" "$conns" <<'PY' | tee bench/out/cluster.md
import os, sys
tmp, secs, conns = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [l.split() for l in open(os.path.join(tmp, "results"))]
print(f"POST /v1/predict through nginx, {conns} connections, {secs} s per row, "
      "tests/data/photos/two_portraits.jpg (2 faces), one PostgreSQL; "
      + open(os.path.join(tmp, "machine")).read().strip())
print()
print("| servers (1 thread each) | req/s | p50 ms | p99 ms | errors | requests per server | vs 1 server |")
print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
base = None
for r in rows:
    label, n, dur, p50, p99, errs = r[0], int(r[2]), float(r[3]), float(r[4]), float(r[5]), int(r[6])
    rate = n / dur if dur else 0
    if label == "1":
        base = rate
    share = "-"
    path = os.path.join(tmp, f"share{label}")
    if os.path.exists(path):
        share = open(path).read().strip()
    name = "1, with 2 threads, no nginx" if label.startswith("one") else label
    ratio = f"{rate / base:.2f}x" if base and not label.startswith("one") else "-"
    print(f"| {name} | {rate:.1f} | {p50:.0f} | {p99:.0f} | {errs} | {share} | {ratio} |")
PY
