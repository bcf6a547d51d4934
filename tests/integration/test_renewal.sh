# Renewal production: a token brought back gets a new key pair and
# certificate in place of the one a paid renewal order names. An RSA token
# renewed with the holder's PIN (a wrong one first: refused, nothing
# changed), an EC token renewed on an operator's new PIN (reset with the
# station's SO PIN), and a token that no longer holds the certificate the
# order names (refused, untouched). After each renewal the token holds
# exactly one key pair and one user certificate, the new one verifies
# against the CA, the old serial is superseded in the record and on the CRL.
# The legal representative's profile here carries up to 30 days of the old
# certificate's validity over (renewal_carry_over_days); the organisation's
# carries none. `token show` of the renewed token (two certificates) walked
# in pages of one certificate joins into what one reply gave.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/renewal_lib.sh"
# check_token TOKEN PIN NEW_SERIAL: one key pair, one user certificate (the new one)
check_token() {
	local objs ids
	objs=$(p11 "$1" "$2" --list-objects)
	[ "$(grep -c "Private Key Object" <<< "$objs")" = 1 ] || fail "token $1: not one private key: $objs"
	[ "$(grep -c "Public Key Object" <<< "$objs")" = 1 ] || fail "token $1: not one public key: $objs"
	# certificates: the user's and the CA's
	[ "$(grep -c "Certificate Object" <<< "$objs")" = 2 ] || fail "token $1: not two certificates: $objs"
	ids=$(sed -n 's/^ *ID: *//p' <<< "$objs" | sort -u | wc -l)
	[ "$ids" -le 2 ] || fail "token $1: objects under $ids ids"
	id=$(p11 "$1" "$2" --list-objects --type privkey | sed -n 's/^ *ID: *//p')
	p11 "$1" "$2" --read-object --type cert --id "$id" -o "$STATE/new.der" >/dev/null ||
		fail "token $1: no certificate under the key's id"
	openssl x509 -inform DER -in "$STATE/new.der" -out "$STATE/new.pem"
	openssl verify -CAfile "$STATE/ca/ca.crt" "$STATE/new.pem" >/dev/null || fail "token $1: openssl verify"
	[ "$(openssl x509 -in "$STATE/new.pem" -noout -serial | cut -d= -f2)" = "$3" ] ||
		fail "token $1: the certificate under the key is not $3"
}
# check_record OLD NEW REF: the record links and supersedes
check_record() {
	[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$1'")" = superseded ] ||
		fail "$1 is not superseded in the record"
	[ "$(db "SELECT count(*) FROM issuances WHERE revoked_at IS NULL AND cert_serial = '$2'")" = 1 ] ||
		fail "$2 is not live"
	[ "$(db "SELECT j.kind || ' ' || j.state || ' ' || j.renews_serial FROM jobs j JOIN issuances i ON i.job_id = j.id WHERE i.cert_serial = '$2'")" = "renew issued $1" ] ||
		fail "the renewal job of $2"
	[ "$(db "SELECT state FROM orders WHERE portal_ref = '$3'")" = issued ] || fail "order $3 not issued"
	[ "$(db "SELECT replaces_serial || ' ' || replaces_how FROM issuances WHERE cert_serial = '$2'")" = "$1 renewal" ] ||
		fail "$2 does not name $1 as the certificate it renews"
	ctl --json audit serials > "$STATE/serials.json"
	python3 - "$STATE/serials.json" "$1" "$2" <<'PY' || fail "audit serials: the renewal link"
import json, sys
rows = {r["serial"]: r for r in json.load(open(sys.argv[1]))}
old, new = rows[sys.argv[2]], rows[sys.argv[3]]
assert old.get("renewed_by") == sys.argv[3], old
assert new.get("replaces") == sys.argv[2], new
assert old.get("status") == "revoked" and old.get("revoke_reason", old.get("reason")) == "superseded", old
PY
	ctl ca crl --output "$STATE/crl.pem" >/dev/null || fail "ca crl"
	openssl crl -in "$STATE/crl.pem" -noout -text > "$STATE/crl.txt"
	grepq -A2 "Serial Number: $1" "$STATE/crl.txt" || fail "$1 is not on the CRL"
	grep -A4 "Serial Number: $1" "$STATE/crl.txt" > "$STATE/crl-entry.txt"
	grepq "Superseded" "$STATE/crl-entry.txt" || fail "$1 is not superseded on the CRL"
	openssl verify -crl_check -CRLfile "$STATE/crl.pem" -CAfile "$STATE/ca/ca.crt" "$STATE/new.pem" >/dev/null ||
		fail "$2 refused with the CRL"
}

# valid_days PEM: notAfter - notBefore in whole days
valid_days() {
	python3 - "$1" <<'PY'
import subprocess, sys, datetime
def t(opt):
    out = subprocess.check_output(["openssl", "x509", "-in", sys.argv[1], "-noout", opt], text=True)
    return datetime.datetime.strptime(out.split("=", 1)[1].strip(), "%b %d %H:%M:%S %Y %Z")
print((t("-enddate") - t("-startdate")).days)
PY
}

write_config
mkdir -p "$STATE/cert-profiles"
cp "$SRC"/cert-profiles/*.conf "$STATE/cert-profiles/"
sed -i 's/^\[profile\]$/&\nrenewal_carry_over_days = 30/' "$STATE/cert-profiles/legal-rep.conf"
sed -i "s|^cert_profile_dir = .*|cert_profile_dir = $STATE/cert-profiles|" "$STATE/ukeyd.conf"
start_station
read -r tokA serialA pinA <<< "$(issue N-A organisation 1)"
read -r tokB serialB pinB <<< "$(issue N-B legal_rep 2)"
read -r tokC serialC pinC <<< "$(issue N-C organisation 1)"
read -r tokD serialD pinD <<< "$(issue N-D legal_rep 2)"
[ -n "$pinA" ] && [ -n "$pinB" ] && [ -n "$serialC" ] || fail "issuing the tokens to renew"
renew_order R-A organisation "$serialA"
renew_order R-B legal_rep "$serialB"
renew_order R-C organisation "$serialC"
renew_order R-D legal_rep "$serialD"

# --- RSA token, the holder's PIN; a wrong PIN first ---
before=$(p11 "$tokA" "$pinA" --list-objects | sort | md5sum)
ctl sim plug --bay 3 --token "$tokA" >/dev/null || fail "plug token A"
wait_pin 3
bay_field 3 reason | grepq "waits for the holder's PIN: ukeyctl bay enter-pin --bay 3" || fail "bay 3: $(bay_field 3 reason)"
out=$(echo 99999999 | ctl bay enter-pin --bay 3 2>&1) && fail "a wrong PIN was accepted"
grepq "the token refused the PIN" <<< "$out" || fail "wrong PIN message: $out"
grepq "99999999" <<< "$out" && fail "the PIN is in the message"
wait_pin 3
[ "$(db "SELECT count(*) FROM audit WHERE action = 'renewal.login' AND detail LIKE '%refused%'")" = 1 ] ||
	fail "the refused PIN is not audited"
# a PIN that breaks the model's rules never reaches the token
expect_exit 65 "nothing was sent to the token" -- sh -c "echo 12 | '$BUILD/ukeyctl' --state '$STATE' bay enter-pin --bay 3"
echo "$pinA" | ctl bay enter-pin --bay 3 | grepq "the PIN was accepted" || fail "the right PIN"
ctl bay wait --bay 3 --timeout 120 >/dev/null
[ "$(bay_field 3 state)" = done ] || fail "bay 3: $(bay_field 3 state): $(bay_field 3 reason)"
newA=$(db "SELECT cert_serial FROM issuances WHERE job_id = (SELECT id FROM jobs WHERE renews_serial = '$serialA' AND state = 'issued')")
[ -n "$newA" ] && [ "$newA" != "$serialA" ] || fail "no new certificate for token A"
check_token "$tokA" "$pinA" "$newA"
check_record "$serialA" "$newA" R-A
days=$(valid_days "$STATE/new.pem")
[ "$days" -ge 364 ] && [ "$days" -le 366 ] || fail "A: $days days; the organisation profile carries nothing over"
[ "$(bay_field 3 pin_to_show)" = False ] || fail "the holder's PIN is kept after the renewal"
# bay.list step_ms: the renewal's steps, login included (it waited for the PIN)
ctl --json bays > "$STATE/bays.json" || fail "bays --json"
steps=$(python3 -c '
import json, sys
b = [b for b in json.load(open(sys.argv[1])) if b["bay"] == 3][0]
s = b.get("step_ms") or {}
bad = [k for k, v in s.items() if not isinstance(v, int) or v < 0]
print(" ".join(sorted(s)) if not bad and sum(s.values()) <= b["job_seconds"] * 1000 + 2 else "bad %r" % s)' "$STATE/bays.json" 2>&1)
[ "$steps" = "ca_submit cert_check discard_old generate_key identify login make_csr read_back record write_cert" ] ||
	fail "bay 3 step_ms after the renewal: $steps"
ctl sim unplug --bay 3 >/dev/null
# the PIN was never stored, logged or audited
grepq -r -- "$pinA" "$STATE/ukeyd.log" && fail "the PIN is in the log"
db_dump | grepq -- "$pinA" && fail "the PIN is in the database"
[ "$before" != "$(p11 "$tokA" "$pinA" --list-objects | sort | md5sum)" ] || fail "token A unchanged"

# --- EC token, a new PIN set by the operator ---
ctl sim plug --bay 4 --token "$tokB" >/dev/null || fail "plug token B"
wait_pin 4
expect_exit 64 "--remark TEXT" -- ctl bay reset-pin --bay 4
ctl bay reset-pin --bay 4 --remark "the holder forgot the PIN" >/dev/null || fail "reset-pin"
ctl bay wait --bay 4 --timeout 120 >/dev/null
[ "$(bay_field 4 state)" = done ] || fail "bay 4: $(bay_field 4 state): $(bay_field 4 reason)"
newpin=$(ctl bay take-pin --bay 4 | sed -n 's/.*user PIN: //p')
[ -n "$newpin" ] && [ "$newpin" != "$pinB" ] || fail "no new PIN to show"
newB=$(db "SELECT cert_serial FROM issuances WHERE job_id = (SELECT id FROM jobs WHERE renews_serial = '$serialB' AND state = 'issued')")
check_token "$tokB" "$newpin" "$newB"
p11 "$tokB" "$newpin" --list-objects --type privkey | grepq "EC" || fail "token B's new key is not EC"
# one year and the 30 days the profile carries over (B's old certificate had ~365 left)
days=$(valid_days "$STATE/new.pem")
[ "$days" -ge 394 ] && [ "$days" -le 396 ] || fail "B: $days days, not a year and 30 days carried over"
check_record "$serialB" "$newB" R-B
[ "$(db "SELECT count(*) FROM audit WHERE action = 'renewal.pin_reset' AND detail LIKE '%forgot%'")" = 1 ] ||
	fail "the PIN reset is not audited with its remark"
ctl sim unplug --bay 4 >/dev/null

# --- a token that no longer holds the certificate the order names ---
idC=$(p11 "$tokC" "$pinC" --list-objects --type privkey | sed -n 's/^ *ID: *//p')
p11 "$tokC" "$pinC" --delete-object --type cert --id "$idC" >/dev/null || fail "deleting C's certificate"
before=$(p11 "$tokC" "$pinC" --list-objects | sort | md5sum)
ctl sim plug --bay 1 --token "$tokC" >/dev/null || fail "plug token C"
for _ in $(seq 200); do [ "$(bay_field 1 state)" = refused ] && break; sleep 0.05; done
bay_field 1 reason | grepq "does not hold certificate $serialC" || fail "bay 1: $(bay_field 1 state): $(bay_field 1 reason)"
[ "$before" = "$(p11 "$tokC" "$pinC" --list-objects | sort | md5sum)" ] || fail "token C was changed"
[ "$(db "SELECT u.state FROM units u JOIN order_items i ON i.id = u.item_id JOIN orders o ON o.id = i.order_id WHERE o.portal_ref = 'R-C'")" = queued ] ||
	fail "R-C's unit is not queued again"
[ "$(db "SELECT count(*) FROM issuances WHERE revoked_at IS NULL AND cert_serial = '$serialC'")" = 1 ] || fail "C's certificate was touched"

# --- a renewal failing before its record leaves the token as it came ---
# (the CA certifies another key: cert_check refuses it)
before=$(p11 "$tokD" "$pinD" --list-objects | sort | md5sum)
echo wrong-key > "$STATE/ca/fault"
ctl sim plug --bay 2 --token "$tokD" >/dev/null || fail "plug token D"
wait_pin 2
echo "$pinD" | ctl bay enter-pin --bay 2 >/dev/null || fail "D: the PIN"
for _ in $(seq 300); do [ "$(bay_field 2 state)" = failed ] && break; sleep 0.05; done
[ "$(bay_field 2 state)" = failed ] || fail "D: $(bay_field 2 state): $(bay_field 2 reason)"
for _ in $(seq 200); do
	[ "$(db "SELECT count(*) FROM audit WHERE action = 'renewal.discard_new'")" = 1 ] && break
	sleep 0.05
done
db "SELECT detail FROM audit WHERE action = 'renewal.discard_new'" | grepq '"destroyed"' ||
	fail "D: the new key pair was not removed: $(db "SELECT detail FROM audit WHERE action = 'renewal.discard_new'")"
rm -f "$STATE/ca/fault"
[ "$before" = "$(p11 "$tokD" "$pinD" --list-objects | sort | md5sum)" ] ||
	fail "D: the token does not hold exactly what it came with: $(p11 "$tokD" "$pinD" --list-objects)"
[ "$(db "SELECT count(*) FROM issuances WHERE revoked_at IS NULL AND cert_serial = '$serialD'")" = 1 ] || fail "D's certificate was touched"
ctl sim unplug --bay 2 >/dev/null

ctl --json audit serials | grepq '"superseded"' || fail "audit serials does not show superseded"
ctl audit verify >/dev/null || fail "audit verify"
stop_station

# token.show in pages (docs/protocol.md, "Listings page"): token A holds its
# first certificate and its renewal; with pages of one certificate ukeyctl
# joins them into what one reply gave
tsA=$(db "SELECT token_serial FROM issuances WHERE cert_serial = '$serialA'")
[ "$(db "SELECT count(*) FROM issuances WHERE token_serial = '$tsA'")" = 2 ] || fail "token A: not 2 certificates"
start_station
ctl token show "$tsA" > "$STATE/show-one.txt" || fail "token show"
ctl --json token show "$tsA" > "$STATE/show-one.json" || fail "token show --json"
stop_station
UKEY_TEST_PAGE_DEFAULT=1 start_station
PYTHONPATH=$SRC/tests/integration python3 -c '
import ctlsock, sys
s = ctlsock.connect(sys.argv[1])
after, serials = 0, []
while True:
    ctlsock.send(s, {"v": 1, "cmd": "token.show", "args": {"serial": sys.argv[2], "after": after}})
    r = ctlsock.reply(s)
    assert r["ok"], r
    c = r["result"]["certificates"]
    assert len(c) <= 1 and r["result"]["serial"] == sys.argv[2], r
    serials += [x["serial"] for x in c]
    if r.get("next") is None:
        break
    after = r["next"]
assert serials == sys.argv[3:], serials
ctlsock.send(s, {"v": 1, "cmd": "token.show", "args": {"serial": sys.argv[2], "limit": 2001}})
r = ctlsock.reply(s)
assert r["error"]["code"] == "invalid" and "argument limit: 1..2000" in r["error"]["message"], r
print(len(serials))' "$STATE/ukeyd.sock" "$tsA" "$serialA" "$newA" > "$STATE/pages.out" 2>&1 ||
	fail "token.show pages: $(cat "$STATE/pages.out")"
ctl token show "$tsA" > "$STATE/show-paged.txt" || fail "token show in pages"
ctl --json token show "$tsA" > "$STATE/show-paged.json" || fail "token show --json in pages"
cmp -s "$STATE/show-one.txt" "$STATE/show-paged.txt" ||
	fail "token show joined differs: $(diff "$STATE/show-one.txt" "$STATE/show-paged.txt")"
cmp -s "$STATE/show-one.json" "$STATE/show-paged.json" ||
	fail "token show --json joined differs: $(diff "$STATE/show-one.json" "$STATE/show-paged.json")"
stop_station
echo "PASS: renewal of an RSA and an EC token, wrong PIN, PIN reset, wrong token; token show in pages"
