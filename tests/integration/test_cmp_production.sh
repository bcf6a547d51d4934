# Production through CMP, end to end: ukeyd with ca.type = cmp against the
# test CA tests/tools/cmp_test_server on 127.0.0.1 (a port the kernel picks).
# Every unit of the sample orders is issued onto its own virtual token;
# every token's certificate passes `openssl verify` against the test CA and
# is its key's; the records have the embedded CA's shape. Then a CA that
# answers "waiting" (the job polls, also across a station restart), and a
# kill -9 of ukeyd after the CA answered and before the station recorded.
. "$(dirname "$0")/lib.sh"

# set +e: under errexit the (exit $rc) that hands cleanup the status would end the trap
trap 'rc=$?; stop_cmp; set +e; (exit $rc); cleanup' EXIT

cmp_test_ca

# start_cmp [ARGS...]: the test CA on a fresh port (the last port is reused
# when PORT is set, so that the station's configuration stays right)
start_cmp() {
	"$BUILD/tests/cmp_test_server" --ca-cert "$STATE/cmp/ca.crt" --ca-key "$STATE/cmp/ca.key" \
		--secret-ref station-1 --secret-file "$STATE/cmp/secret" \
		--revoked "$STATE/cmp/revoked" --issued "$STATE/cmp/issued" ${PORT:+--port "$PORT"} "$@" \
		>"$STATE/cmp/port" 2>>"$STATE/cmp/log" &
	CMP_PID=$!
	for _ in $(seq 100); do
		grepq '^port ' "$STATE/cmp/port" && break
		sleep 0.05
	done
	PORT=$(sed -n 's/^port //p' "$STATE/cmp/port")
	[ -n "$PORT" ] || fail "cmp_test_server did not say its port"
}

start_cmp
write_config
cat >> "$STATE/ukeyd.conf" <<EOT
[ca]
type = cmp
[cmp]
server = http://127.0.0.1:$PORT
path = /pkix/
secret_ref = station-1
secret_file = $STATE/cmp/secret
ca_cert = $STATE/cmp/ca.crt
trusted = $STATE/cmp/ca.crt
timeout = 30
; the test CA gives every certificate 365 days, whatever the order's years
validity = ca
EOT

start_station
orders_ready
total=$(db "SELECT count(*) FROM units")
[ "$total" -ge 5 ] || fail "expected at least 5 units, got $total"
while [ "$(queued_units)" != 0 ]; do
	ctl sim plug --bay 1 --wait >/dev/null || fail "token in bay 1 not issued: $(bay_field 1 reason)"
	token_no=$(ls "$STATE/sim/tokens" | tail -1)
	pin=$(ctl --json bay take-pin --bay 1 | sed -n 's/.*"user_pin": *"\([0-9]*\)".*/\1/p')
	[ -n "$pin" ] || fail "no initial PIN shown for bay 1"
	echo "$token_no $pin" >> "$STATE/pins"
	ctl sim unplug --bay 1 >/dev/null
done
[ "$(db "SELECT count(*) FROM issuances")" = "$total" ] || fail "not one issuance per unit"
[ "$(db "SELECT count(*) FROM units WHERE state <> 'issued'")" = 0 ] || fail "units not issued"
[ "$(db "SELECT count(*) FROM received_certs WHERE status = 'issued'")" = "$total" ] ||
	fail "received_certs"
[ "$(db "SELECT count(*) FROM issuances WHERE issuer LIKE '%Test CMP CA%'")" = "$total" ] ||
	fail "issuances not by the external CA"

# the record has the embedded CA's shape: every column an issuance by the
# embedded CA fills is filled, and each job wrote the same audit actions
[ "$(db "SELECT count(*) FROM issuances WHERE subject <> '' AND not_before <> '' AND
	not_after <> '' AND token_uri LIKE 'pkcs11:%' AND key_local = 1 AND key_always_sensitive = 1
	AND key_never_extractable = 1 AND key_usage IS NOT NULL AND cert IS NOT NULL")" = "$total" ] ||
	fail "an issuance misses a field"
want="bay.pin_shown issuance.record job.start job.step"
for job in $(db "SELECT id FROM jobs"); do
	got=$(db "SELECT DISTINCT action FROM audit WHERE job_id = $job ORDER BY action" | tr '\n' ' ')
	[ "$got" = "$want " ] || fail "job $job audited '$got', not '$want '"
	[ "$(db "SELECT count(*) FROM job_steps WHERE job_id = $job AND step = 'ca_submit' AND phase = 'done'")" = 1 ] ||
		fail "job $job: ca_submit not done once"
done
ctl audit verify >/dev/null || fail "audit log does not verify"

# every token, read with pkcs11-tool: its certificate verifies against the
# external CA and holds the token's key
while read -r token_no pin; do
	export SOFTHSM2_CONF="$STATE/sim/tokens/$token_no/softhsm2.conf"
	priv=$(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$pin" --list-objects --type privkey 2>/dev/null)
	id=$(echo "$priv" | sed -n 's/^ *ID: *//p')
	pkcs11-tool --module "$SOFTHSM_MODULE" --read-object --type cert --id "$id" -o "$STATE/c.der" >/dev/null 2>&1 ||
		fail "token $token_no: no certificate with the key's ID"
	pkcs11-tool --module "$SOFTHSM_MODULE" --read-object --type pubkey --id "$id" -o "$STATE/p.der" >/dev/null 2>&1 ||
		fail "token $token_no: no public key object"
	openssl x509 -inform DER -in "$STATE/c.der" -out "$STATE/c.pem"
	openssl verify -CAfile "$STATE/cmp/ca.crt" "$STATE/c.pem" >/dev/null ||
		fail "token $token_no: openssl verify against the CMP CA"
	openssl x509 -in "$STATE/c.pem" -noout -pubkey | openssl pkey -pubin -outform DER -out "$STATE/cp.der"
	openssl pkey -pubin -inform DER -in "$STATE/p.der" -outform DER -out "$STATE/tp.der"
	cmp -s "$STATE/cp.der" "$STATE/tp.der" || fail "token $token_no: certificate is not the token's key's"
	pkcs11-tool --module "$SOFTHSM_MODULE" --list-objects --type cert 2>/dev/null > "$STATE/certs.txt"
	grepq "Test CMP CA" "$STATE/certs.txt" || fail "token $token_no: the CA certificate is missing"
	unset SOFTHSM2_CONF
done < "$STATE/pins"
stop_station
echo "ok: $total tokens issued through CMP, verified with openssl"

# more work: the same sample orders again under new portal references
more_units() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for o in d["orders"]:
    o["portal_ref"] += sys.argv[3]
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)' "$SRC/examples/orders-sample.json" "$STATE/more.json" "$1"
	ctl order import "$STATE/more.json" >/dev/null || fail "import $1"
	local id n=$2
	for id in $(ctl order list --state pending | awk 'NR > 1 { print $1 }'); do
		ctl order approve "$id" >/dev/null || fail "approve $id"
		n=$((n + 1))
		ctl order pay "$id" --payment-no "$(printf '2026112100000000000000000000%02d' "$n")" \
			>/dev/null || fail "pay $id"
	done
}

# a CA that takes its time (a gate file holds every request, no clock): while
# bay 1's request waits at the CA, the station answers ukeyctl and bay 2's
# token goes through its worker steps up to ca_submit. The CA call runs off
# the event loop; once the gate opens both tokens are issued.
stop_cmp
start_cmp --gate "$STATE/cmp/gate"
start_station
more_units -G 30
ctl sim plug --bay 1 >/dev/null || fail "gate: plug bay 1"
for _ in $(seq 400); do
	grepq "waiting for the gate" "$STATE/cmp/log" && break
	sleep 0.05
done
grepq "waiting for the gate" "$STATE/cmp/log" || fail "gate: bay 1's request never reached the CA"
ctl sim plug --bay 2 >/dev/null || fail "gate: plug bay 2 while bay 1 waits for the CA"
wait_for_step 2 ca_submit
[ "$(db "SELECT step FROM jobs WHERE bay = 'sim-1' AND state = 'running'")" = ca_submit ] ||
	fail "gate: bay 1 is not in ca_submit"
bay_field 1 reason > "$STATE/reason"
grepq "asking the CA" "$STATE/reason" || fail "gate: bay 1 says: $(cat "$STATE/reason")"
ctl status >/dev/null || fail "gate: status while the CA holds a request"
[ "$(grep -c 'issued certificate' "$STATE/cmp/log")" = "$total" ] || fail "gate: the CA answered before the gate opened"
touch "$STATE/cmp/gate"
ctl bay wait --bay 1 --timeout 120 >/dev/null || fail "gate: bay 1: $(bay_field 1 reason)"
ctl bay wait --bay 2 --timeout 120 >/dev/null || fail "gate: bay 2: $(bay_field 2 reason)"
[ "$(db "SELECT count(*) FROM jobs WHERE id > (SELECT max(id) - 2 FROM jobs) AND state = 'issued'")" = 2 ] ||
	fail "gate: the two jobs are not issued"
ctl sim unplug --bay 1 >/dev/null
ctl sim unplug --bay 2 >/dev/null
stop_station
echo "ok: bay 2 worked and ukeyctl answered while the CA held bay 1's request"

# a CA that holds each request for two polls: the job waits in ca_submit,
# persisted, the bay says so, and it ends issued
stop_cmp
start_cmp --waiting 2
start_station
more_units -W 50
before=$(db "SELECT count(*) FROM issuances")
ctl sim plug --bay 1 --wait >/dev/null || fail "waiting CA: not issued: $(bay_field 1 reason)"
[ "$(db "SELECT count(*) FROM issuances")" = $((before + 1)) ] || fail "waiting CA: no issuance"
job=$(db "SELECT max(id) FROM jobs")
[ "$(db "SELECT count(*) FROM job_steps WHERE job_id = $job AND detail LIKE 'waiting: the CA holds the request%'")" = 1 ] ||
	fail "waiting CA: the wait is not in the journal"
[ "$(db "SELECT count(*) FROM job_ca_txns")" = 0 ] || fail "waiting CA: a transaction is left"
grepq "still waiting" "$STATE/cmp/log" || fail "waiting CA: the job did not poll"
ctl sim unplug --bay 1 >/dev/null

# the station stops while the CA holds the request: the transaction is kept;
# after the restart the token comes back and the job polls the same one
stop_cmp
start_cmp --waiting 1000000
ctl sim plug --bay 1 >/dev/null || fail "plug"
for _ in $(seq 300); do
	[ "$(db "SELECT count(*) FROM job_ca_txns")" = 1 ] && break
	sleep 0.05
done
[ "$(db "SELECT count(*) FROM job_ca_txns")" = 1 ] || fail "no persisted CA transaction"
job=$(db "SELECT job_id FROM job_ca_txns")
for _ in $(seq 100); do
	bay_field 1 reason > "$STATE/reason"
	grepq "waiting for the CA (PKIStatus waiting)" "$STATE/reason" && break
	sleep 0.1
done
grepq "waiting for the CA (PKIStatus waiting)" "$STATE/reason" ||
	fail "the bay does not say it waits for the CA: $(cat "$STATE/reason")"
ctl --json jobs > "$STATE/jobs.json" || fail "jobs"
grepq '"ca_waiting_since"' "$STATE/jobs.json" || fail "ukeyctl jobs does not show the wait"
tok=$(ls "$STATE/sim/tokens" | tail -1)
stop_station
[ "$(db "SELECT state FROM jobs WHERE id = $job")" = running ] || fail "job $job state at stop"
[ "$(db "SELECT count(*) FROM job_ca_txns WHERE job_id = $job")" = 1 ] || fail "the transaction was lost at stop"
# the CA releases the request at the next poll (the same server, same transaction)
kill -USR1 "$CMP_PID" || fail "release"
start_station
[ "$(db "SELECT state FROM jobs WHERE id = $job")" = suspended ] || fail "job $job not suspended after restart"
ctl sim plug --bay 1 --token "$((10#$tok))" --wait >/dev/null ||
	fail "resumed job $job not issued: $(bay_field 1 reason)"
[ "$(db "SELECT state FROM jobs WHERE id = $job")" = issued ] || fail "job $job not issued"
[ "$(db "SELECT count(*) FROM job_ca_txns")" = 0 ] || fail "a transaction is left after the answer"
ctl sim unplug --bay 1 >/dev/null
stop_station
echo "ok: a waiting CA is polled, also after a restart"

# the token leaves while the CA holds its request: the answer is stored when
# it comes and the job goes on at cert_check once the token is back; a job
# abandoned meanwhile has its certificate stored all the same, revoked (RR
# through the CA thread) and job.late_certificate audited
gate=$STATE/cmp/gate2
stop_cmp
start_cmp --gate "$gate"
start_station
more_units -R 90
# plug_held: plugs a token into bay 1 and waits until its request is held
plug_held() {
	local n0
	n0=$(grep -c "waiting for the gate" "$STATE/cmp/log" || true)
	tok=$(ctl --json sim plug --bay 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') ||
		fail "plug_held: plug"
	for _ in $(seq 400); do
		[ "$(grep -c "waiting for the gate" "$STATE/cmp/log")" -gt "$n0" ] && break
		sleep 0.05
	done
	[ "$(grep -c "waiting for the gate" "$STATE/cmp/log")" -gt "$n0" ] || fail "plug_held: no request held"
	job=$(db "SELECT max(id) FROM jobs")
}
# wait_db SQL VALUE WHAT: until the query gives VALUE
wait_db() {
	for _ in $(seq 400); do
		[ "$(db "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	fail "$3: $(db "$1"), not $2"
}
plug_held
ctl sim unplug --bay 1 >/dev/null || fail "removal: unplug"
[ "$(db "SELECT state FROM jobs WHERE id = $job")" = suspended ] || fail "removal: job $job not suspended"
touch "$gate"
wait_db "SELECT count(*) FROM job_steps WHERE job_id = $job AND step = 'ca_submit' AND phase = 'done'" 1 \
	"removal: the answer for job $job was not stored"
[ "$(db "SELECT status FROM received_certs WHERE job_id = $job")" = received ] || fail "removal: received_certs"
ctl sim plug --bay 1 --token "$tok" --wait >/dev/null || fail "removal: job $job: $(bay_field 1 reason)"
[ "$(db "SELECT state FROM jobs WHERE id = $job")" = issued ] || fail "removal: job $job not issued"
ctl sim unplug --bay 1 >/dev/null
rm -f "$gate"
plug_held
ctl sim unplug --bay 1 >/dev/null || fail "abandon: unplug"
ctl job abandon "$job" --remark "token lost while the CA decided" >/dev/null || fail "abandon: job $job"
[ "$(db "SELECT state FROM jobs WHERE id = $job")" = aborted ] || fail "abandon: job $job not aborted"
touch "$gate"
wait_db "SELECT count(*) FROM received_certs WHERE job_id = $job AND status = 'revoked'" 1 \
	"abandon: the late certificate of job $job is not recorded revoked"
[ "$(db "SELECT count(*) FROM audit WHERE job_id = $job AND action = 'job.late_certificate'")" = 1 ] ||
	fail "abandon: no job.late_certificate record"
serial=$(db "SELECT serial FROM received_certs WHERE job_id = $job")
for _ in $(seq 400); do
	grepq -x "$serial" "$STATE/cmp/revoked" && break
	sleep 0.05
done
grepq -x "$serial" "$STATE/cmp/revoked" || fail "abandon: $serial not revoked at the CA"
stop_station
echo "ok: an answer for a job whose token left is stored; for an abandoned job, stored and revoked"

# kill -9 between the CA's answer and the record: at ca_submit:returned the
# certificate is not recorded and the CA never gets certConf (it revokes it
# when the transaction lapses); at ca_submit:recorded it is recorded but not
# confirmed (the station revokes it by RR). Either way the job asks again
# and the unit ends with one live certificate.
stop_cmp
start_cmp
start_station
more_units -K 70
stop_station
for point in ca_submit:returned ca_submit:recorded; do
	UKEY_TEST_CRASH_AT=$point start_station
	tok=$(ctl --json sim plug --bay 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') ||
		fail "$point: plug"
	for _ in $(seq 400); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$DAEMON_PID" 2>/dev/null && fail "$point: ukeyd did not die there"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=""
	job=$(db "SELECT max(id) FROM jobs")
	start_station
	[ "$(db "SELECT state || ' ' || step FROM jobs WHERE id = $job")" = "suspended ca_submit" ] ||
		fail "$point: job $job is $(db "SELECT state || ' ' || step FROM jobs WHERE id = $job") after the restart"
	ctl sim plug --bay 1 --token "$tok" --wait >/dev/null ||
		fail "$point: job $job not issued after the token came back: $(bay_field 1 reason)"
	[ "$(db "SELECT state FROM jobs WHERE id = $job")" = issued ] || fail "$point: job $job not issued"
	ctl sim unplug --bay 1 >/dev/null
	if [ "$point" = ca_submit:returned ]; then
		[ "$(db "SELECT count(*) FROM audit WHERE job_id = $job AND action = 'job.ca_unanswered'")" = 1 ] ||
			fail "$point: no job.ca_unanswered audit record"
		[ "$(db "SELECT count(*) FROM received_certs WHERE job_id = $job")" = 1 ] ||
			fail "$point: the job received more than its one certificate"
		grepq "never confirmed: revoked" "$STATE/cmp/log" ||
			fail "$point: the test CA did not revoke the unconfirmed certificate"
	fi
	if [ "$point" = ca_submit:recorded ]; then
		[ "$(db "SELECT count(*) FROM received_certs WHERE job_id = $job AND status = 'revoked'")" = 1 ] ||
			fail "$point: the unconfirmed certificate is not recorded revoked"
		[ "$(db "SELECT count(*) FROM audit WHERE job_id = $job AND action = 'job.ca_unconfirmed'")" = 1 ] ||
			fail "$point: no job.ca_unconfirmed audit record"
	fi
	stop_station
	echo "ok: killed at $point, job $job issued after the restart"
done
stop_cmp	# the last transaction lapses too
# one live certificate per unit: what the CA issued and did not revoke is
# exactly what the station recorded as issued
sort -u "$STATE/cmp/issued" > "$STATE/issued.s"
sort -u "$STATE/cmp/revoked" > "$STATE/revoked.s"
comm -23 "$STATE/issued.s" "$STATE/revoked.s" > "$STATE/live"
db "SELECT cert_serial FROM issuances" | sort -u > "$STATE/recorded"
cmp -s "$STATE/live" "$STATE/recorded" ||
	fail "the CA's live certificates are not the station's issuances: $(diff "$STATE/live" "$STATE/recorded" | tr '\n' ' ')"
[ "$(db "SELECT count(*) FROM issuances")" = "$(db "SELECT count(DISTINCT unit_id) FROM issuances")" ] ||
	fail "a unit has two issuances"
echo "PASS"
