# SPDX-License-Identifier: GPL-2.0
# Guest side of `make demo`, run on node 1 of a 3-node cluster by scripts/demo.
. /lib/cluster/lib.sh
nodes=$(wc -l </etc/cluster.hosts)
status=0
echo "== $nodes nodes booted; openmosix.ko loaded on each with the cluster key and this map:"
sed 's/^/   /' /proc/openmosix/config
for i in $(seq 1 "$nodes"); do
	echo "-- node $i, ready $(on "$i" cat /run/ready-uptime) s after kernel start;" \
		"/proc/openmosix/version: $(on "$i" cat /proc/openmosix/version | tr '\n' ' ')"
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
echo "== node 3 loses power; node 1 marks it down, then node 3 reboots and rejoins:"
cut=$(now_ms)
power_off 3
wait_for 8 sh -c '! omctl isup 3' >/dev/null && echo "   node 3 down $(($(now_ms) - cut)) ms after the power cut" || status=1
t0=$(now_ms)
power_on 3 || status=1
wait_for 20 omctl isup 3 >/dev/null && echo "   node 3 booted and up again $(($(now_ms) - t0)) ms after power-on" || status=1
echo "== process migration: omx-burn (a checksum over 64 MB, exit status = checksum) runs on node 1,"
echo "   moves to node 2 mid-run ('omctl migrate PID 2'), on to node 3, then back home"
echo "   ('omctl migrate PID home'), and ends with the same status and output as an unmoved run"
echo "   (its system calls are forwarded to its deputy on node 1 while it is away):"
t0=$(now_ms)
omx-burn 64 300 >/tmp/burn.ref
ref=$?
echo "   unmoved run: status $ref in $(($(now_ms) - t0)) ms; output: $(cat /tmp/burn.ref)"
t0=$(now_ms)
omx-burn 64 300 >/tmp/burn.out &
pid=$!
sleep 1
for where in 2 3 home; do
	omctl migrate "$pid" "$where" || status=1
	if [ "$where" = home ]; then
		want="! omctl ps | grep -q '^$pid '"
	else
		want="omctl ps | grep -q '^$pid $where remote'"
	fi
	if wait_for 20 sh -c "$want" >/dev/null; then
		echo "   -> $where: $(dmesg | grep -o "process $pid \(now runs\|moved on\|is back\).*" | tail -1)"
		if [ "$where" = 2 ]; then
			echo "      node 1 (omctl ps):"
			omctl ps | sed 's/^/         /'
			echo "      node 2 (on 2 omctl ps; the guest runs as nobody there):"
			on 2 omctl ps | sed 's/^/         /'
		fi
	else
		status=1
	fi
done
wait "$pid"
st=$?
echo "   migrated run: status $st in $(($(now_ms) - t0)) ms; output: $(cat /tmp/burn.out)"
[ "$st" = "$ref" ] || status=1
echo "== load balancing: 6 CPU-bound jobs start on node 1; the balancer spreads them with no"
echo "   manual step (omctl mon, the openMosix mosmon, every 3 s):"
# The jobs are root's: the balancer moves them only with admin/migrate_root.
echo 1 >/proc/openmosix/admin/migrate_root
t0=$(now_ms)
pids=""
for i in 1 2 3 4 5 6; do
	omx-burn 4 4000 >/dev/null &
	pids="$pids $!"
done
for f in 1 2 3 4 5; do
	sleep 3
	echo "   --- after $((f * 3)) s"
	omctl mon 1 | grep -v '^$' | sed 's/^/   /'
done
for p in $pids; do
	wait "$p"
done
echo "   all 6 done in $(($(now_ms) - t0)) ms; node 1's balancer log:"
dmesg | grep -o "balancer: .*" | sed 's/^/      /'
echo "== frame counters of node 1 (omctl stats):"
omctl stats | sed 's/^/   /'
exit $status
