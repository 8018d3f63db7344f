#!/usr/bin/env bash
# PostgreSQL for a Prefect server on one machine (docs/deploy.md), from Debian's `postgresql`
# package: a cluster of its own in $PGDATA, listening on 127.0.0.1:$PGPORT only, with a `prefect`
# role and database. Prefect's server belongs on PostgreSQL once it outlives one run: on SQLite
# its services log `database is locked` under concurrent writers.
#
#   deployments/local-postgres.sh          start it (made on first use; a running one is kept)
#   deployments/local-postgres.sh stop     stop it
#   export PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://prefect:prefect@127.0.0.1:5432/prefect
#
# PGDATA defaults to $PREFECT_HOME/postgres (~/.prefect/postgres); as root, where PostgreSQL runs
# as the `postgres` user, to /var/lib/postgresql/vidp-prefect. Loopback connections are trusted
# (any password is accepted), as on a developer's machine; a shared server uses the Compose stack
# or a managed PostgreSQL.
set -euo pipefail

port=${PGPORT:-5432}
as_owner=()
if [[ $(id -u) == 0 ]]; then
    as_owner=(runuser -u postgres --) # PostgreSQL refuses to run as root
    pgdata=${PGDATA:-/var/lib/postgresql/vidp-prefect}
else
    pgdata=${PGDATA:-${PREFECT_HOME:-$HOME/.prefect}/postgres}
fi
pgdata=$(realpath -m "$pgdata")
bindir=$(compgen -G "/usr/lib/postgresql/*/bin" | sort -V | tail -n 1 || true)
if [[ -z $bindir ]]; then
    echo "PostgreSQL is not installed: apt-get install postgresql (or use Docker: docs/deploy.md)" >&2
    exit 1
fi
cd / # the postgres user may not enter the caller's folder
pg_ctl=("${as_owner[@]}" "$bindir/pg_ctl" -D "$pgdata" -w)

case ${1:-start} in
start)
    if [[ ! -f $pgdata/PG_VERSION ]]; then
        mkdir -p "$pgdata"
        ((${#as_owner[@]} == 0)) || chown postgres: "$pgdata"
        "${as_owner[@]}" "$bindir/initdb" -D "$pgdata" -U prefect --auth=trust >/dev/null
    fi
    if ! "${pg_ctl[@]}" status >/dev/null; then
        # TCP on loopback only, no Unix socket: nothing to clash with a system cluster's.
        options="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        if ! "${pg_ctl[@]}" -l "$pgdata/server.log" -o "$options" start >/dev/null; then
            tail -n 5 "$pgdata/server.log" >&2
            exit 1
        fi
    fi
    psql=("$bindir/psql" -h 127.0.0.1 -p "$port" -U prefect -d postgres -qtAX)
    if [[ -z $("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'prefect'") ]]; then
        "${psql[@]}" -c "CREATE DATABASE prefect"
    fi
    echo "PostgreSQL for Prefect on 127.0.0.1:$port, data in $pgdata"
    ;;
stop)
    if "${pg_ctl[@]}" status >/dev/null; then
        "${pg_ctl[@]}" -m fast stop >/dev/null
    fi
    echo "PostgreSQL for Prefect stopped ($pgdata)"
    ;;
*)
    echo "usage: $0 [start|stop]" >&2
    exit 2
    ;;
esac
