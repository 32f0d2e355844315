# SPDX-License-Identifier: GPL-2.0
# Makespan of K equal CPU-bound jobs started on node 1, spread by the balancer, against the ideal
# ceil(K / N) x one job's time (measured in the same run). Run in a cluster of N nodes:
#   scripts/cluster run --nodes N -- tests/bench/makespan.sh [K]
. /lib/cluster/lib.sh
clock_note

n=$(ls /proc/openmosix/nodes | wc -l)
k=${1:-$((2 * n))}
for j in $(seq 2 "$n"); do
	wait_for 10 omctl isup "$j" >/dev/null || echo "node $j is not up"
done
# The jobs are root's: the balancer moves them only with admin/migrate_root.
echo 1 >/proc/openmosix/admin/migrate_root
t0=$(now_ms)
omx-burn 4 6000 >/dev/null
one=$(($(now_ms) - t0))
t0=$(now_ms)
pids=""
for i in $(seq 1 "$k"); do
	omx-burn 4 6000 >/dev/null &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p"
done
span=$(($(now_ms) - t0))
ideal=$((((k + n - 1) / n) * one))
echo "makespan: $k jobs on $n nodes: $span ms; one job alone $one ms; ideal $ideal ms; ratio $((span * 1000 / ideal / 1000)).$(printf %03d $((span * 1000 / ideal % 1000)))"
echo "single node would take about $((k * one)) ms"
echo "balancer decisions on node 1: $(awk '/balancer_decisions/ {print $2}' /proc/openmosix/stats)"
