# SPDX-License-Identifier: GPL-2.0
# A node's identity: node 1, root there, tries to take node 2's place toward node 3 while node 2
# is off. It claims ID 2 (admin/mospe) and, through a route, connects from node 2's address too.
# - With keyrings (the harness gives each node its own), it has no key of the pair 2-3 and is
#   refused, whatever it forges from its own ring.
# - With a shared cluster key, a holder is every node: it gets in only from node 2's address;
#   from its own address the map entry refuses it.
. /lib/cluster/lib.sh

stat_of() { on "$1" "awk '\$1 == \"$2\" {print \$2}' /proc/openmosix/stats"; }
failed_on_3() { on 3 "awk '\$1 == \"handshakes_failed\" {print \$2}' /proc/openmosix/stats"; }
# more_failures N: node 3 has refused more than N handshakes.
more_failures() { test "$(failed_on_3)" -gt "$1"; }
# three_sees_2_up: node 3 has an authenticated connection with "node 2".
three_sees_2_up() { on 3 "awk '\$1 == 2 && \$4 == \"connected\"' /proc/openmosix/peers" | grep -q .; }

for j in 2 3; do
	check "node $j up" wait_for 30 omctl isup "$j"
done
expect_eq "node 1 holds its keyring" "$(sed -n 1,2p /etc/openmosix.key | tr '\n' ' ')" \
	"openmosix-keyring 1 node 1 "

power_off 2
check "node 3 sees node 2 down" wait_for 60 sh -c "! on 3 omctl isup 2"

# Node 1 becomes "node 2": it holds its own ring only, so it forges one from the key it shares
# with node 3, and connects to node 3 from node 2's address.
k13=$(awk '$1 == 3 {print $2}' /etc/openmosix.key)
printf 'openmosix-keyring 1\nnode 2\n3 %s\n' "$k13" >/tmp/forged
check "node 1 takes node 2's address" ip addr add 198.18.0.2/32 dev eth0
check "node 3 forgets where node 2's address was" on 3 ip neigh flush all
check "node 1 routes to node 3 from node 2's address" \
	ip route replace 198.18.0.3/32 dev eth0 src 198.18.0.2
check "node 1 claims ID 2" sh -c "echo 2 >/proc/openmosix/admin/mospe"
before=$(failed_on_3)
check "node 1 takes the forged ring" omctl setkey -f /tmp/forged
check "node 3 refuses the impostor's handshakes (keyrings)" wait_for 60 more_failures "$before"
check_fails "node 3 has no connection with a node 2" three_sees_2_up

# The same with one shared key for the cluster: the impostor gets in from node 2's address ...
shared=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$shared" >/tmp/shared
check "node 3 takes a shared key" on 3 "echo $shared >/proc/openmosix/admin/key"
check "node 1 takes the shared key" omctl setkey -f /tmp/shared
check "with a shared key, a holder at node 2's address passes for node 2" wait_for 60 three_sees_2_up
# ... but not from its own address: node 2's map entry says where node 2 is.
check "node 1 routes to node 3 from its own address" ip route replace 198.18.0.3/32 dev eth0 src 198.18.0.1
before=$(failed_on_3)
check "node 3 takes the shared key again (its connections close)" \
	on 3 "echo $shared >/proc/openmosix/admin/key"
check "node 3 refuses node 2's ID from another address" wait_for 60 more_failures "$before"
check_fails "node 3 has no connection with a node 2" three_sees_2_up

# Node 1 is itself again, with its own ring, and so is node 3: the cluster heals.
ip route del 198.18.0.3/32 2>/dev/null
ip addr del 198.18.0.2/32 dev eth0
echo 0 >/proc/openmosix/admin/mospe
check "node 1 takes the map again" omctl setpe
check "node 1 takes its ring again" omctl setkey
check "node 3 takes its ring again" on 3 omctl setkey
check "node 1 and node 3 connect again" wait_for 60 omctl isup 3
expect_eq "node 1 is node 1" "$(omctl getpe)" 1
finish
