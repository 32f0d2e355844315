# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 1200
# Guests lost with their host, restarted by their deputy from their latest checkpoint
# (checkpoint.md, "When the host is lost"). Three processes run on node 2 when it loses its
# power: omx-ckpt, saved there in a chain of two (a whole save and one that adds to it) and gone
# on past its save, is restarted at home as the same process (same pid, same parent) and
# finishes with the output file and standard output of a run never interrupted (its descriptors
# set back to where they were at the save); busybox cat, saved at home, blocked in a forwarded
# read of a pipe when the node goes, is woken out of it, restarted, and reads on from the same
# pipe; a second omx-ckpt, whose chain has lost a save, cannot be restarted and ends with
# SIGKILL status, as a guest with no checkpoint does; a second omx-ckpt, saved every 2 s
# through /proc/openmosix/keep (at home, its second save a small part of its first, then on
# node 2), is restarted from its latest save and finishes as A does, and its files are removed.
# The kernel log and omctl ps say who was restarted, and from when. keep refuses bad settings,
# and 0 turns a setting off (its files go); a user's setting that could not be saved (ckpt_dir
# not the user's to write) is removed, the kernel log saying why.
. /lib/cluster/lib.sh

check "node 2 up" wait_for 60 omctl isup 2
no_balancing 2
mkdir -p /tmp/rv
cd /tmp/rv || exit 1

expected="waiting 1
waiting 2
done rounds 12 corrupt 0 fpu ok cwd ok signals 0 timers ok usr2 none cpu-timers "
touch rgate1 rgate2
omx-ckpt ref.out 12 16 /tmp/rv/rgate >ref.log
expect_eq "reference run exits 0" "$?" 0

# saved_on_2 X: starts omx-ckpt X (files x.out, x.log, gates /tmp/rv/xgate1 and 2; not the
# script's descriptor 4), moves it to node 2 once it waits at its first gate, and saves it there
# in a chain of two (x0.ckpt, whole, and x1.ckpt, what changed since); sets opid.
saved_on_2() {
	_x=$(echo "$1" | tr A-Z a-z)
	omx-ckpt "$_x.out" 12 16 "/tmp/rv/${_x}gate" >"$_x.log" 2>"$_x.err" 4>&- &
	opid=$!
	check "omx-ckpt $1 waits at its first gate" wait_for 300 grep -q "waiting 1" "$_x.log"
	check "$1 moves to node 2" omctl migrate "$opid" 2
	check "$1 runs on node 2" wait_for 120 remote "$opid" 2
	check "$1 is saved whole on node 2" omctl checkpoint "$opid" "${_x}0.ckpt"
	check "and again, what changed since" omctl checkpoint "$opid" "${_x}1.ckpt" --parent "${_x}0.ckpt"
}

# --- A: saved on node 2 in a chain of two, then on past its save. ---------------------------------
saved_on_2 A
apid=$opid
touch agate1
check "A goes on past its save, on node 2" wait_for 300 grep -q "waiting 2" a.log

# --- B: saved at home while it reads a pipe, then moved: its deputy makes the read. ---------------
rm -f fifo
mkfifo fifo
# The script holds the pipe open for writing (and reading: the open does not wait).
exec 4<>fifo
busybox cat <fifo >b.out 4>&- &
bpid=$!
check "cat B blocks in its read" wait_for 60 sh -c "grep -q '^0 ' /proc/$bpid/syscall"
check "B is saved at home" omctl checkpoint "$bpid" b.ckpt
check "B moves to node 2" omctl migrate "$bpid" 2
check "B runs on node 2" wait_for 120 remote "$bpid" 2
check "B's deputy makes the forwarded read" wait_for 60 sh -c "grep -q '^0 ' /proc/$bpid/syscall"

# --- E: saved on node 2 in a chain that then loses its first save. ---------------------------------
saved_on_2 E
epid=$opid
rm e0.ckpt

# --- D: saved every 2 s through /proc/openmosix/keep, at home and then on node 2. ------------------
ckdir=$(cat /proc/openmosix/admin/ckpt_dir)
# saves_of PID: the files of the saves /proc/openmosix/keep has made of PID.
saves_of() {
	ls "$ckdir/keep-$1".*.ckpt 2>/dev/null
}
omx-ckpt d.out 12 16 /tmp/rv/dgate >d.log 2>d.err 4>&- &
dpid=$!
check "omx-ckpt D waits at its first gate" wait_for 300 grep -q "waiting 1" d.log
check_fails "keep refuses a period over a day" sh -c "echo '$dpid 86401' >/proc/openmosix/keep"
check_fails "and a period that is no number" sh -c "echo '$dpid 2s' >/proc/openmosix/keep"
check_fails "and a process that does not exist" sh -c "echo '999999 2' >/proc/openmosix/keep"
check_fails "and has not listed any of them" sh -c "grep -v '^#' /proc/openmosix/keep | grep -q ."
check "D is kept: saved every 2 s" sh -c "echo '$dpid 2' >/proc/openmosix/keep"
expect_match "keep lists it" "$(cat /proc/openmosix/keep)" "^$dpid 2 [0-9]+$"
check "D is saved at least twice" wait_for 120 sh -c "[ \$(ls $ckdir/keep-$dpid.*.ckpt 2>/dev/null | wc -l) -ge 2 ]"
first=$(saves_of "$dpid" | grep '\.0\.ckpt$')
second=$(saves_of "$dpid" | grep '\.1\.ckpt$')
s1=$(wc -c <"$first")
s2=$(wc -c <"$second")
echo "keep: whole save $s1 bytes, the next (D waiting) $s2 bytes"
check "the second save, of a process that waits, is under a tenth of the first" test $((s2 * 10)) -lt "$s1"
check "D moves to node 2" omctl migrate "$dpid" 2
check "D runs on node 2" wait_for 120 remote "$dpid" 2
touch dmark
check "D is saved on node 2" wait_for 120 sh -c "find $ckdir -name 'keep-$dpid.*.ckpt' -newer dmark | grep -q ."

# --- Node 2 goes. ----------------------------------------------------------------------------------
check "node 2 loses its power" power_off 2
check "A's deputy restarts it at home" \
	wait_for 180 sh -c "dmesg | grep -q 'process $apid restarted at home from its checkpoint'"
check "A is the same process, at home" home "$apid"
expect_match "omctl ps says A was restarted, and from when" "$(omctl ps)" \
	"# restarted $apid [(]node 2 lost; checkpoint [0-9]* s old[)]"
check "B's deputy, woken out of its read, restarts it" \
	wait_for 180 sh -c "dmesg | grep -q 'process $bpid restarted at home from its checkpoint'"
check "B is the same process, at home" home "$bpid"
check "B reads the same pipe again" wait_for 60 sh -c "grep -q '^0 ' /proc/$bpid/syscall"
echo "after the loss" >&4
check "and copies what comes" wait_for 60 grep -qx "after the loss" b.out
exec 4>&-
wait_end 120 "$bpid" "cat B"
wait "$bpid"
expect_eq "B ends at the end of its input, exit 0" "$?" 0
wait_end 180 "$epid" "omx-ckpt E"
wait "$epid"
expect_eq "E, whose chain lost a save, ends with SIGKILL status (137)" "$?" 137
expect_match "the kernel log says why" "$(dmesg)" "omx-revive $epid: .*e0.ckpt"
expect_match "and that it was killed" "$(dmesg)" "process $epid: no restart from its checkpoint: .*killed"

check "D's deputy restarts it at home from its latest periodic save" \
	wait_for 180 sh -c "dmesg | grep -q 'process $dpid restarted at home from its checkpoint'"
check "D is the same process, at home" home "$dpid"
touch dgate1 dgate2
wait_end 600 "$dpid" "omx-ckpt D"
wait "$dpid"
expect_eq "D exits 0" "$?" 0
check "D's output file is the one of a run never interrupted" cmp d.out ref.out
expect_eq "and its standard output" "$(sed 's/cpu-timers .*/cpu-timers /' d.log)" "$expected"
check "its saves are removed once it ended" wait_for 60 sh -c "! ls $ckdir/keep-$dpid.* 2>/dev/null | grep -q ."

# Turned off: the saves stop and their files go.
sleep 100000 4>&- &
spid=$!
check "sleep is kept: saved every second" sh -c "echo '$spid 1' >/proc/openmosix/keep"
check "it is saved" wait_for 60 sh -c "ls $ckdir/keep-$spid.* 2>/dev/null | grep -q ."
check "keep $spid 0 turns it off" sh -c "echo '$spid 0' >/proc/openmosix/keep"
check_fails "keep no longer lists it" grep -q "^$spid " /proc/openmosix/keep
check "its files are removed" wait_for 60 sh -c "! ls $ckdir/keep-$spid.* 2>/dev/null | grep -q ."
kill "$spid"
# A user's setting, where ckpt_dir is not the user's to write: nothing could save it, so the
# setting goes, and the kernel log says why.
omx-as 1000 sleep 100000 4>&- &
upid=$!
check "a user's sleep runs" wait_for 60 grep -qx sleep "/proc/$upid/comm"
check_fails "another user cannot keep it" omx-as 1001 sh -c "echo '$upid 1' >/proc/openmosix/keep"
check "its user may" omx-as 1000 sh -c "echo '$upid 1' >/proc/openmosix/keep"
check "the setting goes: $ckdir is root's alone" wait_for 60 sh -c "! grep -q '^$upid ' /proc/openmosix/keep"
expect_match "the kernel log says why" "$(dmesg)" "omx-keep $upid: .*setting removed"
kill "$upid"

touch agate2
wait_end 600 "$apid" "omx-ckpt A"
wait "$apid"
expect_eq "A exits 0" "$?" 0
check "A's output file is the one of a run never interrupted" cmp a.out ref.out
expect_eq "and its standard output (set back to where it was at the save)" \
	"$(sed 's/cpu-timers .*/cpu-timers /' a.log)" "$expected"
check_fails "omctl ps lists no restarted process that ended" sh -c "omctl ps | grep -q restarted"
expect_eq "node 1 has no migration left" "$(omctl ps | grep -vc '^#')" 0
finish
