# The database goes away under the station (the UKEY_TEST_STORE_DOWN hook
# stands for a PostgreSQL server that stopped answering, on SQLite): the
# store is shown down in `ukeyctl status` with its retry, a token that
# arrives waits and its bay says why, a running job whose step fails meanwhile
# is not failed but waits, is suspended once the store is back and resumes on
# its token to one issuance; nothing is recorded twice.
. "$(dirname "$0")/lib.sh"

export UKEY_TEST_STORE_DOWN=$STATE/store-down
export UKEY_FAULTP11_CONF=$STATE/faultp11.conf
start_station
orders_ready

status_field() {	# status_field KEY: the store object's KEY in `status --json`
	ctl --json status | python3 -c 'import json, sys; print(json.load(sys.stdin)["store"].get(sys.argv[1], ""))' "$1"
}
wait_store() {	# wait_store up|down
	for _ in $(seq 600); do
		[ "$(status_field state)" = "$1" ] && return 0
		sleep 0.1
	done
	fail "the store never showed $1"
}
wait_bay_reason() {	# wait_bay_reason BAY PATTERN
	for _ in $(seq 300); do
		bay_field "$1" reason | grepq -- "$2" && return 0
		sleep 0.1
	done
	fail "bay $1 never said '$2': $(bay_field "$1" reason)"
}
wait_issued() {	# wait_issued N: until N issuances are recorded
	for _ in $(seq 600); do
		[ "$(db "SELECT count(*) FROM issuances")" = "$1" ] && return 0
		sleep 0.1
	done
	fail "$1 issuances were never recorded: $(bay_field 1 reason) / $(bay_field 2 reason)"
}

ctl status > "$STATE/status.txt" || fail "status"
grepq -x "store: up" "$STATE/status.txt" || fail "status does not say store: up: $(cat "$STATE/status.txt")"
[ "$(status_field state)" = up ] || fail "status --json: store not up"

# 1. down: a new token waits, and its bay says why; nothing starts
touch "$UKEY_TEST_STORE_DOWN"
wait_store down
ctl status > "$STATE/status.txt" || fail "status while the store is down"
grepq -E "^store: down since 20[0-9-]+T[0-9:]+Z, retrying in [0-9]+ s: test hook UKEY_TEST_STORE_DOWN" \
	"$STATE/status.txt" || fail "status line: $(cat "$STATE/status.txt")"
status_field why | grepq "UKEY_TEST_STORE_DOWN" || fail "status --json: no why"
[ -n "$(status_field since)" ] || fail "status --json: no since"
ctl sim plug --bay 1 >/dev/null || fail "plug bay 1"
wait_bay_reason 1 "waits: the database is down since"
[ "$(bay_field 1 state)" = idle ] || fail "bay 1 is $(bay_field 1 state) while the store is down"
[ "$(db "SELECT count(*) FROM jobs")" = 0 ] || fail "a job started while the store was down"
grepq "store down: test hook" "$STATE/ukeyd.log" || fail "the log does not say the store is down"

# back: the waiting token starts its job at once and it is issued
rm -f "$UKEY_TEST_STORE_DOWN"
wait_store up
wait_issued 1
echo "ok: a token that arrived while the store was down waited and was issued once it was back"

# 2. a job whose step fails while the store is down waits instead of failing
#    (on PostgreSQL the failing statement is the step's record)
printf 'C_GenerateKeyPair * delay 5000\nC_Sign * rv CKR_FUNCTION_FAILED\n' > "$UKEY_FAULTP11_CONF"
tok=$(ctl --json sim plug --bay 2 --profile softhsm2-fault |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "plug bay 2"
wait_for_step 2 generate_key
job=$(db "SELECT max(id) FROM jobs")
touch "$UKEY_TEST_STORE_DOWN"
wait_store down
wait_bay_reason 2 "job $job waits: the database is down since"
[ "$(db "SELECT state FROM jobs WHERE id = $job")" = running ] ||
	fail "job $job is $(db "SELECT state FROM jobs WHERE id = $job") while it waits for the store"
[ "$(db "SELECT count(*) FROM audit WHERE job_id = $job AND action IN ('job.fail', 'job.abort')")" = 0 ] ||
	fail "job $job was ended while the store was down"

rm -f "$UKEY_FAULTP11_CONF" "$UKEY_TEST_STORE_DOWN"
wait_store up
wait_issued 2
[ "$(db "SELECT state || ' ' || resumed FROM jobs WHERE id = $job")" = "issued 1" ] ||
	fail "job $job: $(db "SELECT state || ' ' || resumed FROM jobs WHERE id = $job")"
[ "$(db "SELECT group_concat(action, ' ') FROM audit WHERE job_id = $job AND action IN
	('job.start', 'job.suspend', 'job.resume', 'issuance.record')")" = \
	"job.start job.suspend job.resume issuance.record" ] ||
	fail "audit trail of job $job: $(db "SELECT group_concat(action, ' ') FROM audit WHERE job_id = $job")"
db "SELECT detail FROM audit WHERE job_id = $job AND action = 'job.suspend'" |
	grepq "database connection was lost" || fail "job.suspend does not say why"
[ "$(db "SELECT count(*) FROM received_certs")" = 2 ] || fail "the CA issued more than one certificate per unit"
[ "$(db "SELECT count(DISTINCT unit_id) FROM issuances")" = 2 ] || fail "a unit issued twice"
echo "ok: job $job (token $tok) waited for the store at make_csr, was suspended, resumed and issued"

stop_station
echo "PASS"
