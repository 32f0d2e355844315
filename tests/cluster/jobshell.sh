# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 600
# An interactive shell at home (busybox ash on a pseudo-terminal that omx-pty drives) controls a
# job that migrated to node 2 as one that never moved: Ctrl-Z stops it (the shell's "Stopped"
# line, `jobs`), `bg` continues it (it runs on node 2 again), `fg` brings it to the foreground
# (the terminal's foreground group), Ctrl-C ends it and `$?` is 130; a moved background job that
# reads the terminal is stopped by SIGTTIN ("Stopped (tty input)") and, brought to the
# foreground, reads the line typed next. Each step's transcript is the one the same session
# gives with a job that never moved, run first as the reference. A foreground reader saved and
# ended, then restarted with `omctl restart` from the shell, leads its own group in the
# terminal's foreground, is stopped by Ctrl-Z and continued by `fg` as a job (through omctl),
# reads the line typed next, and the shell has the terminal back.
. /lib/cluster/lib.sh

check "node 2 up" wait_for 60 omctl isup 2
no_balancing 2

BURN='omx-burn 8 1000000'
READER='omx-pty --reader /tmp/go'

# shown: the session's transcript as it reads, without carriage returns and without the
# cursor-position queries of the shell's line editor.
shown() {
	tr -d '\r\033' <"${1:-$tr}" | sed 's/\[6n//g'
}

# prompts: how many prompts the shell has printed.
prompts() {
	shown | grep -c '^omsh\$ '
}

# more_prompts N: the shell has printed more than N prompts.
more_prompts() {
	[ "$(prompts)" -gt "$1" ]
}

# named LINE: the shell printed LINE alone on a line (as `fg` names its job).
named() {
	shown | grep -qxF "$1"
}

# children PID: the pids of PID's children.
children() {
	awk -v p="$1" '$4 == p {print $1}' /proc/[0-9]*/stat 2>/dev/null
}

# has_child PID: PID has a child.
has_child() {
	[ -n "$(children "$1")" ]
}

# in_state PID STATE: process PID (at home) is in STATE (a letter).
in_state() {
	[ "$(awk '/^State:/ {print $2}' /proc/"$1"/status)" = "$2" ]
}

# not_in_state PID STATE: process PID (at home) is alive and not in STATE.
not_in_state() {
	_s=$(awk '/^State:/ {print $2}' /proc/"$1"/status) && [ -n "$_s" ] && [ "$_s" != "$2" ]
}

# foreground PID: the terminal of process PID has PID's group in the foreground.
foreground() {
	[ "$(cut -d' ' -f8 /proc/"$1"/stat)" = "$1" ]
}

# guest_in PID STATE: process PID's guest on node 2 is in STATE (a letter).
guest_in() {
	_g=$(on 2 omctl ps | awk '/guest-of 1 home-pid '"$1"'$/ {print $1}')
	[ -n "$_g" ] && on 2 "grep -q '^State:.$2' /proc/$_g/status"
}

# key_in TEXT: types TEXT (printf's escapes: \n Enter, \032 Ctrl-Z, \003 Ctrl-C) on the shell's
# terminal; its output from here on is what `since_typed` prints.
key_in() {
	mark=$(shown | wc -c)
	# shellcheck disable=SC2059 # TEXT holds the escapes to type
	printf "$1" >"$in"
}

# since_typed: what the terminal printed since the last `key_in`.
since_typed() {
	shown | tail -c +$((mark + 1))
}

# enter TEXT: types the line TEXT and waits for the shell's next prompt.
enter() {
	_n=$(prompts)
	key_in "$1\n"
	check "$run: '$1' done" wait_for 120 more_prompts "$_n"
}

# observe NAME: records what the terminal printed since the last `key_in` as observation NAME of
# this run.
observe() {
	since_typed >"/tmp/$run.$1"
}

# session RUN MOVE: the whole session, observations in /tmp/RUN.*; with MOVE=yes the jobs are
# migrated to node 2 once started.
session() {
	run=$1
	tr=/tmp/$run.tr
	in=/tmp/$run.in
	rm -f "$tr" "$in" /tmp/go
	mkfifo "$in"
	env PS1='omsh$ ' omx-pty "$in" "$tr" busybox sh -i &
	pty=$!
	check "$run: the shell prompts" wait_for 120 more_prompts 0
	shell=$(children "$pty")
	expect_eq "$run: the shell runs under omx-pty" "$(cat /proc/"$shell"/comm 2>/dev/null)" busybox

	# --- A CPU-bound job in the foreground: Ctrl-Z, jobs, bg, jobs, fg, Ctrl-C. ---------------
	key_in "$BURN\n"
	check "$run: the job started" wait_for 60 has_child "$shell"
	job=$(children "$shell")
	expect_eq "$run: the job is omx-burn" "$(cat /proc/"$job"/comm)" omx-burn
	check "$run: the job is in the terminal's foreground" wait_for 60 foreground "$job"
	if [ "$2" = yes ]; then
		check "$run: migrate $job to node 2" omctl migrate "$job" 2
		check "$run: it runs on node 2" wait_for 300 remote "$job" 2
	fi
	n=$(prompts)
	key_in '\032'
	check "$run: Ctrl-Z: the shell prompts again" wait_for 120 more_prompts "$n"
	observe ctrl-z
	check "$run: the job is stopped at home" wait_for 60 in_state "$job" T
	if [ "$2" = yes ]; then
		check "$run: its guest is stopped on node 2" wait_for 60 guest_in "$job" T
	fi
	enter jobs
	observe jobs-stopped
	enter bg
	observe bg
	if [ "$2" = yes ]; then
		check "$run: bg: it still runs on node 2" remote "$job" 2
		check "$run: bg: its guest runs on node 2 (state R)" wait_for 60 guest_in "$job" R
		check "$run: bg: its home process is no longer stopped" \
			wait_for 60 not_in_state "$job" T
	else
		check "$run: bg: it runs (state R)" wait_for 60 in_state "$job" R
	fi
	enter jobs
	observe jobs-running
	key_in 'fg\n'
	check "$run: fg: the job is in the terminal's foreground" wait_for 60 foreground "$job"
	check "$run: fg: the shell named it" wait_for 60 named "$BURN"
	observe fg
	if [ "$2" = yes ]; then
		check "$run: fg: it still runs on node 2" remote "$job" 2
		check "$run: fg: its guest runs (state R)" wait_for 60 guest_in "$job" R
	fi
	n=$(prompts)
	key_in '\003'
	check "$run: Ctrl-C: the shell prompts again" wait_for 120 more_prompts "$n"
	observe ctrl-c
	check "$run: the job ended" wait_for 60 ended "$job"
	enter 'echo status $?'
	observe status-int
	if [ "$2" = yes ]; then
		check "$run: node 2 keeps no guest of it" \
			wait_for 60 sh -c "! on 2 omctl ps | grep -q 'home-pid $job\$'"
	fi

	# --- A background job that reads the terminal: SIGTTIN, jobs, fg, a line typed. -----------
	enter "$READER &"
	observe reader-started
	reader=$(children "$shell")
	expect_eq "$run: the reader is omx-pty" "$(cat /proc/"$reader"/comm 2>/dev/null)" omx-pty
	if [ "$2" = yes ]; then
		check "$run: migrate the reader $reader to node 2" omctl migrate "$reader" 2
		check "$run: it runs on node 2" wait_for 300 remote "$reader" 2
	fi
	touch /tmp/go
	check "$run: its read of the terminal stops it (state T)" \
		wait_for 120 in_state "$reader" T
	if [ "$2" = yes ]; then
		check "$run: its guest is stopped on node 2" wait_for 60 guest_in "$reader" T
	fi
	enter jobs
	observe jobs-ttin
	key_in 'fg\n'
	check "$run: fg: the reader is in the terminal's foreground" wait_for 60 foreground "$reader"
	check "$run: fg: the shell named it" wait_for 60 named "$READER"
	if [ "$2" = yes ]; then
		check "$run: fg: it is still on node 2" remote "$reader" 2
	fi
	n=$(prompts)
	key_in 'hello\n'
	check "$run: the reader takes the line, the shell prompts again" wait_for 120 more_prompts "$n"
	observe fg-read
	check "$run: the reader ended" wait_for 60 ended "$reader"
	enter 'echo status $?'
	observe status-read
	if [ "$2" = yes ]; then
		check "$run: node 2 keeps no guest of it" \
			wait_for 60 sh -c "! on 2 omctl ps | grep -q 'home-pid $reader\$'"
	fi

	key_in 'exit 7\n'
	wait_end 60 "$pty" "$run: the shell"
	wait "$pty"
	expect_eq "$run: omx-pty exits with the shell's status" "$?" 7
}

STEPS='ctrl-z jobs-stopped bg jobs-running fg ctrl-c status-int reader-started jobs-ttin fg-read status-read'

# The reference: jobs that never move. What a shell shows of them, checked here so that two
# equally wrong sessions cannot pass as equal.
session ref no
stopped=$(printf '\[1\]\+ +Stopped +%s' "$BURN")
expect_match "ref: Ctrl-Z: the shell says the job stopped" "$(cat /tmp/ref.ctrl-z)" "^\^Z$stopped\$"
expect_match "ref: jobs lists it stopped" "$(cat /tmp/ref.jobs-stopped)" "^$stopped\$"
expect_match "ref: bg names it" "$(cat /tmp/ref.bg)" "^\[1\] $BURN\$"
expect_match "ref: jobs lists it running" "$(cat /tmp/ref.jobs-running)" "^\[1\]\+ +Running +$BURN\$"
expect_match "ref: fg names it" "$(cat /tmp/ref.fg)" "^$BURN\$"
expect_match "ref: Ctrl-C ends it" "$(cat /tmp/ref.ctrl-c)" '^\^C$'
expect_match "ref: its status is 130 (SIGINT)" "$(cat /tmp/ref.status-int)" '^status 130$'
expect_match "ref: jobs lists the reader stopped by SIGTTIN" "$(cat /tmp/ref.jobs-ttin)" \
	"^\[1\]\+ +Stopped \(tty input\) +$READER\$"
expect_match "ref: fg lets it read the line typed" "$(cat /tmp/ref.fg-read)" '^read: hello$'
expect_match "ref: its status is 0" "$(cat /tmp/ref.status-read)" '^status 0$'

# The same session with both jobs moved to node 2 once started.
session moved yes
for s in $STEPS; do
	expect_eq "moved: '$s' shows what it shows unmoved" "$(cat /tmp/moved."$s")" "$(cat /tmp/ref."$s")"
done
expect_eq "moved: the whole transcript is the reference's" "$(shown /tmp/moved.tr)" "$(shown /tmp/ref.tr)"

# --- A foreground job saved, then restarted from the shell: it leads its own group, in the
# terminal's foreground, reads the line typed, and the shell has the terminal back after it. -----
run=ck
tr=/tmp/$run.tr
in=/tmp/$run.in
rm -f "$tr" "$in" /tmp/go /tmp/fg.ckpt
mkfifo "$in"
env PS1='omsh$ ' omx-pty "$in" "$tr" busybox sh -i &
pty=$!
check "ck: the shell prompts" wait_for 120 more_prompts 0
shell=$(children "$pty")
key_in "$READER\n"
check "ck: the reader started" wait_for 60 has_child "$shell"
job=$(children "$shell")
check "ck: the reader is in the terminal's foreground" wait_for 60 foreground "$job"
n=$(prompts)
check "ck: it is saved and ended" omctl checkpoint "$job" /tmp/fg.ckpt --kill
check "ck: the shell prompts again" wait_for 120 more_prompts "$n"
expect_match "ck: --check says it led its group, in the foreground of its terminal" \
	"$(omctl restart --check /tmp/fg.ckpt)" "session leader no group leader yes foreground yes terminal /dev/pts/[0-9]+$"
key_in 'omctl restart /tmp/fg.ckpt\n'
check "ck: omctl restart runs" wait_for 60 has_child "$shell"
omc=$(children "$shell")
check "ck: and has a child" wait_for 60 has_child "$omc"
npid=$(children "$omc")
check "ck: which becomes the reader" wait_for 120 sh -c "grep -qx omx-pty /proc/$npid/comm"
check "ck: the restarted reader leads its group, in the terminal's foreground" wait_for 60 foreground "$npid"
n=$(prompts)
key_in '\032'
check "ck: Ctrl-Z stops it, and the shell prompts again" wait_for 120 more_prompts "$n"
check "ck: the reader is stopped" wait_for 60 in_state "$npid" T
expect_match "ck: the shell lists omctl restart stopped" "$(since_typed)" "Stopped +omctl restart /tmp/fg.ckpt"
key_in 'fg\n'
check "ck: fg: the reader has the terminal's foreground again" wait_for 60 foreground "$npid"
check "ck: and runs" wait_for 60 not_in_state "$npid" T
touch /tmp/go
n=$(prompts)
key_in 'again\n'
check "ck: it reads the line typed, the shell prompts again" wait_for 120 more_prompts "$n"
expect_match "ck: what it read" "$(since_typed)" '^read: again'
enter 'echo status $?'
expect_match "ck: omctl restart exits with its status" "$(since_typed)" '^status 0'
key_in 'exit 7\n'
wait "$pty"
expect_eq "ck: the shell had the terminal back and exits" "$?" 7

nothing_left 2
finish
