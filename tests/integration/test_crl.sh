# Revocation and the embedded CA's CRL: two tokens issued on simulated bays,
# one certificate revoked with ukeyctl cert revoke; openssl then accepts the
# other and refuses the revoked one against the published CRL. The CRL
# number grows with every CRL, also over a restart; bad requests are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/invariants.sh"

# certificate profiles that name a CRL distribution point
mkdir -p "$STATE/cert-profiles" "$STATE/pub"
for f in "$SRC"/cert-profiles/*.conf; do
	sed 's|^\[extensions\]$|[extensions]\ncrl_url = http://crl.example.test/station.crl|' "$f" \
		> "$STATE/cert-profiles/$(basename "$f")"
done
write_config
sed -i "s|^cert_profile_dir = .*|cert_profile_dir = $STATE/cert-profiles|" "$STATE/ukeyd.conf"
cat >> "$STATE/ukeyd.conf" <<EOT
[ca]
crl_path = $STATE/pub/station.crl
crl_interval = 3
EOT
CRL=$STATE/pub/station.crl

crl_number() {	# crl_number FILE: the CRL Number extension, decimal
	openssl crl -in "$1" -noout -crlnumber | sed -n 's/^crlNumber=//p' | python3 -c 'import sys; print(int(sys.stdin.read().strip(), 16))'
}
cert_pem() { issued_cert_pem "$1"; }	# the issued certificate as PEM

start_station
# a CRL from the start: signed, empty, world-readable, number 1
[ -f "$CRL" ] || fail "no CRL at $CRL after start"
[ "$(stat -c %a "$CRL")" = 644 ] || fail "CRL mode is $(stat -c %a "$CRL"), not 644"
n0=$(crl_number "$CRL")
[ "$n0" -ge 1 ] || fail "first CRL number $n0"
ctl ca show > "$STATE/ca.crt" || fail "ca show"
openssl crl -in "$CRL" -CAfile "$STATE/ca.crt" -noout 2>&1 | grepq "verify OK" || fail "CRL signature"
ctl --json ca crl | python3 -c 'import json, sys; r = json.load(sys.stdin); assert r["revoked"] == 0, r' ||
	fail "ca crl --json on the empty CRL"

orders_ready
for i in 1 2; do
	ctl sim plug --bay 1 --wait >/dev/null || fail "token $i not issued: $(bay_field 1 reason)"
	ctl sim unplug --bay 1 >/dev/null
done
[ "$(db "SELECT count(*) FROM issuances")" = 2 ] || fail "expected 2 issuances"
A=$(db "SELECT cert_serial FROM issuances ORDER BY id LIMIT 1")
B=$(db "SELECT cert_serial FROM issuances ORDER BY id DESC LIMIT 1")
cert_pem "$A" > "$STATE/a.pem"
cert_pem "$B" > "$STATE/b.pem"
# the profile's CRL distribution point is in the certificates
openssl x509 -in "$STATE/a.pem" -noout -ext crlDistributionPoints |
	grepq "URI:http://crl.example.test/station.crl" || fail "no cRLDistributionPoints in $A"
for c in a b; do
	openssl verify -crl_check -CAfile "$STATE/ca.crt" -CRLfile "$CRL" "$STATE/$c.pem" >/dev/null 2>&1 ||
		fail "certificate $c does not verify against the empty CRL"
done

# refusals: a reason that is no RFC 5280 name, no remark, an empty remark,
# an unknown serial, a serial that is not hex
expect_exit 65 "not an RFC 5280 reason name" -- ctl cert revoke "$A" --reason stolen --remark "lost"
expect_exit 64 "remark" -- ctl cert revoke "$A" --reason keyCompromise
expect_exit 64 "reason" -- ctl cert revoke "$A" --remark "lost"
expect_exit 65 "argument remark" -- ctl cert revoke "$A" --reason keyCompromise --remark "  "
expect_exit 2 "issued no certificate with this serial" -- \
	ctl cert revoke 0123456789ABCDEF --reason keyCompromise --remark "lost"
expect_exit 65 "hex digits" -- ctl cert revoke "xyz-1" --reason keyCompromise --remark "lost"
[ "$(db "SELECT count(*) FROM issuances WHERE revoked_at IS NOT NULL")" = 0 ] ||
	fail "a refused revocation changed an issuance"
[ "$(sqlite3 "$STATE/ca/ca.db" "SELECT count(*) FROM issued WHERE status = 'revoked'")" = 0 ] ||
	fail "a refused revocation reached the CA"

n1=$(crl_number "$CRL")
# the serial in lower case is the same certificate
low=$(tr 'A-F' 'a-f' <<<"$A")
out=$(ctl cert revoke "$low" --reason keyCompromise --remark "token reported stolen") ||
	fail "cert revoke $A"
grepq "certificate $A revoked (keyCompromise)" <<<"$out" || fail "revoke said: $out"
grepq "CRL [0-9]* published" <<<"$out" || fail "revoke did not publish a CRL: $out"
n2=$(crl_number "$CRL")
[ "$n2" -gt "$n1" ] || fail "CRL number did not grow at the revocation ($n1 -> $n2)"

# the CRL: v2, the entry with its reason, the CRL number, the CA's key id
openssl crl -in "$CRL" -noout -text > "$STATE/crl.txt"
grepq "Version 2" "$STATE/crl.txt" || fail "CRL is not v2"
grepq "Serial Number: $A" "$STATE/crl.txt" || fail "revoked serial $A not in the CRL"
grepq "Serial Number: $B" "$STATE/crl.txt" && fail "live serial $B is in the CRL"
grepq "Key Compromise" "$STATE/crl.txt" || fail "reason code missing in the CRL"
grepq "X509v3 CRL Number" "$STATE/crl.txt" || fail "CRL number extension missing"
grepq "X509v3 Authority Key Identifier" "$STATE/crl.txt" || fail "authority key identifier missing"
grepq "Next Update" "$STATE/crl.txt" || fail "nextUpdate missing"
ski=$(openssl x509 -in "$STATE/ca.crt" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' ')
grepq -i "$ski" <(tr -d ' ' < "$STATE/crl.txt") || fail "CRL's authority key id is not the CA's ($ski)"

# openssl: the live certificate passes, the revoked one is refused
openssl verify -crl_check -CAfile "$STATE/ca.crt" -CRLfile "$CRL" "$STATE/b.pem" >/dev/null 2>&1 ||
	fail "live certificate $B refused with the CRL"
if out=$(openssl verify -crl_check -CAfile "$STATE/ca.crt" -CRLfile "$CRL" "$STATE/a.pem" 2>&1); then
	fail "revoked certificate $A accepted with the CRL"
fi
grepq "certificate revoked" <<<"$out" || fail "openssl refused $A, but not as revoked: $out"

# ukeyctl ca crl: the same CRL, as PEM or into a file
ctl ca crl > "$STATE/crl-stdout.pem" || fail "ca crl"
cmp -s "$STATE/crl-stdout.pem" "$CRL" || fail "ca crl printed another CRL than the published one"
ctl ca crl --output "$STATE/crl-out.pem" 2>/dev/null || fail "ca crl --output"
cmp -s "$STATE/crl-out.pem" "$CRL" || fail "ca crl --output wrote another CRL"
ctl --json ca crl | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["revoked"] == 1 and r["number"] >= 2 and r["next_update"] > r["this_update"], r' ||
	fail "ca crl --json"

# again: already revoked, at the station and the CA; nothing new recorded
expect_exit 1 "already revoked" -- ctl cert revoke "$A" --reason superseded --remark "again"
[ "$(db "SELECT revoke_reason || '|' || revoked_by || '|' || revoke_remark FROM issuances WHERE cert_serial = '$A'")" = \
  "keyCompromise|root|token reported stolen" ] || fail "station.db revocation columns"
[ "$(sqlite3 "$STATE/ca/ca.db" "SELECT status || '|' || revoke_reason FROM issued WHERE serial = '$A'")" = \
  "revoked|keyCompromise" ] || fail "CA list does not hold $A revoked"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'cert.revoke'")" = 1 ] || fail "cert.revoke audit records"
db "SELECT detail FROM audit WHERE action = 'cert.revoke'" | grepq "\"serial\":\"$A\"" ||
	fail "audit record does not name $A"
ctl audit verify >/dev/null || fail "audit log does not verify after the revocation"
# the station's record and the CA's list agree: revoked at both
check_invariants

# a revoked certificate is no longer live: a renewal naming it is refused
python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" "$STATE/r.json" \
	"R-1:0:organisation=1x1:renews_serial=$A"
ctl order import "$STATE/r.json" >/dev/null || fail "import the renewal of $A"
expect_exit 2 "renews.serial: $low names no live certificate issued by this station" -- \
	ctl order approve "$(db "SELECT id FROM orders WHERE portal_ref = 'R-1'")"

# audit serials: status, when and why
ctl --json audit serials | python3 -c '
import json, sys
rows = {r["serial"]: r for r in json.load(sys.stdin)}
a, b = rows[sys.argv[1]], rows[sys.argv[2]]
assert a["status"] == "revoked" and a["revoke_reason"] == "keyCompromise" and a["revoked_at"], a
assert b["status"] == "live" and b.get("revoked_at") is None, b' "$A" "$B" || fail "audit serials status"

# the interval: a new CRL without a revocation
for _ in $(seq 100); do
	[ "$(crl_number "$CRL")" -gt "$n2" ] && break
	sleep 0.1
done
n3=$(crl_number "$CRL")
[ "$n3" -gt "$n2" ] || fail "no CRL signed on the interval (still $n3)"
openssl crl -in "$CRL" -noout -text | grepq "Serial Number: $A" || fail "interval CRL lost $A"

# over a restart the number keeps growing
stop_station
n4=$(crl_number "$CRL")
start_station
n5=$(crl_number "$CRL")
[ "$n5" -gt "$n4" ] || fail "CRL number after restart $n5, before $n4"
openssl crl -in "$CRL" -noout -text | grepq "Serial Number: $A" || fail "CRL after restart lost $A"
[ "$(sqlite3 "$STATE/ca/ca.db" "PRAGMA user_version")" = 2 ] || fail "ca.db schema version"
stop_station

# a revocation the job makes (a CA reply for another key, refused) is on the
# next CRL at once, not only after the interval (an hour here)
sed -i 's/^crl_interval = .*/crl_interval = 3600/' "$STATE/ukeyd.conf"
start_station
echo wrong-key > "$STATE/ca/fault"
ctl sim plug --bay 2 --wait >/dev/null 2>&1 && fail "wrong-key: a certificate for another key was accepted"
rm -f "$STATE/ca/fault"
refused=$(db "SELECT serial FROM received_certs WHERE status = 'refused'")
[ -n "$refused" ] || fail "wrong-key: no refused certificate"
for _ in $(seq 50); do
	openssl crl -in "$CRL" -noout -text | grepq "Serial Number: $refused" && break
	sleep 0.1
done
openssl crl -in "$CRL" -noout -text > "$STATE/crl.txt"
grepq "Serial Number: $refused" "$STATE/crl.txt" || fail "the job's revocation of $refused is not on the CRL"
grepq "Cessation Of Operation" "$STATE/crl.txt" || fail "the job's revocation has no reason code"
check_invariants
stop_station
echo "ok: CRL"
