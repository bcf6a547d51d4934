# Power cut at every point of the issuance job, for an RSA-2048 and an EC
# P-256 certificate: ukeyd is killed with SIGKILL at that exact point,
# restarted, the token is plugged in again, and the job must end issued and
# verified; then the invariants (invariants.sh) are checked from the
# database, the CA's list and the token. Last, on the EC station, the CA
# certificate's write after make_csr: ukeyd killed inside it, and the token
# pulled while it hangs.
#
# Daemon-side points use the test hook UKEY_TEST_CRASH_AT=<step>:<point>
# (ukeyd kills itself there). Points inside a worker step are held with a
# faultp11 "delay" on a PKCS#11 call of that step and killed from here once
# the call log shows the worker waiting in it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/invariants.sh"

# <step>:<point> where ukeyd kills itself (src/station/job_journal.c, job_test_crash_point)
DAEMON_POINTS="claimed:done init_token:begin init_token:done generate_key:begin
generate_key:done make_csr:begin make_csr:done ca_submit:begin ca_submit:returned
ca_submit:done cert_check:begin cert_check:done write_cert:begin write_cert:done
read_back:begin read_back:done record:begin record:done"
# <step>:<call>:<occurrence> inside a worker step, counted from the worker's
# start (each plugged token gets a fresh worker; docs/testing-faults.md):
# C_InitPIN 1: token initialised (label, SO PIN), no user PIN yet;
# C_Logout N: the Nth worker step's token work is done, its reply not sent;
# C_CreateObject 2: the certificate is written, the CA certificate not yet
WORKER_POINTS="init_token:C_InitPIN:1 init_token:C_Logout:1 generate_key:C_Logout:2
make_csr:C_Logout:3 write_cert:C_CreateObject:2 write_cert:C_Logout:4 read_back:C_Logout:5"

# station_for KIND: a station of its own for this key type (each runs in its
# own subshell, the two in parallel): state directory, fault rules, call log
TOP=$STATE
station_for() {
	STATE=$TOP/$1
	mkdir -p "$STATE"
	export UKEY_FAULTP11_CONF=$STATE/faultp11.conf
	RULES=$UKEY_FAULTP11_CONF
	CALLS=$STATE/faultp11.log
	trap '[ -z "$DAEMON_PID" ] || kill -KILL "$DAEMON_PID" 2>/dev/null || true' EXIT
	chaos_config
	: > "$RULES"
	start_station
	chaos_orders 14
	stop_station
}

# wait_gone PID WHAT: until the process has ended
wait_gone() {
	local i
	for i in $(seq 400); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	fail "$2 (pid $1) still runs"
}

# step_after SPEC: the job's step after a kill at SPEC. A point is reached
# right after the commit that holds its mark; a step's done shares that
# commit with the next step's begin, cert_check's marks with ca_submit's
# done and write_cert's begin, read_back's done and record's begin with the
# record (docs/jobs.md, "One commit per step boundary")
step_after() {
	case $1 in
	init_token:done) echo generate_key ;;
	generate_key:done) echo make_csr ;;
	make_csr:done) echo ca_submit ;;
	ca_submit:done | cert_check:*) echo write_cert ;;
	write_cert:done) echo read_back ;;
	read_back:done | record:*) echo issued ;;
	*) echo "${1%%:*}" ;;
	esac
}

points=0
# kill_point KEYTYPE SPEC
kill_point() {
	local kt=$1 spec=$2 profile=softhsm2-chaos-$1 step tok job i call="" occ="" wpid=""
	step=${spec%%:*}
	if [ "$(echo "$spec" | tr -cd : | wc -c)" = 2 ]; then
		call=$(echo "$spec" | cut -d: -f2)
		occ=$(echo "$spec" | cut -d: -f3)
		printf 'log on\n%s %s delay 600000\n' "$call" "$occ" > "$RULES"
		: > "$CALLS"
		start_station
	else
		: > "$RULES"
		UKEY_TEST_CRASH_AT=$spec start_station
	fi
	tok=$(ctl --json sim plug --bay 1 --profile "$profile" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "$kt $spec: plug"
	if [ -n "$call" ]; then
		for i in $(seq 600); do
			wpid=$(awk -v c="$call" -v n="$occ" '$2 == c && $3 == n && $4 == "delay" { print $1 }' "$CALLS")
			[ -n "$wpid" ] && break
			sleep 0.05
		done
		[ -n "$wpid" ] || fail "$kt $spec: the worker never reached $call $occ"
		kill -KILL "$DAEMON_PID"
	else
		for i in $(seq 600); do
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			wpid=$(pgrep -P "$DAEMON_PID" ukey-worker || true)
			sleep 0.05
		done
	fi
	wait_gone "$DAEMON_PID" "$kt $spec: ukeyd"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=""
	[ -z "$wpid" ] || wait_gone "$wpid" "$kt $spec: the worker of the killed daemon"
	: > "$RULES"

	start_station
	job=$(db "SELECT max(id) FROM jobs")
	step=$(step_after "$spec")
	if [ "$step" = issued ]; then
		[ "$(db "SELECT state FROM jobs WHERE id = $job")" = issued ] ||
			fail "$kt $spec: job $job not issued after the kill at $spec"
	else
		[ "$(db "SELECT state || ' ' || step FROM jobs WHERE id = $job")" = "suspended $step" ] ||
			fail "$kt $spec: after the restart job $job is $(db "SELECT state || ' ' || step FROM jobs WHERE id = $job")"
	fi
	ctl sim plug --bay 1 --token "$tok" --profile "$profile" --wait >/dev/null 2>&1 || true
	[ "$(db "SELECT state FROM jobs WHERE id = $job")" = issued ] ||
		fail "$kt $spec: job $job not issued after the token came back: $(bay_field 1 state): $(bay_field 1 reason)"
	[ "$(db "SELECT key_alg FROM jobs WHERE id = $job")" = "$([ "$kt" = rsa ] && echo rsa2048 || echo ec-p256)" ] ||
		fail "$kt $spec: job $job has the wrong key type"
	ctl sim unplug --bay 1 >/dev/null || fail "$kt $spec: unplug"
	check_invariants "$tok"
	stop_station
	points=$((points + 1))
	echo "ok: $kt killed at $spec, restarted, token back, job $job issued, invariants hold"
}

# kind KT: every kill point for one key type, on its own station
kind() {
	local kt=$1 spec
	station_for "$kt"
	for spec in $DAEMON_POINTS $WORKER_POINTS; do
		kill_point "$kt" "$spec"
	done
	[ "$kt" = ec ] && abandon_points && ahead_point && ahead_stop_point
	start_station
	check_invariants all
	stop_station
	echo "$points $INVARIANT_TOKENS_CHECKED" > "$TOP/$kt.count"
}

# killed after the CA answered, and the token never comes back: the operator
# abandons the job; the certificate the CA made must still be recorded and
# revoked (job_ca_recover), and the token can be wiped and re-used
abandon_points() {
	local spec tok job serial ca_before
	for spec in ca_submit:returned ca_submit:begin; do
		: > "$RULES"
		UKEY_TEST_CRASH_AT=$spec start_station
		tok=$(ctl --json sim plug --bay 1 --profile softhsm2-chaos-ec |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "abandon $spec: plug"
		wait_gone "$DAEMON_PID" "abandon $spec: ukeyd"
		wait "$DAEMON_PID" 2>/dev/null || true
		DAEMON_PID=""
		start_station
		job=$(db "SELECT max(id) FROM jobs")
		ca_before=$(sqlite3 "$STATE/ca/ca.db" "SELECT count(*) FROM issued")
		ctl job abandon "$job" --remark "token lost after the CA answered" >/dev/null || fail "abandon $spec"
		[ "$(db "SELECT state FROM jobs WHERE id = $job")" = aborted ] || fail "abandon $spec: job $job not aborted"
		if [ "$spec" = ca_submit:returned ]; then
			serial=$(db "SELECT serial FROM received_certs WHERE job_id = $job AND status = 'revoked'")
			[ -n "$serial" ] || fail "abandon $spec: the certificate the CA made is not recorded as revoked"
			sqlite3 "$STATE/ca/ca.db" "SELECT status FROM issued WHERE serial = '$serial'" | grepq -x revoked ||
				fail "abandon $spec: $serial is not revoked at the CA"
		else
			[ "$(db "SELECT count(*) FROM received_certs WHERE job_id = $job")" = 0 ] ||
				fail "abandon $spec: a certificate was recorded for a request never made"
		fi
		[ "$(sqlite3 "$STATE/ca/ca.db" "SELECT count(*) FROM issued")" = "$ca_before" ] ||
			fail "abandon $spec: the CA issued again while the job ended"
		check_invariants "$tok"
		ctl sim plug --bay 1 --token "$tok" --profile softhsm2-chaos-ec --wait >/dev/null 2>&1 || true
		[ "$(bay_field 1 state)" = refused ] || fail "abandon $spec: token $tok is $(bay_field 1 state)"
		ctl bay wipe --bay 1 >/dev/null || fail "abandon $spec: wipe"
		ctl bay wait --bay 1 --timeout 120 >/dev/null || fail "abandon $spec: after the wipe: $(bay_field 1 reason)"
		ctl sim unplug --bay 1 >/dev/null
		check_invariants "$tok"
		stop_station
		echo "ok: ec killed at $spec, job $job abandoned, nothing the CA made lost, token $tok wiped and issued"
	done
}

# ahead_plug WHAT ACTION: a station started with the first C_CreateObject
# (the CA certificate's write after make_csr's reply) given ACTION, a token
# plugged with softhsm2-chaos-kept (its number in tok), and its worker
# waited for inside that call (its pid in wpid)
ahead_plug() {
	local i
	printf 'log on\nC_CreateObject 1 %s\n' "$2" > "$RULES"
	: > "$CALLS"
	start_station
	tok=$(ctl --json sim plug --bay 1 --profile softhsm2-chaos-kept |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "$1: plug"
	wpid=""
	for i in $(seq 600); do
		wpid=$(awk -v act="${2%% *}" '$2 == "C_CreateObject" && $3 == 1 && $4 == act { print $1 }' \
			"$CALLS")
		[ -n "$wpid" ] && break
		sleep 0.05
	done
	[ -n "$wpid" ] || fail "$1: the worker never began the CA certificate's write after make_csr"
}

# the token pulled while a kept worker's write ahead hangs in the module:
# ukeyd stops that worker without waiting for it (SIGTERM, SIGKILL 500 ms
# later, reaped on a later turn of the loop), so the unplug is answered
# while the worker is still there; it is reaped, not left a zombie, and the
# token plugged back ends its job issued
ahead_stop_point() {
	local tok job wpid
	ahead_plug "ahead stop" hang
	job=$(db "SELECT max(id) FROM jobs")
	ctl sim unplug --bay 1 >/dev/null || fail "ahead stop: unplug"
	# answered in its grace: ukeyd did not wait for the worker first
	kill -0 "$wpid" 2>/dev/null ||
		fail "ahead stop: the worker was gone before the unplug was answered: ukeyd waited for it"
	ctl status >/dev/null || fail "ahead stop: no status while the stopped worker hangs"
	# ended by SIGKILL after its 500 ms, and reaped by ukeyd
	wait_gone "$wpid" "ahead stop: the stopped worker"
	grep -q "worker $wpid did not end its write within 500 ms of SIGTERM: killed" \
		"$STATE/ukeyd.log" || fail "ahead stop: no SIGKILL logged for worker $wpid"
	: > "$RULES"
	ctl sim plug --bay 1 --token "$tok" --profile softhsm2-chaos-kept --wait >/dev/null 2>&1 || true
	[ "$(db "SELECT state FROM jobs WHERE id = $job")" = issued ] ||
		fail "ahead stop: job $job not issued after the token came back: $(bay_field 1 state): $(bay_field 1 reason)"
	ctl sim unplug --bay 1 >/dev/null || fail "ahead stop: unplug at the end"
	check_invariants "$tok"
	stop_station
	echo "ok: ec token pulled while the write ahead hung; answered at once, worker $wpid killed and reaped, job $job issued"
}

# killed while a kept worker writes the CA certificate after make_csr's reply
# (profile softhsm2-chaos-kept; docs/jobs.md, "The CA certificate written
# ahead"), held there for a second: the worker lets the write finish and
# stops, so the certificate is whole on the token before ukeyd is back; the
# job then ends issued with one CA certificate on the token
ahead_point() {
	local tok job wpid conf ca_serial on_token
	ahead_plug ahead "delay 1000"
	kill -KILL "$DAEMON_PID"
	wait_gone "$DAEMON_PID" "ahead: ukeyd"
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=""
	wait_gone "$wpid" "ahead: the worker of the killed daemon"
	: > "$RULES"
	conf=$(chaos_token_dir "$tok")/softhsm2.conf
	ca_serial=$(openssl x509 -in "$STATE/ca/ca.crt" -noout -serial | cut -d= -f2)
	on_token() {
		SOFTHSM2_CONF=$conf pkcs11-tool --module "$SOFTHSM_MODULE" --list-objects --type cert \
			2>/dev/null | awk '$1 == "serial:" { print $2 }'
	}
	[ "$(on_token)" = "$ca_serial" ] ||
		fail "ahead: the CA certificate is not whole on the token after the kill: $(on_token)"
	start_station
	job=$(db "SELECT max(id) FROM jobs")
	ctl sim plug --bay 1 --token "$tok" --profile softhsm2-chaos-kept --wait >/dev/null 2>&1 || true
	[ "$(db "SELECT state FROM jobs WHERE id = $job")" = issued ] ||
		fail "ahead: job $job not issued after the token came back: $(bay_field 1 state): $(bay_field 1 reason)"
	[ "$(on_token | grep -cx "$ca_serial")" = 1 ] || fail "ahead: not one CA certificate on the token"
	[ "$(on_token | wc -l)" = 2 ] || fail "ahead: the token holds $(on_token | wc -l) certificates"
	ctl sim unplug --bay 1 >/dev/null || fail "ahead: unplug"
	check_invariants "$tok"
	stop_station
	echo "ok: ec killed while the CA certificate was written ahead; written whole, job $job issued"
}

t0=$(date +%s)
( kind rsa ) > "$TOP/rsa.out" 2>&1 &
rsa_pid=$!
( kind ec ) > "$TOP/ec.out" 2>&1 &
ec_pid=$!
rsa_rc=0 ec_rc=0
wait "$rsa_pid" || rsa_rc=$?
wait "$ec_pid" || ec_rc=$?
grep -v -e ' Killed ' -e '^20[0-9][0-9]-' "$TOP/rsa.out" "$TOP/ec.out" || true
[ "$rsa_rc" = 0 ] || { tail -60 "$TOP/rsa.out" >&2; fail "RSA-2048 kill points"; }
[ "$ec_rc" = 0 ] || { tail -60 "$TOP/ec.out" >&2; fail "EC P-256 kill points"; }
read -r n_rsa tok_rsa < "$TOP/rsa.count"
read -r n_ec tok_ec < "$TOP/ec.count"
points=$((n_rsa + n_ec))
n_daemon=$(echo $DAEMON_POINTS | wc -w)
n_worker=$(echo $WORKER_POINTS | wc -w)
echo "kill points: $n_daemon daemon-side + $n_worker inside worker steps = $((n_daemon + n_worker)) per key type;" \
	"$points covered ($n_rsa RSA-2048, $n_ec EC P-256) in $(( $(date +%s) - t0 )) s;" \
	"2 more killed and abandoned; $((tok_rsa + tok_ec)) token checks"
[ "$points" = $((2 * (n_daemon + n_worker))) ] || fail "covered $points kill points"
echo "PASS: ukeyd killed at $points points; every job ended issued and the invariants hold"
