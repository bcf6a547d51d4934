# scripts/demo --stations N (N >= 2): N stations on one PostgreSQL database,
# sourced by scripts/demo. The server is a throwaway PostgreSQL 15 cluster
# (tests/tools/pg-test-server) in $state/pg, on a Unix socket there and no
# TCP port; each station has its own state directory $state/sI ([station] id
# demo-I, its own bays, embedded CA and audit key) and the province's one
# master key. Orders are imported at station 1, approved at station 2 and
# paid at station 3 (station N's when fewer); every station then produces
# tokens at once, the first round one token per station so that each makes
# some. Prints which station made which certificate and `ukeyctl audit
# serials` for the province (the same answer at every station).
# shellcheck shell=bash

# demo_stations N: needs $state, $build, $bays and $UKEY_TOP (scripts/demo).
demo_stations() {
	local n=$1 i pg=$state/pg conn id
	local -a pids=()
	sctl() { local i=$1; shift; "$build/ukeyctl" --state "$state/s$i" "$@"; }
	stop_stations() {
		local p
		for p in "${pids[@]}"; do
			if kill -0 "$p" 2>/dev/null; then
				kill -TERM "$p"
				wait "$p" || true
			fi
		done
		pids=()
		"$UKEY_TOP/tests/tools/pg-test-server" stop "$pg" >/dev/null 2>&1 || true
	}
	trap stop_stations EXIT
	start_station() {	# start_station I
		"$build/ukeyd" --state "$state/s$1" 2>"$state/s$1/ukeyd.log" &
		pids+=($!)
		for _ in $(seq 300); do
			sctl "$1" status >/dev/null 2>&1 && return 0
			kill -0 "${pids[-1]}" 2>/dev/null || { cat "$state/s$1/ukeyd.log" >&2; return 1; }
			sleep 0.1
		done
		echo "station $1 did not answer" >&2
		return 1
	}

	# the server runs as the system user ukeytest when we are root: it must
	# reach its directory through the state directory
	chmod 0711 "$state"
	mkdir -p "$pg"
	echo "== starting PostgreSQL 15 on a Unix socket in $pg (no TCP port)"
	conn=$("$UKEY_TOP/tests/tools/pg-test-server" start "$pg") || {
		echo "scripts/demo: PostgreSQL did not start (see $pg/server.log); as root the server" \
			"runs as the user ukeytest, which must be able to enter every directory above $pg" >&2
		return 1
	}
	for i in $(seq "$n"); do
		mkdir -p "$state/s$i"
		cat > "$state/s$i/ukeyd.conf" <<EOC
[station]
id = demo-$i
[sim]
bays = $bays
[store]
url = $conn
EOC
	done
	# the first station makes the schema and the province's master key (it
	# opens the sealed PINs and documents in the shared database); the others
	# get a copy of that key and start after it
	echo "== starting station demo-1 (it creates the schema)"
	start_station 1
	for i in $(seq 2 "$n"); do
		install -d -m 0700 "$state/s$i/keys"
		install -m 0600 "$state/s1/keys/master.key" "$state/s$i/keys/master.key"
		echo "== starting station demo-$i"
		start_station "$i"
	done

	local a=$((2 <= n ? 2 : n)) p=$((3 <= n ? 3 : n))
	echo "== importing the sample orders at demo-1, approving at demo-$a, paying at demo-$p"
	sctl 1 order import "$UKEY_TOP/examples/orders-sample.json"
	for id in $(sctl "$a" order list --state pending | awk 'NR > 1 { print $1 }'); do
		sctl "$a" order approve "$id" >/dev/null
		sctl "$p" order pay "$id" --payment-no "$(date -u +%Y%m%d%H%M%S)$(printf '%016d' "$id")" >/dev/null
		echo "order $id approved at demo-$a and paid at demo-$p"
	done
	echo "== queue (the same at every station)"
	sctl "$n" queue

	echo "== producing tokens at $n stations, $bays bays each"
	local round=0 failed b
	local -a plugs
	while sctl 1 queue | awk 'NR > 1' | grep queued >/dev/null; do
		round=$((round + 1))
		plugs=()
		for i in $(seq "$n"); do
			# the first round one token per station, so that every station makes one
			for b in $(seq "$([ "$round" = 1 ] && echo 1 || echo "$bays")"); do
				sctl "$i" sim plug --bay "$b" --wait --timeout 600 >/dev/null &
				plugs+=($!)
			done
		done
		failed=0
		for b in "${plugs[@]}"; do wait "$b" || failed=1; done
		for i in $(seq "$n"); do
			for b in $(seq "$bays"); do
				sctl "$i" sim unplug --bay "$b" >/dev/null 2>&1 || true
			done
		done
		[ "$failed" -eq 0 ] || { echo "a token failed; see $state/s*/ukeyd.log" >&2; return 1; }
	done

	echo "== which station made which certificate"
	sctl 1 --json audit serials | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print("%-8s %-34s %-13s %s" % ("station", "serial", "kind", "subject"))
for r in sorted(rows, key=lambda r: (r.get("station_id", ""), r["serial"])):
    print("%-8s %-34s %-13s %s" % (r.get("station_id", "-"), r["serial"], r["kind"], r["subject"]))
stations = sorted({r.get("station_id", "-") for r in rows})
print("%d certificates made by %d stations: %s" % (len(rows), len(stations), ", ".join(stations)))'
	echo "== ukeyctl audit serials (the province's, asked at demo-$n)"
	sctl "$n" audit serials
	stop_stations
	trap - EXIT

	cat <<EOT

== the state directory is left for inspection: $state
  pg/                   the PostgreSQL cluster (stopped; start it again with
                        tests/tools/pg-test-server start $pg)
  sI/                   station demo-I: ukeyd.conf, keys/, its embedded CA (ca/),
                        its virtual tokens (sim/tokens/), ukeyd.log
EOT
}
