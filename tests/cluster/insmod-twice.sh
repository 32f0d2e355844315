# SPDX-License-Identifier: GPL-2.0
# Loading the module a second time fails cleanly and leaves the loaded one working.
. /lib/cluster/lib.sh
out=$(insmod /lib/openmosix/openmosix.ko 2>&1; echo "status $?")
expect_match "second insmod fails" "$out" "status [1-9]"
expect_match "second insmod says why" "$out" "File exists"
check "module still listed" sh -c "lsmod | grep -q '^openmosix '"
check "version still readable" omctl version
# The version file takes no writes, not even from root.
check_fails "writing the version file is refused" sh -c "echo x >/proc/openmosix/version"
check "version unchanged after the refused write" omctl version
check "rmmod after all that" rmmod openmosix
check_fails "a third insmod of a bad path fails" insmod /lib/openmosix/missing.ko
check "insmod works again" insmod /lib/openmosix/openmosix.ko
finish
