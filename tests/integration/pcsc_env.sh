# PC/SC test environment: a private pcscd with vsmartcard's virtual reader
# (vpcd) and virtual cards (vicc), for tests that need PC/SC without hardware
# and without touching the machine's own pcscd.
# shellcheck shell=bash
#
# Source it from a test, after lib.sh when that is used too: an EXIT trap that
# is already set keeps running, after this file's cleanup. Call the functions
# from the test's main shell, never inside $(...) or a pipeline: they keep the
# process ids in shell variables, and the processes end with that shell.
#
#   pcsc_start           start pcscd with one vpcd reader (two slots); returns
#                        once pcscd accepts clients
#   pcsc_stop            stop pcscd: its readers and cards go with it; returns
#                        once it has exited
#   vicc_insert [SLOT]   put a virtual ISO 7816 card (vicc) in slot 0 (default)
#                        or 1; returns once vicc is connected to the slot
#   vicc_remove [SLOT]   take it out (kills vicc); returns once vicc is gone
#   pcsc_now_ms          print CLOCK_MONOTONIC in milliseconds
#   pcsc_logs            print the tail of pcscd's and vicc's logs (on failure)
#   pcsc_cleanup         stop everything started here (run at exit)
#
#   PCSC_DIR             the private directory (configuration, logs, sockets)
#   PCSC_PORT            TCP port of slot 0; slot 1 is PCSC_PORT + 1
#   PCSC_READER0/1       reader names pcscd gives the two slots
#   PCSCLITE_CSOCK_NAME  exported: where libpcsclite clients find this pcscd
#
# Why namespaces. pcscd 1.9.9 does not read PCSCLITE_CSOCK_NAME (only the
# client library does): it always creates /run/pcscd/pcscd.comm and
# /run/pcscd/pcscd.pid, removes both when it exits, and refuses to start when
# another pcscd's socket is there. So pcscd runs in user, mount and network
# namespaces of its own, kept open by a "holder" process:
#  - mount: $PCSC_DIR/run is bound over /run, so that pcscd's socket and pid
#    file are $PCSC_DIR/run/pcscd/*; /dev/bus/usb is hidden, so that it never
#    claims a real USB reader of the machine.
#  - network: told "DEVICENAME /dev/null:PORT", vpcd listens on 0.0.0.0:PORT
#    and 0.0.0.0:PORT+1 (INADDR_ANY, one port per slot; it has no setting to
#    bind loopback only). In the private namespace the only interface is lo,
#    so nothing but 127.0.0.1 is involved: vicc enters the same namespace and
#    connects to 127.0.0.1:PORT+SLOT. vpcd's other mode ("HOST:PORT", vpcd
#    connects out to a vicc started with --reversed) is not used: reversed
#    vicc binds all interfaces and looks up a route to 8.8.8.8.
#
# Where namespaces cannot be made (a container that forbids user namespaces
# and, not being privileged, mount namespaces too), pcscd runs without them:
# its socket is the machine's /run/pcscd/pcscd.comm, so the machine must not
# run a pcscd of its own, and the tests that use this file take turns
# (a lock file) because they share that socket and vpcd's port. vpcd then
# listens on the private port of every interface; vicc still connects to
# 127.0.0.1 only. UKEY_PCSC_NS=user|root|none chooses the way instead of
# trying them in that order (user: user, mount and network namespaces;
# root: mount and network namespaces made as root, no user namespace).
#
# Readers come and go only with pcscd itself: pcsc-lite 1.9.9 built with
# libudev (Debian) reads reader.conf once at start; SIGUSR1 and
# `pcscd --hotplug` rescan USB only, and vpcd's readers never go away.

PCSC_SRC=${UKEY_SOURCE_DIR:?UKEY_SOURCE_DIR must be set (ctest sets it)}
PCSC_PORT=${PCSC_PORT:-41230}
# shellcheck disable=SC2034	# for the tests that source this file
PCSC_READER0="Virtual PCD 00 00"
# shellcheck disable=SC2034
PCSC_READER1="Virtual PCD 00 01"
PCSC_TIMEOUT=${PCSC_TIMEOUT:-30}	# seconds any single wait may take
PCSC_HOLDER_PID=""
PCSC_PCSCD_PID=""
PCSC_VICC_PID=("" "")
PCSC__PID=""

PCSC_NS=""	# the way pcscd is kept apart: user, root or none (pcsc__holder)
PCSC_DIR=""

pcsc_logs() {
	local f
	[ -n "$PCSC_DIR" ] || return 0
	for f in "$PCSC_DIR/pcscd.log" "$PCSC_DIR/vicc0.log" "$PCSC_DIR/vicc1.log" "$PCSC_DIR/holder.log"; do
		[ -s "$f" ] || continue
		echo "---- $f (last 30 lines)" >&2
		tail -30 "$f" >&2
	done
}

pcsc__fail() {
	echo "FAIL: pcsc_env: $*" >&2
	pcsc_logs
	exit 1
}

case ${UKEY_PCSC_NS:-auto} in
auto | user | root | none) ;;
*) pcsc__fail "UKEY_PCSC_NS must be auto, user, root or none, not ${UKEY_PCSC_NS}" ;;
esac

for pcsc__tool in pcscd vicc unshare nsenter setpriv ip flock python3; do
	command -v "$pcsc__tool" >/dev/null || pcsc__fail "$pcsc__tool is not installed"
done
unset pcsc__tool

# The vpcd driver, as Debian's vsmartcard-vpcd registers it.
PCSC_VPCD_DRIVER=$(awk '$1 == "LIBPATH" { print $2; exit }' /etc/reader.conf.d/vpcd 2>/dev/null || true)
PCSC_VPCD_DRIVER=${PCSC_VPCD_DRIVER:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}
[ -r "$PCSC_VPCD_DRIVER" ] ||
	pcsc__fail "vpcd driver $PCSC_VPCD_DRIVER missing (Debian package vsmartcard-vpcd)"

# vicc runs under the interpreter of its #! line; Debian 12 installs its
# package outside that interpreter's path, and it imports PyCrypto's "Crypto",
# which Debian's python3-pycryptodome provides as "Cryptodome".
PCSC_VICC_PY=$(sed -n '1s/^#! *\([^ ]*\).*/\1/p' "$(command -v vicc)")
PCSC_VICC_PY=${PCSC_VICC_PY:-python3}
PCSC_VICC_MODULES=/usr/lib/python3/site-packages/virtualsmartcard
[ -r "$PCSC_VICC_MODULES/virtualsmartcard/VirtualSmartcard.py" ] ||
	pcsc__fail "vicc's modules are not in $PCSC_VICC_MODULES (Debian package python3-virtualsmartcard)"

PCSC_DIR=$(mktemp -d /tmp/ukey-pcsc.XXXXXX)
export PCSCLITE_CSOCK_NAME=$PCSC_DIR/run/pcscd/pcscd.comm
mkdir -p "$PCSC_DIR/run" "$PCSC_DIR/python"

# The Crypto -> Cryptodome shim, inside the private directory only.
if ! "$PCSC_VICC_PY" -c 'import Crypto.Cipher.DES3, Crypto.Hash.SHA' 2>/dev/null; then
	pcsc__cryptodome=$("$PCSC_VICC_PY" -c 'import os, Cryptodome; print(os.path.dirname(Cryptodome.__file__))' 2>/dev/null) ||
		pcsc__fail "$PCSC_VICC_PY has neither Crypto nor Cryptodome (Debian package python3-pycryptodome)"
	ln -s "$pcsc__cryptodome" "$PCSC_DIR/python/Crypto"
	unset pcsc__cryptodome
fi

# pcsc__gone PID: true when the process has exited (a zombie counts).
pcsc__gone() {
	local st
	[ -r "/proc/$1/stat" ] || return 0
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 0
	[ -z "$st" ] || [ "$st" = Z ]
}

# pcsc__end PID: SIGTERM, then SIGKILL if it is still there after 10 s; reaps it.
pcsc__end() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		pcsc__gone "$pid" && break
		sleep 0.05
	done
	pcsc__gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# pcsc__spawn LOG CMD...: starts CMD in the background, in the holder's
# namespaces, output appended to LOG; its pid in PCSC__PID. CMD gets SIGTERM
# when this shell dies, so a killed test leaves nothing behind. (Started
# straight from here, not through a function in the background, which would
# put a subshell between this shell and CMD.)
pcsc__spawn() {
	local log=$1
	shift
	case $PCSC_NS in
	user)
		nsenter --target "$PCSC_HOLDER_PID" --user --mount --net --preserve-credentials \
			setpriv --pdeathsig TERM "$@" >>"$log" 2>&1 </dev/null &
		;;
	root)
		nsenter --target "$PCSC_HOLDER_PID" --mount --net \
			setpriv --pdeathsig TERM "$@" >>"$log" 2>&1 </dev/null &
		;;
	*)
		setpriv --pdeathsig TERM "$@" >>"$log" 2>&1 </dev/null &
		;;
	esac
	PCSC__PID=$!
}

# pcsc__try_holder USER_NS: starts the process that keeps the namespaces
# open (with a user namespace when USER_NS is 1); true once it is ready.
pcsc__try_holder() {
	local i userns=()
	[ "$1" = 1 ] && userns=(--user --map-root-user)
	rm -f "$PCSC_DIR/holder.ready"
	# shellcheck disable=SC2016
	unshare "${userns[@]}" --mount --net --propagation private \
		setpriv --pdeathsig TERM sh -ec '
			mount -n --bind "$1/run" /run
			if [ -d /dev/bus/usb ]; then mount -n -t tmpfs -o mode=0755 none /dev/bus/usb; fi
			ip link set lo up
			: > "$1/holder.ready"
			exec sleep infinity' sh "$PCSC_DIR" >>"$PCSC_DIR/holder.log" 2>&1 </dev/null &
	PCSC_HOLDER_PID=$!
	for ((i = 0; i < PCSC_TIMEOUT * 20; i++)); do
		[ -e "$PCSC_DIR/holder.ready" ] && return 0
		pcsc__gone "$PCSC_HOLDER_PID" && break
		sleep 0.05
	done
	pcsc__end "$PCSC_HOLDER_PID"
	PCSC_HOLDER_PID=""
	return 1
}

# pcsc__no_namespace: pcscd on the machine's /run/pcscd, one test at a time.
pcsc__no_namespace() {
	local lock=${TMPDIR:-/tmp}/ukey-pcsc-test.lock
	exec {PCSC__LOCK_FD}>>"$lock"
	flock -w 900 "$PCSC__LOCK_FD" || pcsc__fail "another test held $lock for 15 minutes"
	export PCSCLITE_CSOCK_NAME=/run/pcscd/pcscd.comm
	if [ -S "$PCSCLITE_CSOCK_NAME" ] && "$PCSC_VICC_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])' "$PCSCLITE_CSOCK_NAME" 2>/dev/null; then
		pcsc__fail "no namespaces can be made here and the machine runs a pcscd of its" \
			"own ($PCSCLITE_CSOCK_NAME answers): stop it (systemctl stop pcscd.socket pcscd)"
	fi
}

# pcsc__holder: chooses how pcscd is kept apart from the machine (UKEY_PCSC_NS),
# once per test; sets PCSC_NS.
pcsc__holder() {
	if [ -n "$PCSC_HOLDER_PID" ] && ! pcsc__gone "$PCSC_HOLDER_PID"; then
		return 0
	fi
	case ${UKEY_PCSC_NS:-auto}:$PCSC_NS in
	*:none) return 0 ;;
	auto: | user: | *:user)
		if pcsc__try_holder 1; then
			PCSC_NS=user
			return 0
		fi
		[ "${UKEY_PCSC_NS:-auto}" = user ] &&
			pcsc__fail "could not make user, mount and network namespaces for pcscd:" \
				"$(cat "$PCSC_DIR/holder.log")"
		;;
	esac
	case ${UKEY_PCSC_NS:-auto} in
	auto | root)
		if [ "$(id -u)" = 0 ] && pcsc__try_holder 0; then
			PCSC_NS=root
			return 0
		fi
		[ "${UKEY_PCSC_NS:-auto}" = root ] &&
			pcsc__fail "could not make mount and network namespaces for pcscd as root:" \
				"$(cat "$PCSC_DIR/holder.log")"
		;;
	esac
	if [ "${UKEY_PCSC_NS:-auto}" = none ]; then
		echo "pcsc_env: UKEY_PCSC_NS=none: pcscd runs on /run/pcscd" >&2
	else
		echo "pcsc_env: no namespaces can be made here ($(tail -1 "$PCSC_DIR/holder.log")):" \
			"pcscd runs on /run/pcscd" >&2
	fi
	PCSC_NS=none
	pcsc__no_namespace
}

pcsc_start() {
	local i
	[ -z "$PCSC_PCSCD_PID" ] || pcsc__fail "pcsc_start: pcscd is already running"
	pcsc__holder
	sed -e "s|@PORT@|$PCSC_PORT|g" -e "s|@VPCD_DRIVER@|$PCSC_VPCD_DRIVER|g" \
		"$PCSC_SRC/tests/data/pcsc/vpcd-reader.conf.in" >"$PCSC_DIR/reader.conf"
	# left by a pcscd that was killed
	if [ "$PCSC_NS" = none ]; then
		rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
	else
		rm -f "$PCSC_DIR/run/pcscd/pcscd.comm" "$PCSC_DIR/run/pcscd/pcscd.pid"
	fi
	echo "---- pcscd start" >>"$PCSC_DIR/pcscd.log"
	pcsc__spawn "$PCSC_DIR/pcscd.log" pcscd --foreground --debug --config "$PCSC_DIR/reader.conf"
	PCSC_PCSCD_PID=$PCSC__PID
	# pcscd loads the reader.conf readers before it creates its socket
	for ((i = 0; i < PCSC_TIMEOUT * 20; i++)); do
		if [ -S "$PCSCLITE_CSOCK_NAME" ] && "$PCSC_VICC_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])' "$PCSCLITE_CSOCK_NAME" 2>/dev/null; then
			return 0
		fi
		pcsc__gone "$PCSC_PCSCD_PID" && pcsc__fail "pcscd exited at start"
		sleep 0.05
	done
	pcsc__fail "pcscd did not accept clients on $PCSCLITE_CSOCK_NAME within ${PCSC_TIMEOUT} s"
}

pcsc_stop() {
	[ -n "$PCSC_PCSCD_PID" ] || return 0
	pcsc__end "$PCSC_PCSCD_PID"
	PCSC_PCSCD_PID=""
}

pcsc__slot() {
	case ${1:-0} in
	0 | 1) ;;
	*) pcsc__fail "slot must be 0 or 1, not $1" ;;
	esac
}

vicc_insert() {
	local slot=${1:-0} log lines i
	pcsc__slot "$slot"
	[ -n "$PCSC_PCSCD_PID" ] || pcsc__fail "vicc_insert: pcscd is not running"
	[ -z "${PCSC_VICC_PID[$slot]}" ] || pcsc__fail "vicc_insert: slot $slot already holds a card"
	log=$PCSC_DIR/vicc$slot.log
	echo "---- vicc start" >>"$log"
	lines=$(wc -l <"$log")
	# -vvv: INFO level, which logs "Connected to virtual PCD" once connected
	pcsc__spawn "$log" env PYTHONPATH="$PCSC_VICC_MODULES:$PCSC_DIR/python" \
		vicc --type iso7816 --hostname 127.0.0.1 --port $((PCSC_PORT + slot)) -vvv
	PCSC_VICC_PID[slot]=$PCSC__PID
	for ((i = 0; i < PCSC_TIMEOUT * 20; i++)); do
		tail -n +"$lines" "$log" | grep 'Connected to virtual PCD' >/dev/null && return 0
		pcsc__gone "${PCSC_VICC_PID[$slot]}" && pcsc__fail "vicc (slot $slot) exited at start"
		sleep 0.05
	done
	pcsc__fail "vicc (slot $slot) did not connect to vpcd within ${PCSC_TIMEOUT} s"
}

vicc_remove() {
	local slot=${1:-0}
	pcsc__slot "$slot"
	[ -n "${PCSC_VICC_PID[$slot]}" ] || return 0
	pcsc__end "${PCSC_VICC_PID[$slot]}"
	PCSC_VICC_PID[slot]=""
}

pcsc_now_ms() {
	"$PCSC_VICC_PY" -c 'import time; print(int(time.monotonic() * 1000))'
}

# pcsc_cleanup [STATUS]: stops what runs; removes PCSC_DIR when STATUS is 0.
pcsc_cleanup() {
	local rc=${1:-0}
	pcsc__end "${PCSC_VICC_PID[0]}"
	pcsc__end "${PCSC_VICC_PID[1]}"
	PCSC_VICC_PID=("" "")
	pcsc__end "$PCSC_PCSCD_PID"
	PCSC_PCSCD_PID=""
	pcsc__end "$PCSC_HOLDER_PID"
	PCSC_HOLDER_PID=""
	if [ "$rc" -eq 0 ]; then
		rm -rf "$PCSC_DIR"
	else
		echo "pcsc files kept in $PCSC_DIR" >&2
	fi
}

# Runs pcsc_cleanup, then the EXIT trap that was set before this file.
pcsc__prev_trap=$(trap -p EXIT)
pcsc__prev_trap=${pcsc__prev_trap#"trap -- '"}
pcsc__prev_trap=${pcsc__prev_trap%"' EXIT"}
pcsc__status() { return "$1"; }
pcsc__on_exit() {
	local rc=$?
	pcsc_cleanup "$rc"
	if [ -n "$pcsc__prev_trap" ]; then
		# the earlier trap sees the exit status in $?, as it would alone
		if [ "$rc" -eq 0 ]; then
			eval "$pcsc__prev_trap"
		else
			pcsc__status "$rc" || eval "$pcsc__prev_trap"
		fi
	fi
	exit "$rc"
}
trap pcsc__on_exit EXIT

# The way pcscd is kept apart is chosen now, before a test starts clients that
# need PCSCLITE_CSOCK_NAME.
pcsc__holder
