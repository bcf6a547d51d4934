# A token pulled in the middle of its job: the job is suspended at its step,
# nothing is recorded as issued, a different token in the bay starts fresh on
# another unit, and the same token plugged back (in any bay) resumes the job
# to a verified issuance. A suspended job can also be abandoned by an operator.
. "$(dirname "$0")/lib.sh"

# one rules file for every bay's fault module, written before a token is
# plugged so that even a fast job meets its fault
export UKEY_FAULTP11_CONF=$STATE/faultp11.conf
start_station
orders_ready
# a second copy of the sample orders, so that more units wait than tokens pass
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for o in d["orders"]:
    o["portal_ref"] += "-B"
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)' "$SRC/examples/orders-sample.json" "$STATE/more.json"
ctl order import "$STATE/more.json" >/dev/null || fail "import the second copy"
n=50
for id in $(ctl order list --state pending | awk 'NR > 1 { print $1 }'); do
	n=$((n + 1))
	ctl order approve "$id" >/dev/null && ctl order pay "$id" --payment-no "20261121000000000000000000$n" \
		>/dev/null || fail "approve and pay order $id"
done

# token_serial N: the serial of virtual token N
token_serial() {
	SOFTHSM2_CONF=$(token_conf "$1") pkcs11-tool --module "$SOFTHSM_MODULE" --list-token-slots \
		2>/dev/null | awk -F': *' '/serial num/ && !n++ { print $2 }'
}

# pull_at STEP CALL: a new token on bay 1, held at CALL during STEP, then pulled.
# Prints the virtual token number.
pull_at() {
	local step=$1 call=$2 tok
	if [ "$call" = CA ]; then echo down > "$STATE/ca/fault"; else echo "$call * hang" > "$UKEY_FAULTP11_CONF"; fi
	tok=$(ctl --json sim plug --bay 1 --profile softhsm2-fault |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "plug"
	wait_for_step 1 "$step"
	ctl sim unplug --bay 1 >/dev/null || fail "unplug"
	echo "$tok"
}

n_issued() { db "SELECT count(*) FROM issuances"; }

# the CA step does not touch the token: the job waits for the CA (down here)
for spec in generate_key:C_GenerateKeyPair make_csr:C_Sign ca_submit:CA write_cert:C_CreateObject; do
	step=${spec%%:*}
	call=${spec#*:}
	before=$(n_issued)
	tok=$(pull_at "$step" "$call")
	job=$(db "SELECT max(id) FROM jobs")
	[ "$(db "SELECT state || ' ' || step FROM jobs WHERE id = $job")" = "suspended $step" ] ||
		fail "$step: job $job is $(db "SELECT state || ' ' || step FROM jobs WHERE id = $job")"
	db "SELECT error FROM jobs WHERE id = $job" | grepq "removed" || fail "$step: error should say removed"
	unit=$(db "SELECT unit_id FROM jobs WHERE id = $job")
	[ "$(db "SELECT state FROM units WHERE id = $unit")" = in_production ] ||
		fail "$step: the suspended job's unit left production"
	[ "$(n_issued)" = "$before" ] || fail "$step: an issuance was recorded"
	[ "$(bay_field 1 state)" = empty ] || fail "$step: bay 1 not empty after the pull"

	# the same token comes back in another bay, healthy: the job goes on
	rm -f "$UKEY_FAULTP11_CONF" "$STATE/ca/fault"
	ctl sim plug --bay 2 --token "$tok" --profile softhsm2-fault --wait >/dev/null ||
		fail "$step: re-inserted token: $(bay_field 2 reason)"
	[ "$(db "SELECT state FROM jobs WHERE id = $job")" = issued ] ||
		fail "$step: job $job not issued after the token came back: $(bay_field 2 reason)"
	[ "$(db "SELECT resumed FROM jobs WHERE id = $job")" = 1 ] || fail "$step: resume not counted"
	[ "$(db "SELECT count(*) FROM jobs WHERE unit_id = $unit")" = 1 ] ||
		fail "$step: the unit took a second job"
	[ "$(db "SELECT token_serial FROM issuances WHERE unit_id = $unit")" = "$(token_serial "$tok")" ] ||
		fail "$step: issued to another token"
	[ "$(db "SELECT count(*) FROM received_certs WHERE unit_id = $unit")" = 1 ] ||
		fail "$step: the CA issued more than one certificate for the unit"
	[ "$(db "SELECT group_concat(action, ' ') FROM audit WHERE job_id = $job AND action IN
		('job.start', 'job.suspend', 'job.resume', 'issuance.record')")" = \
		"job.start job.suspend job.resume issuance.record" ] ||
		fail "$step: audit trail of job $job: $(db "SELECT group_concat(action, ' ') FROM audit WHERE job_id = $job")"
	SOFTHSM2_CONF=$(token_conf "$tok") pkcs11-tool --module "$SOFTHSM_MODULE" --list-objects \
		--type pubkey 2>/dev/null | grep -c "Public Key Object" | grepq -x 1 ||
		fail "$step: the token does not hold exactly one key pair"
	ctl sim unplug --bay 2 >/dev/null
	echo "ok: pulled at $step ($call), resumed, issued"
done

# the station killed mid-job: at restart the job waits for its token, whose
# return resumes it (its hung worker died with the daemon)
echo "C_GenerateKeyPair * hang" > "$UKEY_FAULTP11_CONF"
tok=$(ctl --json sim plug --bay 1 --profile softhsm2-fault |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "plug"
wait_for_step 1 generate_key
job=$(db "SELECT max(id) FROM jobs")
# this station's worker (other suites may run sim-1 workers of their own)
wpid=$(pgrep -P "$DAEMON_PID" ukey-worker) || fail "no worker under the daemon"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=""
for _ in $(seq 100); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$wpid" 2>/dev/null && fail "the worker (pid $wpid) outlived the killed daemon"
rm -f "$UKEY_FAULTP11_CONF"
start_station
[ "$(db "SELECT state || ' ' || step FROM jobs WHERE id = $job")" = "suspended generate_key" ] ||
	fail "after the restart job $job is $(db "SELECT state || ' ' || step FROM jobs WHERE id = $job")"
ctl sim plug --bay 1 --token "$tok" --profile softhsm2-fault --wait >/dev/null ||
	fail "token back after the restart: $(bay_field 1 reason)"
[ "$(db "SELECT state FROM jobs WHERE id = $job")" = issued ] || fail "job $job not issued after the restart"
ctl sim unplug --bay 1 >/dev/null
echo "ok: killed at generate_key, restarted, resumed, issued"

# a different token in the bay of a suspended job starts fresh on another unit
tok=$(pull_at generate_key C_GenerateKeyPair)
job=$(db "SELECT max(id) FROM jobs")
ctl sim plug --bay 1 --wait >/dev/null || fail "fresh token: $(bay_field 1 reason)"
[ "$(db "SELECT state FROM jobs WHERE id = $job")" = suspended ] || fail "another token resumed job $job"
[ "$(db "SELECT unit_id FROM jobs WHERE id = $((job + 1))")" != "$(db "SELECT unit_id FROM jobs WHERE id = $job")" ] ||
	fail "the fresh token took the suspended job's unit"
ctl sim unplug --bay 1 >/dev/null

# the operator gives up on it: abandoned, the unit is queued again
ctl job abandon "$job" >/dev/null 2>&1 && fail "abandon without a remark accepted"
ctl job abandon $((job + 1)) --remark "x" >/dev/null 2>&1 && fail "abandoned a job that is not suspended"
ctl job abandon "$job" --remark "customer's token damaged" >/dev/null || fail "abandon"
[ "$(db "SELECT state FROM jobs WHERE id = $job")" = aborted ] || fail "abandoned job not aborted"
db "SELECT error FROM jobs WHERE id = $job" | grepq "damaged" || fail "the remark is not recorded"
[ "$(db "SELECT state FROM units WHERE id = (SELECT unit_id FROM jobs WHERE id = $job)")" = queued ] ||
	fail "the abandoned job's unit is not queued again"
# its token is now known to the station and can be wiped and re-used
rm -f "$UKEY_FAULTP11_CONF"
ctl sim plug --bay 3 --token "$tok" --profile softhsm2-fault --wait >/dev/null 2>&1 || true
[ "$(bay_field 3 state)" = refused ] || fail "a used token was not refused: $(bay_field 3 state)"
ctl bay wipe --bay 3 >/dev/null || fail "wipe"
ctl bay wait --bay 3 >/dev/null || fail "the wiped token did not finish: $(bay_field 3 reason)"
[ "$(db "SELECT state FROM units WHERE id = (SELECT unit_id FROM jobs WHERE id = $job)")" = issued ] ||
	fail "the abandoned job's unit was not issued on the next token"

# detection events of the simulated source
ctl --json events | python3 -c '
import json, sys
ev = json.load(sys.stdin)["events"]
kinds = [(e["kind"], e["bay"], e["profile"]) for e in ev]
assert ("arrived", "sim-1", "softhsm2-fault") in kinds, kinds
assert ("left", "sim-1", "softhsm2-fault") in kinds, kinds
assert all(e["source"] == "sim" for e in ev), ev
' || fail "event stream"
[ -n "$(bay_field 3 arrival_to_job_ms)" ] || fail "no arrival-to-job latency"
ctl audit verify >/dev/null || fail "audit verify"
stop_station
echo "PASS: pulled tokens suspended their jobs and resumed them when plugged back"
