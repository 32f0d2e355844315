# SPDX-License-Identifier: GPL-2.0
# Benchmark: process migration between nodes 1 and 2, measured side by side in one run.
#   - migration throughput (image bytes / time frozen) for 16, 64 and 256 MB processes, against
#     raw TCP throughput between the same two nodes (omx-tcp: the physical limit here), and the
#     256 MB move again with frames only authenticated (admin/encrypt 0) against encrypted;
#   - a 16 MB process with 384 MB of heap it never touched against the same process without
#     it (time frozen: what untouched pages cost);
#   - a 1 MB process with its program paged from home (admin/page_files 1) against the same
#     with its program carried as memory (0): image and time frozen;
#   - a 64 MB move while three CPU-bound jobs run on node 1, against the same move from an idle
#     node (the migration works at the CPU's pace, not at the process's share of it);
#   - a forwarded system call (a 1-byte write to /dev/null made by the deputy) against a TCP
#     ping-pong of one byte between the same nodes and against the same call made at home;
#   - a CPU-bound loop on the remote node against the same loop at home;
#   - a local system call (the same write) of a host's own process on node 2 while a guest runs
#     there, against the same call with no guest there (the system-call hooks' cost to the host).
# Nothing is asserted: the figures and ratios are printed.
. /lib/cluster/lib.sh
clock_note
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

# migrate_mb MB WHAT [OPTION]: moves an omx-burn of MB megabytes (with OPTION, such as
# sparse:SMB) to node 2 and prints the throughput of the move (image bytes / time frozen) and its
# ratio to raw TCP; sets `kbs` and `frozen` (ms).
migrate_mb() {
	frozen=
	# shellcheck disable=SC2086 # no option, or one word
	omx-burn "$1" 100000 ${3:-} >/dev/null &
	pid=$!
	sleep 2
	omctl migrate "$pid" 2
	if wait_for 300 sh -c "dmesg | grep -q 'process $pid now runs'" >/dev/null; then
		line=$(dmesg | grep -o "process $pid now runs.*")
		kib=$(echo "$line" | sed 's/.*there; \([0-9]*\) KiB.*/\1/')
		ms=$(echo "$line" | sed 's/.*frozen \([0-9]*\) ms.*/\1/')
		kbs=$((kib * 1000 / (ms > 0 ? ms : 1)))
		frozen=$ms
		echo "migrate $1 MB process$2: $kib KiB of pages, frozen $ms ms = $kbs KiB/s;" \
			"ratio to raw TCP $(awk -v a="$kbs" -v b="$tcp_kbs" 'BEGIN { printf "%.2f", a / b }')"
	else
		kbs=
		echo "migrate $1 MB process$2: did not complete"
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
for mb in 16 64 256; do
	migrate_mb "$mb" ""
done
enc_kbs=$kbs

# The same 256 MB move with frames only authenticated (admin/encrypt 0 on both nodes), then
# encryption back on: what encryption costs a move, side by side.
echo 0 >/proc/openmosix/admin/encrypt
on 2 'echo 0 >/proc/openmosix/admin/encrypt'
wait_for 60 all_connected 2 >/dev/null && wait_for 60 omctl isup 2 >/dev/null
migrate_mb 256 " (admin/encrypt 0)"
echo "256 MB move, encrypted / only authenticated:" \
	"$(awk -v a="$enc_kbs" -v b="$kbs" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "?" }')"
echo 1 >/proc/openmosix/admin/encrypt
on 2 'echo 1 >/proc/openmosix/admin/encrypt'
wait_for 60 all_connected 2 >/dev/null && wait_for 60 omctl isup 2 >/dev/null

# A 16 MB process that also has 384 MB of heap it never touched (omx-burn sparse:384: one word
# written a megabyte) against the same process without it: what untouched pages add to the
# freeze (the capture finds them in its pagemap and skips them without faulting them in).
migrate_mb 16 " (no untouched heap)"
plain_ms=$frozen
migrate_mb 16 " (and 384 MB of heap never touched)" sparse:384
echo "16 MB move with 384 MB of untouched heap / without, time frozen:" \
	"$(awk -v a="$frozen" -v b="$plain_ms" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "?" }')"

# A 1 MB process whose program's mappings travel paged from home (admin/page_files 1) against
# the same process with them carried as memory (0, the default): image and freeze.
echo 1 >/proc/openmosix/admin/page_files
migrate_mb 1 " (program paged from home)"
paged_ms=$frozen
echo 0 >/proc/openmosix/admin/page_files
migrate_mb 1 " (program carried as memory)"
echo "1 MB move, program paged from home / carried, time frozen:" \
	"$(awk -v a="$paged_ms" -v b="$frozen" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "?" }')"

# A 64 MB move while three CPU-bound jobs crowd node 1's CPU (as when the balancer acts)
# against the same move from an idle node: what the crowd costs the capture.
migrate_mb 64 " (node 1 idle)"
idle_kbs=$kbs
hogs=
for i in 1 2 3; do
	omx-burn 1 1000000000 >/dev/null &
	hogs="$hogs $!"
done
migrate_mb 64 " (beside 3 CPU-bound jobs)"
# shellcheck disable=SC2086 # the list of pids
kill $hogs 2>/dev/null
wait 2>/dev/null
echo "64 MB move, beside 3 CPU-bound jobs / node 1 idle (throughput):" \
	"$(awk -v a="$kbs" -v b="$idle_kbs" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "?" }')"

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

# A local system call of a host's own process while a guest runs there. Node 2 registers its
# system-call hooks only while it hosts a guest (or serves a deputy), and then every call of
# every process of the node goes through them. omx-sys is run on node 2 as a plain local process
# (locked there: nomig) with no guest, while a CPU-bound guest (omx-burn from node 1) runs there,
# and with no guest again. It runs at nice -20 so that the guest, which shares node 2's one CPU,
# takes almost none of the time measured: the difference is the hooks'. The same call at nice 0,
# sharing the CPU with the guest, is printed too. No balancer moves the guest meanwhile. (A
# million calls: the nodes' clocks may tick in jiffies.)
echo 3600000 >/proc/openmosix/admin/min_residency_ms
on 2 'echo 3600000 >/proc/openmosix/admin/min_residency_ms'
# host_write NICE: mean ns of a 1-byte write to /dev/null by a local process of node 2.
host_write() {
	on 2 "renice $1 \$\$ >/dev/null; exec nomig omx-sys 1000000 1" | awk '/write_ns/ {print $2}'
}
wait_for 60 sh -c "! on 2 omctl ps | grep -q guest-of" >/dev/null ||
	echo "(node 2 still lists a guest: $(on 2 omctl ps | grep guest-of))"
a1=$(host_write -20)
omx-burn 16 100000 >/dev/null &
pid=$!
sleep 2
omctl migrate "$pid" 2
if wait_for 300 remote "$pid" 2 >/dev/null &&
	wait_for 60 sh -c "on 2 omctl ps | grep -q 'guest-of 1 home-pid $pid\$'" >/dev/null; then
	b=$(host_write -20)
	b0=$(host_write 0)
	remote "$pid" 2 || echo "(process $pid no longer runs on node 2 after the measurement)"
else
	echo "(process $pid did not come to run on node 2)"
	b= b0=
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
wait_for 60 sh -c "! on 2 omctl ps | grep -q guest-of" >/dev/null ||
	echo "(node 2 still lists a guest: $(on 2 omctl ps | grep guest-of))"
a2=$(host_write -20)
a=$(awk -v x="$a1" -v y="$a2" 'BEGIN { if (x != "" && y != "") printf "%d", (x + y) / 2 }')
echo "host process on node 2, 1-byte write to /dev/null: ${a:-?} ns with no guest," \
	"${b:-?} ns while a guest runs there;" \
	"ratio B/A $(awk -v x="$b" -v y="$a" 'BEGIN { if (x != "" && y > 0) printf "%.2f", x / y; else printf "?" }')"
echo "  (no guest: ${a1:-?} ns before, ${a2:-?} ns after; at nice 0, sharing node 2's CPU with" \
	"the guest: ${b0:-?} ns)"
