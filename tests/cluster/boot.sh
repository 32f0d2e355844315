# SPDX-License-Identifier: GPL-2.0
# Every node boots, loads the module, and /proc/openmosix/version reads right.
# Args: RELEASE PROTOCOL (the versions the tree under test declares).
. /lib/cluster/lib.sh
release=$1
protocol=$2
nodes=$(wc -l </etc/cluster.hosts)
expect_eq "cluster has 3 nodes" "$nodes" 3
for i in $(seq 1 "$nodes"); do
	echo "node $i ready $(on "$i" cat /run/ready-uptime) s after kernel start"
	check "node $i: module listed by lsmod" sh -c "on $i lsmod | grep -q '^openmosix '"
	kernel=$(on "$i" uname -r)
	expect_eq "node $i: /proc/openmosix/version" "$(on "$i" cat /proc/openmosix/version)" \
		"module $release
protocol $protocol
kernel $kernel"
	check "node $i: omctl version agrees with the module" on "$i" omctl version
	expect_match "node $i: load message in the kernel log" "$(on "$i" dmesg)" \
		"openmosix $release \\(protocol $protocol\\) loaded"
	expect_eq "node $i: version file is read-only" "$(on "$i" stat -c %a /proc/openmosix/version)" 444
done
finish
