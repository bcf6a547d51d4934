# token.unblock: an issued token whose user PIN is locked or forgotten gets a
# new one from the SO PIN the station keeps, shown once; key and certificate
# are untouched. Refused for a token the station did not initialise, while a
# job runs, and for a user without the admin role. The SO PIN error texts are
# driven with faultp11 (SoftHSM2 never locks a PIN: it only raises the
# "user PIN count low" flag, which this test checks as it goes).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "this test runs ukeyctl as another user and must run as root"
command -v runuser >/dev/null || fail "runuser is not installed"
id daemon >/dev/null 2>&1 || fail "system account daemon is missing"

write_config
cat >> "$STATE/ukeyd.conf" <<EOT
[roles]
operator = daemon
EOT
start_station
orders_ready

p11() { pkcs11-tool --module "$SOFTHSM_MODULE" "$@"; }

# pin_of JSON: the user_pin of a take-pin reply
pin_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["user_pin"])'; }

# ---- an issued token ----
ctl sim plug --bay 1 --wait >/dev/null || fail "token in bay 1 not issued: $(bay_field 1 reason)"
tok=$(ls "$STATE/sim/tokens" | tail -1)
conf="$STATE/sim/tokens/$tok/softhsm2.conf"
tserial=$(bay_field 1 token_serial)
old_pin=$(ctl --json bay take-pin --bay 1 | pin_of)
[ -n "$old_pin" ] || fail "no initial PIN"
ctl sim unplug --bay 1 >/dev/null
# the job list (job.list) shows the job with its columns, NULL ones as null
ctl --json jobs --state issued | python3 -c '
import json, sys
rows = json.load(sys.stdin)
assert len(rows) == 1, rows
j = rows[0]
assert list(j) == ["id", "unit_id", "bay", "profile", "token_serial", "step", "state", "key_alg",
    "cert_serial", "error", "operator", "resumed", "started_at", "finished_at"], list(j)
assert j["state"] == "issued" and j["token_serial"] == sys.argv[1] and j["bay"] == "sim-1", j
assert isinstance(j["id"], int) and isinstance(j["unit_id"], int) and j["resumed"] == 0, j
assert j["error"] is None and j["cert_serial"] and j["finished_at"], j
' "$tserial" || fail "jobs --json: $(ctl --json jobs)"
python3 -c 'import json, sys; assert json.load(sys.stdin) == []' <<<"$(ctl --json jobs --state failed)" ||
	fail "jobs --state failed lists jobs that did not fail: $(ctl --json jobs --state failed)"

export SOFTHSM2_CONF=$conf
before=$(p11 --login --pin "$old_pin" --list-objects --type privkey 2>/dev/null)
key_id=$(sed -n 's/^ *ID: *//p' <<<"$before")
[ -n "$key_id" ] || fail "no private key on the issued token: $before"
p11 --read-object --type cert --id "$key_id" -o "$STATE/before.der" >/dev/null 2>&1 ||
	fail "no certificate under the key's id"
cert_serial=$(openssl x509 -inform DER -in "$STATE/before.der" -noout -serial | cut -d= -f2)

# the customer's wrong tries: until the token locks the PIN (a hardware
# token does so after a few) or 12 tries have been made
locked=0
for i in $(seq 12); do
	out=$(p11 --login --pin 000000 --list-objects 2>&1 || true)
	if grepq CKR_PIN_LOCKED <<<"$out"; then locked=1; break; fi
	grepq CKR_PIN_INCORRECT <<<"$out" || fail "wrong PIN try $i: $out"
done
if [ "$locked" = 1 ]; then
	out=$(p11 --login --pin "$old_pin" --list-objects 2>&1 || true)
	grepq CKR_PIN_LOCKED <<<"$out" || fail "a locked PIN still opens the token: $out"
	echo "ok: the token locked the user PIN after $i wrong tries"
else
	p11 -L 2>/dev/null | grepq "user PIN count low" ||
		fail "12 wrong PINs and the token shows neither a lock nor a low count"
	echo "ok: SoftHSM2 does not lock the user PIN (12 wrong tries: CKR_PIN_INCORRECT, user PIN count low)"
fi
unset SOFTHSM2_CONF

# ---- the token comes back; an admin (root) unblocks it ----
ctl sim plug --bay 2 --token "$((10#$tok))" --wait >/dev/null 2>&1 || true
[ "$(bay_field 2 state)" = refused ] || fail "the issued token should be refused, is $(bay_field 2 state)"
# a user with only the operator role is denied and audited
# (the socket and a copy of ukeyctl made reachable for that user, as in test_roles.sh)
chmod 0711 "$STATE"
chmod 0666 "$STATE/ukeyd.sock"
mkdir -m 0755 "$STATE/bin"
install -m 0755 "$BUILD/ukeyctl" "$STATE/bin/ukeyctl"
expect_exit 77 "token.unblock: permission denied: needs the role admin; user daemon has the role operator" -- \
	sh -c 'cd / && exec runuser -u daemon -- "$1" --socket "$2" token unblock --bay 2' sh \
	"$STATE/bin/ukeyctl" "$STATE/ukeyd.sock"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'access.denied' AND actor = 'daemon'
    AND json_extract(detail, '\$.command') = 'token.unblock'")" = 1 ] || fail "the denial is not audited"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'token.unblock'")" = 0 ] || fail "a denied unblock ran"

out=$(ctl token unblock --bay 2 --remark "customer forgot the PIN") || fail "unblock: $out"
grepq "token $tserial: new user PIN set" <<<"$out" || fail "unblock said: $out"
[ "$(bay_field 2 pin_to_show)" = True ] || fail "no PIN to show after the unblock"
json=$(ctl --json bay take-pin --bay 2) || fail "take-pin after unblock"
grepq '"kind": *"unblock"' <<<"$json" || fail "take-pin does not say the PIN is an unblock's: $json"
new_pin=$(pin_of <<<"$json")
[ ${#new_pin} = 8 ] || fail "the new PIN does not follow the profile (8 digits): ${#new_pin} characters"
[ "$new_pin" != "$old_pin" ] || fail "the new PIN is the old one"
expect_exit 1 "no user PIN to show" -- ctl bay take-pin --bay 2
ctl sim unplug --bay 2 >/dev/null

# the new PIN opens the token; the key and certificate are the same
export SOFTHSM2_CONF=$conf
after=$(p11 --login --pin "$new_pin" --list-objects --type privkey 2>/dev/null) || fail "login with the new PIN"
[ "$(sed -n 's/^ *ID: *//p' <<<"$after")" = "$key_id" ] || fail "the private key changed: $after"
p11 --read-object --type cert --id "$key_id" -o "$STATE/after.der" >/dev/null 2>&1 ||
	fail "the certificate is gone after the unblock"
[ "$(openssl x509 -inform DER -in "$STATE/after.der" -noout -serial | cut -d= -f2)" = "$cert_serial" ] ||
	fail "the certificate changed"
cmp -s "$STATE/before.der" "$STATE/after.der" || fail "the certificate bytes changed"
out=$(p11 --login --pin "$old_pin" --list-objects 2>&1 || true)
grepq CKR_PIN_INCORRECT <<<"$out" || fail "the old PIN still opens the token: $out"
unset SOFTHSM2_CONF

# the audit record: who, which bay and token, the remark, never the PIN
row=$(db "SELECT actor, bay, token, json_extract(detail, '\$.result'), json_extract(detail, '\$.remark')
    FROM audit WHERE action = 'token.unblock'")
[ "$row" = "root|sim-2|$tserial|done|customer forgot the PIN" ] || fail "audit row: $row"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'bay.pin_shown' AND json_extract(detail, '\$') = 'unblock'")" = 1 ] ||
	fail "the display of the new PIN is not audited"
if db_dump | grepq -- "$new_pin"; then fail "the new PIN is in the database"; fi
if grepq -- "$new_pin" "$STATE/ukeyd.log"; then fail "the new PIN is in the log"; fi
ctl audit verify >/dev/null || fail "audit verify"

# ---- a token initialised elsewhere: its SO PIN is unknown here ----
ctl sim plug --bay 3 --preset initialised --wait >/dev/null 2>&1 || true
[ "$(bay_field 3 state)" = refused ] || fail "bay 3 should be refused, is $(bay_field 3 state)"
expect_exit 2 "was not initialised by this station" -- ctl token unblock --bay 3
SOFTHSM2_CONF=$(token_conf "$(ls "$STATE/sim/tokens" | tail -1)") p11 -L 2>/dev/null |
	grepq "used elsewhere" || fail "the foreign token was changed"
ctl sim unplug --bay 3 >/dev/null
expect_exit 1 "no token to unblock" -- ctl token unblock --bay 3

# ---- a job running on the token: refused; faultp11 holds the job at
# generate_key so that the refusal is certain ----
fdir="$STATE/sim/tokens/0090"
mkdir -p "$fdir/store"
printf 'directories.tokendir = %s/store\nobjectstore.backend = file\nlog.level = ERROR\n' "$fdir" > "$fdir/softhsm2.conf"
printf 'C_GenerateKeyPair 1 delay 6000\n' > "$fdir/faultp11.conf"
ctl sim plug --bay 4 --token 90 --profile softhsm2-fault >/dev/null || fail "plug the fault token"
wait_for_step 4 generate_key
expect_exit 75 "is running on token" -- ctl token unblock --bay 4
ctl bay wait --bay 4 --timeout 180 >/dev/null || fail "the held job did not finish: $(bay_field 4 reason)"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'token.unblock'")" = 1 ] || fail "a refused unblock was audited as run"

# ---- the SO PIN refused by the token (faultp11 answers for SoftHSM2) ----
printf 'C_Login * rv CKR_PIN_INCORRECT\n' > "$fdir/faultp11.conf"
expect_exit 1 "the station's SO PIN for this token is wrong" -- ctl token unblock --bay 4
printf 'C_Login * rv CKR_PIN_LOCKED\n' > "$fdir/faultp11.conf"
expect_exit 1 "SO PIN locked: the token cannot be unblocked" -- ctl token unblock --bay 4
: > "$fdir/faultp11.conf"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'token.unblock' AND json_extract(detail, '\$.result') = 'failed'")" = 2 ] ||
	fail "failed unblocks are not audited"
# the issued token's own initial PIN is still the one to show, and it works
json=$(ctl --json bay take-pin --bay 4) || fail "take-pin of the issued fault token"
grepq '"kind": *"initial"' <<<"$json" || fail "a failed unblock replaced the initial PIN: $json"
ctl sim unplug --bay 4 >/dev/null
SOFTHSM2_CONF=$fdir/softhsm2.conf p11 --login --pin "$(pin_of <<<"$json")" --list-objects --type privkey \
	>/dev/null 2>&1 || fail "failed unblocks changed the token's PIN"

ctl audit verify >/dev/null || fail "audit verify at the end"
stop_station
echo "PASS: user PIN unblocked with the station's SO PIN (key $key_id, certificate $cert_serial kept); unknown token, running job, non-admin and SO PIN errors refused"
