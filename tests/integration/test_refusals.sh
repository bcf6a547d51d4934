# Tokens and replies the station must refuse: a token that is not blank, a
# CA certificate for another key (refused before the token is written), and a
# module that ignores the key's usage attributes.
. "$(dirname "$0")/lib.sh"

# the fault module's rules (none until the last case writes them)
export UKEY_FAULTP11_CONF=$STATE/faultp11.conf
start_station
orders_ready
before=$(queued_units)

# a token initialised elsewhere: refused, untouched, nothing claimed
if ctl sim plug --bay 1 --preset initialised --wait >/dev/null 2>&1; then
	fail "a non-blank token was accepted"
fi
[ "$(bay_field 1 state)" = refused ] || fail "bay 1 should be refused, is $(bay_field 1 state)"
bay_field 1 reason | grepq "not blank" || fail "refusal reason: $(bay_field 1 reason)"
[ "$(db "SELECT count(*) FROM jobs")" = 0 ] || fail "a job started on a non-blank token"
[ "$(queued_units)" = "$before" ] || fail "queue changed"
# its objects are untouched: still labelled as the other party left it
SOFTHSM2_CONF=$(token_conf 1) pkcs11-tool --module "$SOFTHSM_MODULE" -L 2>/dev/null |
	grepq "used elsewhere" || fail "the refused token was changed"
# wiping is refused too, and says so (exit 1): the station does not know
# this token's SO PIN, so a "yes" would leave the bay refused
reason=$(bay_field 1 reason)
expect_exit 1 "bay 1: wiping cannot be allowed: token .* SO PIN is unknown to this station" -- \
	ctl bay wipe --bay 1
[ "$(bay_field 1 state)" = refused ] || fail "a foreign token was wiped"
[ "$(bay_field 1 reason)" = "$reason" ] || fail "a refused wipe changed the bay: $(bay_field 1 reason)"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'bay.wipe_allowed'")" = 0 ] ||
	fail "a refused wipe was audited as allowed"
ctl sim unplug --bay 1 >/dev/null

# the CA answers with a certificate for another key: refused before writing
echo wrong-key > "$STATE/ca/fault"
if ctl sim plug --bay 2 --wait >/dev/null 2>&1; then fail "a wrong-key certificate was accepted"; fi
[ "$(bay_field 2 state)" = failed ] || fail "bay 2 should be failed, is $(bay_field 2 state)"
bay_field 2 reason | grepq -i "public key" || fail "reason should name the key: $(bay_field 2 reason)"
[ "$(db "SELECT count(*) FROM issuances")" = 0 ] || fail "an issuance was recorded"
[ "$(db "SELECT count(*) FROM received_certs WHERE status = 'refused'")" = 1 ] ||
	fail "the refused certificate is not kept in the record"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'incident.ca_reply_refused'")" = 1 ] ||
	fail "incident not audited"
[ "$(db "SELECT count(*) FROM job_steps WHERE step = 'write_cert'")" = 0 ] || fail "write_cert was attempted"
token=$(ls "$STATE/sim/tokens" | tail -1)
# the CA's own certificate may be there (make_csr writes it ahead while the
# CA signs, docs/jobs.md); no other certificate may
ca_serial=$(openssl x509 -in "$STATE/ca/ca.crt" -noout -serial | cut -d= -f2)
on_token=$(SOFTHSM2_CONF="$STATE/sim/tokens/$token/softhsm2.conf" pkcs11-tool --module "$SOFTHSM_MODULE" \
	--list-objects --type cert 2>/dev/null | awk '$1 == "serial:" { print $2 }')
if [ -n "$(echo "$on_token" | grep -vx -e "$ca_serial" -e '')" ]; then
	fail "a certificate reached the token: $on_token"
fi
[ "$(queued_units)" = "$before" ] || fail "the unit did not go back to the queue"
serial=$(db "SELECT serial FROM received_certs WHERE status = 'refused'")
sqlite3 "$STATE/ca/ca.db" "SELECT status FROM issued WHERE serial = '$serial'" | grepq -x revoked ||
	fail "the CA did not record the refused certificate as revoked"
ctl sim unplug --bay 2 >/dev/null

# the same (station-initialised) token may be wiped and re-used once the CA is sane
rm -f "$STATE/ca/fault"
ctl sim plug --bay 2 --token "$((10#$token))" --wait >/dev/null 2>&1 || true
[ "$(bay_field 2 state)" = refused ] || fail "a station-initialised token must wait for a wipe"
ctl bay wipe --bay 2 >/dev/null || fail "bay wipe"
ctl bay wait --bay 2 >/dev/null || fail "wiped token not issued: $(bay_field 2 reason)"
[ "$(db "SELECT count(*) FROM issuances")" = 1 ] || fail "no issuance after the wipe"
# a model the station cannot initialise: refused before anything is asked of it
ctl sim plug --bay 3 --profile softhsm2-noinit --wait >/dev/null 2>&1 || true
[ "$(bay_field 3 state)" = refused ] || fail "init_token = no: bay 3 is $(bay_field 3 state)"
bay_field 3 reason | grepq "init_token = no" || fail "init_token = no: $(bay_field 3 reason)"
expect_exit 1 "bay 3: wiping cannot be allowed: the token is blank" -- ctl bay wipe --bay 3
# a token holding a certificate issued here is never wiped
ctl sim unplug --bay 2 >/dev/null
ctl sim plug --bay 2 --token "$((10#$token))" --wait >/dev/null 2>&1 || true
expect_exit 1 "bay 2: wiping cannot be allowed: token .* holds issued certificate" -- \
	ctl bay wipe --bay 2
[ "$(db "SELECT count(*) FROM audit WHERE action = 'bay.wipe_allowed'")" = 1 ] ||
	fail "bay.wipe_allowed should be audited once (the allowed wipe)"
ctl sim unplug --bay 3 >/dev/null

# a module that ignores the usage attributes of the key template: SoftHSM2's
# defaults (the private key decrypts, signs and unwraps) happen to be what
# the RSA organisation profile allows (keyEncipherment), so such a unit may
# still issue; an EC signing key made that way fails its job
echo "C_GenerateKeyPair * strip-usage" > "$UKEY_FAULTP11_CONF"
refused=0
for try in 1 2 3; do
	issued=$(db "SELECT count(*) FROM issuances")
	if ctl sim plug --bay 4 --profile softhsm2-fault --wait >/dev/null 2>&1; then
		[ "$(db "SELECT key_alg FROM issuances ORDER BY id DESC LIMIT 1")" = rsa2048 ] ||
			fail "try $try: a key made without its usage attributes was issued"
		ctl sim unplug --bay 4 >/dev/null
		continue
	fi
	[ "$(bay_field 4 state)" = refused ] || fail "usage: bay 4 is $(bay_field 4 state): $(bay_field 4 reason)"
	bay_field 4 reason | grepq "usage check on CKA_DECRYPT" || fail "usage: reason: $(bay_field 4 reason)"
	[ "$(db "SELECT count(*) FROM issuances")" = "$issued" ] || fail "usage: an issuance was recorded"
	db "SELECT error FROM jobs ORDER BY id DESC LIMIT 1" | grepq "usage check" ||
		fail "usage: the job's error does not say why"
	ctl sim unplug --bay 4 >/dev/null
	echo "ok: a key with the module's default usage failed its job (try $try)"
	refused=1
	break
done
[ "$refused" = 1 ] || fail "no job failed for a key with the module's default usage"
rm -f "$UKEY_FAULTP11_CONF"
ctl audit verify >/dev/null || fail "audit verify"
stop_station
echo "PASS: non-blank token, wrong-key certificate and a key beyond its usage refused; wiped token re-used"
