# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 300
# The host of a guest loses power while the guest's deputy is making a forwarded call that
# blocks (a read of a pipe that never gets data): the home process ends with SIGKILL status
# within the failure-detection timeout, as it does when the deputy is idle (migrate.sh), instead
# of staying blocked until the call returns.
. /lib/cluster/lib.sh

check "node 2 up" wait_for 10 omctl isup 2
no_balancing 2
timeout_ms=$(cat /proc/openmosix/admin/timeout_ms)
blocked_reader 2
cut=$(now_ms)
power_off 2
wait "$pid"
st=$?
ms=$(($(now_ms) - cut))
expect_eq "the home process ends with SIGKILL status (137)" "$st" 137
check "within the timeout + 2 s ($ms ms; timeout $timeout_ms ms)" test "$ms" -le $((timeout_ms + 2000))
expect_match "node 1 logged why" "$(dmesg | tail -5)" "went down with its guest"
expect_eq "node 1 has no migration left" "$(omctl ps | grep -vc '^#')" 0
kill "$writer"
finish
