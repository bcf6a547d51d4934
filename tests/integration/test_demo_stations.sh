# scripts/demo --stations 3 with the programs of this build (--build: it
# installs nothing and builds nothing): three stations on one PostgreSQL
# server that the demo starts on a Unix socket in its state directory and
# stops. Checks that the demo says every station made a certificate, that
# the server is stopped at its end, and, with the server started again on
# the demo's cluster, that the record is whole: every unit issued exactly
# once, by one of the three stations, each of which made at least one (in
# the record and in its embedded CA), and no job or lease is left.
. "$(dirname "$0")/lib.sh"

PG=$SRC/tests/tools/pg-test-server
D=$STATE/demo
trap 'rc=$?; [ -d "$D/pg" ] && "$PG" stop "$D/pg" >/dev/null 2>&1; (exit $rc); cleanup' EXIT
# the server runs as the system user ukeytest: it must traverse to $D/pg
chmod 0711 "$STATE"

bash "$SRC/scripts/demo" --stations 3 --state "$D" --build "$BUILD" >"$STATE/demo.out" 2>&1 || {
	tail -40 "$STATE/demo.out" >&2
	fail "scripts/demo --stations 3 failed (output in $STATE/demo.out)"
}
grepq -x '5 certificates made by 3 stations: demo-1, demo-2, demo-3' "$STATE/demo.out" ||
	fail "the demo did not report 5 certificates by 3 stations: $(tail -20 "$STATE/demo.out")"
grepq '^== ukeyctl audit serials' "$STATE/demo.out" || fail "the demo printed no audit serials"
[ ! -f "$D/pg/data/postmaster.pid" ] || fail "the demo left its PostgreSQL server running"
echo "ok: scripts/demo --stations 3 ran; the server is stopped"

"$PG" start "$D/pg" >/dev/null
pq() { runuser -u ukeytest -- /usr/lib/postgresql/15/bin/psql -X -q -t -A -h "$D/pg" -U ukey_admin -d ukey -c "$1"; }
[ "$(pq "SELECT count(*) FROM units")" = 5 ] || fail "not 5 units"
[ "$(pq "SELECT count(*) FROM units WHERE state = 'issued'")" = 5 ] ||
	fail "units: $(pq "SELECT state, count(*) FROM units GROUP BY state")"
[ "$(pq "SELECT count(*) FROM issuances")" = 5 ] || fail "$(pq "SELECT count(*) FROM issuances") issuances for 5 units"
[ -z "$(pq "SELECT unit_id FROM issuances GROUP BY unit_id HAVING count(*) > 1")" ] || fail "a unit issued twice"
[ "$(pq "SELECT count(DISTINCT station_id) FROM issuances")" = 3 ] ||
	fail "issuances by station: $(pq "SELECT station_id, count(*) FROM issuances GROUP BY station_id")"
[ "$(pq "SELECT count(*) FROM jobs WHERE state IN ('running', 'suspended')")" = 0 ] || fail "jobs left"
[ "$(pq "SELECT count(*) FROM unit_leases")" = 0 ] || fail "leases left"
for i in 1 2 3; do
	c=$(sqlite3 "$D/s$i/ca/ca.db" "SELECT count(*) FROM issued")
	[ "$c" -ge 1 ] || fail "station demo-$i's CA made no certificate"
done
echo "ok: 5 units issued once each, by demo-1, demo-2 and demo-3; no job or lease left"
