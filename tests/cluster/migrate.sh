# SPDX-License-Identifier: GPL-2.0
# nodes: 3
# An ordinary program (omx-burn: a checksum over 64 MB of heap, FPU state across the run) is
# migrated mid-run from node 1 to node 2 and ends with the same exit status as a run that never
# moved; its guest runs as nobody on node 2 and its deputy keeps no user memory. A multithreaded
# program stays home with its reason; a fatal signal sent to the home pid kills the guest and the
# parent sees that signal; bad requests are refused; when the guest's node loses power the
# deputy ends with SIGKILL status within the failure-detection timeout.
. /lib/cluster/lib.sh

for j in 2 3; do
	check "node $j up" wait_for 10 omctl isup "$j"
done
timeout_ms=$(cat /proc/openmosix/admin/timeout_ms)

# remote PID NODE: node 1 lists PID as running on NODE.
remote() {
	omctl ps | grep -q "^$1 $2 remote"
}

# The reference: the same run, never moved.
t0=$(now_ms)
omx-burn 64 150
ref=$?
echo "reference run: exit status $ref in $(($(now_ms) - t0)) ms"

# --- 1. Migrate mid-run; same result. ------------------------------------------------------------
omx-burn 64 150 &
pid=$!
sleep 1
check "migrate $pid to node 2 is accepted" omctl migrate "$pid" 2
check "node 1 lists $pid as remote on node 2" wait_for 10 remote "$pid" 2
guest=$(on 2 omctl ps | awk '/guest-of 1 home-pid '"$pid"'$/ {print $1}')
check "node 2 lists a guest of node 1 for home pid $pid" test -n "$guest"
expect_match "the guest runs as nobody on node 2" "$(on 2 cat /proc/"$guest"/status)" "Uid:.65534"
expect_eq "the guest keeps the program's name" "$(on 2 cat /proc/"$guest"/comm)" "omx-burn"
expect_eq "the deputy at home keeps no user memory" \
	"$(grep -cv 'vdso\|vvar\|vsyscall' /proc/"$pid"/maps)" 0
wait "$pid"
expect_eq "the migrated run exits as the reference did" "$?" "$ref"
check "node 2 hosts no guest afterwards" wait_for 5 sh -c "! on 2 omctl ps | grep -q guest-of"
expect_match "node 1 logged the move" "$(dmesg)" "process $pid now runs on node 2"

# --- 2. A multithreaded program stays home. ------------------------------------------------------
omx-burn 64 100 threads &
pid=$!
sleep 0.5
check_fails "migrating a multithreaded process is refused" omctl migrate "$pid" 2
expect_match "with its stay reason in the log" "$(dmesg | tail -3)" "stays home: threads"
wait "$pid"
st=$?
omx-burn 64 100
expect_eq "it runs to completion at home, as an unthreaded run does" "$st" "$?"

# --- 3. A fatal signal to the home pid ends the guest, and the parent sees it. -------------------
omx-burn 64 2000 &
pid=$!
sleep 0.5
check "migrate $pid to node 3" omctl migrate "$pid" 3
check "it runs on node 3" wait_for 10 remote "$pid" 3
kill -TERM "$pid"
wait "$pid"
expect_eq "the parent sees death by SIGTERM (status 143)" "$?" 143
check "node 3 hosts no guest afterwards" wait_for 5 sh -c "! on 3 omctl ps | grep -q guest-of"

# --- 4. Bad requests. ----------------------------------------------------------------------------
check_fails "migrating to a node that is not in the map is refused" omctl migrate $$ 9
check_fails "migrating a pid that does not exist is refused" omctl migrate 999999 2
check_fails "a malformed request is refused" sh -c "echo 'one two' >/proc/openmosix/migrate"
check_fails "a request with a third word is refused" sh -c "echo '$$ 2 x' >/proc/openmosix/migrate"
check "migrating a home process home does nothing" omctl migrate $$ home
check_fails "init stays home" omctl migrate 1 2
expect_match "with its reason" "$(dmesg | tail -3)" "stays home: init"

# --- 5. The guest's node loses power: the deputy ends with SIGKILL status in time. ---------------
omx-burn 64 5000 &
pid=$!
sleep 0.5
check "migrate $pid to node 3" omctl migrate "$pid" 3
check "it runs on node 3" wait_for 10 remote "$pid" 3
cut=$(now_ms)
power_off 3
wait "$pid"
st=$?
ms=$(($(now_ms) - cut))
expect_eq "the parent sees death by SIGKILL (status 137)" "$st" 137
check "within the timeout + 2 s ($ms ms; timeout $timeout_ms ms)" test "$ms" -le $((timeout_ms + 2000))
expect_eq "node 1 has no migration left" "$(omctl ps | grep -vc '^#')" 0
finish
