# Shell helpers to run a command inside a umockdev testbed driven by usbbed
# (tests/tools/usbbed.c) and plug and pull mock USB devices while it runs.
# Source it from a test; it needs UKEY_BUILD_DIR (ctest sets it).
#
#   usbbed_start OUTPUT [--device FILE]... -- COMMAND [ARG]...
#       Starts COMMAND under usbbed with its standard output in OUTPUT; the
#       --device files are in the testbed before COMMAND starts. Returns
#       when COMMAND runs. USBBED_DEVICES holds the syspaths of the --device
#       files, in order.
#   usbbed_add FILE        adds the device(s) of FILE; prints the syspath
#   usbbed_remove SYSPATH  pulls the device
#   usbbed_uevent SYSPATH ACTION
#                          sends a uevent ("change", "bind", ...)
#   usbbed_property SYSPATH NAME=VALUE
#                          sets a udev property (as udevd's rules would)
#   usbbed_last_ms         prints the CLOCK_MONOTONIC time (ms) that usbbed
#                          gave with its last answer: when the last device was
#                          added or its removal announced
#   usbbed_stop            quits usbbed; returns COMMAND's exit status
#   usbbed_cleanup         for the caller's EXIT trap: stops whatever is left
#
# One usbbed at a time. The state lives in files, so usbbed_add may be called
# as $(usbbed_add FILE). Every wait is bounded by USBBED_TIMEOUT seconds
# (default 30) and fails loudly: slow machines wait, hung ones fail.
# shellcheck shell=bash

USBBED_BIN=${UKEY_BUILD_DIR:?UKEY_BUILD_DIR must be set}/tests/usbbed
USBBED_TIMEOUT=${USBBED_TIMEOUT:-30}
USBBED_DIR=""
USBBED_PID=""
USBBED_FD=""
USBBED_DEVICES=()

# The preload library comes before the ASan runtime in an ASan build, which
# ASan refuses unless told not to check (usbbed adds it too when missing).
case ":${ASAN_OPTIONS:-}:" in
*:verify_asan_link_order=*) ;;
*) export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" ;;
esac

_usbbed_fail() {
	echo "FAIL: usbbed: $*" >&2
	if [ -n "$USBBED_DIR" ] && [ -s "$USBBED_DIR/answers" ]; then
		echo "---- usbbed answers so far" >&2
		cat "$USBBED_DIR/answers" >&2
	fi
	return 1
}

# _usbbed_answer: prints usbbed's next answer line once it is complete.
_usbbed_answer() {
	local n deadline
	n=$(( $(cat "$USBBED_DIR/consumed") + 1 ))
	deadline=$(( $(date +%s) + USBBED_TIMEOUT ))
	while [ "$(wc -l < "$USBBED_DIR/answers")" -lt "$n" ]; do
		if ! kill -0 "$USBBED_PID" 2>/dev/null &&
		    [ "$(wc -l < "$USBBED_DIR/answers")" -lt "$n" ]; then
			_usbbed_fail "exited while an answer was awaited"
			return 1
		fi
		if [ "$(date +%s)" -gt "$deadline" ]; then
			_usbbed_fail "no answer within ${USBBED_TIMEOUT}s"
			return 1
		fi
		sleep 0.02
	done
	echo "$n" > "$USBBED_DIR/consumed"
	sed -n "${n}p" "$USBBED_DIR/answers"
}

# _usbbed_cmd LINE: sends one command; prints the answer's words after "ok".
_usbbed_cmd() {
	local a
	[ -n "$USBBED_FD" ] || { _usbbed_fail "not started"; return 1; }
	printf '%s\n' "$1" >&"$USBBED_FD" || { _usbbed_fail "cannot send '$1'"; return 1; }
	a=$(_usbbed_answer) || return 1
	case "$a" in
	"ok "*) printf '%s\n' "${a#ok }" ;;
	*) _usbbed_fail "'$1': $a"; return 1 ;;
	esac
}

usbbed_start() {
	local output=$1 a
	shift
	[ -x "$USBBED_BIN" ] || { _usbbed_fail "$USBBED_BIN not built"; return 1; }
	[ -z "$USBBED_PID" ] || { _usbbed_fail "already running"; return 1; }
	USBBED_DIR=$(mktemp -d /tmp/usbbed.XXXXXX)
	mkfifo "$USBBED_DIR/commands"
	: > "$USBBED_DIR/answers"
	echo 0 > "$USBBED_DIR/consumed"
	"$USBBED_BIN" --output "$output" "$@" < "$USBBED_DIR/commands" \
		> "$USBBED_DIR/answers" &
	USBBED_PID=$!
	# holding the FIFO's write end open keeps usbbed's input open between
	# commands; opening it waits for usbbed to open the read end
	exec {USBBED_FD}> "$USBBED_DIR/commands"
	USBBED_DEVICES=()
	while :; do
		a=$(_usbbed_answer) || return 1
		case "$a" in
		"ok device "*) USBBED_DEVICES+=("${a#ok device }") ;;
		"ok started "*) return 0 ;;
		*) _usbbed_fail "unexpected start-up line: $a"; return 1 ;;
		esac
	done
}

usbbed_add() {
	local r
	r=$(_usbbed_cmd "add $1") || return 1
	echo "${r#* }" > "$USBBED_DIR/last_ms"
	printf '%s\n' "${r%% *}"
}

usbbed_remove() {
	local r
	r=$(_usbbed_cmd "remove $1") || return 1
	echo "${r#* }" > "$USBBED_DIR/last_ms"
}

usbbed_uevent() {
	local r
	r=$(_usbbed_cmd "uevent $1 $2") || return 1
	echo "${r#* }" > "$USBBED_DIR/last_ms"
}

usbbed_property() {
	_usbbed_cmd "property $1 $2" > /dev/null
}

usbbed_last_ms() { cat "$USBBED_DIR/last_ms"; }

# _usbbed_reap: waits (bounded) for usbbed to exit; returns its status.
_usbbed_reap() {
	local i rc=0
	for i in $(seq $(( USBBED_TIMEOUT * 10 ))); do
		kill -0 "$USBBED_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$USBBED_PID" 2>/dev/null; then
		echo "usbbed: pid $USBBED_PID still running, killing it" >&2
		kill -KILL "$USBBED_PID" 2>/dev/null || true
	fi
	wait "$USBBED_PID" || rc=$?
	return "$rc"
}

_usbbed_forget() {
	[ -z "$USBBED_FD" ] || exec {USBBED_FD}>&-
	[ -z "$USBBED_DIR" ] || rm -rf "$USBBED_DIR"
	USBBED_FD=""
	USBBED_DIR=""
	USBBED_PID=""
}

usbbed_stop() {
	local rc=0
	[ -n "$USBBED_PID" ] || { _usbbed_fail "not started"; return 1; }
	_usbbed_cmd quit > /dev/null || rc=$?
	if [ "$rc" -eq 0 ]; then
		_usbbed_reap || rc=$?
	else
		kill -TERM "$USBBED_PID" 2>/dev/null || true
		_usbbed_reap || true
	fi
	_usbbed_forget
	return "$rc"
}

usbbed_cleanup() {
	if [ -n "$USBBED_PID" ]; then
		kill -TERM "$USBBED_PID" 2>/dev/null || true
		_usbbed_reap || true
	fi
	_usbbed_forget
}
