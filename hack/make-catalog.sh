#!/usr/bin/env bash
# make-catalog.sh — make a real barman-cloud catalog with PostgreSQL 15 and barman-cli-cloud.
#
# Usage: hack/make-catalog.sh WORKDIR
#
# Starts the Versity S3 gateway (bin/versitygw, from `make tools`) on 127.0.0.1 over
# WORKDIR/s3, runs PostgreSQL (as the postgres user when run as root) with archive_command =
# barman-cloud-wal-archive into s3://catalog/pg/<server>, and writes, for server "pg-main":
#   lineage A  backups b1-tl1 (uncompressed, CloudNativePG's default) and b2-tl1 (bzip2) on
#              timeline 1, a restore point rp-between, a 700000-row ballast table; WAL compressed
#              with gzip, then bzip2 after b1, then none after b2 (one continuous run); a promotion
#              to timeline 2 (00000002.history); backup b3-tl2 (gzip) on timeline 2; more WAL on it;
#              marker rows in table marks (WORKDIR/markers.tsv: label, commit time, LSN, xid)
#   lineage B  a second cluster made with initdb archiving into the same path (the runbook's
#              incident): a new systemid, timeline 1, one backup b4-rebuilt; its WAL overwrites
#              lineage A's first timeline-1 segments (which no backup of A needs)
# The bucket directory WORKDIR/s3/catalog is the catalog in barman's layout (versitygw's posix
# backend stores objects as files), usable as a local catalog: file://WORKDIR/s3/catalog/pg.
# and, for server "pg-rebuilt", a cluster rebuilt into the path of one that had been promoted
# (see the end of this script).
# WORKDIR/env holds the endpoint and keys for tools that want S3. Everything started is stopped
# on exit; WORKDIR/markers.tsv records what was written when.
set -euo pipefail

work=$(realpath -m "${1:?usage: make-catalog.sh WORKDIR}")
top=$(cd "$(dirname "$0")/.." && pwd)
vgw=${VERSITYGW:-$top/bin/versitygw}
pgbin=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
server=pg-main
for tool in "$vgw" "$pgbin/initdb" "$(command -v barman-cloud-backup || true)"; do
  [ -n "$tool" ] && [ -x "$tool" ] || { echo "make-catalog: missing $tool (run: make tools)" >&2; exit 1; }
done

rm -rf "$work"
mkdir -p "$work/s3/catalog" "$work/run"
chmod 777 "$work" "$work/run"
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -w "$work"; then
  echo "make-catalog: the postgres user cannot write $work (PostgreSQL refuses to run as root); use a WORKDIR under a world-readable path" >&2
  exit 1
fi

export AWS_ACCESS_KEY_ID=catalogadmin AWS_SECRET_ACCESS_KEY=catalogsecret AWS_DEFAULT_REGION=us-east-1
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
endpoint=http://127.0.0.1:$port
dest=s3://catalog/pg

pids=()
cleanup() {
  for d in "$work"/pgdata-*; do
    [ -f "$d/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- env AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
      AWS_DEFAULT_REGION="$AWS_DEFAULT_REGION" PATH="$PATH" "$@"
  else
    "$@"
  fi
}

ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
  "$vgw" --port "127.0.0.1:$port" posix "$work/s3" >"$work/versitygw.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  /usr/bin/python3 - "$endpoint" <<'PY' 2>/dev/null && break
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).list_buckets()
PY
  sleep 0.1
done
# versitygw's posix backend serves the directories under its root as buckets; make sure S3
# sees "catalog" (CreateBucket on an existing directory is refused, which is fine).
/usr/bin/python3 - "$endpoint" <<'PY' || true
import sys, boto3
c = boto3.client("s3", endpoint_url=sys.argv[1])
names = [b["Name"] for b in c.list_buckets().get("Buckets", [])]
if "catalog" not in names:
    c.create_bucket(Bucket="catalog")
PY
cat >"$work/env" <<ENV
ENDPOINT=$endpoint
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
AWS_DEFAULT_REGION=$AWS_DEFAULT_REGION
DEST=$dest
SERVER=$server
ENV

pgport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sock=$work/run
psqlc() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$pgport" -d postgres "$@"; }
sql() { psqlc -At -c "$1"; }

start_cluster() { # name
  local d=$work/pgdata-$1
  as_pg "$pgbin/initdb" -D "$d" -A trust -U postgres --no-sync >/dev/null
  cat >>"$d/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
port = $pgport
wal_level = replica
archive_mode = on
archive_command = 'barman-cloud-wal-archive -z --endpoint-url $endpoint $dest $server %p'
restore_command = 'barman-cloud-wal-restore --endpoint-url $endpoint $dest $server %f %p'
archive_timeout = 0
fsync = off
track_commit_timestamp = on
max_prepared_transactions = 2
CONF
  as_pg "$pgbin/pg_ctl" -D "$d" -l "$work/$1.log" -w start >/dev/null
}

archive_with() { # flags: change the archive command's compression (-z gzip, -j bzip2, "" none);
  # barman-cloud takes it per call, so a catalog mixes suffixes along one run of WAL
  sql "ALTER SYSTEM SET archive_command = 'barman-cloud-wal-archive $1 --endpoint-url $endpoint $dest $server %p'" >/dev/null
  sql "SELECT pg_reload_conf()" >/dev/null
  sleep 0.5 # the archiver rereads its configuration asynchronously
}
switch_wal() { sql "SELECT pg_switch_wal()" >/dev/null; }
wait_archived() { # wait until the last switched segment is archived; after 3 failed tries of
  # archive_command (a loaded S3 server) the archiver waits a minute before the next: wait 2
  local want
  want=$(sql "SELECT pg_walfile_name(pg_current_wal_lsn() - 1)")
  for _ in $(seq 1200); do
    [ "$(sql "SELECT coalesce(last_archived_wal,'') >= '$want' FROM pg_stat_archiver")" = t ] && return 0
    sleep 0.1
  done
  echo "make-catalog: $want was not archived; see $work/*.log" >&2
  return 1
}
mark() { # label: insert a marker row; record label, commit time, LSN after the commit, and xid
  local xid
  xid=$(sql "INSERT INTO marks(label) VALUES ('$1') RETURNING txid_current()")
  sql "SELECT label, to_char(at AT TIME ZONE 'UTC','YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), pg_current_wal_lsn(), $xid FROM marks WHERE label='$1'" | tr '|' '\t' >>"$work/markers.tsv"
  sleep 0.2 # keep marker commit times apart, for time targets between them
}
restore_point() { # name: pg_create_restore_point, recorded like a marker
  printf 'point\t%s\t%s\n' "$1" "$(sql "SELECT pg_create_restore_point('$1')")" >>"$work/markers.tsv"
}
backup() { # name [compression flag: -z gzip (default), -j bzip2, "" none, CloudNativePG's default]
  local z=${2--z}
  # shellcheck disable=SC2086 # an empty flag is no flag
  as_pg barman-cloud-backup $z --immediate-checkpoint -n "$1" --endpoint-url "$endpoint" \
    -h "$sock" -p "$pgport" -U postgres "$dest" "$server" >/dev/null
  printf 'backup\t%s\t%s\n' "$1" "$(sql "SELECT pg_current_wal_lsn()")" >>"$work/markers.tsv"
}

# Lineage A.
start_cluster a
sql "CREATE TABLE marks(id serial PRIMARY KEY, label text, at timestamptz DEFAULT clock_timestamp())"
sql "CREATE TABLE payload AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1,20000) g"
# Ballast: lineage A holds about three times what an empty cluster does, so the verification of
# its restore tells the empty rebuilt lineage B apart by size alone.
sql "CREATE TABLE ballast AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1,700000) g"
# Fill a few segments first: lineage B will reuse (overwrite) the first segment names.
for i in 1 2 3 4 5 6; do sql "INSERT INTO payload VALUES (-$i, 'filler')" >/dev/null; switch_wal; done
wait_archived
mark a-before-b1
backup b1-tl1 ""  # uncompressed, as CloudNativePG backs up by default
mark a-after-b1
switch_wal; wait_archived
archive_with -j
sql "INSERT INTO payload SELECT g, md5(g::text) FROM generate_series(20001,40000) g"
mark a-between-b1-b2
# A prepared transaction committed, one rolled back and a plain rollback: the WAL reader's
# differential test compares their records (COMMIT_PREPARED, ABORT_PREPARED, ABORT) with
# pg_waldump's. They touch no marker.
sql "CREATE TABLE twophase(x int)"
psqlc >/dev/null <<'SQL'
BEGIN; INSERT INTO twophase VALUES (1); PREPARE TRANSACTION 'tp-commit';
COMMIT PREPARED 'tp-commit';
BEGIN; INSERT INTO twophase VALUES (2); PREPARE TRANSACTION 'tp-rollback';
ROLLBACK PREPARED 'tp-rollback';
BEGIN; INSERT INTO twophase VALUES (3); ROLLBACK;
SQL
restore_point rp-between
mark a-before-b2
backup b2-tl1 -j
mark a-after-b2
archive_with ""
switch_wal; wait_archived
# Promotion: restart as a standby replaying the archive, then promote to timeline 2.
as_pg "$pgbin/pg_ctl" -D "$work/pgdata-a" -w stop >/dev/null
touch "$work/pgdata-a/standby.signal"; chown --reference="$work/pgdata-a" "$work/pgdata-a/standby.signal"
as_pg "$pgbin/pg_ctl" -D "$work/pgdata-a" -l "$work/a.log" -w start >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pgdata-a" -w promote >/dev/null
for _ in $(seq 100); do [ "$(sql "SELECT pg_is_in_recovery()")" = f ] && break; sleep 0.1; done
mark a-tl2-start
switch_wal; wait_archived
backup b3-tl2
mark a-after-b3
sql "INSERT INTO payload SELECT g, md5(g::text) FROM generate_series(40001,50000) g"
switch_wal
mark a-last
switch_wal; wait_archived
as_pg "$pgbin/pg_ctl" -D "$work/pgdata-a" -w stop >/dev/null

# Lineage B: a cluster rebuilt with initdb, archiving into the same server path.
sleep 1
start_cluster b
sql "CREATE TABLE marks(id serial PRIMARY KEY, label text, at timestamptz DEFAULT clock_timestamp())"
mark b-start
backup b4-rebuilt
switch_wal; wait_archived
as_pg "$pgbin/pg_ctl" -D "$work/pgdata-b" -w stop >/dev/null

# Server pg-rebuilt: lineage C is promoted to timeline 2 early (a few segments in) and archives
# a little of it; lineage D, rebuilt with initdb into the same path, takes a backup before C's
# switch point and archives timeline 1 well past it. C's 00000002.history and timeline 2 WAL
# stay: with recovery_target_timeline = latest, PostgreSQL would follow them out of D's WAL.
server=pg-rebuilt
start_cluster c
sql "CREATE TABLE marks(id serial PRIMARY KEY, label text, at timestamptz DEFAULT clock_timestamp())"
for i in 1 2 3 4 5; do sql "INSERT INTO marks(label) VALUES ('c-fill-$i')"; switch_wal; done # a switch needs WAL to switch from
wait_archived
as_pg "$pgbin/pg_ctl" -D "$work/pgdata-c" -w stop >/dev/null
touch "$work/pgdata-c/standby.signal"; chown --reference="$work/pgdata-c" "$work/pgdata-c/standby.signal"
as_pg "$pgbin/pg_ctl" -D "$work/pgdata-c" -l "$work/c.log" -w start >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pgdata-c" -w promote >/dev/null
for _ in $(seq 100); do [ "$(sql "SELECT pg_is_in_recovery()")" = f ] && break; sleep 0.1; done
mark c-tl2
switch_wal; mark c-tl2-more; switch_wal; wait_archived
as_pg "$pgbin/pg_ctl" -D "$work/pgdata-c" -w stop >/dev/null
sleep 1
start_cluster d
sql "CREATE TABLE marks(id serial PRIMARY KEY, label text, at timestamptz DEFAULT clock_timestamp())"
mark d-before-backup
backup d-rebuilt
for i in 1 2 3 4 5 6 7 8; do mark "d-$i"; switch_wal; done
mark d-last
switch_wal; wait_archived
as_pg "$pgbin/pg_ctl" -D "$work/pgdata-d" -w stop >/dev/null

echo "make-catalog: catalogs at $work/s3/catalog/pg/{pg-main,pg-rebuilt} (S3: $dest on $endpoint while running)"
