# Power cut at every point of the renewal job (docs/jobs.md, "Renewal"), for
# RSA-2048 and EC P-256 tokens in turn: a token is issued, a renewal order
# for its certificate is paid, ukeyd is killed with SIGKILL at the point
# (UKEY_TEST_CRASH_AT), restarted, the token plugged in again and the PIN
# entered again; the renewal must end issued, the token must hold exactly
# the new key pair and certificate, and the invariants (invariants.sh) hold:
# never two live certificates for one renewal, nothing the CA returned lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/invariants.sh"

RENEW_POINTS="claimed:done identify:begin identify:done login:begin login:done
generate_key:begin generate_key:done make_csr:done ca_submit:returned ca_submit:done
cert_check:done write_cert:begin write_cert:done read_back:done record:begin record:done
discard_old:begin discard_old:done"

# issue KT: a new token of key type KT issued in bay 1; sets TOKN, SERIAL
issue() {
	local kt=$1
	TOKN=$(ctl --json sim plug --bay 1 --profile "softhsm2-chaos-$kt" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "$kt: plug"
	ctl bay wait --bay 1 --timeout 120 >/dev/null || fail "$kt: issue: $(bay_field 1 reason)"
	[ "$(bay_field 1 state)" = done ] || fail "$kt: not issued: $(bay_field 1 state): $(bay_field 1 reason)"
	SERIAL=$(db "SELECT cert_serial FROM issuances WHERE job_id = (SELECT max(id) FROM jobs)")
	ctl sim unplug --bay 1 >/dev/null
}

n=0
renew_point() {
	local kt=$1 spec=$2 job new
	n=$((n + 1))
	issue "$kt"
	renewal_order "R-$n" "$SERIAL" "$(printf '20261205%022d' "$n")"
	stop_station
	UKEY_TEST_CRASH_AT=$spec start_station
	ctl sim plug --bay 1 --token "$TOKN" --profile "softhsm2-chaos-$kt" >/dev/null 2>&1 || true
	renewal_drive 1
	for _ in $(seq 200); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$DAEMON_PID" 2>/dev/null && fail "$kt $spec: ukeyd was not killed there"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=""
	start_station
	job=$(db "SELECT max(id) FROM jobs")
	[ "$(db "SELECT kind || ' ' || state FROM jobs WHERE id = $job")" = "renew suspended" ] ||
		fail "$kt $spec: after the restart job $job is $(db "SELECT kind || ' ' || state || ' ' || step FROM jobs WHERE id = $job")"
	# the record never shows two live certificates for the renewal
	[ "$(db "SELECT count(*) FROM issuances i JOIN jobs j ON j.unit_id = i.unit_id OR i.cert_serial = j.renews_serial WHERE j.id = $job AND i.revoked_at IS NULL")" = 1 ] ||
		fail "$kt $spec: not one live certificate in the record"
	ctl sim plug --bay 1 --token "$TOKN" --profile "softhsm2-chaos-$kt" >/dev/null 2>&1 || true
	renewal_drive 1
	[ "$(db "SELECT state FROM jobs WHERE id = $job")" = issued ] ||
		fail "$kt $spec: job $job not issued after the token came back: $(bay_field 1 state): $(bay_field 1 reason)"
	new=$(db "SELECT cert_serial FROM issuances WHERE job_id = $job")
	[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$SERIAL'")" = superseded ] ||
		fail "$kt $spec: $SERIAL is not superseded"
	sqlite3 "$STATE/ca/ca.db" "SELECT status FROM issued WHERE serial = '$SERIAL'" | grepq -x revoked ||
		fail "$kt $spec: $SERIAL is not revoked at the CA"
	ctl sim unplug --bay 1 >/dev/null
	check_invariants "$TOKN"
	echo "ok: $kt renewal killed at $spec; job $job issued $new in place of $SERIAL; invariants hold"
}

chaos_config
start_station
chaos_orders 5
t0=$(date +%s)
i=0
for spec in $RENEW_POINTS; do
	i=$((i + 1))
	if [ $((i % 2)) = 1 ]; then renew_point rsa "$spec"; else renew_point ec "$spec"; fi
done
check_invariants all
stop_station
echo "PASS: renewal killed at $n points ($(echo $RENEW_POINTS | wc -w) listed) in $(( $(date +%s) - t0 )) s; every renewal ended issued and the invariants hold"
