# SPDX-License-Identifier: GPL-2.0
# Benchmark: cluster-layer traffic (heartbeats + gossip) per node per second, measured from the
# frame counters over a quiet window, side by side with what the protocol's parameters predict.
. /lib/cluster/lib.sh
clock_note
nodes=$(wc -l </etc/cluster.hosts)
window=${1:-10}
# Let every connection come up and the load entries spread first.
sleep 4
stat_of() { on "$1" "awk '\$1 == \"$2\" {print \$2}' /proc/openmosix/stats"; }
for i in $(seq 1 "$nodes"); do
	eval "b0_$i=$(stat_of "$i" bytes_sent) f0_$i=$(stat_of "$i" frames_sent)"
done
sleep "$window"
total_b=0
total_f=0
for i in $(seq 1 "$nodes"); do
	eval "b=\$((\$(stat_of $i bytes_sent) - b0_$i)) f=\$((\$(stat_of $i frames_sent) - f0_$i))"
	echo "node $i: $((b / window)) bytes/s, $((f / window)) frames/s sent"
	total_b=$((total_b + b))
	total_f=$((total_f + f))
done
hb_ms=$(cat /proc/openmosix/admin/heartbeat_ms)
# Per period each node sends a heartbeat (32 header + 48 entry + 32 tag) to each of its N-1
# peers, and a gossip frame (32 + 2 + N entries of 48 + 32) to min(2, N-1) of them.
peers=$((nodes - 1))
fanout=$((peers < 2 ? peers : 2))
model=$(((peers * 112 + fanout * (66 + nodes * 48)) * 1000 / hb_ms))
measured=$((total_b / window / nodes))
echo "traffic per node: $measured bytes/s measured, $model bytes/s predicted" \
	"(heartbeat ${hb_ms} ms, $nodes nodes)"
awk -v m="$measured" -v p="$model" 'BEGIN { printf "ratio measured/predicted: %.2f\n", m / p }'
