# The holder's PIN at a renewal, on a token that counts wrong tries and
# locks its user PIN after three (faultp11 "pin-tries 3", profile
# user_max_tries = 3): each refusal says how many tries are left, the third
# locks the PIN, the right PIN is then refused without a try, and the
# operator's PIN reset with the sealed SO PIN unlocks the token and lets the
# renewal finish.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/invariants.sh"

# try PIN: types PIN at bay 1 and leaves what ukeyctl said in $out
try() { out=$(echo "$1" | ctl bay enter-pin --bay 1 2>&1) && return 0; return 1; }

chaos_config
start_station
chaos_orders 1

chaos_token 'pin-tries 3\n'
tok=$TOK
ctl sim plug --bay 1 --token "$tok" --profile softhsm2-chaos-ec >/dev/null || fail "plug"
ctl bay wait --bay 1 --timeout 120 >/dev/null || fail "issue: $(bay_field 1 reason)"
[ "$(bay_field 1 state)" = done ] || fail "not issued: $(bay_field 1 reason)"
serial=$(db "SELECT cert_serial FROM issuances WHERE job_id = (SELECT max(id) FROM jobs)")
ctl sim unplug --bay 1 >/dev/null

renewal_order R-PIN "$serial" 20261206000000000000000000000001
ctl sim plug --bay 1 --token "$tok" --profile softhsm2-chaos-ec >/dev/null || fail "plug again"
for _ in $(seq 200); do
	[ "$(bay_field 1 awaiting_pin)" = True ] && break
	sleep 0.05
done
[ "$(bay_field 1 awaiting_pin)" = True ] || fail "no PIN asked: $(bay_field 1 state): $(bay_field 1 reason)"
bay_field 1 reason | grepq "the token locks its user PIN after 3 wrong tries" ||
	fail "first prompt: $(bay_field 1 reason)"

try 11111111 && fail "wrong PIN 1 accepted"
grepq "the token refused the PIN" <<< "$out" || fail "wrong PIN 1: $out"
grepq "2 of 3 tries left" <<< "$out" || fail "wrong PIN 1, tries: $out"
try 22222222 && fail "wrong PIN 2 accepted"
grepq "1 try left" <<< "$out" || fail "wrong PIN 2, tries: $out"
bay_field 1 reason | grepq "1 try left" || fail "bay after 2 wrong PINs: $(bay_field 1 reason)"
try 33333333 && fail "wrong PIN 3 accepted"
grepq "locked (0 tries left)" <<< "$out" || fail "wrong PIN 3: $out"

# locked: the right PIN is not even tried
try "$CHAOS_USER_PIN" && fail "the right PIN on a locked token was accepted"
grepq "locked" <<< "$out" || fail "locked token, right PIN: $out"
[ "$(cat "$(chaos_token_dir "$tok")/faultp11.pin")" = 3 ] ||
	fail "the token's counter moved past the lock: $(cat "$(chaos_token_dir "$tok")/faultp11.pin")"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'renewal.login' AND detail LIKE '%refused%'")" = 4 ] ||
	fail "refused logins audited: $(db "SELECT count(*) FROM audit WHERE action = 'renewal.login'")"

# the operator resets the PIN with the sealed SO PIN; the renewal goes on
ctl bay reset-pin --bay 1 --remark "holder locked the PIN at the counter" >/dev/null ||
	fail "reset-pin"
ctl bay wait --bay 1 --timeout 120 >/dev/null || true
[ "$(bay_field 1 state)" = done ] || fail "renewal after the reset: $(bay_field 1 state): $(bay_field 1 reason)"
[ "$(cat "$(chaos_token_dir "$tok")/faultp11.pin")" = 0 ] || fail "the reset left the counter"
new=$(db "SELECT cert_serial FROM issuances WHERE replaces_serial = '$serial'")
[ -n "$new" ] || fail "no renewed certificate"
[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$serial'")" = superseded ] ||
	fail "$serial not superseded"
ctl bay take-pin --bay 1 | grepq -E '[0-9]{4,}' || fail "the new PIN is not shown"
ctl sim unplug --bay 1 >/dev/null
for p in 11111111 22222222 33333333; do
	grepq -F "$p" "$STATE/ukeyd.log" && fail "a typed PIN is in the log"
done
check_invariants "$tok"
echo "PASS: wrong PINs counted down to the lock, the PIN reset, the renewal done ($new replaces $serial)"
