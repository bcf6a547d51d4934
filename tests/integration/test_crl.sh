# Revocation and the embedded CA's CRL: two tokens issued on simulated bays,
# one certificate revoked with ukeyctl cert revoke; openssl then accepts the
# other and refuses the revoked one against the published CRL. The CRL
# number grows with every CRL, also over a restart; bad requests are refused.
# ca.crl in pages of bytes: pages of 100 joined equal one page; a CRL
# published between two pages is refused; a CRL of 100,000 revocations
# (over 4 MiB) comes out whole through ukeyctl; ukeyctl against a stand-in
# daemon fails clearly on a changed CRL and on pages that do not join.
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
# a CRL from the start, signed in its thread (ca crl waits for it): signed,
# empty, world-readable, number 1
ctl ca crl > /dev/null || fail "ca crl after start"
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
ctl ca crl > /dev/null || fail "ca crl after the restart"
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

# ca.crl in pages of bytes (docs/protocol.md, "The CRL in pages"): with
# pages of 100 bytes every page carries the same length, digest, number and
# times, and the pages join into the published file; ukeyctl joins them into
# what one reply gave
UKEY_TEST_PAGE_DEFAULT=100 start_station
crl_walk() {	# crl_walk [limit]: walks ca.crl's pages; prints "pages bytes sha256 ok"
	PYTHONPATH=$SRC/tests/integration python3 -c '
import ctlsock, hashlib, json, sys
s = ctlsock.connect(sys.argv[1])
limit = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
after, pages, text, first = 0, 0, "", None
while True:
    args = {"after": after}
    if limit:
        args["limit"] = limit
    if first:
        args["sha256"] = first["sha256"]
    ctlsock.send(s, {"v": 1, "cmd": "ca.crl", "args": args})
    r = ctlsock.reply(s)
    assert r["ok"], r
    res = r["result"]
    page = res.pop("pem")
    assert 0 < len(page) <= (limit or 100), (after, len(page))
    first = first or res
    assert res == first, (res, first)
    pages, text = pages + 1, text + page
    if r.get("next") is None:
        break
    assert r["next"] == after + len(page), r["next"]
    after = r["next"]
open(sys.argv[3] if len(sys.argv) > 3 else "/dev/null", "w").write(text)
ok = len(text) == first["length"] and hashlib.sha256(text.encode()).hexdigest() == first["sha256"]
print(pages, len(text), first["revoked"], ok)' "$STATE/ukeyd.sock" "$@"
}
len=$(stat -c %s "$CRL")
crl_walk "" "$STATE/crl-walk.pem" > "$STATE/walk.out" 2>&1 || fail "ca.crl pages: $(cat "$STATE/walk.out")"
[ "$(cat "$STATE/walk.out")" = "$(( (len + 99) / 100 )) $len 2 True" ] ||
	fail "ca.crl pages of 100 bytes of a $len-byte CRL: $(cat "$STATE/walk.out")"
cmp -s "$STATE/crl-walk.pem" "$CRL" || fail "the pages of ca.crl do not join into $CRL"
ctl ca crl > "$STATE/crl-paged.pem" || fail "ca crl in pages"
cmp -s "$STATE/crl-paged.pem" "$CRL" || fail "ca crl joined from pages is not $CRL"
ctl ca crl --output "$STATE/crl-paged-out.pem" 2>/dev/null || fail "ca crl --output in pages"
cmp -s "$STATE/crl-paged-out.pem" "$CRL" || fail "ca crl --output joined from pages is not $CRL"
# --json: the fields one reply gave (that of a page as large as the CRL)
PYTHONPATH=$SRC/tests/integration python3 -c '
import ctlsock, json, sys
s = ctlsock.connect(sys.argv[1])
ctlsock.send(s, {"v": 1, "cmd": "ca.crl", "args": {"limit": 1048576}})
r = ctlsock.reply(s)
assert r["ok"] and "next" not in r, r
res = r["result"]
del res["length"], res["sha256"]
print(json.dumps(res, sort_keys=True))' "$STATE/ukeyd.sock" > "$STATE/crl-one.json" || fail "ca.crl in one page"
ctl --json ca crl | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))' \
	> "$STATE/crl-joined.json" || fail "ca crl --json in pages"
cmp -s "$STATE/crl-one.json" "$STATE/crl-joined.json" ||
	fail "ca crl --json joined differs from one page: $(diff "$STATE/crl-one.json" "$STATE/crl-joined.json")"
# refusals: an offset past the end, a page over 1 MiB
PYTHONPATH=$SRC/tests/integration python3 -c '
import ctlsock, sys
s = ctlsock.connect(sys.argv[1])
for args, code, words in (({"after": int(sys.argv[2]) + 1}, "invalid", "argument after: a byte offset 0.."),
                          ({"limit": 1048577}, "invalid", "argument limit: 1..1048576")):
    ctlsock.send(s, {"v": 1, "cmd": "ca.crl", "args": args})
    r = ctlsock.reply(s)
    assert not r["ok"] and r["error"]["code"] == code and words in r["error"]["message"], r' \
	"$STATE/ukeyd.sock" "$len" || fail "ca.crl bad page arguments"

# a CRL published between two pages: the next page, which names the first's
# digest, is refused; ukeyctl asked again gets the new CRL whole
PYTHONPATH=$SRC/tests/integration python3 -c '
import ctlsock, json, subprocess, sys
s = ctlsock.connect(sys.argv[1])
ctlsock.send(s, {"v": 1, "cmd": "ca.crl", "args": {}})
r = ctlsock.reply(s)
assert r["ok"] and r["next"] == 100, r
subprocess.run(sys.argv[2:], check=True, stdout=subprocess.DEVNULL)
ctlsock.send(s, {"v": 1, "cmd": "ca.crl", "args": {"after": 100, "sha256": r["result"]["sha256"]}})
r2 = ctlsock.reply(s)
assert not r2["ok"] and r2["error"]["code"] == "state", r2
m = r2["error"]["message"]
assert "changed since the first page" in m and r["result"]["sha256"] in m and "ask again" in m, m
print(m)' "$STATE/ukeyd.sock" "$BUILD/ukeyctl" --state "$STATE" cert revoke "$B" --reason superseded \
	--remark "renewed elsewhere" > "$STATE/changed.out" 2>&1 || fail "CRL changed between pages: $(cat "$STATE/changed.out")"
openssl crl -in "$CRL" -noout -text | grepq "Serial Number: $B" || fail "the new CRL does not list $B"
ctl ca crl > "$STATE/crl-new.pem" || fail "ca crl after the change"
cmp -s "$STATE/crl-new.pem" "$CRL" || fail "ca crl after the change is not the new CRL"
check_invariants
stop_station

# a CRL over the protocol's 4 MiB (100,000 revocations, made with openssl
# ca -gencrl) comes out whole through ukeyctl, in pages of 1 MiB
mkdir -p "$STATE/big"
(
	cd "$STATE/big"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
		-subj /CN=big-ca -days 30 2>/dev/null
	python3 -c '
for i in range(100000):
    print("R\t301231235959Z\t260101000000Z,keyCompromise\t%040X\tunknown\t/CN=c%d" % (i + 1, i))' > index.txt
	echo 1000 > crlnumber
	printf '[ca]\ndefault_ca = c\n[c]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n' > ca.cnf
	openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.crt -out big.crl 2>/dev/null
) || fail "making a CRL of 100,000 revocations"
big=$(stat -c %s "$STATE/big/big.crl")
[ "$big" -gt 4194304 ] || fail "the large CRL is only $big bytes"
start_station
# the station publishes at start; the large CRL stands in for it after
# (crl_interval is an hour, and nothing is revoked meanwhile)
cp "$STATE/big/big.crl" "$CRL.tmp" && mv "$CRL.tmp" "$CRL"
ctl ca crl > "$STATE/big-out.pem" || fail "ca crl of a $big-byte CRL"
cmp -s "$STATE/big-out.pem" "$STATE/big/big.crl" || fail "ca crl of the large CRL is not the file"
ctl --json ca crl | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["revoked"] == 100000 and r["number"] == 4096 and len(r["pem"]) == int(sys.argv[1]), {k: r[k] for k in r if k != "pem"}
assert sorted(r) == ["next_update", "number", "path", "pem", "revoked", "this_update"], sorted(r)' "$big" ||
	fail "ca crl --json of the large CRL"
crl_walk 1048576 > "$STATE/walk.out" 2>&1 || fail "large ca.crl pages: $(cat "$STATE/walk.out")"
[ "$(cat "$STATE/walk.out")" = "$(( (big + 1048575) / 1048576 )) $big 100000 True" ] ||
	fail "large CRL pages: $(cat "$STATE/walk.out")"
stop_station

# ukeyctl's side, against a stand-in daemon on a socket of its own: a page
# refused because the CRL changed is told and nothing is written; pages that
# do not join into the CRL the first page described (length or digest) are
# refused by ukeyctl itself (the pages of the small CRL saved above)
fake_daemon() {	# fake_daemon MODE: serves ca.crl's two pages once, then exits
	rm -f "$STATE/fake.sock"
	PYTHONPATH=$SRC/tests/integration python3 -c '
import ctlsock, hashlib, socket, sys
path, mode = sys.argv[1:3]
pem = open(sys.argv[3]).read()
fields = {"path": "/x/crl.pem", "number": 7, "this_update": "2026-12-01T00:00:00Z",
          "next_update": "2026-12-03T00:00:00Z", "revoked": 2, "length": len(pem),
          "sha256": hashlib.sha256(pem.encode()).hexdigest()}
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(4)
srv.settimeout(30)
for n in range(2):
    c, _ = srv.accept()
    req = ctlsock.reply(c)
    assert req["cmd"] == "ca.crl", req
    a = req["args"]
    if n == 0:
        assert "after" not in a and "sha256" not in a, a
        r = {"v": 1, "ok": True, "result": dict(fields, pem=pem[:100]), "next": 100}
    else:
        assert a == {"after": 100, "sha256": fields["sha256"]}, a
        if mode == "changed":
            r = {"v": 1, "ok": False, "error": {"code": "state", "message":
                 "the CRL at /x/crl.pem changed since the first page (sha256 %s, now CRL 8 with sha256 00): ask again from the start" % fields["sha256"]}}
        else:	# another CRL of the same length: the digest does not match
            r = {"v": 1, "ok": True, "result": dict(fields, pem=pem[100:].swapcase())}
    ctlsock.send(c, r)
    c.close()' "$STATE/fake.sock" "$1" "$STATE/crl-new.pem" > "$STATE/fake.out" 2>&1 &
	FAKE_PID=$!
	for _ in $(seq 100); do [ -S "$STATE/fake.sock" ] && return 0; sleep 0.05; done
	fail "the stand-in daemon did not start: $(cat "$STATE/fake.out")"
}
fake_ctl() { "$BUILD/ukeyctl" --socket "$STATE/fake.sock" "$@"; }
fake_daemon changed
expect_exit 1 "changed since the first page" -- fake_ctl ca crl --output "$STATE/mixed.pem"
wait "$FAKE_PID" || fail "stand-in daemon (changed): $(cat "$STATE/fake.out")"
[ ! -e "$STATE/mixed.pem" ] || fail "ca crl wrote a file though the CRL changed between its pages"
fake_daemon mixed
expect_exit 1 "the pages joined are not the CRL the daemon described" -- fake_ctl ca crl --output "$STATE/mixed.pem"
wait "$FAKE_PID" || fail "stand-in daemon (mixed): $(cat "$STATE/fake.out")"
[ ! -e "$STATE/mixed.pem" ] || fail "ca crl wrote a mix of two CRLs"
echo "ok: CRL"
