#!/usr/bin/env bash
# cluster.sh - several `fer serve` behind nginx on one PostgreSQL, as docs/deploy.md deploys
# them (deploy/nginx-fer.conf's upstream, on loopback): three servers, clients that send
# predictions and feedback through nginx, one server killed with SIGKILL in the middle.
# Checks that every acknowledged feedback is in the export once, nothing else is, every
# server took requests, the survivors kept answering, and the restarted server joins again;
# and systemd-analyze verifies deploy/fer@.service where systemd is installed.
#
# $FER (make test: the sanitizer build) serves. Skips when PostgreSQL or nginx is missing
# (make deps installs both). Ends with "N passed, N failed, N skipped"; KEEP=1 keeps $tmp.
set -u
FER=${FER:-build/fer}
tmp=$(mktemp -d /tmp/fer_cluster_XXXXXX)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster_lib.sh"
cluster_token=cluster-test-token
trap 'cluster_stop; [[ -n ${KEEP:-} ]] || rm -rf "$tmp"' EXIT
photo=tests/data/photos/two_portraits.jpg
feedback=${FEEDBACK:-120}

if ! cluster_init "$tmp"; then
    skip "PostgreSQL and nginx: missing$cluster_missing (make deps installs them)"
    summary
    exit 0
fi
if ! cluster_start_pg; then
    bad "a PostgreSQL server starts"
    summary
    exit 1
fi
if cluster_start_servers 3 --quiet && cluster_start_nginx; then
    ok "3 fer serve on one PostgreSQL, nginx in front (deploy/nginx-fer.conf's upstream)"
else
    bad "3 fer serve and nginx start"
    summary
    exit 1
fi

# The clients: 4 at once; the second server dies after a third of the feedback.
victim=${cluster_pids[1]}
/usr/bin/python3 tests/cluster/client.py "http://127.0.0.1:$cluster_port" "$photo" \
    "$cluster_token" "$feedback" 4 "$victim" $((feedback / 3)) "$tmp/result.json"
field() { /usr/bin/python3 -c "import json,sys; print(json.load(open('$tmp/result.json'))['$1'])"; }
if [[ ! -s $tmp/result.json ]]; then
    bad "the clients ran (no result)"
    summary
    exit 1
fi
[[ $(field acknowledged) -eq $feedback ]] && ok "all $feedback feedback rows acknowledged, $(field retries) requests sent again" ||
    bad "acknowledged $(field acknowledged) of $feedback; failures: $(field failures)"
[[ $(field killed_at) != None ]] && ! kill -0 "$victim" 2>/dev/null &&
    ok "one server killed with SIGKILL after $(field killed_at) acknowledged" ||
    bad "the server was not killed"
[[ $(field missing) -eq 0 && $(field wrong) -eq 0 ]] &&
    ok "every acknowledged row is in the export with its face and emotion" ||
    bad "missing $(field missing), wrong $(field wrong)"
[[ $(field duplicate_ids_in_export) -eq 0 && $(field export_rows) -eq $(field distinct_ids_acknowledged) ]] &&
    ok "the export holds each row once: $(field export_rows) rows for $(field distinct_ids_acknowledged) acknowledged ids" ||
    bad "export rows $(field export_rows), duplicates $(field duplicate_ids_in_export), acknowledged ids $(field distinct_ids_acknowledged)"
[[ $(field unacknowledged_rows) -eq 0 && $(field keys_acknowledged_twice) -eq 0 ]] &&
    ok "no row the clients were not told about, no key stored twice" ||
    bad "$(field unacknowledged_rows) rows never acknowledged, $(field keys_acknowledged_twice) keys twice"

# nginx's log: each server took requests; after the kill, the survivors answered.
log=$tmp/nginx/access.log
all=1
for p in "${cluster_ports[@]}"; do grep -q "upstream=[^ ]*127.0.0.1:$p" "$log" || all=0; done
[[ $all -eq 1 ]] && ok "nginx sent requests to each of the 3 servers" || bad "a server got no requests"
after=$(awk -v dead="127.0.0.1:${cluster_ports[1]}" 'index($0, dead) { seen = 1; next } seen && / 20[01] / { n++ } END { print n + 0 }' "$log")
[[ $after -gt 0 ]] && ok "after the kill, the other two answered $after requests" ||
    bad "no request answered after the kill"
contains "nginx logged the dead server" "$tmp/nginx/error.log" "127.0.0.1:${cluster_ports[1]}"

# A server that comes back on its port is used again (after fail_timeout, 10 s).
"$FER" serve --host 127.0.0.1 --port "${cluster_ports[1]}" --db "$cluster_db" --threads 1 \
    --admin-token "$cluster_token" --quiet >"$tmp/serve1-again.log" 2>&1 &
cluster_pids+=($!)
disown $!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:${cluster_ports[1]}/v1/health" >/dev/null && break; sleep 0.1; done
sleep 10.5
cp "$log" "$log.before"
for _ in $(seq 9); do curl -sf -o /dev/null "http://127.0.0.1:$cluster_port/v1/health"; done
back=$(diff "$log.before" "$log" | grep -c "upstream=127.0.0.1:${cluster_ports[1]}")
[[ $back -gt 0 ]] && ok "the restarted server takes requests again ($back of 9)" ||
    bad "the restarted server got none of 9 requests"
rows=$(curl -s -H "Authorization: Bearer $cluster_token" \
    "http://127.0.0.1:${cluster_ports[1]}/v1/feedback/export?format=all" | tail -n +2 | wc -l)
[[ $rows -eq $(field export_rows) ]] && ok "it exports the same $rows rows" ||
    bad "it exports $rows rows, not $(field export_rows)"

# The systemd unit: systemd's own check, with ExecStart pointing at this build.
if command -v systemd-analyze >/dev/null && [[ -d /run/systemd/system || -x /lib/systemd/systemd ]]; then
    sed "s#/opt/fer/build/fer#$(realpath "$FER")#" deploy/fer@.service >"$tmp/fer@8081.service"
    if systemd-analyze verify --man=no "$tmp/fer@8081.service" >"$tmp/verify.log" 2>&1 &&
        [[ ! -s $tmp/verify.log ]]; then
        ok "systemd-analyze verify finds nothing wrong with deploy/fer@.service"
    else
        bad "systemd-analyze verify deploy/fer@.service: $(head -3 "$tmp/verify.log")"
    fi
else
    skip "systemd-analyze is not here (systemd not installed): deploy/fer@.service unchecked"
fi

cluster_stop # SIGTERM: each server ends as a user's would, and the sanitizer says its piece
if grep -l "Sanitizer" "$tmp"/serve*.log >/dev/null 2>&1; then
    bad "a server's log has a sanitizer report: $(grep -l Sanitizer "$tmp"/serve*.log | head -1)"
    grep -h -A5 "Sanitizer" "$tmp"/serve*.log | head -20 >&2
else
    ok "the servers stopped cleanly, no sanitizer report"
fi
summary
