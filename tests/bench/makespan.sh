# SPDX-License-Identifier: GPL-2.0
# Makespan of K equal CPU-bound jobs (MB megabytes each, default 16) started on node 1, spread by
# the balancer, against the same jobs kept on node 1 (the other nodes refusing guests) and
# against the ideal ceil(K / N) x one job's time, all measured in the same run. Run in a cluster
# of N nodes:
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
mb=${MB:-16}
passes=$((24000 / mb))
# run_jobs: starts k jobs of mb MB on node 1 and prints the ms until the last one ends.
run_jobs() {
	_t0=$(now_ms)
	_pids=""
	for _i in $(seq 1 "$k"); do
		omx-burn "$mb" "$passes" >/dev/null &
		_pids="$_pids $!"
	done
	for _p in $_pids; do
		wait "$_p"
	done
	echo $(($(now_ms) - _t0))
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
t0=$(now_ms)
omx-burn "$mb" "$passes" >/dev/null
one=$(($(now_ms) - t0))
# The same jobs kept on node 1: every other node refuses guests meanwhile.
for j in $(seq 2 "$n"); do
	on "$j" omctl block
	wait_for 60 sh -c "omctl status $j | grep -q block" >/dev/null
done
kept=$(run_jobs)
for j in $(seq 2 "$n"); do
	on "$j" omctl noblock
	wait_for 60 sh -c "! omctl status $j | grep -q block" >/dev/null
done
before=$(awk '/balancer_decisions/ {print $2}' /proc/openmosix/stats)
span=$(run_jobs)
ideal=$((((k + n - 1) / n) * one))
echo "makespan: $k jobs of $mb MB on $n nodes: $span ms; kept on node 1 $kept ms; one job alone $one ms; ideal $ideal ms"
echo "makespan / kept on node 1: $(ratio "$span" "$kept"); makespan / ideal: $(ratio "$span" "$ideal")"
echo "balancer decisions on node 1: $(($(awk '/balancer_decisions/ {print $2}' /proc/openmosix/stats) - before))"
