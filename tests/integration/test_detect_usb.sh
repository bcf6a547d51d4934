#!/bin/bash
# USB detection sources (libusb hotplug, udev monitor) under a umockdev
# testbed: mock Feitian ePass2003 tokens are plugged and pulled with usbbed
# while detect_watch runs one source; each event line is checked (bay, ids,
# serial, profile), nothing else may be reported, and the time from the
# testbed change to the event line is printed.
set -euo pipefail
if [ "${UKEY_TEST_STORE:-sqlite}" = pg ]; then
	echo "SKIP (UKEY_TEST_STORE=pg): it starts no station and has no store: the SQLite pass runs it"
	exit 77
fi

SRC=${UKEY_SOURCE_DIR:?UKEY_SOURCE_DIR must be set (ctest sets it)}
BUILD=${UKEY_BUILD_DIR:?UKEY_BUILD_DIR must be set (ctest sets it)}
command -v python3 >/dev/null || { echo "FAIL: python3 is not installed" >&2; exit 1; }
# shellcheck source=usbbed.sh
. "$SRC/tests/integration/usbbed.sh"

WATCH=$BUILD/tests/detect_watch
DATA=$SRC/tests/data/umockdev
PROFILES=$SRC/tests/data/firmware-profiles-usb
TIMEOUT=${USBBED_TIMEOUT}
HUB=$DATA/usb1-root-hub.umockdev
DEV_A=$DATA/epass2003-1-2.umockdev		# usb:1-2, serial 0F1E2D3C4B5A0102, fw 1.00
DEV_B=$DATA/epass2003-1-3.umockdev		# usb:1-3, serial 0F1E2D3C4B5A0103, fw 1.00
DEV_C=$DATA/epass2003-newfw-1-4.umockdev	# usb:1-4, serial 0F1E2D3C4B5A0104, fw 3.00
HUB_1=$DATA/hub-1-1.umockdev			# an external hub on port 1-1
DEV_D=$DATA/epass2003-1-1.3.umockdev		# usb:1-1.3 (behind it), serial 0F1E2D3C4B5A0113
SERIAL_A=0F1E2D3C4B5A0102
SERIAL_B=0F1E2D3C4B5A0103
SERIAL_C=0F1E2D3C4B5A0104
SERIAL_D=0F1E2D3C4B5A0113
[ -x "$WATCH" ] || { echo "FAIL: $WATCH not built" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ukey-detect-usb.XXXXXX)
OUT=""
cleanup() {
	local rc=$?
	usbbed_cleanup
	if [ $rc -eq 0 ]; then rm -rf "$WORK"; else echo "files kept in $WORK" >&2; fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -n "$OUT" ] && [ -f "$OUT" ]; then
		echo "---- detect_watch output" >&2
		cat "$OUT" >&2
	fi
	exit 1
}

# expect N SENT_MS SPEC...: waits until OUT holds N events (the "started"
# line not counted) and checks that the last ones match the SPECs, in any
# order. SPEC: "kind bay serial profile bcd" (profile "null" for none).
# With SENT_MS (else "-"), prints how long after it the event was reported.
expect() {
	python3 - "$OUT" "$TIMEOUT" "$@" <<'EOF' || fail "events in $OUT"
import json, sys, time

out, timeout, n, sent = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
specs = [s.split() for s in sys.argv[5:]]
deadline = time.monotonic() + timeout
while True:
    with open(out) as f:
        lines = [l for l in f if l.endswith("\n")]
    events = [json.loads(l) for l in lines]
    if not events or events[0].get("kind") != "started":
        if events:
            sys.exit("first line is not the start line: %s" % lines[0].strip())
    events = events[1:]
    if len(events) >= n:
        break
    if time.monotonic() > deadline:
        sys.exit("waited %.0f s for event %d, have %d" % (timeout, n, len(events)))
    time.sleep(0.02)
if len(events) > n:
    sys.exit("more events than the %d expected: %s" % (n, events[n:]))
got = events[n - len(specs):]
want = []
for kind, bay, serial, profile, bcd in specs:
    want.append({"kind": kind, "bay": bay, "usb_serial": serial,
                 "profile": None if profile == "null" else profile, "bcd": bcd,
                 "vid": "096e", "pid": "0807"})
key = lambda e: (e["bay"], e["kind"])
for w, g in zip(sorted(want, key=key), sorted(got, key=key)):
    for k, v in w.items():
        if g.get(k) != v:
            sys.exit("event %s: %s is %r, expected %r" % (json.dumps(g), k, g.get(k), v))
    if not g.get("device") or g.get("reader") != "" or g.get("atr") != "":
        sys.exit("event %s: device empty or PC/SC fields set" % json.dumps(g))
if sent != "-":
    for g in got:
        print("  latency %-6s %-7s %-7s %7.3f ms" % (g["source"], g["kind"], g["bay"],
              g["t_ms"] - float(sent)))
EOF
}

# no_more N SECONDS: after SECONDS, OUT still holds N events.
no_more() {
	sleep "$2"
	expect "$1" -
}

wait_started() {
	local i
	for i in $(seq $((TIMEOUT * 50))); do
		grep -q '"kind":"started"' "$OUT" 2>/dev/null && return 0
		[ -n "$USBBED_PID" ] && kill -0 "$USBBED_PID" 2>/dev/null ||
			fail "detect_watch exited at start"
		sleep 0.02
	done
	fail "detect_watch did not start"
}

stop_watch() {
	usbbed_stop || fail "detect_watch exited with status $? (expected 0 after SIGTERM)"
}

for source in libusb udev; do
	echo "== $source: plug, pull, firmware out of range"
	OUT=$WORK/$source-plug.jsonl
	usbbed_start "$OUT" --device "$HUB" -- "$WATCH" --profiles "$PROFILES" "$source"
	wait_started
	# the root hub is in the testbed from the start and must not be reported
	sys_a=$(usbbed_add "$DEV_A")
	[ "$sys_a" = /sys/devices/pci0000:00/0000:00:14.0/usb1/1-2 ] || fail "syspath $sys_a"
	expect 1 "$(usbbed_last_ms)" "arrived usb:1-2 $SERIAL_A test-epass2003 0100"
	usbbed_add "$DEV_B" > /dev/null
	expect 2 "$(usbbed_last_ms)" "arrived usb:1-3 $SERIAL_B test-epass2003 0100"
	usbbed_remove "$sys_a"
	expect 3 "$(usbbed_last_ms)" "left usb:1-2 $SERIAL_A test-epass2003 0100"
	sys_c=$(usbbed_add "$DEV_C")
	expect 4 "$(usbbed_last_ms)" "arrived usb:1-4 $SERIAL_C null 0300"
	usbbed_remove "$sys_c"
	expect 5 "$(usbbed_last_ms)" "left usb:1-4 $SERIAL_C null 0300"
	# the same token plugged back into its port is a new arrival
	usbbed_add "$DEV_A" > /dev/null
	expect 6 "$(usbbed_last_ms)" "arrived usb:1-2 $SERIAL_A test-epass2003 0100"
	no_more 6 0.5
	stop_watch

	echo "== $source: tokens present before the source starts"
	OUT=$WORK/$source-present.jsonl
	usbbed_start "$OUT" --device "$HUB" --device "$DEV_A" --device "$DEV_C" -- \
		"$WATCH" --profiles "$PROFILES" "$source"
	[ "${USBBED_DEVICES[1]}" = /sys/devices/pci0000:00/0000:00:14.0/usb1/1-2 ] ||
		fail "usbbed --device syspaths: ${USBBED_DEVICES[*]}"
	wait_started
	expect 2 - "arrived usb:1-2 $SERIAL_A test-epass2003 0100" \
		"arrived usb:1-4 $SERIAL_C null 0300"
	usbbed_remove "${USBBED_DEVICES[1]}"
	expect 3 "$(usbbed_last_ms)" "left usb:1-2 $SERIAL_A test-epass2003 0100"
	no_more 3 0.5
	stop_watch

	echo "== $source: a token behind a hub: the bay is the whole port path"
	OUT=$WORK/$source-hub.jsonl
	usbbed_start "$OUT" --device "$HUB" --device "$HUB_1" -- \
		"$WATCH" --profiles "$PROFILES" "$source"
	wait_started
	sys_d=$(usbbed_add "$DEV_D")
	expect 1 "$(usbbed_last_ms)" "arrived usb:1-1.3 $SERIAL_D test-epass2003 0100"
	usbbed_remove "$sys_d"
	expect 2 "$(usbbed_last_ms)" "left usb:1-1.3 $SERIAL_D test-epass2003 0100"
	stop_watch
done

echo "== udev: a device without the ukey_station tag is not reported"
grep -v -E '^E: (CURRENT_)?TAGS=' "$DEV_B" > "$WORK/untagged-1-3.umockdev"
grep -q TAGS "$WORK/untagged-1-3.umockdev" && fail "untagged copy still has tags"
OUT=$WORK/udev-untagged.jsonl
usbbed_start "$OUT" --device "$HUB" -- "$WATCH" --profiles "$PROFILES" udev
wait_started
sys_b=$(usbbed_add "$WORK/untagged-1-3.umockdev")
# events come in order: had the untagged one been reported, it would be first
usbbed_add "$DEV_A" > /dev/null
expect 1 "$(usbbed_last_ms)" "arrived usb:1-2 $SERIAL_A test-epass2003 0100"
echo "== udev: tagged later (rules installed, then udevadm trigger): reported on change"
usbbed_property "$sys_b" TAGS=:ukey_station:
usbbed_uevent "$sys_b" change
expect 2 "$(usbbed_last_ms)" "arrived usb:1-3 $SERIAL_B test-epass2003 0100"
# a further change of a device already reported reports nothing
usbbed_uevent "$sys_b" change
usbbed_remove "$sys_b"
expect 3 "$(usbbed_last_ms)" "left usb:1-3 $SERIAL_B test-epass2003 0100"
stop_watch

echo "== libusb: no profile lists USB ids: starts, watches nothing"
mkdir "$WORK/virtual-only"
cp "$SRC/firmware-profiles/softhsm2.conf" "$WORK/virtual-only/"
OUT=$WORK/libusb-noprofiles.jsonl
usbbed_start "$OUT" --device "$HUB" -- "$WATCH" --profiles "$WORK/virtual-only" libusb \
	2> "$WORK/noprofiles.err"
wait_started
usbbed_add "$DEV_A" > /dev/null
no_more 0 1
stop_watch
grep -q "watches nothing" "$WORK/noprofiles.err" || fail "no 'watches nothing' message"

if [ ! -e /run/udev/control ]; then
	echo "== udev: refused where systemd-udevd does not run"
	rc=0
	"$WATCH" --profiles "$PROFILES" udev > "$WORK/noudev.out" 2> "$WORK/noudev.err" || rc=$?
	[ $rc -eq 69 ] || fail "detect_watch udev without udevd: status $rc, expected 69"
	grep -q "systemd-udevd is not running" "$WORK/noudev.err" ||
		fail "no clear message: $(cat "$WORK/noudev.err")"
fi
echo "PASS"
