# SPDX-License-Identifier: GPL-2.0
# A node that falls silent (its link cut) or loses power is marked down on the others within the
# timeout, and up again when it comes back or reboots; a module reload also rejoins. A connection
# that breaks while a guest lives on it, though both nodes stay up, ends the guest and its home
# process.
. /lib/cluster/lib.sh

timeout_ms=$(cat /proc/openmosix/admin/timeout_ms)

# expect_down ID CUT_MS WHAT: nodes 1 and 2 mark node ID down after the moment CUT_MS (now_ms)
# it fell silent, within the timeout and a generous 10 s: how soon after the timeout it comes
# depends on the machine (the heartbeat period, the tick, and this script's polling through
# `on`); the time is printed.
expect_down() {
	for i in 1 2; do
		if wait_for 30 sh -c "! on $i omctl isup $1" >/dev/null; then
			ms=$(($(now_ms) - $2))
			_ok "node $i marks $3 node $1 down ($ms ms after the cut; timeout $timeout_ms ms)"
			check "node $i noticed within timeout + 10 s" test "$ms" -le $((timeout_ms + 10000))
		else
			_fail "node $i marks $3 node $1 down within 30 s"
		fi
	done
}

for j in 2 3; do
	check "node $j up first" wait_for 10 omctl isup "$j"
done
# Node 3 goes silent for 10 s (after 1 s, so that `on` gets its answer): no FIN, no RST.
on 3 '(sleep 1; ip link set eth0 down; sleep 10; ip link set eth0 up) </dev/null >/dev/null 2>&1 &'
expect_down 3 $(($(now_ms) + 1000)) "silent"
check "node 1 still sees node 2 up" omctl isup 2
expect_match "node 1 logged it" "$(dmesg)" "node 3 down"
for i in 1 2; do
	check "node $i sees node 3 up again after it returns" wait_for 20 on "$i" omctl isup 3
done

# Node 3 loses power, then boots again (with the cluster's key and map, as every node does).
cut=$(now_ms)
power_off 3
expect_down 3 "$cut" "powered-off"
check "node 3 boots again" power_on 3
for i in 1 2; do
	check "node $i sees rebooted node 3 up" wait_for 10 on "$i" omctl isup 3
done
check "rebooted node 3 sees both others" sh -c "on 3 omctl isup 1 && on 3 omctl isup 2"

# The module goes away on node 2 and comes back with key and map.
on 2 rmmod openmosix
check "node 1 marks node 2 down after rmmod" wait_for 6 sh -c "! omctl isup 2"
check "node 2: insmod, key, map" on 2 'insmod /lib/openmosix/openmosix.ko && omctl setkey && omctl setpe'
for i in 1 3; do
	check "node $i sees node 2 up again" wait_for 10 on "$i" omctl isup 2
done
check "node 2 sees both others" sh -c "on 2 omctl isup 1 && on 2 omctl isup 3"

# A connection that breaks while a guest lives on it: node 1 takes its key again, which closes
# every connection, and they are made again at once. Frames queued on the dead connection are
# lost (a guest's exit report, a forwarded call's reply), so what lived on it ends on both sides,
# whichever side notices first: the guest is killed on node 2, and the process at home ends with
# SIGKILL status instead of waiting for a guest that is gone.
no_balancing 3
check "all nodes connected" wait_for 60 all_connected 3
omx-burn 4 1000000 >/dev/null &
pid=$!
sleep 0.5
check "migrate $pid to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 120 remote "$pid" 2
check "node 1 takes its key again (every connection is closed)" omctl setkey
# Ended: a zombie, or already reaped by this shell (it reaps children as it runs commands).
check "the home process ends" wait_for 60 sh -c \
	"! test -e /proc/$pid/status || grep -q '^State:.*Z' /proc/$pid/status"
wait "$pid"
expect_eq "with SIGKILL status (137)" "$?" 137
check "node 2 keeps no guest" wait_for 60 sh -c "test \"\$(on 2 omctl ps | grep -c guest-of)\" = 0"
expect_eq "node 1 has no migration left" "$(omctl ps | grep -vc '^#')" 0
check "the nodes connect again" wait_for 60 all_connected 3
finish
