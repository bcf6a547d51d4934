# A job that fails because of its token puts the token aside, not the unit:
# the bay shows the token refused with the reason, the unit goes back to the
# queue where it stood with no failure counted, the next token produces it,
# and the token put aside gets no other unit until it is taken out or an
# admin allows it again (bay wipe).
. "$(dirname "$0")/lib.sh"

export UKEY_FAULTP11_CONF=$STATE/faultp11.conf
start_station
orders_ready
head_unit() { ctl --json queue | python3 -c '
import json, sys
print([u for u in json.load(sys.stdin) if u["state"] == "queued"][0]["unit"])'; }
unit=$(head_unit)

# the token's module fails key generation with a device-side error
echo "C_GenerateKeyPair 1 rv CKR_GENERAL_ERROR" > "$UKEY_FAULTP11_CONF"
expect_exit 1 "refused: token put aside: job 1: generate_key: C_GenerateKeyPair: CKR_GENERAL_ERROR" -- \
	ctl sim plug --bay 1 --profile softhsm2-fault --wait
[ "$(bay_field 1 state)" = refused ] || fail "bay 1 is $(bay_field 1 state)"
bay_field 1 reason | grepq "its unit went back to the queue" || fail "bay 1 reason: $(bay_field 1 reason)"
[ "$(db "SELECT unit_id || ' ' || state FROM jobs WHERE id = 1")" = "$unit failed" ] ||
	fail "job 1: $(db "SELECT unit_id, state, error FROM jobs WHERE id = 1")"
[ "$(db "SELECT state || ' ' || failures || ' ' || coalesce(requeued_at, '-') FROM units WHERE id = $unit")" = "queued 0 -" ] ||
	fail "the unit was blamed: $(db "SELECT state, failures, requeued_at, hold_reason FROM units WHERE id = $unit")"
[ "$(head_unit)" = "$unit" ] || fail "the unit lost its place at the head of the queue"
db "SELECT detail FROM audit WHERE action = 'job.fail' AND job_id = 1" | grepq '"blame":"token"' ||
	fail "job.fail does not say the token was to blame"
db "SELECT detail FROM audit WHERE action = 'bay.token_aside' AND bay = 'sim-1'" | grepq "CKR_GENERAL_ERROR" ||
	fail "putting the token aside is not audited"
echo "ok: a token fault put the token aside; its unit $unit is queued at the head, no failure counted"

# the next token produces that unit; the token put aside is given nothing
: > "$UKEY_FAULTP11_CONF"
ctl sim plug --bay 2 --profile softhsm2-fault --wait >/dev/null || fail "bay 2: $(bay_field 2 reason)"
[ "$(db "SELECT unit_id || ' ' || state FROM jobs WHERE id = 2")" = "$unit issued" ] ||
	fail "job 2: $(db "SELECT unit_id, state, error FROM jobs WHERE id = 2")"
ctl sim unplug --bay 2 >/dev/null
ctl sim plug --bay 2 --profile softhsm2-fault --wait >/dev/null || fail "bay 2 again: $(bay_field 2 reason)"
ctl sim unplug --bay 2 >/dev/null
[ "$(bay_field 1 state)" = refused ] || fail "the token put aside: bay 1 is $(bay_field 1 state)"
[ "$(db "SELECT count(*) FROM jobs WHERE bay = 'sim-1'")" = 1 ] || fail "the token put aside was given another unit"
echo "ok: the next token issued unit $unit; the token put aside stayed unused"

# allowed again by an admin: the station wipes it and gives it a unit
ctl bay wipe --bay 1 >/dev/null || fail "bay wipe"
ctl bay wait --bay 1 --timeout 120 >/dev/null || fail "the token allowed again: $(bay_field 1 reason)"
[ "$(db "SELECT state FROM jobs WHERE bay = 'sim-1' ORDER BY id DESC LIMIT 1")" = issued ] ||
	fail "the token allowed again issued nothing"
[ "$(db "SELECT sum(failures) FROM units")" = 0 ] || fail "failures were counted"
echo "ok: the token put aside was wiped and used once an admin allowed it"
stop_station
