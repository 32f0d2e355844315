#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Benchmark: the balancer in the simulator. K = N equal CPU jobs (300 s each, 1 MiB images) start
# on node 1 of N standard one-CPU nodes; prints the makespan against the ideal ceil(K/N) x 300 s,
# and the gossip traffic per node, at 64, 1024 and 4096 nodes. Standalone: builds omsim first.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
(cd "$root/tools" && cargo build --release --locked -q -p omsim)
sim="$root/tools/target/release/omsim"
for n in ${OMSIM_NODES:-64 1024 4096}; do
	"$sim" --nodes "$n" --jobs "$n" --work 300 --image-mb 1 --seed 1 | awk -v n="$n" '
		/^makespan/ { m = $2; i = $5; r = $8 }
		/^migrations/ { mig = $3; sub(/^\(/, "", mig) }
		/^gossip/ { g = $2 }
		END {
			printf "omsim %d nodes: makespan %s s, ideal %s s, ratio %s; %s migrations/job;", n, m, i, r, mig
			printf " gossip %s bytes/node/s\n", g
		}'
done
