# The full path for both key types: every certificate of the sample orders is
# issued onto its own virtual token; the tokens are then read with pkcs11-tool
# and openssl, not with the station's own code.
. "$(dirname "$0")/lib.sh"

start_station
# one more order like the first sample, whose legal representative gives an
# e-mail address: only that certificate may protect e-mail
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
o = d["orders"][0]
o["portal_ref"] += "-M"
o["legal_rep"]["email"] = "li.si@Dianchi-Tech.cn"
json.dump({"orders": [o]}, open(sys.argv[2], "w"), ensure_ascii=False)' "$SRC/examples/orders-sample.json" "$STATE/email.json"
ctl order import "$STATE/email.json" >/dev/null || fail "import the order with an e-mail address"
orders_ready
total=$(db "SELECT count(*) FROM units")
[ "$total" -ge 5 ] || fail "expected at least 5 units, got $total"
[ "$(queued_units)" = "$total" ] || fail "not every unit is queued after payment"

while [ "$(queued_units)" != 0 ]; do
	ctl sim plug --bay 1 --wait >/dev/null || fail "token in bay 1 not issued: $(bay_field 1 reason)"
	token_no=$(ls "$STATE/sim/tokens" | tail -1)
	pin=$(ctl --json bay take-pin --bay 1 | sed -n 's/.*"user_pin": *"\([0-9]*\)".*/\1/p')
	[ -n "$pin" ] || fail "no initial PIN shown for bay 1"
	# a second take is refused: the PIN is shown once
	if ctl bay take-pin --bay 1 >/dev/null 2>&1; then fail "PIN shown twice"; fi
	echo "$token_no $pin" >> "$STATE/pins"
	# where the job's time went (bay.list step_ms): every step of an
	# issuance, none negative, together within the job's own time
	ctl --json bays > "$STATE/bays.json" || fail "bays --json"
	why=$(python3 -c '
import json, sys
b = [b for b in json.load(open(sys.argv[1])) if b["bay"] == 1][0]
want = ["init_token", "generate_key", "make_csr", "ca_submit", "cert_check",
        "write_cert", "read_back", "record"]
s = b.get("step_ms")
if not isinstance(s, dict):
    print("no step_ms: %r" % s)
elif sorted(s) != sorted(want):
    print("steps %s, want %s" % (sorted(s), sorted(want)))
elif any(not isinstance(v, int) or v < 0 for v in s.values()):
    print("a step time is not a count of ms >= 0: %r" % s)
elif sum(s.values()) > b["job_seconds"] * 1000 + 2:
    print("steps sum to %d ms, over job_seconds %.3f" % (sum(s.values()), b["job_seconds"]))
else:
    print("ok")' "$STATE/bays.json" 2>&1)
	[ "$why" = ok ] || fail "bay 1 step_ms after job $(bay_field 1 job): $why"
	ctl sim unplug --bay 1 >/dev/null
done

issued=$(db "SELECT count(*) FROM issuances")
[ "$issued" = "$total" ] || fail "$issued issuances for $total units"
[ "$(db "SELECT count(DISTINCT cert_serial) FROM issuances")" = "$total" ] || fail "serials repeat"
[ "$(db "SELECT count(*) FROM units WHERE state <> 'issued'")" = 0 ] || fail "units not issued"
[ "$(db "SELECT count(DISTINCT key_alg) FROM issuances")" = 2 ] || fail "both key types expected"
[ "$(db "SELECT count(*) FROM issuances WHERE key_local = 1 AND key_always_sensitive = 1 AND key_never_extractable = 1")" = "$total" ] ||
	fail "key evidence missing in the issuance record"
# the usage read back from each key pair is kept with the issuance
[ "$(db "SELECT count(*) FROM issuances WHERE key_alg = 'ec-p256' AND key_usage = '{\"private\":[\"sign\"],\"public\":[\"verify\"]}'")" = \
  "$(db "SELECT count(*) FROM issuances WHERE key_alg = 'ec-p256'")" ] || fail "EC key usage not recorded as sign/verify"
[ "$(db "SELECT count(*) FROM issuances WHERE key_alg = 'rsa2048' AND key_usage = '{\"private\":[\"sign\",\"decrypt\",\"unwrap\"],\"public\":[\"verify\",\"encrypt\",\"wrap\"]}'")" = \
  "$(db "SELECT count(*) FROM issuances WHERE key_alg = 'rsa2048'")" ] || fail "RSA key usage not recorded"
[ "$(db "SELECT count(*) FROM orders WHERE state = 'issued'")" = "$(db "SELECT count(*) FROM orders")" ] ||
	fail "orders not marked issued"
[ "$(db "SELECT count(*) FROM received_certs WHERE status = 'issued'")" = "$total" ] || fail "received_certs"

# the journal: every job has each step's begin and done, in the steps'
# order, each with its job.step audit record (steps share commits,
# docs/jobs.md, "One commit per step boundary", never rows)
want="init_token:begin init_token:done generate_key:begin generate_key:done make_csr:begin make_csr:done ca_submit:begin ca_submit:done cert_check:begin cert_check:done write_cert:begin write_cert:done read_back:begin read_back:done record:begin"
for job in $(db "SELECT id FROM jobs WHERE state = 'issued'"); do
	got=$(db "SELECT step || ':' || phase FROM job_steps WHERE job_id = $job ORDER BY id" | tr '\n' ' ')
	[ "$got" = "$want " ] || fail "job $job journal: $got"
	[ "$(db "SELECT count(*) FROM audit WHERE job_id = $job AND action = 'job.step'")" = 15 ] ||
		fail "job $job: not one job.step audit record per journal row"
done

# the CLI audit listing, in JSON, lists every serial with its fields
json=$(ctl --json audit serials)
for serial in $(db "SELECT cert_serial FROM issuances"); do
	echo "$json" | grepq "\"serial\":\"$serial\"" || fail "audit serials misses $serial"
done
echo "$json" | grepq '"token_uri":"pkcs11:' || fail "token URI missing"
echo "$json" | grepq '"key_usage":' || fail "key usage missing in audit serials"
ctl --json audit serials --order 1 | grep -c '"serial"' | grepq -x "$(db "SELECT count(*) FROM issuances WHERE order_id = 1")" ||
	fail "audit serials --order filter"
ctl audit verify >/dev/null || fail "audit log does not verify"

# every token, read by pkcs11-tool and openssl
while read -r token_no pin; do
	conf="$STATE/sim/tokens/$token_no/softhsm2.conf"
	export SOFTHSM2_CONF=$conf
	priv=$(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$pin" --list-objects --type privkey 2>/dev/null)
	echo "$priv" | grepq "Access:.*sensitive, always sensitive, never extractable, local" ||
		fail "token $token_no: private key attributes: $priv"
	if echo "$priv" | grep "Access:" | sed 's/never extractable//' | grepq extractable; then
		fail "token $token_no: the private key is extractable"
	fi
	# the key does what its certificate profile allows and nothing more: an
	# EC signing key (legal-rep) signs only; the RSA organisation key has
	# keyEncipherment, so it may also decrypt and unwrap
	usage=$(sed -n 's/^ *Usage: *//p' <<< "$priv")
	if grepq "Private Key Object; EC" <<< "$priv"; then
		[ "$usage" = "sign" ] || fail "token $token_no: EC private key usage is '$usage', not 'sign'"
		ec_seen=1
	else
		[ "$usage" = "decrypt, sign, unwrap" ] ||
			fail "token $token_no: RSA private key usage is '$usage'"
	fi
	id=$(echo "$priv" | sed -n 's/^ *ID: *//p')
	pkcs11-tool --module "$SOFTHSM_MODULE" --read-object --type cert --id "$id" -o "$STATE/c.der" >/dev/null 2>&1 ||
		fail "token $token_no: no certificate with the key's ID"
	pkcs11-tool --module "$SOFTHSM_MODULE" --read-object --type pubkey --id "$id" -o "$STATE/p.der" >/dev/null 2>&1 ||
		fail "token $token_no: no public key object"
	openssl x509 -inform DER -in "$STATE/c.der" -out "$STATE/c.pem"
	openssl verify -CAfile "$STATE/ca/ca.crt" "$STATE/c.pem" >/dev/null || fail "token $token_no: openssl verify"
	# the extended key usage follows the profile's purpose: client login,
	# document signing; e-mail protection only with the order's address
	text=$(openssl x509 -in "$STATE/c.pem" -noout -text)
	grepq "TLS Web Client Authentication" <<< "$text" || fail "token $token_no: no clientAuth"
	grepq "1.3.6.1.5.5.7.3.36" <<< "$text" || fail "token $token_no: no documentSigning"
	if grepq "E-mail Protection" <<< "$text"; then
		grepq "email:li.si@dianchi-tech.cn" <<< "$text" ||
			fail "token $token_no: emailProtection without the order's e-mail address"
		email_certs=$((${email_certs:-0} + 1))
	else
		if grepq "email:" <<< "$text"; then fail "token $token_no: an e-mail name without emailProtection"; fi
	fi
	openssl x509 -in "$STATE/c.pem" -noout -pubkey | openssl pkey -pubin -outform DER -out "$STATE/cp.der"
	openssl pkey -pubin -inform DER -in "$STATE/p.der" -outform DER -out "$STATE/tp.der"
	cmp -s "$STATE/cp.der" "$STATE/tp.der" || fail "token $token_no: certificate does not match the token's key"
	serial=$(openssl x509 -in "$STATE/c.pem" -noout -serial | cut -d= -f2)
	tserial=$(pkcs11-tool --module "$SOFTHSM_MODULE" -L 2>/dev/null | sed -n 's/^ *serial num *: *//p')
	[ -n "$tserial" ] || fail "token $token_no: pkcs11-tool shows no token serial"
	[ "$(db "SELECT count(*) FROM issuances WHERE cert_serial = '$serial' AND token_serial = '$tserial'")" = 1 ] ||
		fail "token $token_no: serial $serial not recorded for token $tserial"
	# the CA certificate is on the token too
	pkcs11-tool --module "$SOFTHSM_MODULE" --list-objects --type cert 2>/dev/null | grepq "Embedded CA" ||
		fail "token $token_no: CA certificate missing"
	unset SOFTHSM2_CONF
done < "$STATE/pins"
[ "${ec_seen:-0}" = 1 ] || fail "no EC token was checked"
# only the legal representative of the order with an address: one certificate
[ "${email_certs:-0}" = 1 ] || fail "${email_certs:-0} certificates protect e-mail, expected 1"

# token inspect shows the public objects of a token in a bay without a PIN
ctl sim plug --bay 2 --token 1 --wait >/dev/null 2>&1 || true
[ "$(bay_field 2 state)" = "refused" ] || fail "an issued token plugged again must be refused, got $(bay_field 2 state)"
ctl --json token inspect --bay 2 > "$STATE/inspect.json" || fail "token inspect"
grep -q '"certificate"' "$STATE/inspect.json" || fail "inspect lists no certificate"
grep -q '"public-key"' "$STATE/inspect.json" || fail "inspect lists no public key"
grep -q '"serial"' "$STATE/inspect.json" || fail "inspect shows no certificate serial"
ctl sim unplug --bay 2 >/dev/null
stop_station
echo "PASS: $total certificates issued and verified with pkcs11-tool and openssl"
