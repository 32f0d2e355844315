# SPDX-License-Identifier: GPL-2.0
# timeout: 600
# A hostile peer that holds a key: node 1's module is unloaded and omx-peer speaks for node 1
# with node 1's own keyring (as an attacker who took node 1 over would) to node 2. It sends
# frames out of sequence, random migration frames, random image records, a flood of
# heartbeats, and images that announce a process and never go on. Node 2 closes the
# connections it must, never oopses (the harness checks every console), stays up for node 3,
# keeps at most its limit of arriving guests and stubs, and once "node 1" is gone is left with
# no guest, its module references and threads as before, and bounded kernel memory.
. /lib/cluster/lib.sh

stat_of() { on "$1" "awk '\$1 == \"$2\" {print \$2}' /proc/openmosix/stats"; }
for j in 2 3; do
	check "node $j up" wait_for 30 omctl isup "$j"
done
slab() { on 2 "awk '/^SUnreclaim/ {print \$2}' /proc/meminfo"; }
refs() { on 2 cat /sys/module/openmosix/refcnt; }
threads() { omx_threads 2; }
check "every node connected to every other" wait_for 60 all_connected 3
slab_before=$(slab)
refs_before=$(refs)
threads_before=$(threads)

check "node 1's module leaves" rmmod openmosix
R=/etc/openmosix.key
out=$(omx-peer $R 198.18.0.2 2 hello)
expect_match "the peer passes the handshake as node 1" "$out" "^hello: sent 0, connections 1$"
out=$(omx-peer $R 198.18.0.2 2 seq)
expect_match "a frame out of sequence closes the connection" "$out" "^seq: closed true"
for attack in "junk 200" "garbage 300" "flood 20000"; do
	set -- $attack
	out=$(omx-peer $R 198.18.0.2 2 "$1" "$2")
	echo "$out"
	expect_match "$1: every frame sent" "$out" "^$1: sent [0-9]+, connections [0-9]+$"
	check "node 2 still up for node 3 after $1" on 3 omctl isup 2
done
rejected=$(stat_of 2 frames_rejected)
echo "node 2 rejected $rejected frames"
check "node 2 rejected hostile frames" test "$rejected" -gt 0

stubs() { on 2 "ps | grep -c '[o]mx-guest'"; }
# attack_stubs ATTACK N: runs omx-peer's ATTACK N against node 2 and sets max_stubs to the most
# stubs seen at once on node 2 while it ran.
attack_stubs() {
	omx-peer $R 198.18.0.2 2 "$1" "$2" >"/tmp/$1.out" 2>&1 &
	_peer=$!
	max_stubs=0
	while kill -0 "$_peer" 2>/dev/null; do
		_n=$(stubs)
		[ "$_n" -gt "$max_stubs" ] && max_stubs=$_n
		sleep 0.5
	done
	wait "$_peer"
	echo "$(cat "/tmp/$1.out"); most stubs seen at once on node 2: $max_stubs"
}

# Images that announce a process and never go on: node 2 starts at most its limit of stubs.
attack_stubs begins 100
check "node 2 ran at most 4 stubs at once for one peer" test "$max_stubs" -le 4
check "node 2 ran some" test "$max_stubs" -ge 1
check "node 2 still up for node 3" on 3 omctl isup 2

# The same images in node 3's name: node 3 announced no such move, node 2 starts nothing.
no_stubs() { test "$(stubs)" = 0; }
check "node 2 has no stub left" wait_for 120 no_stubs
attack_stubs squat 20
check "node 2 started no stub for images in node 3's name" test "$max_stubs" = 0
expect_match "node 2 said why" "$(on 2 dmesg | tail -n 40)" \
	"guest from node 1 refused: node 3, its home, did not announce it"

# "Node 1" is gone: node 2 forgets everything it made for it.
check "node 2 sees node 1 down" wait_for 60 sh -c "! on 2 omctl isup 1"
no_guests() { ! on 2 "omctl ps | grep -q guest-of"; }
check "node 2 is left with no guest" wait_for 60 no_guests
check "node 2 is left with no stub" wait_for 60 no_stubs
same_refs() { test "$(refs)" = "$refs_before"; }
check "node 2: module references as before" wait_for 30 same_refs
grown=$(($(slab) - slab_before))
echo "node 2: unreclaimable kernel memory grew by $grown KiB"
check "node 2: by less than 4 MiB" test "$grown" -lt 4096
check "node 1's module comes back" sh -c "insmod /lib/openmosix/openmosix.ko && omctl setkey && omctl setpe"
check "node 1 and node 2 connect again" wait_for 60 omctl isup 2
same_threads() { test "$(threads)" = "$threads_before"; }
check "node 2: as many omx threads as before ($threads_before)" wait_for 30 same_threads
echo "node 2's threads: $(on 2 "ps | grep '[o]mx-'" | awk '{print $NF}' | tr '\n' ' ')"
finish
