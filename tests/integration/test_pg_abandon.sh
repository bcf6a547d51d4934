# A job pinned to a station that will not come back is abandoned at another
# (docs/multi-station.md, "Abandoning a pinned job"). Two stations on one
# PostgreSQL database (tests/tools/pg-test-server, a Unix socket in a
# temporary directory), one bay each, one order of three units. Station 2
# takes a unit and is killed (UKEY_TEST_CRASH_AT=ca_submit:done: the CA's
# certificate is stored, the token not written yet) and never restarted.
#   - while its lease is live, `ukeyctl job abandon` at station 1 is refused
#     and says the job runs at station-2; nothing changes;
#   - station 1's lease recovery suspends the job and pins the lease to
#     station-2 (the token is in its bay);
#   - abandoned at station 1 (an operator, with a remark): the job ends
#     aborted, the certificate station 2 received is marked revoked, the
#     pinned lease is gone and the unit is queued again; job.abandon is
#     audited with the operator and the remark;
#   - station 1 then produces all three units: each issued exactly once,
#     the abandoned unit by station-1, no unit with two live certificates.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/pg_stations_lib.sh"
trap 'rc=$?; stations_stop; (exit $rc); cleanup' EXIT

stations_up 2 1
station_up 1
stations_share_key 2
station_up 2 UKEY_TEST_CRASH_AT=ca_submit:done

python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" "$STATE/orders.json" \
	"AB-1:0:legal_rep=1x3"
sctl 1 order import "$STATE/orders.json" >/dev/null || fail "import"
id=$(sctl 1 order list --state pending | awk 'NR == 2 { print $1 }')
sctl 2 order approve "$id" >/dev/null || fail "approve at station 2"
sctl 1 order pay "$id" --payment-no "2026120600000000000000000001" >/dev/null || fail "pay"
[ "$(pq "SELECT count(*) FROM units WHERE state = 'queued'")" = 3 ] || fail "not 3 queued units"

# station 2 takes a unit, gets its certificate and dies with the token in its bay
sctl 2 sim plug --bay 1 >/dev/null || fail "plug at station 2"
for _ in $(seq 600); do kill -0 "${PIDS[2]}" 2>/dev/null || break; sleep 0.1; done
kill -0 "${PIDS[2]}" 2>/dev/null && fail "station 2 did not reach ca_submit:done"
wait "${PIDS[2]}" 2>/dev/null || true
PIDS[2]=0
job=$(pq "SELECT id FROM jobs WHERE state = 'running'")
[ -n "$job" ] || fail "no running job after station 2 died: $(pq "SELECT id, state, step FROM jobs")"
unit=$(pq "SELECT unit_id FROM jobs WHERE id = $job")
serial=$(pq "SELECT serial FROM received_certs WHERE job_id = $job")
[ -n "$serial" ] || fail "job $job has no received certificate"
echo "station 2 killed in job $job (unit $unit, certificate $serial received)"

# its lease still runs: refused, with the station named, nothing changed
if out=$(sctl 1 job abandon "$job" --remark "station 2 burnt down" 2>&1); then
	fail "a running job with a live lease was abandoned: $out"
fi
grepq "is running at station station-2" <<<"$out" || fail "refusal does not say where the job runs: $out"
[ "$(pq "SELECT state FROM jobs WHERE id = $job")" = running ] || fail "the refused abandon changed the job"
echo "ok: refused while the lease is live: $out"

# station 1 recovers the lapsed lease (60 s lease, 15 s turns): suspended, pinned to station 2
for _ in $(seq 1200); do
	[ "$(pq "SELECT state FROM jobs WHERE id = $job")" = suspended ] && break
	sleep 0.1
done
[ "$(pq "SELECT state FROM jobs WHERE id = $job")" = suspended ] || fail "job $job was not suspended by the recovery"
[ "$(pq "SELECT station_id FROM unit_leases WHERE unit_id = $unit AND lease_until IS NULL")" = station-2 ] ||
	fail "the lease of unit $unit is not pinned to station-2: $(pq "SELECT * FROM unit_leases")"
echo "ok: job $job suspended, lease pinned to station-2"

out=$(sctl 1 job abandon "$job" --remark "" 2>&1) && fail "abandon with an empty remark accepted"
sctl 1 job abandon "$job" --remark "station 2 burnt down; token lost" >/dev/null || fail "abandon at station 1"
[ "$(pq "SELECT state FROM jobs WHERE id = $job")" = aborted ] || fail "job $job not aborted"
[ "$(pq "SELECT status FROM received_certs WHERE serial = '$serial'")" = revoked ] ||
	fail "certificate $serial not marked revoked"
[ "$(pq "SELECT count(*) FROM unit_leases WHERE unit_id = $unit")" = 0 ] || fail "the pinned lease is left"
[ "$(pq "SELECT state FROM units WHERE id = $unit")" = queued ] || fail "unit $unit is not queued again"
[ "$(pq "SELECT actor FROM audit WHERE action = 'job.abandon' AND job_id = $job")" = "$(id -un)" ] ||
	fail "job.abandon not audited with the operator: $(pq "SELECT actor, detail FROM audit WHERE job_id = $job")"
pq "SELECT detail FROM audit WHERE action = 'job.abandon' AND job_id = $job" > "$STATE/abandon.detail"
grepq "station 2 burnt down" "$STATE/abandon.detail" || fail "the remark is not in the audit record"
grepq '"lease": *"pinned"' "$STATE/abandon.detail" || fail "the audit record does not say the lease was pinned"
sctl 1 job abandon "$job" --remark "again" >/dev/null 2>&1 && fail "an aborted job was abandoned again"
echo "ok: job $job abandoned at station 1: aborted, $serial revoked, lease gone, unit $unit queued"

# station 1 makes all three
for _ in $(seq 10); do
	[ "$(pq "SELECT count(*) FROM units WHERE state = 'queued'")" = 0 ] && break
	sctl 1 sim plug --bay 1 --wait --timeout 120 >/dev/null 2>&1 || true
	sctl 1 sim unplug --bay 1 >/dev/null 2>&1 || true
done
[ "$(pq "SELECT count(*) FROM units WHERE state = 'issued'")" = 3 ] ||
	fail "units: $(pq "SELECT state, count(*) FROM units GROUP BY state")"
[ "$(pq "SELECT count(*) FROM issuances")" = 3 ] || fail "$(pq "SELECT count(*) FROM issuances") issuances for 3 units"
[ "$(pq "SELECT station_id FROM issuances WHERE unit_id = $unit")" = station-1 ] || fail "unit $unit not issued by station-1"
[ -z "$(pq "SELECT unit_id FROM received_certs WHERE status <> 'revoked' GROUP BY unit_id HAVING count(*) > 1")" ] ||
	fail "a unit has two live certificates"
[ "$(pq "SELECT count(*) FROM received_certs WHERE unit_id = $unit")" = 2 ] || fail "unit $unit: not one revoked and one issued certificate"
[ "$(pq "SELECT count(*) FROM unit_leases")" = 0 ] || fail "leases left: $(pq "SELECT * FROM unit_leases")"
echo "PASS: a job pinned to a dead station abandoned at another; its unit issued once, by station-1"
