# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 1200
# Faults during a checkpoint of a guest, whose image streams home from node 2. With 10 % of
# node 2's frames lost each way, a save completes and restarts to the output of a run never
# interrupted. With node 2's link slowed so that the image takes minutes, then cut mid-image:
# the save fails within its documented bound (30 s of silence, checkpoint.md), leaves neither
# its file nor its .part, and the process, which had an earlier save, is restarted at home by
# its deputy from that one and finishes with the output of a run never interrupted; node 2,
# which saw its home go down, keeps no guest, stub or module reference.
. /lib/cluster/lib.sh

check "node 2 up" wait_for 60 omctl isup 2
no_balancing 2
timeout_ms=$(cat /proc/openmosix/admin/timeout_ms)
mkdir -p /tmp/cf
cd /tmp/cf || exit 1
no_guest_on_2() { ! on 2 omctl ps | grep -q guest-of; }
no_stub_on_2() { test "$(on 2 "ps | grep -c '[o]mx-guest'")" = 0; }
refs_on_2() { test "$(on 2 cat /sys/module/openmosix/refcnt)" = 0; }
part_has() { test "$(wc -c <"$1" 2>/dev/null || echo 0)" -ge "$2"; }
expected="waiting 1
waiting 2
done rounds 12 corrupt 0 fpu ok cwd ok signals 0 timers ok usr2 none cpu-timers "

touch rgate1 rgate2
omx-ckpt ref.out 12 48 /tmp/cf/rgate >ref.log
expect_eq "reference run (48 MB) exits 0" "$?" 0

# start_on_2 X: omx-ckpt X (48 MB; x.out, x.log, gates /tmp/cf/xgate1 and 2), moved to node 2
# once it waits at its first gate; sets opid.
start_on_2() {
	omx-ckpt "$1.out" 12 48 "/tmp/cf/${1}gate" >"$1.log" 2>"$1.err" &
	opid=$!
	check "omx-ckpt $1 waits at its first gate" wait_for 300 grep -q "waiting 1" "$1.log"
	check "$1 moves to node 2" omctl migrate "$opid" 2
	check "$1 runs on node 2" wait_for 300 remote "$opid" 2
}

# --- 10 % loss each way during a save. ------------------------------------------------------------
# A lossy link wants a longer failure-detection timeout (fault.sh): 10 s.
for i in 1 2; do
	check "node $i takes a 10 s timeout for the lossy link" on "$i" "echo 10000 >/proc/openmosix/admin/timeout_ms"
done
start_on_2 l
lpid=$opid
check "node 2's link loses 10 % of its frames" link_loss 2 10
t0=$(now_ms)
check "l is saved on node 2 through the lossy link" omctl checkpoint "$lpid" l.ckpt --kill
echo "saved $(wc -c <l.ckpt) bytes through 10 % loss in $(($(now_ms) - t0)) ms"
check "node 2's link is mended" link_mend 2
wait "$lpid"
expect_eq "l ends, killed once saved (137)" "$?" 137
touch lgate1 lgate2
omctl restart l.ckpt >/dev/null
expect_eq "its restart exits 0" "$?" 0
check "with the output file of a run never interrupted" cmp l.out ref.out
expect_eq "and its standard output" "$(sed 's/cpu-timers .*/cpu-timers /' l.log)" "$expected"
for i in 1 2; do
	check "node $i takes the default timeout again" on "$i" "echo $timeout_ms >/proc/openmosix/admin/timeout_ms"
done

# --- The link cut during a save. -----------------------------------------------------------------
start_on_2 c
cpid=$opid
check "c is saved whole on node 2" omctl checkpoint "$cpid" c0.ckpt
check "node 2's link is slowed to 4 Mbit/s (48 MB take over 90 s)" link_slow 2 4000
# The save, its status and when it ended (ms of uptime), recorded as it ends.
(
	omctl checkpoint "$cpid" c1.ckpt >c1.out 2>&1
	echo "$? $(now_ms)" >c1.end
) &
saver=$!
check "its next save is on its way (4 MB in the file)" wait_for 120 part_has c1.ckpt.part 4194304
cut=$(now_ms)
check "node 2's link is cut" link_cut 2
check "c's deputy restarts it at home from its first save" \
	wait_for 120 sh -c "dmesg | grep -q 'process $cpid restarted at home from its checkpoint'"
check "c is the same process, at home" home "$cpid"
wait "$saver"
read -r st end <c1.end
ms=$((end - cut))
check "the save fails (status $st)" test "$st" -ne 0
echo "omctl checkpoint: $(cat c1.out)"
check "within 30 s of silence + the timeout + 10 s ($ms ms)" test "$ms" -le $((30000 + timeout_ms + 10000))
check_fails "and leaves no file" sh -c "ls c1.ckpt c1.ckpt.part 2>/dev/null | grep -q ."
check "node 2's link is mended" link_mend 2
check "node 2 is up again" wait_for 120 omctl isup 2
check "node 2 keeps no guest" wait_for 60 no_guest_on_2
check "nor a stub" wait_for 60 no_stub_on_2
check "nor a module reference" wait_for 60 refs_on_2
touch cgate1 cgate2
wait_end 600 "$cpid" "omx-ckpt c"
wait "$cpid"
expect_eq "c exits 0" "$?" 0
check "with the output file of a run never interrupted" cmp c.out ref.out
expect_eq "and its standard output" "$(sed 's/cpu-timers .*/cpu-timers /' c.log)" "$expected"
expect_eq "node 1 has no migration left" "$(omctl ps | grep -vc '^#')" 0
expect_eq "and holds no module reference" "$(cat /sys/module/openmosix/refcnt)" 0
finish
