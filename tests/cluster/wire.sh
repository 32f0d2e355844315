# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# timeout: 600
# What goes on the wire between nodes. With admin/encrypt 1 (the default) a migrating process's
# memory never crosses the link in the clear: a packet capture on node 1 (omx-sniff) sees the
# image go to node 2 and back and never a secret the process holds many times over. With 0 on
# both nodes frames are only authenticated: the same capture sees the secret (so it would see
# it if encryption failed), and the process still moves there and back intact. A node with 1
# refuses the unencrypted frames of a node with 0, and says why. A wrong value is refused and
# changes nothing.
. /lib/cluster/lib.sh

check "node 2 up" wait_for 60 omctl isup 2
no_balancing 2

# --- The knob. ---------------------------------------------------------------------------------
for n in 1 2; do
	expect_eq "node $n encrypts by default" "$(on $n cat /proc/openmosix/admin/encrypt)" 1
done
for bad in 2 -1 yes ""; do
	check_fails "admin/encrypt refuses '$bad'" sh -c "printf '%s\n' '$bad' >/proc/openmosix/admin/encrypt"
done
expect_eq "and still says 1" "$(cat /proc/openmosix/admin/encrypt)" 1
check "the log says why" sh -c "dmesg | grep -q 'admin/encrypt: 2 must be 0 or 1'"

# A secret of about 48 KiB in the environment, so on the stack of the process that moves.
secret=$(awk 'BEGIN { for (i = 0; i < 2000; i++) printf "omx-wire-secret-%d.", 7319 }')
marker=omx-wire-secret-7319.omx-wire-secret-7319

# rss_above PID KB: the resident set of process PID is over KB KiB.
rss_above() { test "$(awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status)" -gt "$2"; }

# moved_and_sniffed WHAT: omx-soak with the secret in its environment moves to node 2 and
# back while omx-sniff captures node 1's traffic on the cluster port; sets `sniffed` to the
# capture's summary (`packets N bytes B marker K`).
moved_and_sniffed() {
	rm -f /tmp/stop /tmp/sniff.stop
	omx-sniff 7300 "$marker" /tmp/sniff.stop >/tmp/sniff.out 2>&1 &
	sniffer=$!
	check "$1: the capture listens" wait_for 30 grep -q ready /tmp/sniff.out
	OMX_SECRET=$secret omx-soak /tmp/stop 4 >/tmp/soak.out &
	pid=$!
	# Its 4 MiB are written (on the heap, counted in its resident set) before it moves.
	check "$1: the process filled its memory" wait_for 120 rss_above "$pid" 4096
	check "$1: the process goes to node 2" omctl migrate "$pid" 2
	check "$1: it runs there" wait_for 300 remote "$pid" 2
	check "$1: it comes home" omctl migrate "$pid" home
	check "$1: it runs at home again" wait_for 300 home "$pid"
	touch /tmp/stop
	wait "$pid"
	expect_eq "$1: the process exits 0" "$?" 0
	expect_match "$1: nothing in it was corrupt" "$(tail -n 1 /tmp/soak.out)" \
		"^soak rounds [0-9]+ corrupt 0 fpu ok signals 0$"
	touch /tmp/sniff.stop
	wait "$sniffer"
	sniffed=$(tail -n 1 /tmp/sniff.out)
	echo "$1: capture: $sniffed"
}

# captured FIELD: a number of the last capture's summary.
captured() { echo "$sniffed" | awk -v f="$1" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }'; }

# --- Encrypted (the default). --------------------------------------------------------------------
moved_and_sniffed encrypted
# The image of a 4 MiB process went both ways: over 8 MB crossed the port.
check "encrypted: the capture saw the image cross" test "$(captured bytes)" -gt 8000000
expect_eq "encrypted: the secret never crossed in the clear" "$(captured marker)" 0

# --- One node without encryption: the other refuses its frames. ----------------------------------
refused() { on 2 dmesg | grep -q "node 1: unencrypted frame while admin/encrypt is 1 here"; }
check "node 1 stops encrypting" sh -c "echo 0 >/proc/openmosix/admin/encrypt"
check "node 2, still encrypting, refuses node 1's frames and says why" wait_for 60 refused

# --- Neither encrypts: frames are only authenticated. -------------------------------------------
check "node 2 stops encrypting" on 2 "echo 0 >/proc/openmosix/admin/encrypt"
check "both nodes connected again" wait_for 60 all_connected 2
check "node 1 sees node 2 up" wait_for 60 omctl isup 2
moved_and_sniffed "not encrypted"
check "not encrypted: the capture saw the image cross" test "$(captured bytes)" -gt 8000000
check "not encrypted: the capture saw the secret in the clear" test "$(captured marker)" -gt 0

# --- Back to encryption on both. ------------------------------------------------------------------
check "node 1 encrypts again" sh -c "echo 1 >/proc/openmosix/admin/encrypt"
check "node 2 encrypts again" on 2 "echo 1 >/proc/openmosix/admin/encrypt"
check "both nodes connected again" wait_for 60 all_connected 2
check "node 1 sees node 2 up" wait_for 60 omctl isup 2
moved_and_sniffed "encrypted again"
check "encrypted again: the capture saw the image cross" test "$(captured bytes)" -gt 8000000
expect_eq "encrypted again: the secret never crossed in the clear" "$(captured marker)" 0
finish
