#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Benchmark: the balancer and the membership protocol in the simulator, side by side in one run.
#  - K = N equal CPU jobs (300 s each, 1 MiB images) start on node 1 of N standard one-CPU nodes
#    with 1 Gbit/s links: makespan against the ideal (300 s) and against the link-limited bound
#    (ideal + every image that leaves node 1 sent over its link), at 64, 1024 and 4096 nodes;
#  - membership and load traffic per node per second in the same runs, beside what heartbeats to
#    every peer would cost;
#  - one node of 4096 fails with 1 % of the membership messages lost: time until the first and
#    every live node know, and false positives (live nodes suspected, declared dead).
# Standalone: builds omsim first. OMSIM_NODES and OMSIM_DETECT_NODES change the sizes.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
(cd "$root/tools" && cargo build --release --locked -q -p omsim)
sim="$root/tools/target/release/omsim"
printf '%-6s %9s %9s %7s %10s %7s %9s %11s %13s %9s %6s\n' nodes makespan ideal ratio link-bound ratio migr/job "member B/s" "all-hb B/s" "false +" wall
for n in ${OMSIM_NODES:-64 1024 4096}; do
	start=$(date +%s)
	out=$("$sim" --nodes "$n" --jobs "$n" --work 300 --image-mb 1 --seed 1)
	wall=$(($(date +%s) - start))
	echo "$out" | awk -v n="$n" -v wall="$wall" '
		/^makespan/ { m = $2; i = $5; r = $8; sub(/;$/, "", r); b = $11; br = $14 }
		/^migrations/ { mig = $3; sub(/^\(/, "", mig) }
		/^membership/ { t = $2; h = $(NF - 1) }
		/^false positives/ { s = $3; d = $8 }
		END {
			printf "%-6d %7s s %7s s %7s %8s s %7s %9s %11s %13s %9s %4s s\n", n, m, i, r, b, br, mig, t, h, s "/" d, wall
		}'
done
dn=${OMSIM_DETECT_NODES:-4096}
start=$(date +%s)
out=$("$sim" --nodes "$dn" --jobs 0 --loss 0.01 --fail 1@20 --max-time 80 --seed 1)
wall=$(($(date +%s) - start))
echo "$out" | awk -v n="$dn" -v wall="$wall" '
	/^membership/ { t = $2; msgs = $5; sub(/^\(/, "", msgs); lost = $7 }
	/^failure known/ { first = $8; all = $15 }
	/^false positives/ { s = $3; d = $8 }
	END {
		printf "failure of 1 node of %d, 1 %% loss (%s of %s messages lost): known by the first after %s s, by all after %s s;", n, lost, msgs, first, all
		printf " %s suspicions of live nodes, %s live nodes declared dead; %s bytes/node/s; %d s wall\n", s, d, t, wall
	}'
