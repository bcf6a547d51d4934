# The station's promises, checked from three sources that do not share code
# with the daemon: the station database (station.db, or the test's
# PostgreSQL database with UKEY_TEST_STORE=pg), the CA's own list of
# what it issued (ca/ca.db, table issued) and the virtual tokens themselves
# (read with pkcs11-tool and openssl over SoftHSM2 directly, not through the
# fault module). Sourced by the chaos tests after lib.sh.
#
#   check_invariants [TOKEN_NO...]
#
# checks the database, the CA and the audit chain, and the tokens named (all
# virtual tokens under $STATE/sim/tokens with "all"; none without arguments).
# Tokens are logged in to with $CHAOS_USER_PIN, the fixed initial user PIN of
# the softhsm2-chaos-* test profiles. Every violation is printed; any fails
# the test. INVARIANT_TOKENS_CHECKED counts the tokens read.
# shellcheck shell=bash

CHAOS_USER_PIN=24680135
INVARIANT_TOKENS_CHECKED=0

check_invariants() {
	local out
	ctl audit verify >/dev/null 2>&1 || fail "invariant: ukeyctl audit verify fails: $(ctl audit verify 2>&1 | tail -3)"
	if ! out=$(UKEY_TEST_PG_DIR=$PG_DIR python3 - "$STATE" "$SOFTHSM_MODULE" "$CHAOS_USER_PIN" "$@" <<'PY'
import json, os, re, sqlite3, subprocess, sys, tempfile

state, module, pin = sys.argv[1:4]
wanted = sys.argv[4:]
errors = []


def err(msg):
    errors.append(msg)


def ro(path):
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)


class PgStore:
    """The station's store on PostgreSQL (UKEY_TEST_STORE=pg): each query
    through psql, its rows as JSON (row_to_json), so typed as in SQLite."""

    def __init__(self, host):
        self.host = host

    def execute(self, sql):
        out = subprocess.run(
            ["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-U", "ukey_admin", "-d", "ukey",
             "-c", "SELECT row_to_json(q) FROM (%s) AS q" % sql],
            check=True, capture_output=True, text=True).stdout
        return PgRows([tuple(v for _, v in json.loads(line, object_pairs_hook=list))
                       for line in out.splitlines() if line])


class PgRows(list):
    def fetchone(self):
        return self[0] if self else None


pg_dir = os.environ.get("UKEY_TEST_PG_DIR")
st = PgStore(pg_dir) if pg_dir else ro(os.path.join(state, "station.db"))
ca = ro(os.path.join(state, "ca", "ca.db"))

ca_status = dict(ca.execute("SELECT serial, status FROM issued"))
received = {r[0]: r[1:] for r in st.execute(
    "SELECT serial, status, unit_id, job_id FROM received_certs")}
issued = {r[0]: r[1:] for r in st.execute(
    "SELECT cert_serial, unit_id, job_id, token_serial, token_profile FROM issuances")}
# issuances revoked afterwards (ukeyctl cert revoke): revoked at the CA too
revoked_here = {r[0] for r in st.execute(
    "SELECT cert_serial FROM issuances WHERE revoked_at IS NOT NULL")}
# renewed: superseded by the renewal's certificate on the same token
superseded = {r[0] for r in st.execute(
    "SELECT cert_serial FROM issuances WHERE revoke_reason = 'superseded'")}

# every certificate the CA issued is in the station's record exactly once
# (received_certs.serial is the primary key: once at most)
for serial, status in ca_status.items():
    if serial not in received:
        err("CA certificate %s (%s at the CA) is not in the station's record" % (serial, status))
    elif status == "valid":
        if serial not in issued:
            err("CA certificate %s is valid at the CA but not issued (station: %s)"
                % (serial, received[serial][0]))
        elif received[serial][0] != "issued":
            err("CA certificate %s is issued but recorded as %s" % (serial, received[serial][0]))
    elif serial in issued and serial not in revoked_here:
        err("issued certificate %s is %s at the CA" % (serial, status))
for serial in revoked_here:
    if ca_status.get(serial) != "revoked":
        err("certificate %s is revoked by the station but %s at the CA"
            % (serial, ca_status.get(serial)))
for serial, (status, unit, job) in received.items():
    if serial not in ca_status:
        err("received certificate %s (job %d) is unknown to the CA" % (serial, job))
    if status in ("revoked", "refused") and ca_status.get(serial) != "revoked":
        err("certificate %s is %s by the station but %s at the CA"
            % (serial, status, ca_status.get(serial)))
    if status == "received":
        err("certificate %s of job %d is still only 'received'" % (serial, job))
    if status == "issued" and serial not in issued:
        err("certificate %s is marked issued without an issuance row" % serial)

# no unit has two live certificates; no unit is issued twice
live = {}
for serial, (status, unit, job) in received.items():
    if ca_status.get(serial) == "valid":
        live.setdefault(unit, []).append(serial)
for unit, serials in live.items():
    if len(serials) > 1:
        err("unit %d has %d live certificates: %s" % (unit, len(serials), " ".join(serials)))
per_unit = {}
for serial, (unit, job, tok, prof) in issued.items():
    per_unit.setdefault(unit, []).append(serial)
for unit, serials in per_unit.items():
    if len(serials) > 1:
        err("unit %d issued %d times" % (unit, len(serials)))
for unit, state_ in st.execute("SELECT id, state FROM units"):
    if (state_ == "issued") != (unit in per_unit):
        err("unit %d is %s but has %d issuances" % (unit, state_, len(per_unit.get(unit, []))))
    if state_ == "in_production":
        err("unit %d is left in production" % unit)

# every job ended
for job, state_, step, why in st.execute(
        "SELECT id, state, step, error FROM jobs WHERE state IN ('running', 'suspended')"):
    err("job %d is %s at step %s (%s)" % (job, state_, step, why))
for job, unit in st.execute("SELECT j.id, j.unit_id FROM jobs j WHERE j.state = 'issued'"
                            " AND NOT EXISTS (SELECT 1 FROM issuances i WHERE i.job_id = j.id)"):
    err("job %d is issued without an issuance" % job)

# counts add up
n_units = st.execute("SELECT count(*) FROM units WHERE state = 'issued'").fetchone()[0]
n_valid = sum(1 for s in ca_status.values() if s == "valid")
if not (n_units == len(issued) and len(issued) - len(revoked_here) == n_valid):
    err("counts: %d units issued, %d issuances, %d valid CA certificates"
        % (n_units, len(issued), n_valid))

known_tokens = {r[0]: r[1] for r in st.execute(
    "SELECT serial, so_pin_enc IS NOT NULL FROM tokens")}
issued_on = {}
for serial, (unit, job, tok, prof) in issued.items():
    issued_on.setdefault(tok, []).append(serial)

# the tokens themselves
root = os.path.join(state, "sim", "tokens")
if wanted == ["all"]:
    wanted = sorted(os.listdir(root)) if os.path.isdir(root) else []
tmp = tempfile.mkdtemp(dir=state)
checked = 0


def p11(conf, *args):
    env = dict(os.environ, SOFTHSM2_CONF=conf)
    r = subprocess.run(["pkcs11-tool", "--module", module] + list(args), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def spki(der_path, kind):
    cmd = ["openssl", "x509", "-inform", "DER", "-in", der_path, "-noout", "-pubkey"] \
        if kind == "cert" else ["openssl", "pkey", "-pubin", "-inform", "DER", "-in", der_path]
    pem = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    return subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout


for name in wanted:
    name = "%04d" % int(name)
    conf = os.path.join(root, name, "softhsm2.conf")
    where = "token %s" % name
    if not os.path.exists(conf):
        err("%s: no such virtual token" % where)
        continue
    checked += 1
    rc, info = p11(conf, "-L")
    m = re.search(r"serial num\s*:\s*(\S+)", info)
    if m is None:
        # blank: re-usable as it is; nothing can be recorded on it
        continue
    tserial = m.group(1)
    where = "token %s (serial %s)" % (name, tserial)
    rc, objs = p11(conf, "--login", "--pin", pin, "--list-objects")
    if rc != 0:
        err("%s: cannot log in with the test user PIN: %s" % (where, objs.strip()[-200:]))
        continue
    blocks = re.split(r"\n(?=\S)", objs)
    certs, pubs, privs = {}, {}, {}
    for b in blocks:
        idm = re.search(r"^\s*ID:\s*(\S+)", b, re.M)
        if idm is None:
            continue
        if b.startswith("Certificate Object"):
            certs[idm.group(1)] = b
        elif b.startswith("Public Key Object"):
            pubs[idm.group(1)] = b
        elif b.startswith("Private Key Object"):
            privs[idm.group(1)] = b
    # read every certificate: end-entity ones (not CA) carry the unit's serial
    ee = {}
    for cid in certs:
        path = os.path.join(tmp, "c.der")
        p11(conf, "--read-object", "--type", "cert", "--id", cid, "-o", path)
        text = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", path, "-noout",
                               "-serial", "-ext", "basicConstraints"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL).stdout.decode()
        sm = re.search(r"serial=([0-9A-F]+)", text)
        if sm is None:
            err("%s: certificate %s does not parse" % (where, cid))
            continue
        if "CA:TRUE" in text:
            continue
        ee[cid] = (int(sm.group(1), 16), spki(path, "cert"))
    # a renewal supersedes the certificate it replaces on the same token:
    # that one must be gone from the token, the new one there
    recorded = [s for s in issued_on.get(tserial, []) if s not in superseded]
    if len(recorded) > 1:
        err("%s: %d issuances recorded on one token" % (where, len(recorded)))
    for serial in issued_on.get(tserial, []):
        if serial in superseded and any(s == int(serial, 16) for s, _ in ee.values()):
            err("%s: superseded certificate %s is still on the token" % (where, serial))
    for serial in recorded:
        hits = [cid for cid, (s, _) in ee.items() if s == int(serial, 16)]
        if not hits:
            err("%s: issued certificate %s is not on the token" % (where, serial))
            continue
        cid = hits[0]
        if cid not in privs:
            err("%s: no private key with the certificate's CKA_ID %s" % (where, cid))
        elif "sensitive, always sensitive, never extractable, local" not in privs[cid]:
            err("%s: private key %s fails the protection attributes: %s"
                % (where, cid, privs[cid].strip()))
        if cid not in pubs:
            err("%s: no public key with the certificate's CKA_ID %s" % (where, cid))
        else:
            path = os.path.join(tmp, "p.der")
            p11(conf, "--read-object", "--type", "pubkey", "--id", cid, "-o", path)
            if spki(path, "pub") != ee[cid][1] or not ee[cid][1]:
                err("%s: the certificate's public key is not the token's key %s" % (where, cid))
    for cid, (s, _) in ee.items():
        hexs = "%X" % s
        if hexs not in recorded and ca_status.get(hexs) == "valid":
            err("%s: holds certificate %s, valid at the CA but not recorded for this token"
                % (where, hexs))
    if not recorded and not known_tokens.get(tserial):
        err("%s: initialised, no certificate issued on it, and its SO PIN is unknown to "
            "the station: it cannot be re-used" % where)

for f in os.listdir(tmp):
    os.unlink(os.path.join(tmp, f))
os.rmdir(tmp)
print("checked %d tokens" % checked)
for e in errors:
    print("VIOLATION: " + e)
sys.exit(1 if errors else 0)
PY
	); then
		echo "$out" >&2
		fail "invariants violated"
	fi
	INVARIANT_TOKENS_CHECKED=$((INVARIANT_TOKENS_CHECKED + $(echo "$out" | sed -n 's/^checked \([0-9]*\) tokens$/\1/p')))
}

# chaos_orders N: N copies of the sample orders (2 RSA-2048 and 3 EC P-256
# units each), imported, approved and paid
chaos_orders() {
	local n=$1 id k=0
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
out = []
for i in range(int(sys.argv[3])):
    for o in d["orders"]:
        c = json.loads(json.dumps(o))
        c["portal_ref"] += "-C%03d" % i
        out.append(c)
d["orders"] = out
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)' "$SRC/examples/orders-sample.json" "$STATE/chaos-orders.json" "$n"
	ctl order import "$STATE/chaos-orders.json" >/dev/null || fail "import the chaos orders"
	for id in $(ctl order list --state pending | awk 'NR > 1 { print $1 }'); do
		k=$((k + 1))
		ctl order approve "$id" >/dev/null || fail "approve $id"
		ctl order pay "$id" --payment-no "$(printf '20261121%022d' "$k")" >/dev/null || fail "pay $id"
	done
}

# renewal_drive BAY: until the bay's renewal is no longer worked on (or
# ukeyd is gone), typing the chaos profiles' PIN whenever it is asked for
renewal_drive() {
	local st
	for _ in $(seq 1200); do
		kill -0 "$DAEMON_PID" 2>/dev/null || return 0
		st=$(bay_field "$1" state 2>/dev/null) || continue
		if [ "$(bay_field "$1" awaiting_pin 2>/dev/null)" = True ]; then
			echo "$CHAOS_USER_PIN" | ctl bay enter-pin --bay "$1" >/dev/null 2>&1 || true
		elif [ "$st" != working ] && [ "$st" != starting ] && [ "$st" != probing ]; then
			return 0
		fi
		sleep 0.05
	done
	fail "bay $1 still $(bay_field "$1" state): $(bay_field "$1" reason)"
}

# renewal_order REF SERIAL PAYMENT_NO: a renewal order REF for the
# certificate SERIAL (one certificate of its kind, the sample order of the
# same organisation), imported, approved and paid
renewal_order() {
	local ref=$1 serial=$2 kind base id
	kind=$(db "SELECT kind FROM issuances WHERE cert_serial = '$serial'")
	base=$(python3 -c '
import json, sys
for i, o in enumerate(json.load(open(sys.argv[1]))["orders"]):
    if o["account_uscc"] == sys.argv[2] and o.get(sys.argv[3], {}).get("ticked"):
        print(i)
        break' "$SRC/examples/orders-sample.json" "$(db "SELECT org_uscc FROM issuances WHERE cert_serial = '$serial'")" "$kind")
	python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" \
		"$STATE/$ref.json" "$ref:$base:$kind=1x1:renews_serial=$serial"
	ctl order import "$STATE/$ref.json" >/dev/null || fail "import $ref"
	id=$(db "SELECT id FROM orders WHERE portal_ref = '$ref'")
	ctl order approve "$id" >/dev/null || fail "approve $ref"
	ctl order pay "$id" --payment-no "$3" >/dev/null || fail "pay $ref"
}

# chaos_config: the station configuration with the chaos test profiles
chaos_config() {
	write_config
	sed -i "s|^profile_dirs = .*|&, $SRC/tests/data/firmware-profiles-chaos|" "$STATE/ukeyd.conf"
}

# chaos_token RULES: a new blank virtual token whose fault module follows
# RULES (printf %b: "\n" separates lines); sets TOK to its number, to be
# plugged with: ctl sim plug --token "$TOK" --profile softhsm2-chaos-...
CHAOS_NEXT_TOKEN=1
chaos_token() {
	local dir
	TOK=$CHAOS_NEXT_TOKEN
	CHAOS_NEXT_TOKEN=$((CHAOS_NEXT_TOKEN + 1))
	dir=$(chaos_token_dir "$TOK")
	mkdir -p "$dir/store"
	printf 'directories.tokendir = %s/store\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = true\n' \
		"$dir" > "$dir/softhsm2.conf"
	printf '%b' "$1" > "$dir/faultp11.conf"
}
chaos_token_dir() { printf '%s/sim/tokens/%04d' "$STATE" "$1"; }
