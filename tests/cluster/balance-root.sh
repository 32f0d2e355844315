# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 600
# The balancer leaves root's processes home: with node 1 loaded by three CPU-bound jobs of root
# and one equal job of an ordinary user (uid 65534), the balancer moves the ordinary job to
# node 2 and none of root's while admin/migrate_root is 0 (its default); once it is 1, it moves
# one of root's too. A bad value for the knob is refused with EINVAL and a log line; a manual
# migration of a root process stays allowed whatever the knob says.
. /lib/cluster/lib.sh

check "node 2 up" wait_for 10 omctl isup 2

expect_eq "admin/migrate_root is 0 by default" "$(cat /proc/openmosix/admin/migrate_root)" 0
check_fails "admin/migrate_root refuses 2" sh -c "echo 2 >/proc/openmosix/admin/migrate_root"
expect_match "the refusal is logged" "$(dmesg | tail -n 20)" "admin/migrate_root: .*2"
expect_eq "admin/migrate_root is still 0" "$(cat /proc/openmosix/admin/migrate_root)" 0

# root_away: prints the pids of root's jobs that run elsewhere now; fails if there is none.
root_away() {
	_any=1
	for _p in $roots; do
		if omctl ps | grep -q "^$_p [0-9]* remote$"; then
			echo "$_p"
			_any=0
		fi
	done
	return $_any
}

roots=""
for i in 1 2 3; do
	omx-burn 4 1000000 >/dev/null &
	roots="$roots $!"
done
omx-as 65534:65534 omx-burn 4 1000000 >/dev/null &
user=$!
# omx-as sets its ids, then becomes omx-burn.
check "the ordinary job runs as uid 65534" wait_for 30 \
	sh -c "grep -qE '^Uid:[[:space:]]+65534[[:space:]]+65534' /proc/$user/status"
expect_match "root's jobs run as uid 0" "$(grep '^Uid:' /proc/${roots##* }/status)" \
	"^Uid:[[:space:]]+0[[:space:]]+0"

# --- 1. migrate_root 0: the ordinary job moves, root's stay. ---------------------------------------
check "the balancer moves the ordinary job to node 2" wait_for 240 remote "$user" 2
expect_match "it logged the move" "$(dmesg)" "balancer: process $user to node 2 "
# Node 1 still runs three jobs to node 2's one: a balancer free to move root's would move another
# within a few rounds (of 1 s, after 2 s of residency and settling). Watch for 30 s.
t0=$(now_ms)
moved=""
while [ $(($(now_ms) - t0)) -lt 30000 ]; do
	for p in $(root_away); do
		case "$moved " in *" $p "*) ;; *) moved="$moved $p" ;; esac
	done
	sleep 0.5
done
expect_eq "with migrate_root 0, no job of root left node 1" "$moved" ""
for p in $roots; do
	expect_eq "the balancer never picked root's job $p" "$(dmesg | grep -c "balancer: process $p ")" 0
done

# --- 2. migrate_root 1: root's jobs may go too. ---------------------------------------------------
check "admin/migrate_root takes 1" sh -c "echo 1 >/proc/openmosix/admin/migrate_root"
check "the balancer moves a job of root's to node 2" wait_for 240 root_away
first=$(root_away | head -n 1)
expect_match "the balancer logged moving root's job" "$(dmesg)" "balancer: process $first to node 2 "
check "admin/migrate_root takes 0" sh -c "echo 0 >/proc/openmosix/admin/migrate_root"

# --- 3. By hand, root moves root's processes whatever the knob says. ------------------------------
for p in $roots; do
	remote "$p" 2 || break
done
if ! remote "$p" 2; then
	check "omctl migrate moves root's job $p with migrate_root 0" omctl migrate "$p" 2
	check "it runs on node 2" wait_for 60 remote "$p" 2
fi

for p in $roots $user; do
	kill -9 "$p" 2>/dev/null
done
for p in $roots $user; do
	wait "$p" 2>/dev/null
done
check "every job ended" wait_for 60 sh -c "! omctl ps | grep -q remote"
finish
