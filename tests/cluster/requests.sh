# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 900
# Move requests that once went wrong: `omctl bring` with two guests on one host brings both home
# (the second's image once went to the first's deputy and was dropped); `migrate` of a guest's
# pid on its host asks its home to move it (it once migrated the guest itself, which then ran
# both remote and guest and lost its output), and only root may ask; two requests for one
# process at once make one migration; a user may not migrate a process of theirs that runs with
# another effective id (a setuid program), as ptrace would not let them attach to it. And a
# migrated process names only itself in the calls that run on its host (sched_getparam,
# capget, ...): host pids get ESRCH, so it learns nothing of the host's processes. A setuid
# program cannot be made to write a request, as its output, to a descriptor a user opened.
. /lib/cluster/lib.sh

check "node 2 up" wait_for 10 omctl isup 2
no_balancing 2
omx-burn 16 2000 >/tmp/burn.ref
ref=$?
# out PID FILE: FILE is the reference output of that process.
same() {
	expect_eq "$1 exits as the reference did" "$2" "$ref"
	expect_eq "with the same output" "$(cat "$3")" "$(sed "s/ pid [0-9]* / pid $4 /" /tmp/burn.ref)"
}

# --- 1. admin/bring with two guests on one host. --------------------------------------------------
omx-burn 16 2000 >/tmp/a.out &
a=$!
omx-burn 16 2000 >/tmp/b.out &
b=$!
sleep 0.5
check "migrate $a to node 2" omctl migrate "$a" 2
check "migrate $b to node 2" omctl migrate "$b" 2
check "both run on node 2" wait_for 120 sh -c "omctl ps | grep -q '^$a 2 remote' && omctl ps | grep -q '^$b 2 remote'"
check "omctl bring on node 1" omctl bring
check "brings $a home" wait_for 120 home "$a"
check "and $b" wait_for 120 home "$b"
wait "$a"
same "$a" "$?" /tmp/a.out "$a"
wait "$b"
same "$b" "$?" /tmp/b.out "$b"

# --- 2. migrate, on its host, of a guest's pid. ---------------------------------------------------
omx-burn 16 2000 >/tmp/c.out &
c=$!
sleep 0.5
check "migrate $c to node 2" omctl migrate "$c" 2
check "it runs on node 2" wait_for 120 remote "$c" 2
guest=$(on 2 omctl ps | awk '/guest-of 1 home-pid '"$c"'$/ {print $1}')
check_fails "on node 2, nobody may not move guest $guest" on 2 omx-as 65534 omctl migrate "$guest" home
check "it still runs on node 2" remote "$c" 2
check "on node 2, root asks that guest $guest go home" on 2 omctl migrate "$guest" home
check "its home brings it home" wait_for 120 home "$c"
check "node 2 hosts no guest afterwards" wait_for 30 sh -c "! on 2 omctl ps | grep -q guest-of"
wait "$c"
same "$c" "$?" /tmp/c.out "$c"

# --- 3. Two requests at once. ---------------------------------------------------------------------
omx-burn 16 2000 >/tmp/d.out &
d=$!
sleep 0.5
# The second waits for the first move (it does not fail as busy), then finds nothing to do.
omctl migrate "$d" 2 >/tmp/r1.out 2>&1 &
r1=$!
omctl migrate "$d" 2 >/tmp/r2.out 2>&1 &
r2=$!
wait "$r1"
s1=$?
wait "$r2"
s2=$?
expect_eq "both requests succeed" "$s1 $s2" "0 0"
expect_eq "one made the move, the other found it made" \
	"$(cat /tmp/r1.out /tmp/r2.out | sed 's/, frozen.*//' | sort | tr '\n' '|')" \
	"process $d now runs on node 2|process $d runs on node 2 already|"
check "it runs on node 2" remote "$d" 2
expect_eq "one migration was made" "$(dmesg | grep -c "process $d now runs")" 1
expect_eq "one deputy" "$(omctl ps | grep -c "^$d ")" 1
check "bring it home" omctl migrate "$d" home
check "it runs at home" wait_for 120 home "$d"
wait "$d"
same "$d" "$?" /tmp/d.out "$d"

# --- 4. A setuid-like process: real id 65534, effective 0. ----------------------------------------
omx-as 65534:0 omx-burn 16 2000 >/tmp/e.out &
e=$!
sleep 0.5
expect_match "it runs with real uid 65534 and effective uid 0" "$(grep Uid: /proc/"$e"/status)" "Uid:.65534.0.0"
check_fails "its real user may not migrate it" omx-as 65534 omctl migrate "$e" 2
expect_match "the log says why" "$(dmesg | tail -3)" "migrate $e: permission denied"
check "root may" omctl migrate "$e" 2
check "it runs on node 2" wait_for 120 remote "$e" 2
check "and brings it home" omctl migrate "$e" home
check "it runs at home" wait_for 120 home "$e"
wait "$e"
same "$e" "$?" /tmp/e.out "$e"

# --- 5. A request written with more privilege than the opener of the file had. -------------------
# A setuid-root program writes, as its output, to a descriptor of /proc/openmosix/migrate that
# user 65534 opened: refused (EACCES, logged), the process stays. Written to one root opened, the
# same request is made.
cp "$(command -v omx-as)" /tmp/suid-as
chown 0:0 /tmp/suid-as
chmod 4755 /tmp/suid-as
omx-burn 16 2000 >/tmp/f.out &
f=$!
sleep 0.5
check_fails "a setuid program cannot be made to write a request to a user's descriptor" \
	omx-as 65534 busybox sh -c "exec 5>/proc/openmosix/migrate && /tmp/suid-as 65534:0 --write 5 '$f 2'"
expect_match "the log says why" "$(dmesg | tail -3)" \
	"write to migrate by process [0-9]* refused: it has other ids or more privilege than the opener"
check "the process stays home" home "$f"
exec 5>/proc/openmosix/migrate
check "written to a descriptor root opened, the request is made" \
	omx-as 65534 /tmp/suid-as 65534:0 --write 5 "$f 2"
exec 5>&-
check "it runs on node 2" wait_for 120 remote "$f" 2
check "and comes home" omctl migrate "$f" home
check "it runs at home" wait_for 120 home "$f"
wait "$f"
same "$f" "$?" /tmp/f.out "$f"
rm -f /tmp/suid-as

# Calls that run on the host and name a process: at home, process 1 is there; migrated, the
# host's process 1 is none of the process's business, but its own pid (or 0) still works.
touch /tmp/go
omx-pids /tmp/go >/tmp/pids.home
check "at home sched_getparam(1) works" grep -qx "init-getparam 0" /tmp/pids.home
check "at home capget of process 1 works" grep -qx "init-capget 0" /tmp/pids.home
rm /tmp/go
omx-pids /tmp/go >/tmp/pids.mig &
p=$!
check "migrate $p to node 2" omctl migrate "$p" 2
check "it runs on node 2" wait_for 120 remote "$p" 2
touch /tmp/go
wait "$p"
expect_eq "omx-pids exits 0" "$?" 0
echo "migrated: $(tr '\n' ' ' </tmp/pids.mig)"
for call in getparam getscheduler rr getaffinity getattr robust capget; do
	check "migrated, $call of process 1 gets ESRCH" grep -qx "init-$call -3" /tmp/pids.mig
done
for call in own-getparam zero-getparam own-capget; do
	check "migrated, $call works" grep -qx "$call 0" /tmp/pids.mig
done
check "migrated, own-getaffinity works" grep -qx "own-getaffinity 1" /tmp/pids.mig

finish
