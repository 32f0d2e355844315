# SPDX-License-Identifier: GPL-2.0
# A node with the wrong key is never listed up and its frames are counted as rejected; garbage
# sent to the port causes no oops, no leaked thread, and the mesh goes on.
. /lib/cluster/lib.sh

stat_of() { on "$1" "awk '\$1 == \"$2\" {print \$2}' /proc/openmosix/stats"; }

for j in 2 3; do
	check "node $j up first" wait_for 10 omctl isup "$j"
done
# The keys are root's alone on every node: not on the kernel command line any user can read,
# and each node has its own keyring, not the others'.
for j in 1 2 3; do
	check_fails "node $j: no key is in /proc/cmdline" on "$j" \
		"tr ' ' '\n' </etc/openmosix.key | awk 'length >= 16' >/tmp/keys && grep -qFf /tmp/keys /proc/cmdline"
	expect_eq "node $j: the key file is root's alone" "$(on "$j" stat -c %a:%u /etc/openmosix.key)" "600:0"
	expect_eq "node $j holds its own keyring" "$(on "$j" sed -n 2p /etc/openmosix.key)" "node $j"
	check_fails "node $j holds no other node's keyring" on "$j" test -e /etc/openmosix.rings
done
# Node 2's connections to 1 and 3 are up (each has an rx and a tx thread) before counting.
check "every node connected to every other" wait_for 60 all_connected 3
threads_before=$(omx_threads 2)

# Garbage to node 2's port from node 1: random bytes, a huge length, an empty connection.
head -c 65536 /dev/urandom | nc -w 2 198.18.0.2 7300 >/dev/null 2>&1
printf 'OMX1\000\001\000\001\000\000\000\000\377\377\377\377' | nc -w 2 198.18.0.2 7300 >/dev/null 2>&1
nc -w 1 198.18.0.2 7300 </dev/null >/dev/null 2>&1
for n in 1 2 3 4 5 6 7 8; do
	head -c 200 /dev/urandom | nc -w 1 198.18.0.2 7300 >/dev/null 2>&1 &
done
wait
check "node 2 counted the garbage as rejected" test "$(stat_of 2 frames_rejected)" -ge 2
check "node 2 still up for node 3" on 3 omctl isup 2
check "node 2 still up for node 1" omctl isup 2
# Handshake threads end by their deadline at the latest.
same_threads() { test "$(omx_threads 2)" = "$threads_before"; }
check "node 2 has as many omx threads as before" wait_for 30 same_threads

# Lines that users cause (migrate is world-writable) are rate-limited and their text escaped:
# a user can neither flood the log nor write control characters into it.
esc=$(printf '\033')
i=0
while [ $i -lt 1000 ]; do
	echo "a${esc}[2Jb 2" >/proc/openmosix/migrate 2>/dev/null
	i=$((i + 1))
done
bad=$(dmesg | grep -c "migrate: bad pid")
echo "1000 bad migrate writes left $bad lines"
check "1000 bad migrate writes leave some lines, not all" test "$bad" -ge 1 -a "$bad" -lt 1000
raw_esc() { dmesg | grep -q "$esc"; }
check_fails "no escape character reaches the log" raw_esc
shown="bad pid 'a\\x1b[2Jb'"
check "the text is shown escaped" sh -c "dmesg | grep -qF \"$shown\""
left_out() {
	echo "x 2" >/proc/openmosix/migrate 2>/dev/null
	dmesg | grep -q "lines caused by users were left out of the log"
}
check "a later line says how many were left out" wait_for 60 left_out

# Node 1 switches to a wrong key: it dials 2 and 3, which refuse it.
rejected_before_2=$(stat_of 2 frames_rejected)
rejected_before_3=$(stat_of 3 frames_rejected)
echo "not-the-cluster-key" >/proc/openmosix/admin/key
sleep 6
for j in 2 3; do
	check_fails "node $j does not list node 1 up" on "$j" omctl isup 1
	check "node $j counted node 1's handshakes as failed" test "$(stat_of "$j" handshakes_failed)" -ge 1
	check "node $j counted node 1's frames as rejected" \
		test "$(stat_of "$j" frames_rejected)" -gt "$(eval echo "\$rejected_before_$j")"
	check_fails "node 1 does not list node $j up" omctl isup "$j"
done
check "nodes 2 and 3 still see each other" sh -c "on 2 omctl isup 3 && on 3 omctl isup 2"
# The right key brings node 1 back.
check "right key again" omctl setkey
check "node 2 lists node 1 again" wait_for 10 on 2 omctl isup 1
# No key at all: no traffic.
on 3 rmmod openmosix
on 3 'insmod /lib/openmosix/openmosix.ko && omctl setpe'
# Node 1 marks node 3 down once its old module has been silent for timeout_ms;
# after that, the keyless node 3 must never come back up.
check "node 1 sees the unloaded node 3 down" wait_for 8 sh -c "! omctl isup 3"
sleep 4
expect_eq "node 3 without a key sends nothing" "$(stat_of 3 frames_sent)" 0
check_fails "node 1 does not list keyless node 3" omctl isup 3
finish
