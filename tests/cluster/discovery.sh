# SPDX-License-Identifier: GPL-2.0
# nodes: 4
# Discovery: nodes 1-3 run from a map without node 4; node 4 has the key but no map. With
# discovery on, it finds its ID from its address, and joins the running cluster.
. /lib/cluster/lib.sh


for i in 1 2 3; do
	on "$i" 'echo "1 198.18.0.1 3" >/etc/openmosix.map && omctl setpe && omctl discovery on'
done
on 4 'rmmod openmosix && insmod /lib/openmosix/openmosix.ko && omctl setkey'
check_fails "node 4 has no ID before discovery" on 4 omctl getpe
check "node 4: discovery on" on 4 omctl discovery on
expect_eq "node 4 takes its ID from its address" "$(on 4 omctl getpe)" 4
for i in 1 2 3; do
	check "node $i sees node 4 up without a map edit" wait_for 10 on "$i" omctl isup 4
	check "node 4 sees node $i up" wait_for 10 on 4 omctl isup "$i"
done
expect_eq "map of node 1 unchanged" "$(omctl map)" "1 198.18.0.1 3"
expect_match "node 1 lists node 4 as discovered" "$(cat /proc/openmosix/peers)" \
	"^4 198\\.18\\.0\\.4 up connected discovered$"
check "node 1 has node 4's load" sh -c "test \$(omctl getload 4) -ge 0"
expect_match "node 3 counted the beacons it received" "$(on 3 cat /proc/openmosix/stats)" "beacons_received [1-9]"

# A beacon of node 4 recorded on node 3 and replayed from node 3's address (no key needed):
# refused, and node 1 keeps node 4 where it is.
check "node 3 records a beacon of node 4" on 3 omx-beacon capture 4 /tmp/beacon 60
stat_of() { on "$1" "awk '\$1 == \"$2\" {print \$2}' /proc/openmosix/stats"; }
rejected_before=$(stat_of 1 beacons_rejected)
expect_eq "node 1 refused no beacon of the cluster's nodes" "$rejected_before" 0
check "node 3 replays it to node 1" on 3 omx-beacon replay /tmp/beacon 198.18.0.1
rejected() { test "$(stat_of 1 beacons_rejected)" -gt "$rejected_before"; }
check "node 1 refuses the replayed beacon" wait_for 30 rejected
expect_match "node 1 still lists node 4 at its own address" "$(cat /proc/openmosix/peers)" \
	"^4 198\\.18\\.0\\.4 up connected discovered$"
finish
