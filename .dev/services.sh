#!/usr/bin/env bash
# Starts (or stops) the real services Sieve's replicas share: a throwaway PostgreSQL cluster
# for the metadata and a single-node Garage (S3-compatible) for the blobs, with their data in
# DIR. Idempotent: `start` on a DIR whose services run only prints their settings again.
#
#   bash .dev/services.sh start DIR   start both; prints the `export …` lines a replica needs
#   bash .dev/services.sh stop DIR [postgres|garage]
#                                     stop both, or one (their data stays in DIR)
#
# Needs `bash .dev/setup.sh --services-only` first (Debian postgresql, Garage from crates.io).
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user that
# Debian's package creates. Both listen on 127.0.0.1 only, on free ports chosen at first
# start; PostgreSQL trusts local connections (a throwaway cluster for tests and trials, not
# for production: use your own PostgreSQL and S3 there).

# shellcheck source=.dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
}
[[ $# -eq 2 || ($# -eq 3 && $1 == stop) ]] || usage
action="$1"
only="${3:-}"
mkdir -p "$2"
DIR="$(cd "$2" && pwd)"
ENV_FILE="$DIR/env.sh"
BUCKET=sieve
REGION=garage

# A TCP port nothing listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a command as the cluster's owner: the current user, or `postgres` when we are root.
as_pg_user() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Waits until `$@` succeeds (up to 30 s).
wait_for() {
    local i
    for ((i = 0; i < 300; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# The cluster's directory: DIR/postgres, or (as root, when the postgres user cannot reach DIR,
# e.g. under /root) a directory in /var/tmp that DIR/postgres links to.
postgres_dir() {
    if [[ -L $DIR/postgres ]]; then
        readlink -f "$DIR/postgres"
    elif [[ $EUID -ne 0 ]] || runuser -u postgres -- test -x "$DIR" 2>/dev/null; then
        echo "$DIR/postgres"
    else
        local dir
        dir="/var/tmp/sieve-postgres-$(printf '%s' "$DIR" | sha256sum | cut -c1-12)"
        mkdir -p "$dir"
        ln -sfn "$dir" "$DIR/postgres"
        echo "$dir"
    fi
}

start_postgres() {
    local bin pgdata port_file="$DIR/postgres.port" port
    bin="$(postgres_bin_dir)"
    [[ -n $bin ]] || die "no PostgreSQL server binaries: run bash .dev/setup.sh --services-only"
    pgdata="$(postgres_dir)"
    if [[ ! -f $pgdata/PG_VERSION ]]; then
        mkdir -p "$pgdata/"
        [[ $EUID -eq 0 ]] && chown postgres: "$pgdata/"
        chmod 700 "$pgdata/"
        as_pg_user "$bin/initdb" -D "$pgdata" -U sieve --auth=trust --encoding=UTF8 --no-locale >"$DIR/initdb.log" ||
            die "initdb failed: $DIR/initdb.log"
        free_port >"$port_file"
    fi
    port="$(cat "$port_file")"
    if ! as_pg_user "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        # Sockets in the data dir (not /var/run/postgresql, which may not exist or be ours).
        as_pg_user "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $pgdata -c max_connections=200 -c fsync=on" start >/dev/null ||
            die "PostgreSQL did not start: $pgdata/server.log"
    fi
    wait_for "$bin/pg_isready" -h 127.0.0.1 -p "$port" || die "PostgreSQL is not accepting connections on $port"
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U sieve -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'sieve'" | grep -q 1; then
        "$bin/psql" -h 127.0.0.1 -p "$port" -U sieve -d postgres -qc "CREATE DATABASE sieve" || die "CREATE DATABASE failed"
    fi
    PG_URL="postgres://sieve@127.0.0.1:$port/sieve"
}

stop_postgres() {
    local bin pgdata
    pgdata="$(readlink -f "$DIR/postgres")"
    bin="$(postgres_bin_dir)"
    [[ -n $bin && -f $pgdata/PG_VERSION ]] || return 0
    if as_pg_user "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        as_pg_user "$bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
        note "PostgreSQL stopped"
    fi
}

garage_cli() {
    garage -c "$DIR/garage/garage.toml" "$@"
}

garage_running() {
    [[ -f $DIR/garage/pid ]] && kill -0 "$(cat "$DIR/garage/pid")" 2>/dev/null
}

start_garage() {
    command -v garage >/dev/null || die "no garage binary: run bash .dev/setup.sh --services-only"
    local conf="$DIR/garage/garage.toml"
    mkdir -p "$DIR/garage"
    if [[ ! -f $conf ]]; then
        local rpc s3 admin secret
        rpc="$(free_port)" s3="$(free_port)" admin="$(free_port)"
        secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        cat >"$conf" <<EOF
metadata_dir = "$DIR/garage/meta"
data_dir = "$DIR/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$secret"

[s3_api]
s3_region = "$REGION"
api_bind_addr = "127.0.0.1:$s3"

[admin]
api_bind_addr = "127.0.0.1:$admin"
EOF
    fi
    if ! garage_running; then
        nohup garage -c "$conf" server >"$DIR/garage/server.log" 2>&1 &
        echo $! >"$DIR/garage/pid"
        wait_for garage_cli status || die "Garage did not start: $DIR/garage/server.log"
    fi
    local node key_file="$DIR/garage/key"
    # A single-node layout, once.
    if ! garage_cli layout show 2>/dev/null | grep -q "Current cluster layout version: [1-9]"; then
        node="$(garage_cli node id -q | cut -d@ -f1)"
        garage_cli layout assign -z dc1 -c 1G "$node" >/dev/null
        garage_cli layout apply --version 1 >/dev/null
    fi
    if ! garage_cli bucket info "$BUCKET" >/dev/null 2>&1; then
        wait_for garage_cli bucket create "$BUCKET" || die "creating the bucket failed: $DIR/garage/server.log"
    fi
    if [[ ! -s $key_file ]]; then
        garage_cli key create sieve-key >"$key_file.out"
        awk '/Key ID:/ { print "AWS_ACCESS_KEY_ID=" $NF } /Secret key:/ { print "AWS_SECRET_ACCESS_KEY=" $NF }' "$key_file.out" >"$key_file"
        rm -f "$key_file.out"
        garage_cli bucket allow --read --write --owner "$BUCKET" --key sieve-key >/dev/null
    fi
    S3_PORT="$(sed -n 's/^api_bind_addr = "127.0.0.1:\([0-9]*\)"$/\1/p' "$conf" | head -n 1)"
}

stop_garage() {
    if garage_running; then
        local pid
        pid="$(cat "$DIR/garage/pid")"
        kill "$pid"
        wait_for bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid"
        note "Garage stopped"
    fi
    rm -f "$DIR/garage/pid"
}

case "$action" in
    start)
        start_postgres
        start_garage
        # shellcheck disable=SC1090,SC1091
        source "$DIR/garage/key"
        cat >"$ENV_FILE" <<EOF
export SIEVE_META_URL=$PG_URL
export SIEVE_BLOB_URL=s3://$BUCKET/blobs
export AWS_ENDPOINT=http://127.0.0.1:$S3_PORT
export AWS_ALLOW_HTTP=true
export AWS_DEFAULT_REGION=$REGION
export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
EOF
        cat "$ENV_FILE"
        ;;
    stop)
        [[ $only == "" || $only == garage ]] && stop_garage
        [[ $only == "" || $only == postgres ]] && stop_postgres
        [[ $only == "" || $only == garage || $only == postgres ]] || usage
        ;;
    *) usage ;;
esac
