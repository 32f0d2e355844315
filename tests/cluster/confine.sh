# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 900
# A migrated process is confined on its host: the 32-bit ABI (int $0x80), x32 numbers and
# numbers no kernel has never reach the host's kernel (ENOSYS), and the iovec lengths of a readv
# whose sum overflows get the kernel's own EINVAL (they once overflowed the module's sum and
# BUGged the host). The same program at home shows that the kernel has IA32 emulation on (its
# 32-bit mkdir makes its directory), so the refusal on the host is the module's. The guest runs
# under its seccomp filter (the second wall, omcore::seccomp).
# The guest is an ordinary unprivileged process of user 65534 on its host: every uid and gid
# 65534, no supplementary group, no capability, and charged to that user (a signal pending for
# it counts in user 65534's SigQ, not root's). A process that lowered its hard RLIMIT_NOFILE
# comes home with exactly that limit, and with the lower one root set at home while it was
# away (a host's image never raises a limit at home). A process with page 0 mapped (root may)
# is refused by the host (nothing below vm.mmap_min_addr) and goes on at home.
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

# --- The guest's credentials and accounting on its host; limits coming home. -------------------
# nofile PID: "SOFT HARD" of PID's RLIMIT_NOFILE here.
nofile() {
	awk '/^Max open files/ {print $4, $5}' /proc/"$1"/limits
}
omx-hold 600 1000 >/tmp/hold.out &
pid=$!
check "omx-hold lowered its limit and blocked SIGUSR1 (it has a handler)" wait_for 60 grep -qx ready /tmp/hold.out
expect_eq "at home its RLIMIT_NOFILE is 1000 1000" "$(nofile "$pid")" "1000 1000"
check "migrate $pid to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 120 remote "$pid" 2
guest=$(on 2 omctl ps | awk '/guest-of 1 home-pid '"$pid"'$/ {print $1}')
st=$(on 2 cat /proc/"$guest"/status)
expect_match "its guest has uid 65534 in every id" "$st" \
	"^Uid:[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534$"
expect_match "and gid 65534 in every id" "$st" \
	"^Gid:[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534$"
expect_match "no supplementary group" "$st" "^Groups:[[:space:]]*$"
for set in CapInh CapPrm CapEff CapBnd CapAmb; do
	expect_match "no capability in $set" "$st" "^$set:[[:space:]]+0000000000000000$"
done
expect_match "no new privileges" "$st" "^NoNewPrivs:[[:space:]]+1$"
expect_eq "its RLIMIT_NOFILE on node 2 is 1000 1000" "$(on 2 awk "'/^Max open files/ {print \$4, \$5}'" /proc/"$guest"/limits)" "1000 1000"
# A SIGUSR1 sent at home reaches the guest and stays pending (blocked): it is charged to the
# user the guest runs as, so user 65534's processes on node 2 count it in SigQ.
kill -USR1 "$pid"
check "SIGUSR1 sent at home is pending in the guest" \
	wait_for 60 on 2 "grep -Eq '^(SigPnd|ShdPnd):[[:space:]]*0*200$' /proc/$guest/status"
sigq=$(on 2 omx-as 65534 cat /proc/self/status | awk '$1 == "SigQ:" {split($2, q, "/"); print q[1]}')
check "it counts in user 65534's pending signals on node 2 (SigQ $sigq)" test "${sigq:-0}" -ge 1
# Root at home lowers the limit while the process is away: the image its host sends back
# carries 1000, and must not raise it again.
check "root at home lowers its RLIMIT_NOFILE to 900" omx-hold --limit "$pid" 900
check "bring $pid home" omctl migrate "$pid" home
check "it runs at home" wait_for 120 home "$pid"
expect_eq "back home its RLIMIT_NOFILE is 900 900, not the host's 1000" "$(nofile "$pid")" "900 900"
check "out again to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 120 remote "$pid" 2
check "and home again" omctl migrate "$pid" home
check "it runs at home" wait_for 120 home "$pid"
expect_eq "after 1 -> 2 -> home its RLIMIT_NOFILE is exactly 900 900" "$(nofile "$pid")" "900 900"
kill "$pid"
wait "$pid"
expect_eq "omx-hold ends with SIGTERM" "$?" 143

# --- Page 0: refused by the host. ------------------------------------------------------------
omx-hold 600 1000 zero >/tmp/zero.out &
pid=$!
check "omx-hold mapped page 0 at home" wait_for 60 grep -qx ready /tmp/zero.out
said=$(omctl migrate "$pid" 2 2>&1)
expect_eq "omctl migrate fails" "$?" 1
expect_eq "and says why, and where the process is" "$said" \
	"omctl: process $pid did not move to node 2: Operation not permitted (os error 1); it stays home (the kernel log says more)"
check "node 2 refuses it" \
	wait_for 120 sh -c "dmesg | grep -q 'migrate $pid to node 2: refused: error -1; it stays home'"
check "node 2 says why" on 2 "dmesg | grep -Eq 'area at 0x0 starts below 0x[0-9a-f]+, the lowest address'"
check "it goes on at home" wait_for 300 home "$pid"
kill "$pid"
wait "$pid"
expect_eq "omx-hold with page 0 ends with SIGTERM" "$?" 143
check "node 2 hosts no guest afterwards" wait_for 10 sh -c "! on 2 omctl ps | grep -q guest-of"

finish
