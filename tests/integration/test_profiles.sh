#!/bin/bash
# ukeyctl profiles: what a running ukeyd loaded (table and --json), `profiles
# check` on good, bad and missing files (exact messages and exit codes, no
# daemon), and `profiles udev-rules`, whose output for the shipped profiles
# must equal udev/70-ukey-station.rules.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

OUT=$STATE/out
ERR=$STATE/err
# no daemon behind this socket: check and udev-rules must not need one
nod() { "$BUILD/ukeyctl" --socket "$STATE/nobody.sock" "$@"; }

# expect_exit WANT CMD...: runs CMD with stdout in $OUT, stderr in $ERR.
expect_exit() {
	local want=$1 rc=0
	shift
	"$@" >"$OUT" 2>"$ERR" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$ERR" >&2; fail "$*: exit $rc, want $want"; }
}

same() {	# same FILE EXPECTED-TEXT WHAT
	diff -u <(printf '%s' "$2") "$1" >&2 || fail "$3"
}

# the "# expect: " line of a bad file with {file} replaced
expected_error() { sed -n '1s/^# expect: //p' "$1" | sed "s|{file}|$1|"; }

shipped=("$SRC"/firmware-profiles/*.conf)
[ ${#shipped[@]} -ge 5 ] || fail "only ${#shipped[@]} shipped profiles"

# ---- profiles check: every shipped file is good
want=""
for f in "${shipped[@]}"; do
	want+="$f: ok ($(sed -n 's/^name = //p' "$f"))"$'\n'
done
expect_exit 0 nod profiles check "${shipped[@]}"
same "$OUT" "$want" "profiles check: shipped files"
[ ! -s "$ERR" ] || fail "profiles check wrote to stderr for good files"

# ---- bad files: the file:line message on stderr, exit 65
bad=$SRC/tests/data/firmware-profiles/bad
for f in "$bad/slot-unknown.conf" "$bad/so-pin-charset-unknown.conf" "$bad/quirk-unknown.conf" \
    "$bad/pin-length-out-of-range.conf"; do
	expect_exit 65 nod profiles check "$f"
	same "$ERR" "$(expected_error "$f")"$'\n' "profiles check $f"
	[ ! -s "$OUT" ] || fail "profiles check printed ok for $f"
done

# good and bad together: both reported, in order, exit 65
good=$SRC/firmware-profiles/yubikey5-piv.conf
expect_exit 65 nod profiles check "$good" "$bad/slot-unknown.conf" "$SRC/firmware-profiles/softhsm2.conf"
same "$OUT" "$good: ok (yubikey5-piv)"$'\n'"$SRC/firmware-profiles/softhsm2.conf: ok (softhsm2)"$'\n' \
	"profiles check: good lines of a mixed run"
same "$ERR" "$(expected_error "$bad/slot-unknown.conf")"$'\n' "profiles check: bad line of a mixed run"

# unreadable: 66, unless a bad file makes it 65
missing=$STATE/no-such-profile.conf
expect_exit 66 nod profiles check "$good" "$missing"
same "$ERR" "$missing: cannot open: No such file or directory"$'\n' "profiles check: missing file"
expect_exit 65 nod profiles check "$missing" "$bad/slot-unknown.conf"

# --json: one object per file
expect_exit 65 nod --json profiles check "$good" "$bad/slot-unknown.conf"
python3 - "$OUT" "$good" "$bad/slot-unknown.conf" "$(expected_error "$bad/slot-unknown.conf")" <<'EOF' || fail "profiles check --json"
import json, sys
out = json.load(open(sys.argv[1]))
assert out == [{"file": sys.argv[2], "ok": True, "name": "yubikey5-piv"},
               {"file": sys.argv[3], "ok": False, "error": sys.argv[4]}], out
EOF

# usage errors
expect_exit 64 nod profiles check
grep -q "profiles check: FILE is required" "$ERR" || fail "profiles check without FILE: message"
expect_exit 64 nod profiles frobnicate
grep -q 'profiles: unknown verb "frobnicate"' "$ERR" || fail "unknown profiles verb: message"

# ---- udev rules: the file in udev/ is what the shipped profiles give
expect_exit 0 nod profiles udev-rules "$SRC/firmware-profiles"
cmp "$OUT" "$SRC/udev/70-ukey-station.rules" ||
	fail "udev/70-ukey-station.rules differs from 'ukeyctl profiles udev-rules firmware-profiles': regenerate it"
# without DIR: the shipped directory (the source tree's, as ukeyd's default)
expect_exit 0 env UKEY_DEV_TREE="$SRC" "$BUILD/ukeyctl" profiles udev-rules
cmp "$OUT" "$SRC/udev/70-ukey-station.rules" || fail "profiles udev-rules without DIR"
# every rule has the tag and group, and names an id once
grep -q '^SUBSYSTEM' "$OUT" || fail "no rules"
if grep '^SUBSYSTEM' "$OUT" | grep -v 'ENV{DEVTYPE}=="usb_device", .*GROUP="ukey", MODE="0660", TAG+="ukey_station"$'; then
	fail "a rule without group, mode or tag"
fi
dups=$(grep -o 'ATTR{idVendor}=="[0-9a-f]*", ATTR{idProduct}=="[0-9a-f]*"' "$OUT" | sort | uniq -d)
[ -z "$dups" ] || fail "ids with two rules: $dups"

# a set ukeyd would refuse gives no rules: overlapping ids, bad files
expect_exit 65 nod profiles udev-rules "$SRC/tests/data/firmware-profiles/overlap"
grep -q 'overlaps profile "wide"' "$ERR" || fail "udev-rules: overlap message"
[ ! -s "$OUT" ] || fail "udev-rules printed rules for a refused set"
expect_exit 65 nod profiles udev-rules "$bad"
[ "$(wc -l <"$ERR")" -eq "$(ls "$bad"/*.conf | wc -l)" ] || fail "udev-rules: one line per bad file"
expect_exit 66 nod profiles udev-rules "$STATE/no-such-dir"
same "$ERR" "ukeyctl: $STATE/no-such-dir: not a directory"$'\n' "udev-rules: missing directory"

# ---- the daemon's listing
expect_exit 69 nod profiles
start_station

expect_exit 0 ctl profiles
python3 - "$OUT" "$SRC" <<'EOF' || fail "ukeyctl profiles table"
import glob, os, re, sys
lines = open(sys.argv[1]).read().splitlines()
head = re.split(r"\s{2,}", lines[0].strip())
assert head == ["name", "verified", "virtual", "usb", "reader", "module", "algorithms"], head
rows = {}
for l in lines[1:]:
    cells = re.split(r"\s{2,}", l.strip())
    assert len(cells) == 7, l
    rows[cells[0]] = dict(zip(head, cells))
names = set()
for f in glob.glob(sys.argv[2] + "/firmware-profiles/*.conf") + \
        glob.glob(sys.argv[2] + "/tests/data/firmware-profiles/*.conf"):
    names.add(re.search(r"^name = (\S+)$", open(f).read(), re.M).group(1))
assert names == set(rows), (names, set(rows))
e = rows["feitian-epass2003"]
assert (e["verified"], e["virtual"], e["usb"], e["reader"], e["algorithms"]) == \
    ("no", "no", "096e:0807,080a", "*ePass2003*", "rsa2048"), e
y = rows["yubikey5-piv"]
assert y["usb"] == "1050:0404,0405,0406,0407" and y["algorithms"] == "rsa2048,ec-p256,ec-p384", y
assert y["module"] == ("installed" if os.path.exists("/usr/lib/x86_64-linux-gnu/libykcs11.so") else "missing"), y
s = rows["softhsm2"]
assert (s["verified"], s["virtual"], s["usb"], s["reader"], s["module"]) == \
    ("yes", "yes", "-", "-", "installed"), s
EOF

expect_exit 0 ctl --json profiles
python3 - "$OUT" "$SRC" <<'EOF' || fail "ukeyctl --json profiles"
import json, os, sys
ps = {p["name"]: p for p in json.load(open(sys.argv[1]))}
for name, p in ps.items():
    for key in ("description", "source", "verified", "virtual", "path", "pkcs11", "algorithms",
                "pin", "label_max_bytes", "timeouts_ms", "quirks"):
        assert key in p, (name, key)
    # the module is the first candidate installed on the daemon's machine
    have = [m for m in p["pkcs11"]["modules"] if os.path.isfile(m) and os.access(m, os.R_OK)]
    assert p["pkcs11"]["module"] == (have[0] if have else None), (name, p["pkcs11"])
    assert "initial_user_pin" not in p["pin"]
    if not p["virtual"]:
        assert p["verified"] is False and p["source"], name
        assert p["pkcs11"]["slot"] == "reader", name
        assert p["timeouts_ms"]["generate_key"] >= 60000, name
y = ps["yubikey5-piv"]
assert y["usb"] == {"vendor_id": "1050", "product_ids": ["0404", "0405", "0406", "0407"],
                    "firmware_min": "0.00", "firmware_max": "99.99"}, y["usb"]
assert y["pkcs11"]["init_token"] is False
assert y["pin"]["so_pin_charset"] == "hex" and y["pin"]["initial_user_pin_set"] is True
assert "123456" not in json.dumps(y)
assert y["quirks"] == ["reinit-needs-so-pin", "keygen-needs-so-login"], y["quirks"]
assert ps["nitrokey-hsm"]["pin"]["so_pin_charset"] == "hex"
assert ps["feitian-epass2003"]["quirks"] == ["no-ec-keygen", "init-needs-blank"]
assert ps["softhsm2"]["pin"]["so_pin_charset"] == "alnum"
assert ps["softhsm2-fault"]["path"].endswith("tests/data/firmware-profiles/softhsm2-fault.conf")
# every USB id of the loaded profiles has its rule in the shipped rules file
rules = open(sys.argv[2] + "/udev/70-ukey-station.rules").read()
for p in ps.values():
    for pid in p.get("usb", {}).get("product_ids", []):
        rule = 'ATTR{idVendor}=="%s", ATTR{idProduct}=="%s"' % (p["usb"]["vendor_id"], pid)
        assert rules.count(rule) == 1, (p["name"], pid)
EOF

stop_station
echo "test_profiles: ok"
