# SPDX-License-Identifier: GPL-2.0
# rmmod removes /proc/openmosix cleanly (also while a reader holds the file open), the module
# loads again afterwards, and nothing oopses (the harness checks every node's log).
. /lib/cluster/lib.sh
check "node 2: rmmod" on 2 rmmod openmosix
check_fails "node 2: /proc/openmosix is gone" on 2 test -e /proc/openmosix
expect_match "node 2: unload message" "$(on 2 dmesg)" "openmosix unloaded"
check "node 2: insmod again" on 2 insmod /lib/openmosix/openmosix.ko
check "node 2: version readable after reload" on 2 omctl version

# A reader that keeps the file open across rmmod gets an error, not a crash.
out=$(on 3 'exec 3</proc/openmosix/version; rmmod openmosix || exit 9; cat <&3; echo "read-status $?"')
expect_match "node 3: rmmod with the file open" "$out" "read-status [1-9]"
check_fails "node 3: /proc/openmosix is gone" on 3 test -e /proc/openmosix
check "node 3: insmod again" on 3 insmod /lib/openmosix/openmosix.ko

# Many concurrent readers while the module goes away.
out=$(on 1 'for n in 1 2 3 4 5 6 7 8; do (while cat /proc/openmosix/version >/dev/null 2>&1; do :; done) & done
	sleep 1; rmmod openmosix; st=$?; wait; echo "rmmod-status $st"')
expect_match "node 1: rmmod under concurrent readers" "$out" "rmmod-status 0"
check "node 1: insmod again" on 1 insmod /lib/openmosix/openmosix.ko
check "node 1: version readable after reload" omctl version
finish
