# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 400
# A migrated process is confined on its host: the 32-bit ABI (int $0x80), x32 numbers and
# numbers no kernel has never reach the host's kernel (ENOSYS), and the iovec lengths of a readv
# whose sum overflows get the kernel's own EINVAL (they once overflowed the module's sum and
# BUGged the host). The same program at home shows that the kernel has IA32 emulation on (its
# 32-bit mkdir makes its directory), so the refusal on the host is the module's. The guest runs
# under its seccomp filter (the second wall, omcore::seccomp).
. /lib/cluster/lib.sh

check "node 2 up" wait_for 10 omctl isup 2
no_balancing 2
DIR=/tmp/omx-escape-int80

# At home: every attempt reaches the kernel.
rm -rf "$DIR"
omx-escape 0 >/tmp/esc.home
check "at home the program ends" test -s /tmp/esc.home
check "at home a 32-bit mkdir works (IA32 emulation is on)" grep -qx "int80-mkdir 0" /tmp/esc.home
check "and made its directory" test -d "$DIR"
check "at home a 32-bit getpid works" grep -qx "int80-getpid 1" /tmp/esc.home
check "at home an unknown number gets ENOSYS" grep -qx "unknown -38" /tmp/esc.home
check "at home readv with overflowing lengths gets EINVAL" grep -qx "readv-overflow -22" /tmp/esc.home
rm -rf "$DIR"
x32_home=$(awk '$1 == "x32-getpid" {print $2}' /tmp/esc.home)

# Migrated: none of it runs on the host.
on 2 rm -rf "$DIR"
omx-escape 6 >/tmp/esc.mig &
pid=$!
sleep 1
check "migrate $pid to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 120 remote "$pid" 2
guest=$(on 2 omctl ps | awk '/guest-of 1 home-pid '"$pid"'$/ {print $1}')
check "its guest on node 2 runs under a seccomp filter" \
	on 2 "grep -q '^Seccomp:[[:space:]]*2' /proc/$guest/status"
wait "$pid"
expect_eq "the migrated program exits 0" "$?" 0
check "migrated, a 32-bit mkdir gets ENOSYS" grep -qx "int80-mkdir -38" /tmp/esc.mig
check "migrated, a 32-bit getpid gets ENOSYS" grep -qx "int80-getpid -38" /tmp/esc.mig
check "migrated, an x32 call gets ENOSYS" grep -qx "x32-getpid -38" /tmp/esc.mig
check "migrated, an unknown number gets ENOSYS" grep -qx "unknown -38" /tmp/esc.mig
check "migrated, readv with overflowing lengths gets EINVAL" grep -qx "readv-overflow -22" /tmp/esc.mig
check "no directory was made on node 2" on 2 test ! -e "$DIR"
check "nor at home" test ! -e "$DIR"
check "node 2 hosts no guest afterwards" wait_for 10 sh -c "! on 2 omctl ps | grep -q guest-of"
echo "(x32 at home: $x32_home)"

finish
