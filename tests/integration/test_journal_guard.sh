# The event loop's guard (main.c): a job's journal transaction that a step
# left uncommitted is committed before the loop waits, so that a job goes on
# and its journal is whole. The test hook UKEY_TEST_JOURNAL_OPEN_AT leaves
# it open at one point (docs/testing-faults.md); every other test fails
# when the guard's line appears in its log (lib.sh, stop_station).
. "$(dirname "$0")/lib.sh"

export UKEY_TEST_JOURNAL_OPEN_AT=ca_submit:begin
start_station
orders_ready
ctl sim plug --bay 1 --wait >/dev/null || fail "token in bay 1 not issued: $(bay_field 1 reason)"
grepq "test hook UKEY_TEST_JOURNAL_OPEN_AT=ca_submit:begin reached" "$STATE/ukeyd.log" ||
	fail "the hook was not reached"
grepq "the job journal was left open by a step: committing it" "$STATE/ukeyd.log" ||
	fail "the guard did not commit the journal"
job=$(db "SELECT id FROM jobs WHERE state = 'issued'")
[ -n "$job" ] || fail "no job issued"
want="init_token:begin init_token:done generate_key:begin generate_key:done make_csr:begin make_csr:done ca_submit:begin ca_submit:done cert_check:begin cert_check:done write_cert:begin write_cert:done read_back:begin read_back:done record:begin"
got=$(db "SELECT step || ':' || phase FROM job_steps WHERE job_id = $job ORDER BY id" | tr '\n' ' ')
[ "$got" = "$want " ] || fail "job $job journal: $got"
[ "$(db "SELECT count(*) FROM audit WHERE job_id = $job AND action = 'job.step'")" = 15 ] ||
	fail "job $job: not one job.step audit record per journal row"
# stopped here, not by stop_station, which fails on the guard's line
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || fail "ukeyd exited with an error status at stop"
DAEMON_PID=""
echo "PASS: a journal left open is committed by the loop's guard, and the job goes on"
