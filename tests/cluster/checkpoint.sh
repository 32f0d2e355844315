# SPDX-License-Identifier: GPL-2.0
# nodes: 3
# timeout: 1200
# Checkpoint and restart (omctl checkpoint, omctl restart): omx-ckpt (memory checked round
# after round, FPU state, an output file written as it goes, a SIGUSR1 handler, its working
# directory, its three interval timers armed, a blocked SIGUSR2 waiting) is saved while it
# waits mid-run and killed, restarted, moved to node 2, saved
# again while it computes there (captured on node 2, streamed home), finished there: its output file and standard output are
# byte-identical to a run never interrupted. The second checkpoint is restarted straight onto
# node 3 and finishes with the same output. Incremental saves (--parent): a chain of a whole
# save and four that add to it, one at home and three after it moved to node 2 (captured
# there), those made while it waits a small part of the whole one, is restarted at home from its
# latest and finishes with the same output; a save that is not the latest is refused as a parent. Under `mosrun -C 2`, it is moved to node 2, saved
# there, and node 2 is powered off: its deputy restarts it at home from mosrun's last checkpoint,
# as the same process, and it finishes with the same output (revive.sh has more). A descriptor that cannot be opened again refuses a
# checkpoint (--force saves it as /dev/null); another user's process cannot be saved; damaged
# files are refused by omctl, and by the module when omctl's checks are bypassed, with no oops.
. /lib/cluster/lib.sh

for j in 2 3; do
	check "node $j up" wait_for 60 omctl isup "$j"
done
no_balancing 3

mkdir -p /tmp/ck
cd /tmp/ck || exit 1

# no_pending PID: PID has no signal waiting (its handler ran).
no_pending() {
	! grep -E '^(SigPnd|ShdPnd):' "/proc/$1/status" | grep -qv '[[:space:]]0*$'
}

# poke FILE OFFSET OCTAL: writes one byte into FILE.
poke() {
	printf "\\$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# child_of PID: the pid of PID's child (once it has one).
child_of() {
	awk -v p="$1" '$4 == p { print $1; exit }' /proc/[0-9]*/stat 2>/dev/null | grep .
}

# --- The reference: never interrupted. -----------------------------------------------------------
touch rgate1 rgate2
omx-ckpt ref.out 12 16 /tmp/ck/rgate >ref.log
expect_eq "reference run exits 0" "$?" 0
# Its CPU-time interval timers do not move with it when it migrates (migration.md): those of a
# run that moved are not checked; a chain saved at home, below, keeps them.
expected="waiting 1
waiting 2
done rounds 12 corrupt 0 fpu ok cwd ok signals 2 timers ok usr2 waiting cpu-timers "

# --- Saved while it waits, killed, restarted; saved again while it computes; moved. --------------
omx-ckpt a.out 12 16 /tmp/ck/gate >a.log 2>a.err &
pid=$!
check "omx-ckpt waits at its first gate" wait_for 300 grep -q "waiting 1" a.log
kill -USR1 "$pid"
check "its handler took the first SIGUSR1" wait_for 60 no_pending "$pid"
kill -USR1 "$pid"
check "and the second" wait_for 60 no_pending "$pid"
# Blocked: it waits, and is saved waiting.
kill -USR2 "$pid"
check "checkpoint --kill while it waits" omctl checkpoint "$pid" /tmp/ck/a.ckpt --kill
wait_end 60 "$pid" "the saved process"
wait "$pid"
expect_eq "it was killed after the save" "$?" 137
check "the checkpoint is there" test -s a.ckpt
check_fails "and no partial file" test -e a.ckpt.part
check "omctl restart --check takes it" omctl restart --check a.ckpt

omctl restart a.ckpt >r1.log 2>&1 &
rpid=$!
check "the restarted process runs" wait_for 120 child_of "$rpid"
npid=$(child_of "$rpid")
check "under its saved name" wait_for 60 grep -qx omx-ckpt "/proc/$npid/comm"
touch gate1
check "the restarted process moves to node 2" omctl migrate "$npid" 2
moves=$(grep -c "^[0-9]" /proc/openmosix/moves)
check "saved again while it runs there (captured on node 2)" \
	omctl checkpoint "$npid" /tmp/ck/b.ckpt
check "it is still on node 2" remote "$npid" 2
expect_eq "and did not move for it" "$(grep -c "^[0-9]" /proc/openmosix/moves)" "$moves"
touch gate2
wait_end 600 "$rpid" "omctl restart"
wait "$rpid"
expect_eq "omctl restart exits with the program's status" "$?" 0
check "its output file is the reference's" cmp a.out ref.out
expect_eq "its standard output went on where it was" "$(sed 's/cpu-timers .*/cpu-timers /' a.log)" "$expected"
expect_eq "omctl restart said nothing" "$(cat r1.log a.err)" ""

# --- The second checkpoint, restarted straight onto node 3. --------------------------------------
rm -f gate2
omctl restart --on 3 b.ckpt >r2.log 2>&1 &
rpid=$!
check "the second checkpoint runs again" wait_for 120 child_of "$rpid"
npid=$(child_of "$rpid")
check "on node 3" wait_for 300 remote "$npid" 3
touch gate2
wait_end 600 "$rpid" "omctl restart --on 3"
wait "$rpid"
expect_eq "it exits 0" "$?" 0
check "its output file is the reference's again" cmp a.out ref.out
expect_eq "and its standard output" "$(sed 's/cpu-timers .*/cpu-timers /' a.log)" "$expected"

# --- Incremental saves: a chain, at home then on node 2, restarted from its latest at home. ------
rm -f gate1 gate2
omx-ckpt d.out 12 16 /tmp/ck/gate >d.log 2>d.err &
pid=$!
check "omx-ckpt waits at its first gate (chain)" wait_for 300 grep -q "waiting 1" d.log
check "a whole save" omctl checkpoint "$pid" /tmp/ck/d0.ckpt
check "a save that adds to it, while it still waits" \
	omctl checkpoint "$pid" /tmp/ck/d1.ckpt --parent /tmp/ck/d0.ckpt
check "it moves to node 2" omctl migrate "$pid" 2
touch gate1
check "it computes on to its second gate" wait_for 300 grep -q "waiting 2" d.log
check "a save on node 2 that adds to the second (its memory all rewritten since)" \
	omctl checkpoint "$pid" /tmp/ck/d2.ckpt --parent /tmp/ck/d1.ckpt
check "it is still on node 2" remote "$pid" 2
check "and one more there, while it waits" omctl checkpoint "$pid" /tmp/ck/d3.ckpt --parent d2.ckpt
check_fails "a save that is not its latest is refused as a parent" \
	omctl checkpoint "$pid" /tmp/ck/dx.ckpt --parent /tmp/ck/d1.ckpt
expect_match "and omctl says why" \
	"$(omctl checkpoint "$pid" /tmp/ck/dx.ckpt --parent /tmp/ck/d1.ckpt 2>&1)" "not its latest save"
check_fails "and leaves no file" sh -c 'ls /tmp/ck/dx.ckpt*'
check "the last save ends it" omctl checkpoint "$pid" /tmp/ck/d4.ckpt --parent d3.ckpt --kill
wait_end 60 "$pid" "the process saved in a chain"
sizes=$(for i in 0 1 2 3 4; do echo "d$i $(wc -c <d$i.ckpt)"; done)
echo "$sizes" | sed 's/^/# checkpoint sizes (bytes): /'
whole=$(wc -c <d0.ckpt)
for i in 1 3 4; do
	check "save d$i, made while it waited (d3, d4: on node 2), is under a tenth of the whole one" \
		test "$(wc -c <d$i.ckpt)" -lt $((whole / 10))
done
check "save d2, after its memory was rewritten, holds it: over half the whole one" \
	test "$(wc -c <d2.ckpt)" -gt $((whole / 2))
chain=$(omctl restart --check d4.ckpt)
echo "$chain" | sed 's/^/# /'
expect_eq "omctl restart --check follows the chain" "$(echo "$chain" | grep -c '^adds to d[0-3].ckpt ')" 4
touch gate2
omctl restart d4.ckpt >r3.log 2>&1 &
rpid=$!
wait_end 600 "$rpid" "omctl restart of a chain"
wait "$rpid"
expect_eq "restarted from the chain's latest, it exits 0" "$?" 0
check "its output file is the reference's" cmp d.out ref.out
expect_eq "and its standard output" "$(sed 's/cpu-timers .*/cpu-timers /' d.log)" "waiting 1
waiting 2
done rounds 12 corrupt 0 fpu ok cwd ok signals 0 timers ok usr2 none cpu-timers "
expect_eq "omctl restart said nothing" "$(cat r3.log d.err)" ""
expect_match "a save at home has its timers of CPU time" "$(omctl restart --check d1.ckpt)" \
	"virtual [1-9][0-9]*/0 prof [1-9][0-9]*/0"
omctl restart d1.ckpt >r4.log 2>&1
expect_eq "restarted at home from it, it exits 0" "$?" 0
# Its standard output is d.log again, opened by path at its saved offset and written over from
# there (not truncated: the longer line of the run before leaves its tail after this one).
expect_match "with all its interval timers" "$(sed -n 3p d.log)" "timers ok usr2 none cpu-timers ok$"
cp d2.ckpt d2.keep
poke d2.ckpt 20 1
check_fails "a chain with a damaged save is refused" omctl restart --check d4.ckpt
mv d2.keep d2.ckpt
rm d1.ckpt
expect_match "and one with a save missing" "$(omctl restart d4.ckpt 2>&1)" "d1.ckpt"

# --- Kept by checkpoints (mosrun -C): its node is lost, it finishes at home. ---------------------
omx-ckpt cref.out 12 16 /tmp/ck/rgate >/dev/null
mosrun -C 2 -D /tmp/ck/keep omx-ckpt c.out 12 16 /tmp/ck/cgate >c.log 2>c.err &
mpid=$!
# newer_save: mosrun saved a checkpoint after keep.mark was made.
newer_save() {
	find /tmp/ck/keep -name "mosrun-$mpid.*.ckpt" -newer keep.mark | grep -q .
}
check "mosrun -C starts it" wait_for 120 child_of "$mpid"
cpid=$(child_of "$mpid")
check "it waits at its first gate" wait_for 300 grep -q "waiting 1" c.log
check "it moves to node 2" omctl migrate "$cpid" 2
touch keep.mark
check "mosrun saves it on node 2" wait_for 300 newer_save
check "node 2 loses its power" power_off 2
check "its deputy restarts it at home from mosrun's latest checkpoint" \
	wait_for 300 sh -c "dmesg | grep -q 'process $cpid restarted at home from its checkpoint'"
check "the same process, at home" home "$cpid"
expect_eq "still mosrun's child" "$(child_of "$mpid")" "$cpid"
touch cgate1 cgate2
wait_end 600 "$mpid" "mosrun -C"
wait "$mpid"
expect_eq "mosrun exits with its status" "$?" 0
check_fails "mosrun did not have to run it again itself" grep -q "run again at home" c.err
check "its output file is the one of a run never interrupted" cmp c.out cref.out
expect_eq "and its standard output" "$(sed 's/cpu-timers .*/cpu-timers /' c.log)" "waiting 1
waiting 2
done rounds 12 corrupt 0 fpu ok cwd ok signals 0 timers ok usr2 none cpu-timers "
check_fails "its checkpoints are removed" sh -c "ls /tmp/ck/keep/mosrun-$mpid.* 2>/dev/null | grep -q ."
check "node 2 gets its power back" power_on 2
check "node 2 up again" wait_for 120 omctl isup 2

# --- What cannot be saved. ----------------------------------------------------------------------
sleep 1000 3</dev/zero &
spid=$!
check_fails "a descriptor that cannot be opened again refuses the checkpoint" \
	omctl checkpoint "$spid" /tmp/ck/s.ckpt
check_fails "and leaves no file" sh -c 'ls /tmp/ck/s.ckpt*'
check "--force saves it" omctl checkpoint "$spid" /tmp/ck/s.ckpt --force --kill
wait "$spid"
omctl restart s.ckpt &
rpid=$!
check "the forced checkpoint runs again" wait_for 120 child_of "$rpid"
npid=$(child_of "$rpid")
check "its sleep goes on" wait_for 60 grep -qx sleep "/proc/$npid/comm"
expect_eq "with /dev/null for what could not be saved" "$(readlink "/proc/$npid/fd/3")" /dev/null
kill "$npid"
wait_end 60 "$rpid" "omctl restart of sleep"
wait "$rpid"
expect_eq "omctl restart exits as its process did (SIGTERM)" "$?" 143
# A session leader (setsid, no terminal) is restarted leading a session of its own.
setsid sleep 1000 </dev/null >/dev/null 2>&1 &
ssid=$!
check "setsid sleep runs" wait_for 60 grep -qx sleep "/proc/$ssid/comm"
expect_eq "it leads its session" "$(cut -d' ' -f6 "/proc/$ssid/stat")" "$ssid"
check "it is saved and ended" omctl checkpoint "$ssid" /tmp/ck/sess.ckpt --kill
expect_match "--check says it led its session, with no terminal" "$(omctl restart --check /tmp/ck/sess.ckpt)" \
	"session leader yes group leader yes foreground no terminal none"
omctl restart /tmp/ck/sess.ckpt &
rpid=$!
check "it runs again" wait_for 120 child_of "$rpid"
npid=$(child_of "$rpid")
check "as sleep" wait_for 60 grep -qx sleep "/proc/$npid/comm"
expect_eq "leading a session of its own" "$(cut -d' ' -f6 "/proc/$npid/stat")" "$npid"
kill "$npid"
wait_end 60 "$rpid" "omctl restart of the session leader"
sleep 1000 &
spid=$!
check "checkpoint --stop" omctl checkpoint "$spid" /tmp/ck/stop.ckpt --stop
check "leaves it stopped" wait_for 60 grep -q '^State:.*T' "/proc/$spid/status"
kill -CONT "$spid"
check "until it is continued" wait_for 60 grep -q '^State:.*S' "/proc/$spid/status"
# The node's checkpoint directory: where a save with no file given goes.
expect_eq "admin/ckpt_dir is /var/lib/openmosix/ckpt at first" \
	"$(cat /proc/openmosix/admin/ckpt_dir)" /var/lib/openmosix/ckpt
for bad in ckpt /tmp/../etc /tmp/./x "$(printf '/tmp/a\tb')"; do
	check_fails "admin/ckpt_dir refuses '$bad'" sh -c "printf '%s' '$bad' >/proc/openmosix/admin/ckpt_dir"
done
check "and says why in the log" sh -c "dmesg | grep -q 'admin/ckpt_dir:.*not an absolute path'"
expect_eq "and keeps its value" "$(cat /proc/openmosix/admin/ckpt_dir)" /var/lib/openmosix/ckpt
check "admin/ckpt_dir takes /tmp/ck/auto" sh -c "echo /tmp/ck/auto >/proc/openmosix/admin/ckpt_dir"
check "a save with no file given" omctl checkpoint "$spid"
auto=$(ls /tmp/ck/auto/"$spid".*.ckpt 2>/dev/null | head -n 1)
check "goes to the node's checkpoint directory" test -s "$auto"
check "as a whole checkpoint" omctl restart --check "$auto"
echo /var/lib/openmosix/ckpt >/proc/openmosix/admin/ckpt_dir
: >/tmp/u.ckpt
chmod 666 /tmp/u.ckpt
check_fails "another user cannot save root's process" \
	omx-as 65534 sh -c "exec 5>>/tmp/u.ckpt && echo '$spid 5' >/proc/openmosix/checkpoint"
expect_eq "and nothing of it is written" "$(wc -c </tmp/u.ckpt)" 0
check_fails "a process cannot save itself" \
	sh -c 'exec 5>>/tmp/u.ckpt && echo "$$ 5" >/proc/openmosix/checkpoint'
check_fails "a file not open for appending is refused" \
	sh -c "exec 5>/tmp/u.ckpt && echo '$spid 5' >/proc/openmosix/checkpoint"
check "the refused process runs on" kill -0 "$spid"
rm -f /tmp/u.ckpt
kill "$spid"
check_fails "a bad request is refused" sh -c 'echo "1 nonsense" >/proc/openmosix/checkpoint'
check_fails "a release of a process not held is refused" \
	sh -c "echo '$spid continue' >/proc/openmosix/checkpoint"

# --- Damaged files. ------------------------------------------------------------------------------
# u8s FILE OFFSET COUNT: the bytes at OFFSET, in decimal.
u8s() {
	od -An -tu1 -j "$2" -N "$3" "$1" | tr -s ' \n' '  '
}
# rec_off FILE N: where record N (1: Begin) of checkpoint FILE's image starts.
rec_off() {
	_o=16
	_i=1
	while [ "$_i" -lt "$2" ]; do
		# shellcheck disable=SC2046 # four numbers
		set -- "$1" "$2" $(u8s "$1" $((_o + 4)) 4)
		_o=$((_o + 8 + ($3 << 24) + ($4 << 16) + ($5 << 8) + $6))
		_i=$((_i + 1))
	done
	echo "$_o"
}
size=$(wc -c <a.ckpt)
head -c $((size / 2)) a.ckpt >cut.ckpt
cp a.ckpt version.ckpt
poke version.ckpt 9 7
cp a.ckpt magic.ckpt
poke magic.ckpt 0 0
cp a.ckpt huge.ckpt
off=$(rec_off a.ckpt 8)
poke huge.ckpt $((off + 4)) 177
cp a.ckpt tail.ckpt
printf 'x' >>tail.ckpt
for f in cut version magic huge tail; do
	check_fails "omctl restart refuses a damaged file ($f)" omctl restart "$f.ckpt"
	expect_match "and says so ($f)" "$(omctl restart "$f.ckpt" 2>&1)" "not a usable checkpoint"
done
# The module checks the image itself: omctl's checks bypassed (its restarting half run by hand).
set -- $(omctl restart --check a.ckpt)
home_at=$4
vdso=$6
cp a.ckpt xstate.ckpt
off=$(rec_off a.ckpt 3)
poke xstate.ckpt $((off + 8 + 512 + 6)) 377
omctl _restart xstate.ckpt 16 "$home_at" "$vdso" 2>x.err
expect_eq "the module refuses a bad FPU state before anything is replaced" "$?" 125
expect_match "and the process is told" "$(cat x.err)" "refused"
cp a.ckpt vma.ckpt
off=$(rec_off a.ckpt 8)
poke vma.ckpt "$off" 377
omctl _restart vma.ckpt 16 "$home_at" "$vdso" 2>/dev/null
expect_eq "the module refuses a bad record after its memory went: the process is killed" "$?" 137
check "the kernel log says why" sh -c "dmesg | grep -q 'checkpoint image:'"
check_fails "no kernel warning" sh -c "dmesg | grep -E 'BUG|WARNING|Oops'"

cd / && rm -rf /tmp/ck
nothing_left 3
finish
