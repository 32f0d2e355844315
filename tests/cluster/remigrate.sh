# SPDX-License-Identifier: GPL-2.0
# nodes: 3
# timeout: 900
# A migrated process moves on and comes back, any number of times: omx-burn (a checksum over
# 64 MB of heap, FPU state across the run, 256 MB of heap written one word a megabyte, the
# rest never touched and still zero at the end, 3000 one-page areas that do not merge and an
# area that grows down, made to grow at the end) goes 1 -> 2 -> 3 -> home -> 3 -> home mid-run
# and ends with the same exit status and output as a run that never moved; back home it is an
# ordinary process again (its own memory and credentials, no deputy, no guest anywhere).
# `admin/bring` on the home node brings its processes home; `admin/expel` on a host sends its
# guests home. A move
# to a node that refuses guests fails and leaves the guest where it was. A host may ask the home
# to send a guest home, but to move root's process on only when admin/migrate_root is 1 (an
# ordinary user's process moves on when asked). A move on that takes longer than 30 s (a slow
# link) completes: the old host tells the home how far the image got. A shell migrated while it
# counts comes home by itself when it forks, and its commands give the same output; a program
# that maps a file and shared memory after it moved comes home to map them, with the same
# transcript.
. /lib/cluster/lib.sh

for j in 2 3; do
	check "node $j up" wait_for 20 omctl isup "$j"
done
no_balancing 3

# guests NODE: how many guests NODE hosts.
guests() {
	on "$1" omctl ps | grep -c guest-of
}


omx-burn 64 400 sparse:256 areas:3000 >/tmp/burn.ref
ref=$?
echo "reference run: exit status $ref: $(cat /tmp/burn.ref)"

# --- 1. 1 -> 2 -> 3 -> home -> 3 -> home. -------------------------------------------------------
omx-burn 64 400 sparse:256 areas:3000 >/tmp/burn.out &
pid=$!
sleep 1
home_kib=$(kib "$pid")
# omctl migrate waits until the move is done and says how it went.
said=$(omctl migrate "$pid" 2)
expect_eq "migrate $pid to node 2: omctl succeeds" "$?" 0
expect_match "and says where it runs, how long it was frozen, what was sent" "$said" \
	"^process $pid now runs on node 2, frozen [0-9]+ ms, [0-9]+ KiB of pages sent\$"
check "it runs on node 2 when omctl returns" remote "$pid" 2
said=$(omctl migrate "$pid" 2)
expect_eq "asked again: omctl succeeds" "$?" 0
expect_eq "and says there is nothing to do" "$said" "process $pid runs on node 2 already"
said=$(omctl migrate "$pid" 3)
expect_eq "move it on to node 3: omctl succeeds" "$?" 0
expect_match "and says so" "$said" \
	"^process $pid moved on from node 2 to node 3, frozen [0-9]+ ms(, [0-9]+ KiB of pages sent)?\$"
check "it runs on node 3 when omctl returns" remote "$pid" 3
check "node 2 hosts no guest after it left" wait_for 5 sh -c "[ \$(on 2 omctl ps | grep -c guest-of) = 0 ]"
expect_eq "node 3 hosts it" "$(guests 3)" 1
expect_match "node 1 logged the move on" "$(dmesg)" "process $pid moved on from node 2 to node 3"
said=$(omctl migrate "$pid" home)
expect_eq "bring it home (migrate $pid home): omctl succeeds" "$?" 0
expect_match "and says so" "$said" "^process $pid is back home from node 3, frozen [0-9]+ ms\$"
check "it runs at home when omctl returns" home "$pid"
said=$(omctl migrate "$pid" home)
expect_eq "home again: omctl succeeds" "$?" 0
expect_eq "and says there is nothing to do" "$said" "process $pid is at home already"
moves_of() { awk -v p="$1" '$2 == p { print $3 "->" $4 " " $5 }' /proc/openmosix/moves | tr '\n' ' ' | sed 's/ $//'; }
expect_eq "/proc/openmosix/moves lists the five outcomes (from->to error)" "$(moves_of "$pid")" \
	"1->2 0 2->2 0 2->3 0 3->1 0 1->1 0"
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
omx-burn 64 400 sparse:256 areas:3000 >/tmp/bring.out &
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
omx-burn 64 400 sparse:256 areas:3000 >/tmp/stay.out &
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

# --- 3b. A host may send a guest home, but move root's process on only with migrate_root 1. ----
# Small and long-running: the moves are quick and the jobs outlast them (killed at the end).
omx-burn 8 1000000 >/dev/null &
pid=$!
omx-as 65534:65534 omx-burn 8 1000000 >/dev/null &
upid=$!
sleep 0.5
check "uid 65534's job $upid runs as 65534" wait_for 30 \
	sh -c "grep -qE '^Uid:[[:space:]]+65534[[:space:]]+65534' /proc/$upid/status"
for p in $pid $upid; do
	check "migrate $p to node 2" omctl migrate "$p" 2
	check "it runs on node 2" wait_for 300 remote "$p" 2
done
guest_on2() {
	on 2 omctl ps | awk '/guest-of 1 home-pid '"$1"'$/ {print $1}'
}
expect_eq "admin/migrate_root is 0" "$(cat /proc/openmosix/admin/migrate_root)" 0
g=$(guest_on2 "$pid")
check "on node 2, root asks that root's guest $g move on to node 3" on 2 omctl migrate "$g" 3
check "node 1 refuses it and says why" wait_for 60 \
	sh -c "dmesg | grep -q 'process $pid: node 2 asked to move it on to node 3: refused'"
expect_eq "root's process still runs on node 2" "$(omctl ps | grep "^$pid " | cut -d' ' -f2,3)" "2 remote"
g=$(guest_on2 "$upid")
check "on node 2, root asks that uid 65534's guest $g move on to node 3" on 2 omctl migrate "$g" 3
check "it moves on to node 3" wait_for 300 remote "$upid" 3
check "admin/migrate_root takes 1" sh -c "echo 1 >/proc/openmosix/admin/migrate_root"
g=$(guest_on2 "$pid")
check "with migrate_root 1, node 2 asks again for root's guest $g" on 2 omctl migrate "$g" 3
check "and it moves on to node 3" wait_for 300 remote "$pid" 3
check "admin/migrate_root takes 0" sh -c "echo 0 >/proc/openmosix/admin/migrate_root"
check "on node 3, root asks that root's guest go home (always allowed)" \
	on 3 omctl migrate "$(on 3 omctl ps | awk '/guest-of 1 home-pid '"$pid"'$/ {print $1}')" home
check "it comes home" wait_for 300 home "$pid"
kill -9 "$pid" "$upid"
wait "$pid" "$upid" 2>/dev/null
check "no guest is left on node 3" wait_for 60 sh -c "! on 3 omctl ps | grep -q guest-of"

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

# --- 4b. A file or shared mapping after a migration: the process comes home to make it. --------
head -c 300000 /dev/urandom >/tmp/map.in
touch /tmp/map.go
omx-map /tmp/map.in /tmp/map.go >/tmp/map.ref
expect_eq "omx-map maps a file and shared memory at home" "$?" 0
rm -f /tmp/map.go
omx-map /tmp/map.in /tmp/map.go >/tmp/map.out &
pid=$!
check "migrate omx-map $pid to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 300 remote "$pid" 2
touch /tmp/map.go
wait "$pid"
expect_eq "after migrating, its mappings worked: same status" "$?" 0
expect_eq "and the same transcript" "$(cat /tmp/map.out)" "$(sed "s/^pid [0-9]*/pid $pid/" /tmp/map.ref)"
expect_match "it came home to map the file" "$(dmesg)" "process $pid is back home from node 2"

# --- A move on that takes longer than the 30 s a silent move is given. ----------------------------
# Node 3's link carries 3000 kbit/s: the 16 MB image of a guest on node 2 takes about 45 s to
# get there. The old host reports its progress to the home, which waits as long as it moves.
omx-burn 16 100000 >/dev/null &
pid=$!
sleep 0.5
check "migrate $pid to node 2" omctl migrate "$pid" 2
check "node 3's link is slowed to 3000 kbit/s" link_slow 3 3000
t0=$(now_ms)
said=$(omctl migrate "$pid" 3)
expect_eq "the slow move on to node 3 succeeds" "$?" 0
echo "$said, in $(($(now_ms) - t0)) ms"
check "it runs on node 3" remote "$pid" 3
check "node 3's link is mended" link_mend 3
check "bring it home" omctl migrate "$pid" home
kill "$pid"
wait "$pid"
expect_eq "it ends at home by SIGTERM" "$?" 143

expect_eq "node 1 has no migration left" "$(omctl ps | grep -vc '^#')" 0
for i in 1 2 3; do
	expect_eq "node $i holds no reference on the module any more" \
		"$(on "$i" cat /sys/module/openmosix/refcnt)" 0
done
check "the module unloads on node 1 after its processes came back" rmmod openmosix
finish
