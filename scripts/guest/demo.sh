# SPDX-License-Identifier: GPL-2.0
# Guest side of `make demo`, run on node 1 of a 3-node cluster by scripts/demo.
nodes=$(wc -l </etc/cluster.hosts)
echo "== $nodes nodes up; openmosix.ko loaded on each. /proc/openmosix/version per node:"
status=0
for i in $(seq 1 "$nodes"); do
	echo "-- node $i ($(on "$i" hostname), $(on "$i" ip -4 -o addr show eth0 | awk '{print $4}')," \
		"ready $(on "$i" cat /run/ready-uptime) s after kernel start)"
	on "$i" cat /proc/openmosix/version | sed 's/^/   /' || status=1
done
echo "== omctl on node 2:"
on 2 omctl version | sed 's/^/   /' || status=1
echo "== unloading and reloading the module on node 3:"
on 3 'rmmod openmosix && test ! -e /proc/openmosix && insmod /lib/openmosix/openmosix.ko &&
	dmesg | grep openmosix | tail -n 3' | sed 's/^/   /' || status=1
exit $status
