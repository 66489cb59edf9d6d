#!/usr/bin/env bash
# Private services for tests and the demo: a PostgreSQL cluster on a Unix socket (no TCP) and, when
# asked, pcscd with the vsmartcard virtual readers. Source this file, then call start_postgres /
# start_pcscd; stop_services (also run on EXIT) stops exactly what was started, by PID.
# shellcheck shell=bash

MYNAPOINT_SERVICES_DIR=${MYNAPOINT_SERVICES_DIR:-}
_started_pg_data=""
_started_pcscd_pid=""

_pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
    echo "services: PostgreSQL server binaries (initdb) not found; run Scripts/install-deps.sh" >&2
    return 1
}

_as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# start_postgres DIR — initdb a new cluster in DIR/pgdata, start it with its socket in DIR/socket,
# and export PGHOST, PGPORT, PGUSER, PGDATABASE for libpq.
start_postgres() {
    local base=$1 bin
    bin=$(_pg_bin) || return 1
    rm -rf "$base/pgdata" "$base/socket"
    mkdir -p "$base/socket"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$base"; fi
    _as_postgres "$bin/initdb" -D "$base/pgdata" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        >"$base/initdb.log" 2>&1 || { cat "$base/initdb.log" >&2; return 1; }
    # The superuser connects by trust on the socket; every other role must give its password.
    cat >"$base/pgdata/pg_hba.conf" <<HBA
local all postgres trust
local all all scram-sha-256
HBA
    cat >>"$base/pgdata/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$base/socket'
port = 5432
fsync = on
synchronous_commit = on
shared_buffers = 512MB
max_wal_size = 4GB
checkpoint_timeout = 15min
max_connections = 200
max_prepared_transactions = 64
log_min_messages = warning
CONF
    _as_postgres "$bin/pg_ctl" -D "$base/pgdata" -l "$base/postgres.log" -w -t 60 start >/dev/null || {
        cat "$base/postgres.log" >&2
        return 1
    }
    _started_pg_data="$base/pgdata"
    export PGHOST="$base/socket" PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
    unset PGPASSWORD DATABASE_URL
    echo "services: PostgreSQL started (socket $PGHOST, pid $(head -1 "$base/pgdata/postmaster.pid"))" >&2
}

# start_pcscd DIR — start pcscd in the foreground mode, in the background, logging to DIR/pcscd.log.
start_pcscd() {
    local base=$1
    mkdir -p "$base"
    if pgrep -x pcscd >/dev/null; then
        echo "services: pcscd is already running (pid $(pgrep -x pcscd | head -1)); using it" >&2
        return 0
    fi
    rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
    mkdir -p /run/pcscd
    pcscd -f >"$base/pcscd.log" 2>&1 &
    _started_pcscd_pid=$!
    local i
    for i in $(seq 1 50); do
        [ -S /run/pcscd/pcscd.comm ] && break
        sleep 0.1
    done
    [ -S /run/pcscd/pcscd.comm ] || { echo "services: pcscd did not start; see $base/pcscd.log" >&2; return 1; }
    export MYNAPOINT_PCSCD=1
    echo "services: pcscd started (pid $_started_pcscd_pid)" >&2
}

stop_services() {
    if [ -n "$_started_pcscd_pid" ]; then
        kill "$_started_pcscd_pid" 2>/dev/null || true
        wait "$_started_pcscd_pid" 2>/dev/null || true
        rm -f /run/pcscd/pcscd.comm
        _started_pcscd_pid=""
    fi
    if [ -n "$_started_pg_data" ]; then
        local bin pid
        bin=$(_pg_bin)
        pid=$(head -1 "$_started_pg_data/postmaster.pid" 2>/dev/null || true)
        _as_postgres "$bin/pg_ctl" -D "$_started_pg_data" -m fast -w stop >/dev/null 2>&1 ||
            { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; }
        _started_pg_data=""
    fi
}
