# SPDX-License-Identifier: GPL-2.0
# nodes: 3
# A migrated process moves on and comes back, any number of times: omx-burn (a checksum over
# 64 MB of heap, FPU state across the run) goes 1 -> 2 -> 3 -> home -> 3 -> home mid-run and ends
# with the same exit status and output as a run that never moved; back home it is an ordinary
# process again (its own memory and credentials, no deputy, no guest anywhere). `admin/bring` on
# the home node brings its processes home; `admin/expel` on a host sends its guests home. A move
# to a node that refuses guests fails and leaves the guest where it was. A shell migrated while it
# counts comes home by itself when it forks, and its commands give the same output.
. /lib/cluster/lib.sh

for j in 2 3; do
	check "node $j up" wait_for 20 omctl isup "$j"
done
no_balancing 3

# guests NODE: how many guests NODE hosts.
guests() {
	on "$1" omctl ps | grep -c guest-of
}


omx-burn 64 400 >/tmp/burn.ref
ref=$?
echo "reference run: exit status $ref: $(cat /tmp/burn.ref)"

# --- 1. 1 -> 2 -> 3 -> home -> 3 -> home. -------------------------------------------------------
omx-burn 64 400 >/tmp/burn.out &
pid=$!
sleep 1
home_kib=$(kib "$pid")
check "migrate $pid to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 300 remote "$pid" 2
check "move it on to node 3" omctl migrate "$pid" 3
check "it runs on node 3" wait_for 300 remote "$pid" 3
check "node 2 hosts no guest after it left" wait_for 5 sh -c "[ \$(on 2 omctl ps | grep -c guest-of) = 0 ]"
expect_eq "node 3 hosts it" "$(guests 3)" 1
expect_match "node 1 logged the move on" "$(dmesg)" "process $pid moved on from node 2 to node 3"
check "bring it home (migrate $pid home)" omctl migrate "$pid" home
check "it runs at home" wait_for 300 home "$pid"
check "node 3 hosts no guest after it came home" wait_for 5 sh -c "[ \$(on 3 omctl ps | grep -c guest-of) = 0 ]"
expect_match "node 1 logged its return" "$(dmesg)" "process $pid is back home from node 3"
expect_match "at home it has its own credentials again" "$(cat /proc/"$pid"/status)" "Uid:.0"
check "and its memory back (more than the 2052 KiB of a deputy's scratch; $(kib "$pid") KiB)" \
	test "$(kib "$pid")" -gt 2052
check "out again to node 3" omctl migrate "$pid" 3
check "it runs on node 3" wait_for 300 remote "$pid" 3
check "and home again" omctl migrate "$pid" home
check "it runs at home" wait_for 300 home "$pid"
wait "$pid"
expect_eq "after five moves it exits as the reference did" "$?" "$ref"
expect_eq "with the same output, its home pid and parent" \
	"$(cat /tmp/burn.out)" "$(sed "s/ pid [0-9]* / pid $pid /" /tmp/burn.ref)"
echo "memory at home before the moves: $home_kib KiB"

# --- 2. admin/bring and admin/expel. --------------------------------------------------------------
omx-burn 64 400 >/tmp/bring.out &
pid=$!
sleep 0.5
check "migrate $pid to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 300 remote "$pid" 2
check "omctl bring on node 1" omctl bring
check "brings it home" wait_for 300 home "$pid"
check "migrate $pid to node 3" omctl migrate "$pid" 3
check "it runs on node 3" wait_for 300 remote "$pid" 3
check "omctl expel on node 3" on 3 omctl expel
check "sends it home" wait_for 300 home "$pid"
wait "$pid"
expect_eq "brought and expelled, it exits as the reference did" "$?" "$ref"
expect_eq "with the same output" "$(cat /tmp/bring.out)" "$(sed "s/ pid [0-9]* / pid $pid /" /tmp/burn.ref)"

# --- 3. A move that cannot happen leaves the guest where it is. -----------------------------------
omx-burn 64 400 >/tmp/stay.out &
pid=$!
sleep 0.5
check "migrate $pid to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 300 remote "$pid" 2
on 3 omctl block
sleep 1.5
check_fails "moving it to node 3, which refuses guests, is refused" omctl migrate "$pid" 3
on 3 omctl noblock
check_fails "a malformed bring is refused" sh -c 'echo 2 >/proc/openmosix/admin/bring'
expect_eq "it still runs on node 2" "$(omctl ps | grep "^$pid " | cut -d' ' -f2,3)" "2 remote"
wait "$pid"
expect_eq "it exits as the reference did" "$?" "$ref"
expect_eq "with the same output" "$(cat /tmp/stay.out)" "$(sed "s/ pid [0-9]* / pid $pid /" /tmp/burn.ref)"

# --- 4. fork and exec after a migration: the process comes home and makes them there. ---------
cat >/tmp/forker.sh <<'SCRIPT'
i=0
while [ $i -lt 400000 ]; do i=$((i + 1)); done
echo "counted to $i"
ls /proc/openmosix | sort | tr '\n' ' '
echo
sub=$(echo nested; exit 3)
echo "command substitution said '$sub'"
(exit 7)
echo "a subshell ended with $?"
echo "pid $$"
SCRIPT
t0=$(now_ms)
sh /tmp/forker.sh >/tmp/forker.ref
expect_eq "the shell script runs at home" "$?" 0
echo "unmoved script: $(($(now_ms) - t0)) ms"
sh /tmp/forker.sh >/tmp/forker.out &
pid=$!
sleep 1
check "migrate the shell $pid to node 2 while it counts" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 300 remote "$pid" 2
wait "$pid"
expect_eq "after migrating, its forks and execs worked: same status" "$?" 0
expect_eq "and the same output" "$(cat /tmp/forker.out)" "$(sed "s/^pid [0-9]*/pid $pid/" /tmp/forker.ref)"
expect_match "it came home to fork" "$(dmesg)" "process $pid is back home from node 2"

expect_eq "node 1 has no migration left" "$(omctl ps | grep -vc '^#')" 0
for i in 1 2 3; do
	expect_eq "node $i holds no reference on the module any more" \
		"$(on "$i" cat /sys/module/openmosix/refcnt)" 0
done
check "the module unloads on node 1 after its processes came back" rmmod openmosix
finish
