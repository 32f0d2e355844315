# SPDX-License-Identifier: GPL-2.0
#
# /lib/cluster/lib.sh: helpers for cluster scenario scripts (sourced, busybox sh).
#
#   . /lib/cluster/lib.sh
#   check "module loaded on node 2" on 2 test -d /proc/openmosix
#   expect_eq "version protocol" "$(on 2 cat /proc/openmosix/version)" "$want"
#   finish            # prints the tally; exits 1 if any check failed
#
# Each check prints "ok - NAME" or "FAIL - NAME" followed by what went wrong.

CHECKS_OK=0
CHECKS_FAILED=0

_ok() {
	CHECKS_OK=$((CHECKS_OK + 1))
	echo "ok - $1"
}

_fail() {
	CHECKS_FAILED=$((CHECKS_FAILED + 1))
	echo "FAIL - $1"
}

# check NAME CMD [ARGS...]: CMD must exit 0. Each check returns 1 when it fails, so that a
# script can say more (`check ... || show_stuck PID ...`).
check() {
	_name=$1
	shift
	if _out=$("$@" 2>&1); then
		_ok "$_name"
	else
		_st=$?
		_fail "$_name"
		echo "  command: $*  (exit $_st)"
		echo "$_out" | sed 's/^/  | /'
		return 1
	fi
}

# check_fails NAME CMD [ARGS...]: CMD must exit non-zero.
check_fails() {
	_name=$1
	shift
	if _out=$("$@" 2>&1); then
		_fail "$_name"
		echo "  command: $*  (succeeded, should have failed)"
		echo "$_out" | sed 's/^/  | /'
		return 1
	else
		_ok "$_name"
	fi
}

# expect_eq NAME GOT WANT: the two strings must be equal.
expect_eq() {
	if [ "$2" = "$3" ]; then
		_ok "$1"
	else
		_fail "$1"
		echo "  got:  $(printf '%s' "$2" | head -c 2000)"
		echo "  want: $(printf '%s' "$3" | head -c 2000)"
		return 1
	fi
}

# expect_match NAME TEXT REGEX: TEXT must match the extended regular expression.
expect_match() {
	if printf '%s\n' "$2" | grep -qE "$3"; then
		_ok "$1"
	else
		_fail "$1"
		echo "  text:  $(printf '%s' "$2" | head -c 2000)"
		echo "  regex: $3"
		return 1
	fi
}

# finish: print the tally and exit non-zero if any check failed.
# On the debug kernel (make check-debug), every node that still answers is first scanned by
# kmemleak, and an object the module allocated and lost is a failing check.
finish() {
	if [ -e /sys/kernel/debug/kmemleak ]; then
		while read -r _id _addr; do
			on "$_id" true 2>/dev/null || continue
			_leaks=$(on "$_id" 'echo scan >/sys/kernel/debug/kmemleak; cat /sys/kernel/debug/kmemleak')
			if printf '%s\n' "$_leaks" | grep -q openmosix; then
				_fail "node $_id: kmemleak finds objects of openmosix lost"
				printf '%s\n' "$_leaks" | head -n 60 | sed 's/^/  | /'
			else
				_ok "node $_id: kmemleak finds no object of openmosix lost"
			fi
		done </etc/cluster.hosts
	fi
	echo "checks: $CHECKS_OK ok, $CHECKS_FAILED failing"
	[ "$CHECKS_FAILED" = 0 ]
}

# clock_note: prints the clocksource of every node, so that timings measured inside the nodes
# say which clock they come from.
clock_note() {
	_cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
	while read -r _id _addr; do
		echo "clock: node $_id times with clocksource $(on "$_id" cat "$_cs")"
	done </etc/cluster.hosts
}

# now_ms: milliseconds since this node booted.
now_ms() {
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# wait_for SECONDS CMD [ARGS...]: run CMD every 0.2 s until it succeeds (prints the milliseconds
# it took, returns 0) or SECONDS pass (returns 1).
wait_for() {
	_limit=$(($1 * 1000))
	shift
	_t0=$(now_ms)
	while :; do
		if "$@" >/dev/null 2>&1; then
			echo $(($(now_ms) - _t0))
			return 0
		fi
		[ $(($(now_ms) - _t0)) -ge "$_limit" ] && return 1
		sleep 0.2
	done
}

# ended PID: process PID (a child of this script) has ended: gone, or a zombie.
ended() {
	[ ! -e "/proc/$1/stat" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# until_or_ended PID CMD...: CMD succeeds, or process PID has ended (for wait_for: a process
# that died on its way does not keep a wait going for its whole limit).
until_or_ended() {
	_p=$1
	shift
	"$@" || ended "$_p"
}

# wait_end SECONDS PID [WHAT]: waits for this script's child PID to end (a check); a process
# still there after SECONDS is a failure that shows where it is (its state, the call it is in
# and its kernel stack, where its migration stands, the log) and is then killed, so nothing is
# left behind. Then `wait PID` gives its status.
wait_end() {
	if check "${3:-process $2} ends" wait_for "$1" ended "$2"; then
		return 0
	fi
	show_stuck "$2" "did not end"
	kill -9 "$2" 2>/dev/null
	if ! wait_for 30 ended "$2" >/dev/null; then
		echo "# $2 survives SIGKILL: $(timeout 5 grep '^State' "/proc/$2/status" 2>/dev/null), wchan $(timeout 5 cat "/proc/$2/wchan" 2>/dev/null)"
	fi
	return 1
}

# show_stuck PID WHAT: prints where process PID is (its state and signals, the call it is in
# and its kernel stack, where its migration stands, the log's end), for a check that failed
# waiting for it. Each read within 5 s: a task stuck in the kernel may hold the locks some
# /proc files take.
show_stuck() {
	echo "# $1 $2: $(timeout 5 grep -E '^(State|SigPnd|ShdPnd|SigBlk|SigCgt)' "/proc/$1/status" 2>/dev/null | tr '\t\n' '  ')"
	echo "# wchan: $(timeout 5 cat "/proc/$1/wchan" 2>/dev/null); syscall: $(timeout 5 cat "/proc/$1/syscall" 2>/dev/null)"
	timeout 5 cat "/proc/$1/stack" 2>/dev/null | sed 's/^/# stack: /'
	timeout 5 omctl ps | sed 's/^/# omctl ps: /'
	dmesg | tail -n 30 | sed 's/^/# dmesg: /'
}

# remote PID NODE: this node lists its process PID as running on node NODE (omctl ps).
remote() {
	omctl ps | grep -q "^$1 $2 remote"
}

# no_balancing N: on nodes 1..N, processes move only by hand: node 1's own processes stay home
# unless moved by hand (lstay), and no balancer moves a process within an hour of its last
# migration (min_residency_ms), so guests stay where a test puts them.
no_balancing() {
	check "node 1 keeps its processes unless moved by hand" omctl lstay
	check "node 1 moves no guest by itself" sh -c "echo 3600000 >/proc/openmosix/admin/min_residency_ms"
	for _n in $(seq 2 "$1"); do
		check "node $_n moves no guest by itself" \
			on "$_n" "echo 3600000 >/proc/openmosix/admin/min_residency_ms"
	done
}

# nothing_left N: node 1 lists no migration, nodes 2..N hold no guest (no module reference),
# and no node logged a kernel warning.
nothing_left() {
	expect_eq "node 1 has no migration left" "$(omctl ps | grep -vc '^#')" 0
	check_fails "no kernel warning on node 1" sh -c "dmesg | grep -E 'BUG|WARNING|Oops'"
	for _n in $(seq 2 "$1"); do
		expect_eq "node $_n holds no guest" "$(on "$_n" cat /sys/module/openmosix/refcnt)" 0
		check_fails "no kernel warning on node $_n" on "$_n" "dmesg | grep -E 'BUG|WARNING|Oops'"
	done
}

# all_connected N: each of nodes 1..N lists the other N-1 as connected (every connection has
# its rx and tx threads running and no handshake is left to make).
all_connected() {
	for _i in $(seq 1 "$1"); do
		test "$(on "$_i" "awk '\$4 == \"connected\"' /proc/openmosix/peers | wc -l")" = $(($1 - 1)) ||
			return 1
	done
}

# omx_threads NODE: how many long-lived module threads run on NODE. Handshake threads
# (omx-hs-in, omx-hs/ID) are left out: they come and go with connection attempts and end by
# their deadline. Count only once all_connected holds, so no connection is half made.
omx_threads() {
	on "$1" "ps | grep '[o]mx-' | grep -vc '[o]mx-hs'"
}

# home PID: PID runs at home (this node lists no migration of it) and is still alive.
home() {
	kill -0 "$1" && ! omctl ps | grep -q "^$1 "
}

# tour PID [SECONDS]: migrates the running process PID 1 -> 2 -> 3 -> home, letting it run
# SECONDS (default 1) on each node, and checks each step.
tour() {
	check "migrate $1 to node 2" omctl migrate "$1" 2
	wait_for 300 until_or_ended "$1" remote "$1" 2 >/dev/null
	check "it runs on node 2" remote "$1" 2 || show_stuck "$1" "is not on node 2"
	sleep "${2:-1}"
	check "move $1 on to node 3" omctl migrate "$1" 3
	wait_for 300 until_or_ended "$1" remote "$1" 3 >/dev/null
	check "it runs on node 3" remote "$1" 3 || show_stuck "$1" "is not on node 3"
	sleep "${2:-1}"
	check "bring $1 home" omctl migrate "$1" home
	wait_for 300 until_or_ended "$1" home "$1" >/dev/null
	check "it runs at home again" home "$1" || show_stuck "$1" "is not home"
}

# blocked_reader NODE: starts a reader of a pipe that never gets data (`busybox cat`; the
# writer, a `sleep`, stays open and writes nothing), migrates it to node NODE and checks that
# its deputy at home then makes the forwarded read, blocked; sets pid (the reader) and writer.
blocked_reader() {
	rm -f /tmp/never
	mkfifo /tmp/never
	sleep 100000 >/tmp/never &
	writer=$!
	busybox cat /tmp/never >/dev/null &
	pid=$!
	check "the reader $pid blocks in its read" wait_for 30 sh -c "grep -q '^0 ' /proc/$pid/syscall"
	check "migrate it to node $1" omctl migrate "$pid" "$1"
	check "it runs on node $1" wait_for 120 remote "$pid" "$1"
	check "its deputy is making the forwarded read" wait_for 60 sh -c "grep -q '^0 ' /proc/$pid/syscall"
}

# kib PID: KiB of ordinary memory process PID has (every area but vdso, vvar, vsyscall).
kib() {
	_k=0
	for range in $(grep -v 'vdso\|vvar\|vsyscall' /proc/"$1"/maps | cut -d' ' -f1); do
		_k=$((_k + (0x${range#*-} - 0x${range%-*}) / 1024))
	done
	echo "$_k"
}

# Requests to the harness. Only the script's own node (node 1) can ask, through its serial line
# ttyS3; each returns once the harness has carried it out (0), or when it failed or was refused
# (non-zero), or after 120 s without an answer. The harness counts the lines it served and
# writes "COUNT STATUS" to /mnt/harness/served (9p, no cache: every read sees the host's file);
# /run/harness-asked counts the lines asked.
#
# power_off ID: cut the power of node ID (2..N; its emulator is killed, nothing is shut down).
# power_on ID: boot node ID again; returns when its agent answers (0) or after 60 s (1).
# link_cut ID: node ID's link drops every frame, both ways (1..N). Node 1 may be cut too: its
#   serial lines (the script's output, these requests) cross no link.
# link_mend ID: every fault of node ID's link is removed.
# link_loss ID PCT: node ID's link drops PCT % of the frames (0..100), each way, at random.
# link_slow ID KBIT: node ID's link carries KBIT kbit/s (64..1000000) each way; frames wait in
#   a queue of up to 1 s, so delay comes with the rate. No fixed delay and no reordering: the
#   harness's kernel has no netem.
harness_ask() {
	_n=$(($(cat /run/harness-asked 2>/dev/null || echo 0) + 1))
	echo "$_n" >/run/harness-asked
	echo "$*" >/dev/ttyS3 || return 4
	_t0=$(now_ms)
	while :; do
		_seq=0
		read -r _seq _st 2>/dev/null </mnt/harness/served
		if [ "${_seq:-0}" -ge "$_n" ] 2>/dev/null; then
			[ "$_seq" = "$_n" ] && return "$_st"
			echo "harness_ask: '$*' answered out of turn ($_seq)" >&2
			return 3
		fi
		if [ $(($(now_ms) - _t0)) -ge 120000 ]; then
			echo "harness_ask: '$*' not served in 120 s" >&2
			return 4
		fi
		sleep 0.1
	done
}

power_off() {
	harness_ask off "$1"
}

power_on() {
	harness_ask on "$1" || return
	wait_for 60 on "$1" true >/dev/null
}

link_cut() {
	harness_ask cut "$1"
}

link_mend() {
	harness_ask mend "$1"
}

link_loss() {
	harness_ask loss "$1" "$2"
}

link_slow() {
	harness_ask slow "$1" "$2"
}
