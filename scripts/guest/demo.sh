# SPDX-License-Identifier: GPL-2.0
# Guest side of `make demo`, run on node 1 of a 3-node cluster by scripts/demo.
. /lib/cluster/lib.sh
nodes=$(wc -l </etc/cluster.hosts)
status=0
echo "== $nodes nodes booted; openmosix.ko loaded on each with the cluster key and this map:"
sed 's/^/   /' /proc/openmosix/config
for i in $(seq 1 "$nodes"); do
	echo "-- node $i: $(on "$i" omctl version | tail -n 1)," \
		"ready $(on "$i" cat /run/ready-uptime) s after kernel start"
done
for j in $(seq 2 "$nodes"); do
	wait_for 10 omctl isup "$j" >/dev/null || status=1
done
echo "== the authenticated mesh, as node 1 sees it (omctl nodes):"
omctl nodes | sed 's/^/   /'
echo "== a CPU hog starts on node 2; node 3 sees node 2's load rise (omctl getload 2 on node 3):"
on 2 'sh -c "while :; do :; done" </dev/null >/dev/null 2>&1 & echo $! >/tmp/hog.pid'
for t in 1 2 3 4; do
	sleep 0.5
	echo "   after ${t}x0.5 s: load $(on 3 omctl getload 2)"
done
on 2 'kill $(cat /tmp/hog.pid)'
echo "== node 3 falls silent (link down for 8 s); node 1 marks it down, then up again:"
on 3 '(sleep 1; ip link set eth0 down; sleep 8; ip link set eth0 up) </dev/null >/dev/null 2>&1 &'
ms=$(wait_for 8 sh -c '! omctl isup 3') && echo "   node 3 down after $((ms - 1000)) ms of silence" || status=1
ms=$(wait_for 20 omctl isup 3) && echo "   node 3 up again $ms ms later" || status=1
echo "== frame counters of node 1 (omctl stats):"
omctl stats | sed 's/^/   /'
exit $status
