# Several stations on one PostgreSQL database, for the tests of stations
# that share a province's store (test_pg_stations, test_pg_abandon): the
# test's own server (tests/tools/pg-test-server, a Unix socket in a
# temporary directory, no TCP), station I's state directory $STATE/sI, the
# pid of its ukeyd in PIDS[I]. Sourced after lib.sh (and after pg_skip);
# the test's EXIT trap calls stations_stop before lib.sh's cleanup.
# shellcheck shell=bash

PG=$SRC/tests/tools/pg-test-server
PGDIR=$(mktemp -d /tmp/ukey-pg.XXXXXX)
PIDS=(0)

# stations_stop: every station still running killed, the server stopped
# and its directory removed
stations_stop() {
	local i
	for i in "${!PIDS[@]}"; do
		[ "${PIDS[$i]}" = 0 ] || kill -KILL "${PIDS[$i]}" 2>/dev/null || true
	done
	"$PG" stop "$PGDIR" >/dev/null 2>&1 || true
	rm -rf "$PGDIR"
}

# stations_up N BAYS: the server started (its URL in $conn) and the
# configuration of stations 1..N, BAYS simulated bays each, on it
stations_up() {
	local n=$1 bays=$2 i
	conn=$("$PG" start "$PGDIR")
	for i in $(seq "$n"); do
		PIDS[i]=0
		mkdir -p "$STATE/s$i"
		cat > "$STATE/s$i/ukeyd.conf" <<EOT
[station]
id = station-$i
profile_dirs = $SRC/firmware-profiles, $SRC/tests/data/firmware-profiles
cert_profile_dir = $SRC/cert-profiles
worker = $BUILD/ukey-worker
[sim]
bays = $bays
[store]
url = $conn
EOT
	done
}

# pq SQL: psql on the stations' database, as the server's admin
pq() { runuser -u ukeytest -- /usr/lib/postgresql/15/bin/psql -X -q -t -A -h "$PGDIR" -U ukey_admin -d ukey -c "$1"; }

sctl() { local i=$1; shift; "$BUILD/ukeyctl" --state "$STATE/s$i" "$@"; }

sfield() {	# sfield STATION BAY KEY
	sctl "$1" --json bays | python3 -c '
import json, sys
for b in json.load(sys.stdin):
    if b["bay"] == int(sys.argv[1]):
        v = b.get(sys.argv[2])
        print("" if v is None else v)' "$2" "$3"
}

station_up() {	# station_up STATION [env...]: its ukeyd started, answering
	local i=$1
	shift
	env "$@" "$BUILD/ukeyd" --state "$STATE/s$i" 2>>"$STATE/s$i/ukeyd.log" &
	PIDS[i]=$!
	for _ in $(seq 300); do
		sctl "$i" status >/dev/null 2>&1 && return 0
		kill -0 "${PIDS[$i]}" 2>/dev/null || fail "station $i exited at start: $(tail -5 "$STATE/s$i/ukeyd.log")"
		sleep 0.05
	done
	fail "station $i did not answer"
}

# stations_share_key STATION...: the province's master key (sealed
# documents and PINs in the shared database), made by station 1, copied
stations_share_key() {
	local i
	for i in "$@"; do
		install -d -m 0700 "$STATE/s$i/keys"
		install -m 0600 "$STATE/s1/keys/master.key" "$STATE/s$i/keys/master.key"
	done
}
