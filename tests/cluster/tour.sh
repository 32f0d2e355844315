# SPDX-License-Identifier: GPL-2.0
# nodes: 3
# timeout: 700
# Ordinary programs, each migrated mid-run 1 -> 2 -> 3 -> home, produce byte-identical output and
# the same exit status as runs that never moved: omx-burn (a checksum over 200 MB of heap);
# omx-fpu (all sixteen AVX registers, x87 registers and both rounding-mode control words live
# across the moves); omx-io (files by relative paths in its home directory, lseek, O_APPEND,
# reads and writes of a regular file of 1 MiB in one call done whole, statfs, flock, inotify, a
# memfd, utimensat, linkat, a SysV semaphore, an extended attribute, a directory listing,
# standard error on the home terminal, epoll, sendmsg/recvmsg, datagrams with their source
# address, a pipe from a local process), round after round on every node; omx-sig
# (a handler set where it runs, signals to itself by kill, tkill, tgkill, rt_sigqueueinfo and
# rt_tgsigqueueinfo, a SIGALRM handler, alarm and pause, an interval timer, a POSIX timer, a
# blocking read interrupted with EINTR), round after round on every node, and its abort() on
# node 2; busybox
# sha256sum, sort and gzip on large input fed slowly through a pipe from a local process.
. /lib/cluster/lib.sh

for j in 2 3; do
	check "node $j up" wait_for 20 omctl isup "$j"
done
no_balancing 3

# --- A CPU-bound checksum over 200 MB of heap. ---------------------------------------------------
omx-burn 200 240 >/tmp/burn.ref
ref=$?
echo "reference run: exit status $ref: $(cat /tmp/burn.ref)"
omx-burn 200 240 >/tmp/burn.out &
pid=$!
sleep 3
tour "$pid" 1
wait "$pid"
expect_eq "omx-burn 200 MB exits as the reference did after its tour" "$?" "$ref"
expect_eq "with the same checksum, its home pid and parent" \
	"$(cat /tmp/burn.out)" "$(sed "s/ pid [0-9]* / pid $pid /" /tmp/burn.ref)"

# --- FPU, SSE and AVX state. ---------------------------------------------------------------------
omx-fpu 15 >/tmp/fpu.out &
pid=$!
sleep 1
tour "$pid" 2
wait_end 300 "$pid" "omx-fpu after its tour"
wait "$pid"
expect_eq "omx-fpu exits 0 after its tour" "$?" 0
cat /tmp/fpu.out
n=$(awk '{print $4}' /tmp/fpu.out)
expect_match "it ran with AVX and its own rounding modes" "$(cat /tmp/fpu.out)" \
	"^avx yes chunks [0-9]* mxcsr 7fa0 fcw 0a7f "
expect_eq "its registers' sums are those of $n chunks that never moved" \
	"$(cat /tmp/fpu.out)" "$(omx-fpu -n "$n")"

# --- Files, directories and a pipe at home. -------------------------------------------------------
mkdir -p /tmp/io.ref /tmp/io.mig
(cd /tmp/io.ref && seq 1 20000 | omx-io 1.5 8 >/tmp/io.ref.out)
expect_eq "omx-io at home succeeds" "$?" 0
cd /tmp/io.mig
seq 1 20000 | omx-io 1.5 8 >/tmp/io.mig.out &
pid=$!
cd /root
sleep 0.5
tour "$pid" 2
wait_end 300 "$pid" "omx-io after its tour"
wait "$pid"
expect_eq "omx-io exits 0 after its tour" "$?" 0
expect_eq "it worked in its home directory" "$(sed -n 2p /tmp/io.mig.out)" "cwd /tmp/io.mig"
expect_eq "its transcript is the reference's" "$(grep -v '^cwd' /tmp/io.mig.out)" \
	"$(grep -v '^cwd' /tmp/io.ref.out)"
expect_eq "its file is at home" "$(md5sum </tmp/io.mig/moved.txt)" "$(md5sum </tmp/io.ref/moved.txt)"
expect_eq "each round, one call wrote or read 1 MiB of a regular file whole, home or away" \
	"$(grep '^whole' /tmp/io.mig.out | sort -u)" \
	"whole: write 1048579, pwrite 600000, read 1048579 (true), pread 700000 (true)"
# Calls forwarded to the deputy: each round, home or away, the results they have at home (the
# transcript's inotify and extended-attribute lines are compared with the reference only: the
# test kernel has neither CONFIG_INOTIFY_USER nor CONFIG_TMPFS_XATTR, so both fail alike).
for line in "flock 0 0" \
	'memfd true: wrote 10, read "in a memfd"' \
	"utimensat 0: mtime 1234567890; linkat 0: 2 links" \
	"semaphore true: 0 0 -11, value 1, removed 0"; do
	expect_eq "every round: $line" "$(grep -cxF "$line" /tmp/io.mig.out)" 8
done
expect_eq "every round: statfs and fstatfs agree" \
	"$(grep -c '^statfs 0 fstatfs 0: type 0x[0-9a-f]*, same true$' /tmp/io.mig.out)" 8

# --- Signal handlers, alarm, an interval timer, a blocking read interrupted. -----------------------
# The timers run at home (alarm, setitimer and getitimer are forwarded to the deputy); their
# SIGALRM is forwarded to the guest, whose handler runs there; the signal interrupts a forwarded
# read blocked at home with EINTR, as the handler (no SA_RESTART) says.
# Its standard input is a pipe whose writer (this script, fd 4) stays open however long the
# tour takes: the reads never see its end.
rm -f /tmp/idle.in
mkfifo /tmp/idle.in
omx-sig 0.5 5 </tmp/idle.in >/tmp/sig.ref &
pid=$!
exec 4>/tmp/idle.in
wait "$pid"
expect_eq "omx-sig at home succeeds" "$?" 0
exec 4>&-
omx-sig 0.5 5 </tmp/idle.in >/tmp/sig.out &
pid=$!
exec 4>/tmp/idle.in
sleep 0.3
tour "$pid" 2
wait_end 300 "$pid" "omx-sig after its tour"
wait "$pid"
expect_eq "omx-sig exits 0 after its tour" "$?" 0
expect_eq "with the reference's transcript" "$(cat /tmp/sig.out)" "$(cat /tmp/sig.ref)"
exec 4>&-

# --- abort(): SIGABRT sent by the process to itself (tkill) is delivered where it runs. ---------
# The migrated run burns the CPU until this script's SIGALRM (sent once it runs on node 2) ends
# that phase.
omx-sig 0 1 abort </tmp/idle.in >/tmp/abort.ref &
pid=$!
exec 4>/tmp/idle.in
wait "$pid"
expect_eq "omx-sig abort at home dies of SIGABRT" "$?" 134
exec 4>&-
omx-sig 3600 1 abort </tmp/idle.in >/tmp/abort.out &
pid=$!
exec 4>/tmp/idle.in
check "migrate $pid to node 2" omctl migrate "$pid" 2
check "it runs on node 2" wait_for 300 remote "$pid" 2
kill -ALRM "$pid"
wait "$pid"
expect_eq "moved to node 2, it dies of SIGABRT there as at home" "$?" 134
expect_eq "with the reference's transcript" "$(cat /tmp/abort.out)" "$(cat /tmp/abort.ref)"
exec 4>&-

# --- busybox, unmodified and static, on large input from a pipe. ----------------------------------
head -c 24000000 /dev/urandom >/tmp/big
busybox od -An -tx4 -w8 -v /tmp/big | head -n 400000 >/tmp/lines
for tool in "sha256sum" "sort" "gzip -1 -c"; do
	# shellcheck disable=SC2086 # the tool's arguments
	case $tool in
	sort) input=/tmp/lines ;;
	*) input=/tmp/big ;;
	esac
	busybox $tool <"$input" | md5sum >/tmp/tool.ref
	omx-trickle 12 "$input" | busybox $tool >/tmp/tool.out &
	pid=$!
	sleep 1
	tour "$pid" 2
	wait_end 300 "$pid" "busybox $tool after its tour"
	wait "$pid"
	expect_eq "busybox $tool exits 0 after its tour" "$?" 0
	expect_eq "with the reference's output" "$(md5sum </tmp/tool.out)" "$(cat /tmp/tool.ref)"
done
rm -f /tmp/big /tmp/lines /tmp/tool.out

expect_eq "node 1 has no migration left" "$(omctl ps | grep -vc '^#')" 0
for i in 2 3; do
	expect_eq "node $i hosts no guest" "$(on "$i" omctl ps | grep -c guest-of)" 0
done
finish
