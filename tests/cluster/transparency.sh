# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 1200
# Transparency: small programs of our own (`omx-t`), each checking its own view of signals,
# descriptors and messages and printing PASS or FAIL for each check, run three ways: never
# moved; moved to node 2 mid-run and brought home; moved to node 2 mid-run and ending there.
# Every run must pass every check, exit 0 and print the transcript of the run that never moved.
# Cases: signalfd (blocked signals read through a signalfd), sigwait (sigpending, sigtimedwait,
# a blocked caught signal run when unblocked), masks (pselect6, ppoll and epoll_pwait with a
# signal mask), scm (SCM_RIGHTS and SCM_CREDENTIALS over a Unix socket pair, MSG_CTRUNC), msgq
# (a SysV message queue at home: msgsnd, msgrcv, msgctl), limits (resource limits set at home
# and in force where the process runs), usage (CPU time counted wherever it was used, by the
# process and by its parent's wait), procself (/proc/self of its memory, ids, program and files),
# prctl (its name at home and here, options at home and options here), ioctl (commands without
# their size in their number: interfaces, queues, files), mmsg (sendmmsg and recvmmsg), pvec
# (preadv, pwritev and their 2 forms; pidfd_open, pidfd_send_signal), sysv (semctl and shmctl
# with their structures), itimer (CPU-time interval timers where the process runs), fmap (file
# mappings made away paged from home: private, shared read-only, a 1 GiB file touched at one
# page, moved on with the process; and with admin/page_files 1, file mappings paged from home
# from the first move), rseq (the C library's restartable-sequences registration in force
# wherever the process runs, its CPU ids kept current by the kernel), clocks (monotonic and
# boot clocks go on across moves to a node that booted later), and the classes every program
# uses: pipes, sockets, epoll, handlers, timers, files, ids, memory, fdops, events, locks; and of
# processes (procs.rs: jobctl, children, exec, sched, futex, sleeps) and of devices, datagrams,
# directories, the CPU and the system (devs.rs: tty, udp, dirs, devices, fpu, uname).
. /lib/cluster/lib.sh

check "node 2 up" wait_for 20 omctl isup 2
no_balancing 2

# run_case CASE MODE: runs `omx-t CASE` in a directory of its own, MODE `home` (never moved),
# `back` (to node 2 after part 1, home after part 2) or `away` (to node 2 after part 1, ends
# there); its transcript goes to /tmp/t.CASE.MODE.out.
run_case() {
	_case=$1
	_mode=$2
	_d=/tmp/t.$_case.$_mode
	rm -rf "$_d"
	mkdir -p "$_d"
	omx-t "$_case" "$_d" >"$_d.out" 2>&1 &
	_top=$!
	_pid=$_top
	for _k in 1 2; do
		check "$_case ($_mode): part $_k reached" wait_for 300 test -e "$_d/at.$_k"
		# A case that works in a child of its own names the child, which is the one to move.
		[ "$_k" = 1 ] && [ -s "$_d/pid" ] && _pid=$(cat "$_d/pid")
		case "$_mode.$_k" in
		back.1 | away.1)
			check "$_case: migrate $_pid to node 2" omctl migrate "$_pid" 2
			check "$_case: it runs on node 2" wait_for 300 remote "$_pid" 2
			;;
		back.2)
			check "$_case: bring $_pid home" omctl migrate "$_pid" home
			check "$_case: it runs at home again" wait_for 300 home "$_pid"
			;;
		away.2)
			check "$_case: it still runs on node 2" remote "$_pid" 2
			;;
		esac
		touch "$_d/go.$_k"
	done
	wait_end 600 "$_top" "$_case ($_mode)"
	wait "$_top"
	expect_eq "$_case ($_mode) exits 0" "$?" 0
	expect_eq "$_case ($_mode): no check failed" "$(grep '^FAIL' "$_d.out")" ""
}

for c in signalfd sigwait masks scm msgq limits usage procself prctl ioctl mmsg pvec sysv itimer fmap rseq \
	pipes sockets epoll handlers timers files ids memory fdops events locks \
	jobctl children exec sched futex sleeps tty udp dirs devices fpu uname; do
	run_case "$c" home
	echo "$c: $(grep -c '^PASS' "/tmp/t.$c.home.out") checks passed never moved"
	for mode in back away; do
		run_case "$c" "$mode"
		expect_eq "$c ($mode): the transcript of the run that never moved" \
			"$(cat "/tmp/t.$c.$mode.out")" "$(cat "/tmp/t.$c.home.out")"
	done
done

# The away run's 1 GiB mapping was made on node 2 and paged from home: its page came, no more
# than 64 KiB did (the case checks the bound; here, that something did come).
_paged=$(cat /tmp/t.fmap.away/paged.2 2>/dev/null)
echo "fmap: touching one page of a 1 GiB file mapped away moved ${_paged:-?} bytes from home"
check "fmap (away): the page came from home" test "${_paged:-0}" -ge 4096

# admin/page_files 1: a process leaving home takes its file mappings paged from home; the same
# case passes moved away and back with the same transcript. A value other than 0 or 1 is refused.
check_fails "admin/page_files refuses 2" sh -c 'echo 2 >/proc/openmosix/admin/page_files'
expect_eq "admin/page_files is 0 by default" "$(cat /proc/openmosix/admin/page_files)" 0
echo 1 >/proc/openmosix/admin/page_files
for mode in back away; do
	run_case fmap "$mode"
	expect_eq "fmap ($mode, admin/page_files 1): the transcript of the run that never moved" \
		"$(cat "/tmp/t.fmap.$mode.out")" "$(cat /tmp/t.fmap.home.out)"
done
echo 0 >/proc/openmosix/admin/page_files

# clocks: node 2 boots again, so that its CLOCK_MONOTONIC and CLOCK_BOOTTIME are far behind
# node 1's (by this scenario's run time); a process moved there must not see them go back.
power_off 2
check "node 2 boots again" power_on 2
check "node 2 up again" wait_for 60 omctl isup 2
check "node 2 moves no guest by itself" \
	on 2 "echo 3600000 >/proc/openmosix/admin/min_residency_ms"
_up1=$(cut -d' ' -f1 /proc/uptime)
_up2=$(on 2 "cut -d' ' -f1 /proc/uptime")
echo "clocks: node 1 up $_up1 s, node 2 up $_up2 s"
run_case clocks home
for mode in back away; do
	run_case clocks "$mode"
	expect_eq "clocks ($mode): the transcript of the run that never moved" \
		"$(cat "/tmp/t.clocks.$mode.out")" "$(cat /tmp/t.clocks.home.out)"
done

nothing_left 2
finish
