# SPDX-License-Identifier: GPL-2.0
# Before a connection is authenticated a node reads nothing but the handshake: a frame of
# another kind, or of another length, is refused after its header; a Hello sent a byte a second
# is cut off by the handshake's deadline; and clients without the key that connect and dawdle
# never keep a node from connecting again. omx-loris (on node 3) plays the slow client.
. /lib/cluster/lib.sh

stat_of() { on "$1" "awk '\$1 == \"$2\" {print \$2}' /proc/openmosix/stats"; }
# connected_to N P: node N has an authenticated connection to node P.
connected_to() { on "$1" "awk '\$1 == $2 && \$4 == \"connected\"' /proc/openmosix/peers" | grep -q .; }

for j in 2 3; do
	check "node $j up" wait_for 30 omctl isup "$j"
done
check "node 2 connected to node 1" wait_for 30 connected_to 2 1

# Each probe stops after 120 s: the node must close the connection well before that. Its
# lengths are within what each kind may carry once authenticated.
out=$(on 3 omx-loris probe 198.18.0.2 7 65536 120)
echo "MigImage header: $out"
expect_match "a MigImage header before authentication closes the connection" "$out" "^closed after"
out=$(on 3 omx-loris probe 198.18.0.2 1 16 120)
echo "short Hello: $out"
expect_match "a Hello of 16 bytes, not 32, closes the connection" "$out" "^closed after"
out=$(on 3 omx-loris probe 198.18.0.2 1 32 120)
echo "slow Hello: $out"
expect_match "a Hello sent a byte a second is cut off before its end" "$out" "^closed after"

# Slow clients from node 3, until they are stopped below: four send a Gossip frame (962
# bytes: a quarter of an hour at a byte a second), eight a Hello.
on 3 omx-loris hold 198.18.0.2 4 280 5 962 >/dev/null 2>&1 &
hold_gossip=$!
on 3 omx-loris hold 198.18.0.2 8 280 1 32 >/dev/null 2>&1 &
hold=$!
refused() { test "$(stat_of 2 handshakes_refused)" -ge 1; }
check "node 2 refuses the handshakes past its per-address limit" wait_for 60 refused
ok_before=$(stat_of 2 handshakes_ok)
# Node 2 closes every connection and authenticates again: node 1 dials it while the slow
# clients hold on.
check "node 2 takes its key again" on 2 omctl setkey
reconnected() { connected_to 2 1 && test "$(stat_of 2 handshakes_ok)" -gt "$ok_before"; }
check "node 2 authenticates node 1 again while slow clients hold on" wait_for 90 reconnected
check "node 1 and node 2 see each other up" sh -c "omctl isup 2 && on 2 omctl isup 1"
check "node 3 still up for node 2" on 2 omctl isup 3

# The slow clients end; the node is left with no handshake thread.
on 3 killall omx-loris
wait "$hold" "$hold_gossip"
no_handshakes() { ! on 2 "ps | grep -q '[o]mx-hs'"; }
check "no handshake thread left on node 2" wait_for 30 no_handshakes
finish
