# SPDX-License-Identifier: GPL-2.0
# timeout: 900
# Soak: three self-checking processes (omx-soak: memory patterns rewritten and verified every
# round, an FPU state checked bit for bit at the end, output, signals) move around the cluster
# at once, 1 -> 2 -> 3 -> home and again, HOPS moves each (third argument, default 20, 6 on the
# debug kernel; `make soak` makes it 334, over 1000 migrations). Nothing may be corrupt, every process ends as
# it should, and afterwards no guest, no module reference, no thread and no more unreclaimable
# kernel memory than a bound is left on any node.
. /lib/cluster/lib.sh

hops=${3:-20}
# The debug kernel (make check-debug) runs several times slower: fewer moves by default.
[ -z "${3:-}" ] && [ -e /sys/kernel/debug/kmemleak ] && hops=6
for j in 2 3; do
	check "node $j up" wait_for 30 omctl isup "$j"
done
no_balancing 3

slab() { on "$1" "awk '/^SUnreclaim/ {print \$2}' /proc/meminfo"; }
refs() { on "$1" cat /sys/module/openmosix/refcnt; }
check "every node connected to every other" wait_for 60 all_connected 3
threads() { omx_threads "$1"; }
for n in 1 2 3; do
	eval "slab_$n=$(slab $n) refs_$n=$(refs $n) threads_$n=$(threads $n)"
done

rm -f /tmp/stop
pids=""
for k in 1 2 3; do
	omx-soak /tmp/stop 4 >/tmp/soak.$k &
	pids="$pids $!"
done

all=$pids
# gone PID: process PID ended (it is a zombie or no more).
gone() { ! grep -q '^State:[[:space:]]*[^Z]' /proc/"$1"/status 2>/dev/null; }
# at TARGET PID: PID runs on node TARGET (2 or 3), or at home.
at() {
	if [ "$1" = home ]; then home "$2"; else remote "$2" "$1"; fi
}
moves=0
failures=0
hop=0
while [ $hop -lt "$hops" ]; do
	case $((hop % 3)) in
	0) t=2 ;;
	1) t=3 ;;
	*) t=home ;;
	esac
	# A process that ended is reported at once and moved no more (it is not waited for).
	for p in $pids; do
		if gone "$p"; then
			wait "$p"
			echo "hop $hop: process $p ended with status $?"
			failures=$((failures + 1))
			pids=$(for q in $pids; do [ "$q" = "$p" ] || echo "$q"; done)
		fi
	done
	for p in $pids; do
		# Asked all at once: the three move together.
		if ! omctl migrate --no-wait "$p" "$t" 2>/tmp/migrate.err; then
			failures=$((failures + 1))
			[ $failures -le 5 ] && echo "hop $hop: migrate $p $t failed: $(cat /tmp/migrate.err)"
		fi
	done
	for p in $pids; do
		if wait_for 120 at "$t" "$p" >/dev/null; then
			moves=$((moves + 1))
		else
			failures=$((failures + 1))
			[ $failures -le 5 ] && echo "hop $hop: $p did not arrive at $t"
		fi
		kill -USR1 "$p" 2>/dev/null
	done
	hop=$((hop + 1))
done
echo "soak: $moves migrations in $hops hops of 3 processes"
expect_eq "every move arrived" "$failures" 0
expect_eq "as many migrations as asked" "$moves" $((hops * 3))

# Home again, then stop.
for p in $pids; do
	omctl migrate "$p" home 2>/dev/null
	check "$p home at the end" wait_for 120 home "$p"
done
touch /tmp/stop
k=1
for p in $all; do
	wait "$p"
	expect_eq "process $k exits 0" "$?" 0
	last=$(tail -n 1 /tmp/soak.$k)
	echo "process $k: $last"
	expect_match "process $k: nothing corrupt, FPU state exact, signals taken" "$last" \
		"^soak rounds [0-9]+ corrupt 0 fpu ok signals [1-9][0-9]*$"
	check_fails "process $k saw no corrupt word" grep -q '^corrupt round' /tmp/soak.$k
	k=$((k + 1))
done

# Nothing left behind.
for n in 1 2 3; do
	check_fails "node $n hosts no guest" sh -c "on $n omctl ps | grep -q guest-of"
	same_refs() { test "$(refs "$1")" = "$(eval echo "\$refs_$1")"; }
	check "node $n: module references as before" wait_for 30 same_refs "$n"
	same_threads() { test "$(threads "$1")" = "$(eval echo "\$threads_$1")"; }
	check "node $n: as many omx threads as before" wait_for 30 same_threads "$n"
	grown=$(($(slab $n) - $(eval echo "\$slab_$n")))
	echo "node $n: unreclaimable kernel memory grew by $grown KiB over $moves migrations"
	check "node $n: it grew by less than 4 MiB + 4 KiB a migration" \
		test "$grown" -lt $((4096 + 4 * moves))
done
finish
