# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 900
# Blocking calls interrupted by a move and by a signal sent while the move is under way (the
# process, 160 MiB, takes a while to move): `pause` moving to node 2 with a `SIGUSR1` and a
# forwarded `read` coming home with a `SIGUSR1` end with `EINTR` once the handler ran (they once
# ran the handler and then waited on for ever); a `read` moving away with a `SIGUSR2` whose
# handler has `SA_RESTART` goes on and reads what comes; a `nanosleep` cut by a move with no
# signal sleeps its whole time; an `epoll_wait` cut by moves with no signal (at home, and in its
# deputy) waits on and sees the line written after.
. /lib/cluster/lib.sh

check "node 2 up" wait_for 20 omctl isup 2
no_balancing 2

rm -f /tmp/intr.in
mkfifo /tmp/intr.in
omx-intr 160 20 </tmp/intr.in >/tmp/intr.out &
pid=$!
# The writer stays open (fd 4): the reads see no end of file.
exec 4>/tmp/intr.in
check "omx-intr is ready" wait_for 120 grep -qx ready /tmp/intr.out
line() {
	grep -qx "$1" /tmp/intr.out
}
ended_or() {
	kill -0 "$pid" 2>/dev/null || return 0
	line "$1"
}

# 1. In pause at home; moved to node 2, SIGUSR1 sent as the move starts.
check "it waits in pause" wait_for 60 sh -c "grep -q '^34 ' /proc/$pid/syscall"
check "migrate $pid to node 2" omctl migrate --no-wait "$pid" 2
kill -USR1 "$pid"
check "it runs on node 2" wait_for 300 remote "$pid" 2 || show_stuck "$pid" "is not on node 2"
wait_for 120 ended_or "pause -4 usr1 1" >/dev/null
check "pause ended with EINTR after its handler ran" line "pause -4 usr1 1" ||
	show_stuck "$pid" "is still in pause"

# 2. In a read its deputy makes at home; brought home, SIGUSR1 sent as the move starts.
check "its deputy makes its read" wait_for 60 sh -c "grep -q '^0 ' /proc/$pid/syscall"
check "bring $pid home" omctl migrate --no-wait "$pid" home
kill -USR1 "$pid"
check "it runs at home again" wait_for 300 home "$pid" || show_stuck "$pid" "is not home"
wait_for 120 ended_or "read -4 usr1 2" >/dev/null
check "the read ended with EINTR after its handler ran" line "read -4 usr1 2" ||
	show_stuck "$pid" "is still in its read"

# 3. In a read at home; moved to node 2, SIGUSR2 (SA_RESTART) sent as the move starts: the read
# goes on, on node 2, and gets what is written then.
check "it reads again" wait_for 60 sh -c "grep -q '^0 ' /proc/$pid/syscall"
check "migrate $pid to node 2 again" omctl migrate --no-wait "$pid" 2
kill -USR2 "$pid"
check "it runs on node 2 again" wait_for 300 remote "$pid" 2 || show_stuck "$pid" "is not on node 2"
check "its deputy makes the read again" wait_for 60 sh -c "grep -q '^0 ' /proc/$pid/syscall"
echo go >&4
check "the read went on after the handler and read the line" \
	wait_for 120 line 'restarted read 3 "go\\n" usr2 1'

# 4. In a 20 s nanosleep on node 2; brought home without a signal.
check "bring $pid home again" omctl migrate "$pid" home
check "it runs at home once more" wait_for 300 home "$pid" || show_stuck "$pid" "is not home"

# 5. In epoll_wait for its standard input at home; moved to node 2 and home again without a
# signal (the moves cut the wait, at home and in its deputy): it waits on, and sees the line.
check "it waits in epoll_wait" wait_for 120 sh -c "grep -q '^232 ' /proc/$pid/syscall"
check "migrate $pid to node 2 a third time" omctl migrate "$pid" 2
check "its deputy makes the epoll_wait" wait_for 60 sh -c "grep -q '^232 ' /proc/$pid/syscall"
check "bring $pid home a third time" omctl migrate "$pid" home
check "it waits in epoll_wait at home again" wait_for 60 sh -c "grep -q '^232 ' /proc/$pid/syscall"
echo x >&4
wait_end 300 "$pid" "omx-intr"
wait "$pid"
expect_eq "omx-intr exits 0 (its memory as it was)" "$?" 0
expect_eq "the sleep cut by the move took its whole time" "$(sed -n 5p /tmp/intr.out)" \
	"slept 0 at least 20 s"
expect_eq "the epoll_wait cut by two moves ended with the line" "$(sed -n 6p /tmp/intr.out)" \
	"epoll 1 then read 2"
exec 4>&-
cat /tmp/intr.out
dmesg | grep -E "process $pid (now runs|is back)" | sed 's/^/# /'
nothing_left 2
finish
