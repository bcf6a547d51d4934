# A token pulled before the certificate is written: the job ends not issued,
# the unit goes back to the queue, the certificate the CA returned stays in the
# record (revoked), and a new token then takes the unit.
. "$(dirname "$0")/lib.sh"

start_station
orders_ready
before=$(queued_units)

# the fault module holds C_CreateObject so the job stops at write_cert
ctl sim plug --bay 1 --profile softhsm2-fault >/dev/null || fail "plug"
echo "C_CreateObject * hang" > "$STATE/sim/tokens/0001/faultp11.conf"
wait_for_step 1 write_cert
ctl sim unplug --bay 1 >/dev/null || fail "unplug"

[ "$(db "SELECT state FROM jobs WHERE id = 1")" = aborted ] || fail "job not aborted"
db "SELECT error FROM jobs WHERE id = 1" | grep -q "removed" || fail "job error should say removed"
[ "$(db "SELECT count(*) FROM issuances")" = 0 ] || fail "an issuance was recorded"
[ "$(queued_units)" = "$before" ] || fail "the unit is not queued again"
[ "$(db "SELECT status FROM received_certs")" = revoked ] || fail "the CA's certificate is not kept as revoked"
serial=$(db "SELECT serial FROM received_certs")
sqlite3 "$STATE/ca/ca.db" "SELECT status FROM issued WHERE serial = '$serial'" | grep -qx revoked ||
	fail "the CA does not list $serial as revoked"
if SOFTHSM2_CONF=$(token_conf 1) pkcs11-tool --module "$SOFTHSM_MODULE" --list-objects --type cert \
	2>/dev/null | grep -q "Certificate Object"; then
	fail "a certificate is on the pulled token"
fi

# a fresh token finishes the unit with a new certificate
ctl sim plug --bay 2 --wait >/dev/null || fail "second token: $(bay_field 2 reason)"
[ "$(db "SELECT count(*) FROM issuances")" = 1 ] || fail "no issuance on the second token"
[ "$(db "SELECT unit_id FROM issuances")" = "$(db "SELECT unit_id FROM jobs WHERE id = 1")" ] ||
	fail "the second token did not take the pulled unit"
[ "$(db "SELECT count(*) FROM received_certs WHERE status IN ('received','issued')")" = 1 ] ||
	fail "one unit, one live certificate"
ctl audit verify >/dev/null || fail "audit verify"
stop_station
echo "PASS: pulled token left the unit queued; nothing recorded as issued"
