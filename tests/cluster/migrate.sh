# SPDX-License-Identifier: GPL-2.0
# nodes: 3
# timeout: 800
# An ordinary program (omx-burn: a checksum over 64 MB of heap, FPU state across the run) is
# migrated mid-run from node 1 to node 2 and ends with the same exit status and output as a run
# that never moved (its output reaches home, getpid/getppid give the home ids); its guest runs as
# nobody on node 2, where the node's own processes neither see it in /proc nor can signal it, and
# its deputy keeps no user memory. A TCP sender migrated mid-transfer delivers every byte through
# its home's socket, and a TCP server migrated while it waits in accept receives every byte on
# its home's port. A multithreaded program stays home with its reason; a fatal signal sent to
# the home pid kills the guest and the parent sees that signal; signals the guest blocks wait at
# home, pending, until it unblocks them (omx-mask); SIGSTOP and SIGCONT sent home stop and
# continue the guest; job control: SIGSTOP and SIGTSTP stop the guest and the home process,
# whose parent's waitpid sees it stopped and continued (omx-job); bad requests, and requests of a
# user who does not own the process, are refused; when the guest's node loses power the deputy
# ends with SIGKILL status within the failure-detection timeout, and when the home loses power
# its guest is killed as soon. (tour.sh moves more programs 1 -> 2 -> 3 -> home.)
# (The guest's system calls are forwarded to its deputy as Documentation/syscalls.md says.)
. /lib/cluster/lib.sh

for j in 2 3; do
	check "node $j up" wait_for 10 omctl isup "$j"
done
no_balancing 3
timeout_ms=$(cat /proc/openmosix/admin/timeout_ms)

# start_remote NODE CMD...: starts CMD in the background (output discarded), then migrates it to
# node NODE and waits until it runs there; sets pid.
start_remote() {
	_node=$1
	shift
	"$@" >/dev/null &
	pid=$!
	sleep 0.5
	check "migrate $pid ($1) to node $_node" omctl migrate "$pid" "$_node"
	check "it runs on node $_node" wait_for 300 remote "$pid" "$_node"
}

# The reference: the same run, never moved.
t0=$(now_ms)
omx-burn 64 150 >/tmp/burn.ref
ref=$?
echo "reference run: exit status $ref in $(($(now_ms) - t0)) ms: $(cat /tmp/burn.ref)"

# --- 1. Migrate mid-run; same result. ------------------------------------------------------------
omx-burn 64 150 >/tmp/burn.out &
pid=$!
sleep 1
check "migrate $pid to node 2 is accepted" omctl migrate "$pid" 2
check "node 1 lists $pid as remote on node 2" wait_for 300 remote "$pid" 2
guest=$(on 2 omctl ps | awk '/guest-of 1 home-pid '"$pid"'$/ {print $1}')
check "node 2 lists a guest of node 1 for home pid $pid" test -n "$guest"
expect_eq "mps is omctl ps" "$(mps)" "$(omctl ps)"
expect_match "the guest runs as nobody on node 2" "$(on 2 cat /proc/"$guest"/status)" "Uid:.65534"
expect_eq "the guest keeps the program's name" "$(on 2 cat /proc/"$guest"/comm)" "omx-burn"
expect_eq "node 2's own processes do not find it in /proc" "$(on 2 ls /proc | grep -cx "$guest")" 0
# Nor by its path, but for the administrator (who looked above).
for u in 65534 1000; do
	check_fails "user $u cannot read /proc/$guest/status" on 2 omx-as "$u" cat /proc/"$guest"/status
	check_fails "user $u cannot read /proc/$guest/comm" on 2 omx-as "$u" cat /proc/"$guest"/comm
	check_fails "user $u finds no /proc/$guest" on 2 omx-as "$u" test -e /proc/"$guest"
	check_fails "user $u cannot change into /proc/$guest" on 2 "omx-as $u sh -c 'cd /proc/$guest'"
done
check "user 1000 still reads its own /proc/PID" on 2 "omx-as 1000 sh -c 'cat /proc/\$\$/status >/dev/null'"
expect_eq "nor in ps" "$(on 2 ps | grep -c omx-burn)" 0
check_fails "nor can they signal it (kill -TERM $guest on node 2)" on 2 kill -TERM "$guest"
# As nobody, the guest's user there, kill -TERM -1 would reach nothing else.
check "kill -TERM -1 by nobody on node 2 succeeds" on 2 omx-as 65534 busybox kill -TERM -1
check "it still runs there" remote "$pid" 2
# The deputy keeps only its scratch area (a trampoline page and 2 MiB for forwarded calls).
expect_eq "the deputy at home keeps only its scratch memory (KiB)" "$(kib "$pid")" 2052
wait "$pid"
expect_eq "the migrated run exits as the reference did" "$?" "$ref"
expect_eq "its output reached home, with the same checksum, its home pid and parent" \
	"$(cat /tmp/burn.out)" "$(sed "s/ pid [0-9]* / pid $pid /" /tmp/burn.ref)"
check "node 2 hosts no guest afterwards" wait_for 5 sh -c "! on 2 omctl ps | grep -q guest-of"
expect_match "node 1 logged the move" "$(dmesg)" "process $pid now runs on node 2"

# --- 1b. A TCP client migrated mid-transfer: its socket is the home's. ---------------------------
# socket, connect, send, shutdown and recv are made by the deputy: the connection stays node 1's,
# and the sink on node 3 receives every byte.
on 3 'omx-tcp sink 7400 >/tmp/sink.out 2>&1 </dev/null &'
sleep 1
omx-tcp send 198.18.0.3 7400 96 >/tmp/send.out &
pid=$!
sleep 0.2
check "migrate the TCP sender $pid to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 300 remote "$pid" 2
wait "$pid"
expect_eq "the migrated sender succeeds" "$?" 0
expect_match "it sent 96 MiB" "$(cat /tmp/send.out)" "^bytes 100663296 "
check "the sink on node 3 received all of it" wait_for 10 sh -c "on 3 cat /tmp/sink.out | grep -qx 100663296"

# A TCP server migrated while it waits in accept: its listening socket stays at home, where the
# deputy accepts (the peer's address returned through the length pointer) and reads.
omx-tcp sink 7401 >/tmp/sink1.out &
pid=$!
sleep 0.5
check "migrate the TCP sink $pid to node 2 while it waits in accept" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 300 remote "$pid" 2
check "node 3 sends 8 MiB to node 1's port" on 3 omx-tcp send 198.18.0.1 7401 8
wait "$pid"
expect_eq "the migrated sink succeeds" "$?" 0
expect_eq "and received all of it" "$(cat /tmp/sink1.out)" 8388608

# --- 2. A multithreaded program stays home. ------------------------------------------------------
omx-burn 64 100 threads >/dev/null &
pid=$!
sleep 0.5
check_fails "migrating a multithreaded process is refused" omctl migrate "$pid" 2
expect_match "with its stay reason in the log" "$(dmesg | tail -3)" "stays home: threads"
wait "$pid"
st=$?
omx-burn 64 100 >/dev/null
expect_eq "it runs to completion at home, as an unthreaded run does" "$st" "$?"

# --- 3. A fatal signal to the home pid ends the guest, and the parent sees it. -------------------
start_remote 3 omx-burn 64 2000
kill -TERM "$pid"
wait "$pid"
expect_eq "the parent sees death by SIGTERM (status 143)" "$?" 143
check "node 3 hosts no guest afterwards" wait_for 5 sh -c "! on 3 omctl ps | grep -q guest-of"

# A guest blocked in a forwarded read (its deputy waits on an empty pipe at home) is killed.
# The pipe's writer is this script (fd 4), open until the end whatever the moves take.
rm -f /tmp/idle.in
mkfifo /tmp/idle.in
omx-io 2 </tmp/idle.in >/dev/null &
pid=$!
exec 4>/tmp/idle.in
sleep 0.5
check "migrate omx-io $pid to node 3" omctl migrate "$pid" 3
check "it runs on node 3" wait_for 300 remote "$pid" 3
sleep 3
kill -KILL "$pid"
wait "$pid"
expect_eq "SIGKILL during a blocking forwarded read: status 137" "$?" 137
exec 4>&-
check "node 3 hosts no guest afterwards" wait_for 5 sh -c "! on 3 omctl ps | grep -q guest-of"

# --- 3b. Blocked signals wait, at home as there. -----------------------------------------------
# omx-mask blocks SIGUSR1 (default action: the end of the process) and a caught SIGUSR2, reads a
# pipe while both are sent to it, catches SIGUSR2 in rt_sigsuspend, then dies of SIGUSR1 when it
# unblocks it. A deputy once died of SIGUSR1 as soon as it was sent, its guest with it.
# mask_run NAME [NODE]: runs omx-mask (moved to NODE first) into /tmp/mask.NAME; sets st.
mask_run() {
	rm -f /tmp/mask.in
	mkfifo /tmp/mask.in
	omx-mask </tmp/mask.in >"/tmp/mask.$1" &
	pid=$!
	exec 3>/tmp/mask.in
	check "omx-mask ($1) blocked its signals" wait_for 30 grep -q "^blocked: 0" "/tmp/mask.$1"
	if [ -n "${2:-}" ]; then
		check "migrate omx-mask $pid to node $2" omctl migrate "$pid" "$2"
		check "it runs on node $2" wait_for 300 remote "$pid" "$2"
	fi
	check "omx-mask ($1) waits in its read" wait_for 60 sh -c "grep -q '^0 ' /proc/$pid/syscall"
	kill -USR1 "$pid"
	kill -USR2 "$pid"
	check "both signals wait at home, pending ($1)" wait_for 30 \
		sh -c "grep -q '^ShdPnd:.*a00\$' /proc/$pid/status"
	# In a subshell: if the process is gone, SIGPIPE ends the subshell, not the script.
	(echo go >&3) 2>/dev/null || true
	exec 3>&-
	wait "$pid"
	st=$?
}
mask_run home
expect_eq "at home, omx-mask dies of SIGUSR1 once it unblocks it (status 138)" "$st" 138
mask_run moved 2
expect_eq "moved, it dies of SIGUSR1 as at home" "$st" 138
expect_eq "with the same transcript" "$(cat /tmp/mask.moved)" "$(cat /tmp/mask.home)"
echo "omx-mask's transcript:"
cat /tmp/mask.home

# --- 3c. SIGSTOP and SIGCONT to the home pid stop and continue the guest. ------------------------
# omx-trickle writes 4 MiB home at an even pace over 40 s: stopped, the output stops growing;
# continued, it grows again and ends complete. (A SIGCONT once never reached a stopped guest.)
head -c 4194304 /dev/urandom >/tmp/tr.in
omx-trickle 40 /tmp/tr.in >/tmp/tr.out &
pid=$!
check "migrate omx-trickle $pid to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 300 remote "$pid" 2
size() { wc -c </tmp/tr.out; }
# still: the output did not grow over 3 s.
still() {
	_a=$(size)
	sleep 3
	test "$(size)" = "$_a"
}
kill -STOP "$pid"
check "stopped, it writes nothing" wait_for 60 still
at=$(size)
kill -CONT "$pid"
check "continued, it writes again (from $at bytes)" wait_for 60 sh -c "test \$(wc -c </tmp/tr.out) -gt $at"
wait "$pid"
expect_eq "omx-trickle ends with status 0" "$?" 0
check "its output is whole" cmp -s /tmp/tr.in /tmp/tr.out

# --- 3d. Job control: a parent sees its migrated child stop and continue, as at home. -----------
# omx-job's child burns the CPU on node 2. SIGSTOP, then SIGTSTP, sent to its home pid stop the
# guest on node 2 and the home process with the same signal: the parent's
# waitpid(WUNTRACED|WCONTINUED) reports it, /proc says T; a move asked meanwhile is refused;
# SIGCONT continues both and the parent sees that too. SIGTERM ends it; the parent's transcript
# is the one a child that never moved gives.
omx-job >/tmp/job.out &
parent=$!
check "omx-job's child started" wait_for 60 grep -q '^child ' /tmp/job.out
child=$(awk '/^child/ {print $2}' /tmp/job.out)
check "migrate the child $child to node 2" omctl migrate "$child" 2
check "it runs on node 2" wait_for 300 remote "$child" 2
guest=$(on 2 omctl ps | awk '/guest-of 1 home-pid '"$child"'$/ {print $1}')
n=0
for sig in STOP TSTP; do
	n=$((n + 1))
	kill -"$sig" "$child"
	check "SIG$sig: its parent sees it stopped" \
		wait_for 60 sh -c "test \$(grep -c '^stopped ' /tmp/job.out) = $n"
	check "its home process is stopped" wait_for 60 grep -q '^State:.*T' /proc/"$child"/status
	check "its guest is stopped on node 2" \
		wait_for 60 on 2 "grep -q '^State:.*T' /proc/$guest/status"
	check_fails "a move while it is stopped is refused" omctl migrate "$child" home
	kill -CONT "$child"
	check "SIGCONT: its parent sees it continued" \
		wait_for 60 sh -c "test \$(grep -c '^continued' /tmp/job.out) = $n"
	check "its guest runs again on node 2" \
		wait_for 60 on 2 "grep -q '^State:.*R' /proc/$guest/status"
	check "its home process is no longer stopped" \
		wait_for 60 sh -c "! grep -q '^State:.*T' /proc/$child/status"
done
kill -TERM "$child"
wait "$parent"
expect_eq "omx-job exits 0" "$?" 0
expect_eq "its parent saw what it sees of a child that never moved" "$(cat /tmp/job.out)" \
	"$(printf 'child %s\nstopped 19\ncontinued\nstopped 20\ncontinued\nkilled 15' "$child")"
check "node 2 keeps no guest of it" \
	wait_for 60 sh -c "! on 2 omctl ps | grep -q 'home-pid $child\$'"

# --- 4. Bad requests. ----------------------------------------------------------------------------
check_fails "migrating to a node that is not in the map is refused" omctl migrate $$ 9
check_fails "migrating a pid that does not exist is refused" omctl migrate 999999 2
check_fails "a malformed request is refused" sh -c "echo 'one two' >/proc/openmosix/migrate"
check_fails "a request with a third word is refused" sh -c "echo '$$ 2 x' >/proc/openmosix/migrate"
check "migrating a home process home does nothing" omctl migrate $$ home
check_fails "init stays home" omctl migrate 1 2
expect_match "with its reason" "$(dmesg | tail -3)" "stays home: init"

# Only root or the owner may migrate a process.
sleep 30 &
rootp=$!
check_fails "another user may not migrate root's process" omx-as 65534 omctl migrate "$rootp" 2
expect_match "the log says why" "$(dmesg | tail -3)" "migrate $rootp: permission denied"
kill "$rootp"
omx-as 65534 omx-burn 16 300 >/tmp/own.out &
pid=$!
sleep 0.5
check "its owner may migrate a process ($pid, uid 65534)" omx-as 65534 omctl migrate "$pid" 2
check "it runs on node 2" wait_for 300 remote "$pid" 2
check "and bring it home" omx-as 65534 omctl migrate "$pid" home
check "it runs at home" wait_for 300 home "$pid"
expect_match "as its owner again" "$(cat /proc/"$pid"/status)" "Uid:.65534"
kill "$pid"
wait "$pid" 2>/dev/null

# --- 5. The guest's node loses power: the deputy ends with SIGKILL status in time. ---------------
start_remote 3 omx-burn 64 5000
cut=$(now_ms)
power_off 3
wait "$pid"
st=$?
ms=$(($(now_ms) - cut))
expect_eq "the parent sees death by SIGKILL (status 137)" "$st" 137
check "within the timeout + 2 s ($ms ms; timeout $timeout_ms ms)" test "$ms" -le $((timeout_ms + 2000))
expect_eq "node 1 has no migration left" "$(omctl ps | grep -vc '^#')" 0
expect_eq "node 2 holds no reference on the module any more" \
	"$(on 2 cat /sys/module/openmosix/refcnt)" 0

# --- 6. The home node loses power: its guest is killed in time, nothing is left. ----------------
on 2 omctl lstay >/dev/null
on 2 "omx-burn 64 5000 >/dev/null 2>&1 </dev/null & echo \$! >/tmp/home2.pid"
hp=$(on 2 cat /tmp/home2.pid)
sleep 0.5
check "node 2 migrates its process $hp to node 1" on 2 omctl migrate "$hp" 1
check "node 1 hosts it" wait_for 20 sh -c "omctl ps | grep -q 'guest-of 2 home-pid $hp\$'"
gp=$(omctl ps | awk '/guest-of 2 home-pid '"$hp"'$/ {print $1}')
check "as its process $gp" test -d "/proc/$gp"
cut=$(now_ms)
power_off 2
check "node 1 ends the guest once its home is lost" wait_for 30 sh -c "! omctl ps | grep -q guest-of"
ms=$(($(now_ms) - cut))
check "within the timeout + 2 s ($ms ms; timeout $timeout_ms ms)" test "$ms" -le $((timeout_ms + 2000))
expect_match "node 1 logged why" "$(dmesg | tail -5)" "guest from node 2 killed: its home is down"
check "process $gp is gone" wait_for 5 test ! -d "/proc/$gp"
expect_eq "node 1 holds no reference on the module any more" \
	"$(cat /sys/module/openmosix/refcnt)" 0
check "the module unloads on node 1 after hosting a guest" rmmod openmosix
finish
