# SPDX-License-Identifier: GPL-2.0
# The harness contract, checked from inside a cluster: `on ID CMD` runs CMD on node ID and returns
# its output and exit status; every node has its own address and hostname; /mnt/share is there.
. /lib/cluster/lib.sh
nodes=$(wc -l </etc/cluster.hosts)
for i in $(seq 1 "$nodes"); do
	expect_eq "node $i: hostname" "$(on "$i" hostname)" "node$i"
	expect_match "node $i: address" "$(on "$i" ip -4 addr show eth0)" "inet 198\\.18\\.0\\.$i/24"
done
on 2 'exit 7'
expect_eq "exit status comes back" "$?" 7
on 2 'kill -TERM $$'
expect_eq "death by signal comes back as 128+N" "$?" 143
expect_eq "stdout and stderr both come back" "$(on 3 'echo out; echo err >&2' 2>&1 | sort | tr '\n' ' ')" \
	"err out "
expect_eq "stderr stays stderr" "$(on 3 'echo out; echo err >&2' 2>/dev/null)" "out"
expect_eq "words are joined and run by sh" "$(on 2 echo a '$((1+2))' b)" "a 3 b"
big=$(on 2 'seq 1 200000' | wc -l)
expect_eq "large output arrives whole" "$big" 200000
on 99 true 2>/dev/null
expect_eq "unknown node gives 255" "$?" 255
check "share is mounted read-only" sh -c "grep -q ' /mnt/share 9p ro' /proc/mounts"
expect_eq "share content is visible on node 3" "$(on 3 cat /mnt/share/tests/harness/marker)" \
	"harness marker"
finish
