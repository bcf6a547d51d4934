# Faults stay in their bay: a PKCS#11 module that crashes in one bay and one
# that hangs in another (profile softhsm2-chaos-short: 4 s per call) while a
# third bay issues its token; the control socket must answer throughout. Then
# a CA that is down for a while (jobs wait at ca_submit and finish when it is
# back) and a CA that certifies another key (refused, recorded as an
# incident, nothing written to the token). The invariants (invariants.sh)
# are checked after each.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/invariants.sh"

chaos_config
sed -i "s/^bays = .*/bays = 6/" "$STATE/ukeyd.conf"
start_station
chaos_orders 4

# poll_socket_start / poll_socket_stop: ukeyctl status every 100 ms, each
# answer awaited at most 2 s; a late or failed answer is counted. It holds
# none of the test's output open: a failed check exits without
# poll_socket_stop, and lib.sh's cleanup then stops it.
poll_socket_start() {
	: > "$STATE/poll.ok"
	: > "$STATE/poll.bad"
	rm -f "$STATE/poll.stop"
	(
		while [ ! -e "$STATE/poll.stop" ]; do
			if timeout 2 "$BUILD/ukeyctl" --state "$STATE" status >/dev/null 2>&1; then
				echo . >> "$STATE/poll.ok"
			else
				date +%T.%N >> "$STATE/poll.bad"
			fi
			sleep 0.1
		done
	) </dev/null >/dev/null 2>&1 &
	POLL_PID=$!
}
poll_socket_stop() {
	touch "$STATE/poll.stop"
	wait "$POLL_PID"
	[ ! -s "$STATE/poll.bad" ] || fail "$1: the socket did not answer at $(tr '\n' ' ' < "$STATE/poll.bad")"
	[ "$(wc -l < "$STATE/poll.ok")" -ge 5 ] || fail "$1: too few status polls ($(wc -l < "$STATE/poll.ok"))"
	echo "ok: $1: ukeyctl status answered $(wc -l < "$STATE/poll.ok") times in a row"
}

# worker_pid TOKEN: the worker process that loaded the token's module (from
# the call log)
worker_pid() { awk 'NR == 1 { print $1 }' "$(chaos_token_dir "$1")/faultp11.log"; }

# ---- a module crash and a module hang beside a healthy bay ----
chaos_token 'log on\nC_GenerateKeyPair 1 crash\n'; crash_tok=$TOK
chaos_token 'log on\nC_GenerateKeyPair 1 hang\n'; hang_tok=$TOK
# the healthy token is slow to make its key, so that it works while the
# others fault
chaos_token 'C_GenerateKeyPair 1 delay 3000\n'; good_tok=$TOK
poll_socket_start
t0=$(date +%s)
ctl sim plug --bay 1 --token "$crash_tok" --profile softhsm2-chaos-short >/dev/null || fail "plug crash"
ctl sim plug --bay 2 --token "$hang_tok" --profile softhsm2-chaos-short >/dev/null || fail "plug hang"
ctl sim plug --bay 3 --token "$good_tok" --profile softhsm2-chaos-ec >/dev/null || fail "plug good"
for bay in 1 2 3; do ctl bay wait --bay "$bay" --timeout 120 >/dev/null 2>&1 || true; done
elapsed=$(( $(date +%s) - t0 ))
poll_socket_stop "crash and hang"

[ "$(bay_field 1 state)" = faulted ] || fail "crash: bay 1 is $(bay_field 1 state): $(bay_field 1 reason)"
bay_field 1 reason | grepq "worker crashed (signal 6) during generate_key" || fail "crash: reason: $(bay_field 1 reason)"
[ "$(bay_field 2 state)" = faulted ] || fail "hang: bay 2 is $(bay_field 2 state): $(bay_field 2 reason)"
bay_field 2 reason | grepq "generate_key timed out; worker killed" || fail "hang: reason: $(bay_field 2 reason)"
[ "$(bay_field 3 state)" = done ] || fail "the healthy bay: $(bay_field 3 state): $(bay_field 3 reason)"
for tok in "$crash_tok" "$hang_tok"; do
	pid=$(worker_pid "$tok")
	[ -n "$pid" ] || fail "token $tok: no worker in the call log"
	# reaped: no process, not even a zombie, is left
	[ ! -e "/proc/$pid" ] || fail "token $tok: worker $pid left behind ($(cat "/proc/$pid/stat" 2>/dev/null))"
done
for bay in 1 2; do
	job=$(bay_field "$bay" job)
	[ "$(db "SELECT state FROM jobs WHERE id = $job")" = aborted ] ||
		fail "bay $bay: job $job is $(db "SELECT state FROM jobs WHERE id = $job")"
	db "SELECT detail FROM audit WHERE action = 'bay.fault' AND bay = 'sim-$bay'" | grepq . ||
		fail "bay $bay: the fault is not audited"
done
echo "ok: crash and hang faulted their bays, workers reaped, bay 3 issued meanwhile ($elapsed s)"
for bay in 1 2 3; do ctl sim unplug --bay "$bay" >/dev/null; done
check_invariants "$crash_tok" "$hang_tok" "$good_tok"
# the faulted bays' tokens are the station's to wipe and re-use
for tok in "$crash_tok" "$hang_tok"; do
	: > "$(chaos_token_dir "$tok")/faultp11.conf"
	ctl sim plug --bay 1 --token "$tok" --profile softhsm2-chaos-short --wait >/dev/null 2>&1 || true
	[ "$(bay_field 1 state)" = refused ] || fail "token $tok: $(bay_field 1 state): $(bay_field 1 reason)"
	ctl bay wipe --bay 1 >/dev/null || fail "token $tok: wipe"
	ctl bay wait --bay 1 --timeout 120 >/dev/null || fail "token $tok after the wipe: $(bay_field 1 reason)"
	ctl sim unplug --bay 1 >/dev/null
done
check_invariants "$crash_tok" "$hang_tok"
echo "ok: the crashed and hung bays' tokens were wiped and issued"

# ---- the CA down for a while: jobs wait at ca_submit ----
echo down > "$STATE/ca/fault"
chaos_token ''; t1=$TOK
chaos_token ''; t2=$TOK
poll_socket_start
ctl sim plug --bay 4 --token "$t1" --profile softhsm2-chaos-ec >/dev/null || fail "plug"
ctl sim plug --bay 5 --token "$t2" --profile softhsm2-chaos-rsa >/dev/null || fail "plug"
for _ in $(seq 600); do
	[ "$(db "SELECT count(*) FROM (SELECT job_id FROM job_steps WHERE step = 'ca_submit'
		AND phase = 'failed' GROUP BY job_id HAVING count(*) >= 2) AS s")" = 2 ] && break
	sleep 0.1
done
[ "$(db "SELECT count(*) FROM jobs WHERE state = 'running' AND step = 'ca_submit'")" = 2 ] ||
	fail "CA down: the jobs do not wait at ca_submit: $(db "SELECT id, state, step, error FROM jobs WHERE state <> 'issued'")"
# between two retries a bay says "waiting for the CA"; during one, for as
# long as the CA thread takes to be refused, "asking the CA"
for bay in 4 5; do
	for _ in $(seq 50); do
		[ "$(bay_field "$bay" state)" = working ] || fail "CA down: bay $bay is $(bay_field "$bay" state)"
		reason=$(bay_field "$bay" reason)
		echo "$reason" | grepq "waiting for the CA" && break
		echo "$reason" | grepq "asking the CA" || fail "CA down: bay $bay: $reason"
		sleep 0.1
	done
	echo "$reason" | grepq "waiting for the CA" || fail "CA down: bay $bay never waits: $reason"
done
retries=$(db "SELECT count(*) FROM job_steps WHERE step = 'ca_submit' AND phase = 'failed'")
[ "$(db "SELECT count(*) FROM received_certs WHERE status = 'received'")" = 0 ] || fail "CA down: a certificate arrived"
rm -f "$STATE/ca/fault"
for bay in 4 5; do
	ctl bay wait --bay "$bay" --timeout 120 >/dev/null || fail "CA back: bay $bay: $(bay_field "$bay" reason)"
done
poll_socket_stop "CA down"
for bay in 4 5; do ctl sim unplug --bay "$bay" >/dev/null; done
check_invariants "$t1" "$t2"
echo "ok: two jobs waited for the CA ($retries refused submissions) and were issued when it came back"

# ---- the CA certifies another key ----
echo wrong-key > "$STATE/ca/fault"
refused_before=$(db "SELECT count(*) FROM received_certs WHERE status = 'refused'")
chaos_token ''; wk=$TOK
ctl sim plug --bay 6 --token "$wk" --profile softhsm2-chaos-ec --wait >/dev/null 2>&1 &&
	fail "wrong-key: a certificate for another key was accepted"
rm -f "$STATE/ca/fault"
[ "$(bay_field 6 state)" = failed ] || fail "wrong-key: bay 6 is $(bay_field 6 state)"
bay_field 6 reason | grepq -i "public key" || fail "wrong-key: reason: $(bay_field 6 reason)"
job=$(bay_field 6 job)
serial=$(db "SELECT serial FROM received_certs WHERE job_id = $job")
[ "$(db "SELECT status FROM received_certs WHERE job_id = $job")" = refused ] ||
	fail "wrong-key: the certificate is not recorded as refused"
[ "$(db "SELECT count(*) FROM received_certs WHERE status = 'refused'")" = $((refused_before + 1)) ] ||
	fail "wrong-key: refused count"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'incident.ca_reply_refused' AND job_id = $job")" = 1 ] ||
	fail "wrong-key: the incident is not audited"
[ "$(db "SELECT count(*) FROM job_steps WHERE job_id = $job AND step = 'write_cert'")" = 0 ] ||
	fail "wrong-key: write_cert was attempted"
SOFTHSM2_CONF=$(chaos_token_dir "$wk")/softhsm2.conf pkcs11-tool --module "$SOFTHSM_MODULE" \
	--login --pin "$CHAOS_USER_PIN" --list-objects > "$STATE/wk.objects" 2>&1 ||
	fail "wrong-key: cannot list the token's objects: $(cat "$STATE/wk.objects")"
grepq "Private Key Object" "$STATE/wk.objects" || fail "wrong-key: the listing shows no key (login failed?)"
if grepq "Certificate Object" "$STATE/wk.objects"; then
	fail "wrong-key: a certificate reached the token"
fi
sqlite3 "$STATE/ca/ca.db" "SELECT status FROM issued WHERE serial = '$serial'" | grepq -x revoked ||
	fail "wrong-key: the CA does not list $serial as revoked"
ctl sim unplug --bay 6 >/dev/null
check_invariants "$wk"
echo "ok: a certificate for another key was refused ($serial), audited, revoked, never written"

check_invariants all
stop_station
echo "PASS: crash and hang contained with the socket answering, CA outage waited out, wrong-key certificate refused; $INVARIANT_TOKENS_CHECKED token checks"
