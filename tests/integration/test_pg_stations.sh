# Three stations on one PostgreSQL database (tests/tools/pg-test-server, a
# Unix socket in a temporary directory, no TCP): orders are imported at one
# station, approved at another and paid at the third; the three produce 60
# certificates on virtual tokens, three bays each, all at once. Midway one
# station is killed with SIGKILL and started again (its token goes back in
# and its job finishes), and the PostgreSQL server is restarted under the
# running stations (they wait and go on). In the end every unit is issued
# exactly once, no job is left running or suspended, no lease is left, and
# every station's embedded CA made some of the certificates; audit verify at
# one station verifies the three stations' hash chains.
. "$(dirname "$0")/lib.sh"
pg_skip "it runs its own PostgreSQL server and three stations in both modes"

. "$(dirname "$0")/pg_stations_lib.sh"
trap 'rc=$?; touch "$STATE/stop-loops"; stations_stop; (exit $rc); cleanup' EXIT

stations_up 3 3
# the first station makes the schema; the others start together after it
station_up 1
stations_share_key 2 3
station_up 2 & p2=$!
station_up 3 & p3=$!
wait "$p2" "$p3"
PIDS[2]=$(pgrep -f "ukeyd --state $STATE/s2$" || echo 0)
PIDS[3]=$(pgrep -f "ukeyd --state $STATE/s3$" || echo 0)
[ "${PIDS[2]}" != 0 ] && [ "${PIDS[3]}" != 0 ] || fail "stations 2 and 3 did not start"

# 60 legal representatives' certificates (EC P-256): six orders of ten,
# imported at station 1, approved at station 2, paid at station 3
specs=()
for k in 1 2 3 4 5 6; do specs+=("PG-$k:0:legal_rep=1x10"); done
python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" "$STATE/orders.json" "${specs[@]}"
sctl 1 order import "$STATE/orders.json" >/dev/null || fail "import at station 1"
n=0
for id in $(sctl 2 order list --state pending | awk 'NR > 1 { print $1 }'); do
	n=$((n + 1))
	sctl 2 order approve "$id" >/dev/null || fail "approve $id at station 2"
	sctl 3 order pay "$id" --payment-no "$(printf '202612060000000000000000%06d' "$n")" >/dev/null ||
		fail "pay $id at station 3"
done
[ "$(pq "SELECT count(*) FROM units WHERE state = 'queued'")" = 60 ] ||
	fail "not 60 queued units: $(pq "SELECT state, count(*) FROM units GROUP BY state")"

# bay_loop STATION BAY: new tokens into the bay while units are queued
bay_loop() {
	local i=$1 b=$2 st
	while :; do
		[ -f "$STATE/stop-loops" ] && return 0
		[ "$(pq "SELECT count(*) FROM units WHERE state = 'queued'" 2>/dev/null)" = 0 ] && return 0
		timeout 120 "$BUILD/ukeyctl" --state "$STATE/s$i" sim plug --bay "$b" --wait >/dev/null 2>&1 || true
		st=$(sfield "$i" "$b" state 2>/dev/null || echo gone)
		sctl "$i" sim unplug --bay "$b" >/dev/null 2>&1 || true
		case $st in done|idle|empty|gone) ;; *) echo "station $i bay $b: $st: $(sfield "$i" "$b" reason 2>/dev/null)" ;; esac
	done
}
loops=()
for i in 1 2 3; do
	for b in 1 2 3; do
		bay_loop "$i" "$b" > "$STATE/loop-$i-$b.out" 2>&1 &
		loops+=($!)
	done
done
issued() { pq "SELECT count(*) FROM issuances"; }
wait_issued() {	# wait_issued N
	for _ in $(seq 1200); do
		[ "$(issued)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "fewer than $1 issuances: $(issued)"
}

# a third of the way: station 2 killed in the middle of its jobs
wait_issued 20
touch "$STATE/stop-loops"
kill -KILL "${PIDS[2]}"
wait "${PIDS[2]}" 2>/dev/null || true
PIDS[2]=0
for p in "${loops[@]}"; do wait "$p" 2>/dev/null || true; done
rm -f "$STATE/stop-loops"
running=$(pq "SELECT count(*) FROM jobs WHERE state = 'running'")
station_up 2
# its jobs that were running are suspended, pinned to it; the other stations' untouched
[ "$(pq "SELECT count(*) FROM jobs WHERE state = 'running'")" = 0 ] ||
	echo "note: jobs of stations 1 and 3 were running when station 2 came back"
echo "station 2 killed with $running jobs running in the province; restarted"

# halfway: PostgreSQL restarted under the stations while they produce
loops=()
for i in 1 2 3; do
	for b in 1 2 3; do
		bay_loop "$i" "$b" >> "$STATE/loop-$i-$b.out" 2>&1 &
		loops+=($!)
	done
done
wait_issued 35
"$PG" stop "$PGDIR" >/dev/null
sleep 2
"$PG" start "$PGDIR" >/dev/null
echo "PostgreSQL restarted at $(issued) issuances"
for p in "${loops[@]}"; do wait "$p" 2>/dev/null || true; done

# token_back STATION TOKEN NAME: virtual token TOKEN into the station's bay 1
# until its job ends, what the bay then says printed, the token taken out
token_back() {
	timeout 120 "$BUILD/ukeyctl" --state "$STATE/s$1" sim plug --bay 1 --token "$2" \
		--wait >/dev/null 2>&1 || true
	echo "station $1: token $3 back: $(sfield "$1" 1 state) $(sfield "$1" 1 reason)"
	sctl "$1" sim unplug --bay 1 >/dev/null 2>&1 || true
}
# began_on STATION NULL|NOT NULL: "job:token" for each job of STATION's
# suspended with its token's serial NULL or NOT NULL, and the number of
# the virtual token its init_token began on
began_on() {
	pq "SELECT j.id || ':' || x.detail FROM jobs j JOIN job_steps x ON x.job_id = j.id
	    AND x.step = 'init_token' AND x.phase = 'begin' JOIN unit_leases l ON l.unit_id = j.unit_id
	    WHERE j.state = 'suspended' AND j.token_serial IS $2 AND l.station_id = 'station-$1'" |
		sed -n 's/^\([0-9]*\):device: virtual token 0*\([0-9]*\)$/\1:\2/p'
}
# the suspended jobs' tokens back into their bays (station 2's, and any
# stopped by the restart), until every unit is issued
for _ in $(seq 5); do
	[ "$(pq "SELECT count(*) FROM units WHERE state <> 'issued'")" = 0 ] && break
	for i in 1 2 3; do
		for tok in $(ls "$STATE/s$i/sim/tokens" 2>/dev/null); do
			serial=$(SOFTHSM2_CONF="$STATE/s$i/sim/tokens/$tok/softhsm2.conf" \
				pkcs11-tool --module "$SOFTHSM_MODULE" -L 2>/dev/null | sed -n 's/.*serial num *: *//p' | head -1)
			[ -n "$serial" ] || continue
			[ "$(pq "SELECT count(*) FROM jobs WHERE token_serial = '$serial' AND state = 'suspended'")" = 0 ] && continue
			token_back "$i" "$((10#$tok))" "$tok"
		done
	done
	# a job suspended before its token had a serial, but after its
	# init_token began, waits for the device it began on: that virtual token
	for i in 1 2 3; do
		for row in $(began_on "$i" NULL); do
			token_back "$i" "${row#*:}" "${row#*:} (no serial yet)"
		done
	done
	# a token that station 2's kill left unreadable cannot bring its job
	# back: the worker died with ukeyd while SoftHSM2 rewrote the token's
	# own file (cut to 0 bytes, the token reads as uninitialised), as a
	# token pulled mid-write may be. The operator abandons the job there,
	# and its unit is made on another token (below)
	for i in 1 2 3; do
		for row in $(began_on "$i" "NOT NULL"); do
			tok=$(printf '%04d' "${row#*:}")
			SOFTHSM2_CONF="$STATE/s$i/sim/tokens/$tok/softhsm2.conf" pkcs11-tool \
				--module "$SOFTHSM_MODULE" -L 2>/dev/null | grepq "token state: *uninitialized" || continue
			sctl "$i" job abandon "${row%%:*}" --remark "its token $tok was left unreadable" >/dev/null ||
				fail "station $i: job ${row%%:*} on the unreadable token $tok not abandoned"
			echo "station $i: job ${row%%:*} abandoned: its token $tok was left unreadable by the kill"
		done
	done
	# one suspended before its init_token began takes any blank token
	for i in 1 2 3; do
		timeout 120 "$BUILD/ukeyctl" --state "$STATE/s$i" sim plug --bay 2 --wait >/dev/null 2>&1 || true
		sctl "$i" sim unplug --bay 2 >/dev/null 2>&1 || true
	done
done
cat "$STATE"/loop-*.out | sort | uniq -c | sort -rn | head -20

# every unit issued exactly once, on one station; no lease left
[ "$(pq "SELECT count(*) FROM units WHERE state = 'issued'")" = 60 ] ||
	fail "units: $(pq "SELECT state, count(*) FROM units GROUP BY state")"
[ "$(issued)" = 60 ] || fail "$(issued) issuances for 60 units"
[ -z "$(pq "SELECT unit_id FROM issuances GROUP BY unit_id HAVING count(*) > 1")" ] || fail "a unit issued twice"
[ "$(pq "SELECT count(*) FROM jobs WHERE state IN ('running', 'suspended')")" = 0 ] ||
	fail "jobs left: $(pq "SELECT id, state, step, error FROM jobs WHERE state IN ('running', 'suspended')")"
[ "$(pq "SELECT count(*) FROM unit_leases")" = 0 ] || fail "leases left: $(pq "SELECT * FROM unit_leases")"
# the audit log: every station's own hash chain and its checkpoints, each
# verified with the key that station registered, asked at one station
# while the others still run (station 2's chain has the records up to its
# kill, then its restart's)
[ "$(pq "SELECT count(DISTINCT station) FROM audit_keys")" = 3 ] ||
	fail "registered audit keys: $(pq "SELECT station, key_id FROM audit_keys")"
out=$(sctl 1 audit verify) || fail "audit verify at station 1: $out"
echo "$out"
for i in 1 2 3; do
	grepq "^station station-$i: OK: [1-9][0-9]* records (seq 1-[0-9]*), [1-9][0-9]* checkpoints" <<<"$out" ||
		fail "audit verify does not name station-$i as verified: $out"
done
# the export holds the three stations' keys and chains; verified offline
sctl 2 audit export --output "$STATE/audit.jsonl" 2>/dev/null || fail "audit export at station 2"
out=$("$BUILD/ukeyctl" audit verify --file "$STATE/audit.jsonl" --pubkey "$STATE/s3/keys/audit.pub") ||
	fail "the export does not verify: $out"
for i in 1 2 3; do
	grepq "^station station-$i: OK: " <<<"$out" || fail "the export's verify does not name station-$i: $out"
done
sctl 3 --json audit verify --station station-2 > "$STATE/verify-2.json" || fail "audit verify --station"
python3 - "$STATE/verify-2.json" <<'PY' || fail "audit verify --station station-2: $(cat "$STATE/verify-2.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and [s["station"] for s in r["stations"]] == ["station-2"], r
s = r["stations"][0]
assert s["records"] == s["last_seq"] and s["first_seq"] == 1 and s["checkpoints"] >= 1, s
PY
made=""
for i in 1 2 3; do
	# each station's embedded CA signed some of them
	c=$(sqlite3 "$STATE/s$i/ca/ca.db" "SELECT count(*) FROM issued")
	[ "$c" -ge 1 ] || fail "station $i made no certificate"
	made="$made station-$i:$c"
done
echo "certificates made:$made"
echo "PASS: 3 stations on one PostgreSQL issued 60 units once each, through a station killed and a server restart"
