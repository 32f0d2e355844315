# SPDX-License-Identifier: GPL-2.0
# Benchmark: process migration between nodes 1 and 2, measured side by side in one run.
#   - migration throughput (image bytes / time frozen) for 16, 64 and 256 MB processes, against
#     raw TCP throughput between the same two nodes (omx-tcp: the physical limit here);
#   - a forwarded system call (a 1-byte write to /dev/null made by the deputy) against a TCP
#     ping-pong of one byte between the same nodes and against the same call made at home;
#   - a CPU-bound loop on the remote node against the same loop at home.
# Nothing is asserted: the figures and ratios are printed.
. /lib/cluster/lib.sh
for j in 2; do
	wait_for 10 omctl isup "$j" >/dev/null || { echo "node $j not up"; exit 1; }
done

# Raw TCP, node 1 -> node 2, 64 MiB (a user-space sender and sink: the physical limit here).
on 2 'omx-tcp sink 9000 >/tmp/tcp.bytes 2>&1 </dev/null &'
sleep 1
set -- $(omx-tcp send 198.18.0.2 9000 64)
tcp_ms=$4
tcp_kbs=$(($2 / 1024 * 1000 / (tcp_ms > 0 ? tcp_ms : 1)))
echo "raw TCP node 1 -> node 2: $2 bytes in $tcp_ms ms = $tcp_kbs KiB/s (sink got $(on 2 cat /tmp/tcp.bytes))"
# TCP ping-pong of one byte, the reference for a forwarded call's round trip.
on 2 'omx-tcp echo 9001 >/dev/null 2>&1 </dev/null &'
sleep 1
rtt=$(omx-tcp ping 198.18.0.2 9001 2000 | awk '{print $2}')
echo "TCP 1-byte ping-pong node 1 <-> node 2: $rtt ns"

for mb in 16 64 256; do
	omx-burn "$mb" 100000 >/dev/null &
	pid=$!
	sleep 2
	omctl migrate "$pid" 2
	if wait_for 120 sh -c "dmesg | grep -q 'process $pid now runs'" >/dev/null; then
		line=$(dmesg | grep -o "process $pid now runs.*")
		kib=$(echo "$line" | sed 's/.*there; \([0-9]*\) KiB.*/\1/')
		ms=$(echo "$line" | sed 's/.*frozen \([0-9]*\) ms.*/\1/')
		kbs=$((kib * 1000 / (ms > 0 ? ms : 1)))
		echo "migrate $mb MB process: $kib KiB of pages, frozen $ms ms = $kbs KiB/s;" \
			"ratio to raw TCP $(awk -v a="$kbs" -v b="$tcp_kbs" 'BEGIN { printf "%.2f", a / b }')"
	else
		echo "migrate $mb MB process: did not complete"
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done

# Forwarded call and CPU speed: omx-sys at home, then migrated during its first second.
omx-sys 100000 2000 >/tmp/sys.home
omx-sys 2000 2000 >/tmp/sys.mig &
pid=$!
sleep 0.3
omctl migrate "$pid" 2
wait "$pid"
h_w=$(awk '/write_ns/ {print $2}' /tmp/sys.home)
m_w=$(awk '/write_ns/ {print $2}' /tmp/sys.mig)
h_l=$(awk '/loop_ms/ {print $2}' /tmp/sys.home)
m_l=$(awk '/loop_ms/ {print $2}' /tmp/sys.mig)
echo "1-byte write to /dev/null: $h_w ns at home, $m_w ns forwarded from node 2;" \
	"forwarded/TCP ping-pong $(awk -v a="$m_w" -v b="$rtt" 'BEGIN { printf "%.2f", a / b }')," \
	"forwarded/local $(awk -v a="$m_w" -v b="$h_w" 'BEGIN { printf "%.0f", a / b }')"
echo "CPU loop: $h_l ms at home, $m_l ms on node 2;" \
	"ratio remote/home $(awk -v a="$m_l" -v b="$h_l" 'BEGIN { printf "%.2f", a / b }')"
