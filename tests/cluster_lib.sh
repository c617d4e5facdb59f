# cluster_lib.sh - a deployment of docs/deploy.md on loopback, for tests/cluster.sh and
# bench/cluster.sh (sourced): a throwaway PostgreSQL, N `fer serve` on it, and nginx in front
# with the upstream of deploy/nginx-fer.conf (its upstream and location blocks, only the
# ports and the listen address changed). Everything lives in $cluster_dir; cluster_stop
# ends it all.
#
#   cluster_init DIR          the folder (must exist); finds the programs; 1 when one is
#                             missing, with $cluster_missing saying which
#   cluster_start_pg          initdb and pg_ctl start; sets $cluster_db (the URL)
#   cluster_start_servers N [ARGS]   N fer serve (ports in $cluster_ports, pids in
#                             $cluster_pids), each with --threads 1 and ARGS
#   cluster_start_nginx       nginx on 127.0.0.1:$cluster_port, access log with the upstream
#   cluster_stop_servers      nginx and the servers, to start others on the same database
#   cluster_stop              everything, PostgreSQL last
# Needs $FER (a built fer), $cluster_token (the admin token). As root, PostgreSQL runs as the
# user postgres, as Debian's does.

cluster_pids=()
cluster_ports=()
cluster_pg_bin=""
cluster_nginx_pid=""

# A free TCP port on 127.0.0.1 (asked of the kernel, then released).
cluster_free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cluster_init() {
    cluster_dir=$1
    cluster_missing=""
    local ctl
    ctl=$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -1 || true)
    [[ -n $ctl ]] || cluster_missing+=" postgresql"
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || cluster_missing+=" nginx-light"
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        cluster_missing+=" (a postgres user to run PostgreSQL as)"
    fi
    cluster_pg_bin=$(dirname "$ctl")
    [[ -z $cluster_missing ]]
}

# Runs a PostgreSQL program as the user postgres when root.
cluster_as_pg() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cluster_start_pg() {
    local pg=$cluster_dir/pg port
    mkdir -p "$pg"
    chmod 755 "$cluster_dir"
    [[ $(id -u) -ne 0 ]] || chown postgres "$pg"
    port=$(cluster_free_port)
    cluster_as_pg "$cluster_pg_bin/initdb" -D "$pg/data" -A trust -U fer -E UTF8 >"$cluster_dir/initdb.log" 2>&1 ||
        { cat "$cluster_dir/initdb.log" >&2; return 1; }
    cluster_as_pg "$cluster_pg_bin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w \
        -o "-p $port -k $pg -c listen_addresses=127.0.0.1 -c max_connections=50" start \
        >"$cluster_dir/pg_ctl.log" 2>&1 || { cat "$cluster_dir/pg_ctl.log" "$pg/server.log" >&2; return 1; }
    cluster_db="postgresql://fer@127.0.0.1:$port/postgres"
}

# Starts one fer serve on a free port; appends to cluster_ports and cluster_pids.
cluster_start_server() {
    local port i log
    port=$(cluster_free_port)
    i=${#cluster_ports[@]}
    log=$cluster_dir/serve$i.log
    "$FER" serve --host 127.0.0.1 --port "$port" --db "$cluster_db" --threads 1 \
        --admin-token "$cluster_token" "$@" >"$log" 2>&1 &
    cluster_pids+=($!)
    disown $! # a server the test kills is no job of the shell's to report
    cluster_ports+=("$port")
}

cluster_start_servers() {
    local n=$1 i p
    shift
    for ((i = 0; i < n; i++)); do cluster_start_server "$@"; done
    for p in "${cluster_ports[@]}"; do
        for _ in $(seq 300); do
            curl -sf "http://127.0.0.1:$p/v1/health" >/dev/null 2>&1 && continue 2
            sleep 0.1
        done
        echo "cluster: fer serve on port $p did not answer /v1/health:" >&2
        cat "$cluster_dir"/serve*.log >&2
        return 1
    done
}

# nginx.conf: the shipped file's upstream and location blocks in a self-contained http block.
cluster_start_nginx() {
    local conf=$cluster_dir/nginx.conf servers="" p
    cluster_port=$(cluster_free_port)
    for p in "${cluster_ports[@]}"; do
        servers+="    server 127.0.0.1:$p max_fails=1 fail_timeout=10s;\n"
    done
    mkdir -p "$cluster_dir/nginx"
    {
        echo "worker_processes 1;"
        echo "pid $cluster_dir/nginx/nginx.pid;"
        echo "error_log $cluster_dir/nginx/error.log warn;"
        [[ $(id -u) -ne 0 ]] || echo "user root root;"
        echo "events { worker_connections 1024; }"
        echo "http {"
        echo "  log_format upstreams '\$request_method \$uri \$status upstream=\$upstream_addr \$upstream_status';"
        echo "  access_log $cluster_dir/nginx/access.log upstreams;"
        for t in client_body proxy fastcgi uwsgi scgi; do
            echo "  ${t}_temp_path $cluster_dir/nginx/$t;"
        done
        # the shipped configuration: its upstream servers and port replaced, the rest as is
        awk -v servers="$servers" -v listen="$cluster_port" '
            /^ *server 127\.0\.0\.1:[0-9]+/ { if (!done) { printf "%s", servers; done = 1 } next }
            /^ *listen \[::\]:80;/ { next }
            /^ *listen 80;/ { print "    listen 127.0.0.1:" listen ";"; next }
            { print }' deploy/nginx-fer.conf
        echo "}"
    } >"$conf"
    nginx -t -c "$conf" -p "$cluster_dir/nginx" >"$cluster_dir/nginx-t.log" 2>&1 ||
        { cat "$cluster_dir/nginx-t.log" >&2; return 1; }
    nginx -c "$conf" -p "$cluster_dir/nginx" -g 'daemon off;' >"$cluster_dir/nginx.log" 2>&1 &
    cluster_nginx_pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$cluster_port/v1/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "cluster: nginx did not answer on port $cluster_port" >&2
    cat "$cluster_dir/nginx.log" "$cluster_dir/nginx/error.log" >&2
    return 1
}

# Stops nginx and the servers (SIGTERM, up to 5 s each); PostgreSQL keeps running.
cluster_stop_servers() {
    local p
    [[ -z $cluster_nginx_pid ]] || kill "$cluster_nginx_pid" 2>/dev/null || true
    for p in "${cluster_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${cluster_pids[@]}" $cluster_nginx_pid; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    cluster_pids=()
    cluster_ports=()
    cluster_nginx_pid=""
}

cluster_stop() {
    cluster_stop_servers
    wait 2>/dev/null || true
    if [[ -n $cluster_pg_bin && -d $cluster_dir/pg/data ]]; then
        cluster_as_pg "$cluster_pg_bin/pg_ctl" -D "$cluster_dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}
