# SPDX-License-Identifier: GPL-2.0
# nodes: 3
# rootfs: debian
# timeout: 600
# The live monitor as a user sees it: `omctl mon` runs in Debian's tmux on node 1 (an 80x24
# terminal) and the scenario reads the screen: the three nodes up with their load bars, a
# process migrated to node 2 appearing as a move and, in the `g` view, as a process away; the
# `m` and `n` views; the terminal shrunk to 40x12 (the nodes still shown) and to 12x3 (a note,
# no crash), then enlarged again; `q` ends it with status 0, off the alternate screen, the
# terminal back in cooked mode. `omctl metrics` lists the three nodes up, the move, and on
# node 2 the guest; `--out` writes its file whole.
. /lib/cluster/lib.sh

for j in 2 3; do
	check "node $j up" wait_for 60 omctl isup "$j"
done
no_balancing 3
check "Debian's tmux is there" test -x /debian/usr/bin/tmux
# omctl is static: it runs in the Debian root too, from /tmp (bound into it).
cp /bin/omctl /tmp/omctl

# tm ARGS...: Debian's tmux, in the Debian root.
tm() {
	chroot /debian /usr/bin/env HOME=/root TERM=xterm /usr/bin/tmux "$@"
}

# screen: the monitor's pane as text.
screen() {
	tm capture-pane -p -t mon
}

# shows REGEX: the monitor's pane has a line matching the extended regular expression.
shows() {
	screen | grep -qE "$1"
}

# show_screen WHAT: prints the pane into the log.
show_screen() {
	echo "# the screen $1:"
	screen | sed -e 's/[[:space:]]*$//' -e 's/^/#   /'
}

# alternate: 1 while the pane shows the alternate screen, else 0.
alternate() {
	tm display -p -t mon '#{alternate_on}'
}

# mon_running: the monitor process is alive.
mon_running() {
	ps | grep -q '[/]tmp/omctl mon'
}

# A node's status: up, and maybe other words (node 1 has lstay, from no_balancing).
UP='up[a-z,]*'

# The pane runs the monitor, then says how it ended and in which mode it left the terminal.
cat >/tmp/mon-run <<'EOF'
/tmp/omctl mon
echo "mon ended: status $?"
if stty -a | grep -qE -- '-(icanon|echo|isig)( |;|$)'; then echo "tty: raw"; else echo "tty: cooked"; fi
exec sleep 3600
EOF
check "tmux starts omctl mon" tm new-session -d -s mon -x 80 -y 24 "/bin/sh /tmp/mon-run"

# --- The three nodes, up, with a load bar each. ----------------------------------------------
check "the title names node 1, the load view and 3 of 3 nodes up" \
	wait_for 60 shows '^openmosix node 1 \| load \| 3/3 nodes up'
for j in 1 2 3; do
	mark=' '
	[ "$j" = 1 ] && mark='\*'
	check "node $j: up, with a load bar" \
		wait_for 60 shows "^ +$j$mark $UP +\[#*\.*\] [0-9]+\.[0-9][0-9]"
done
expect_eq "the alternate screen is on while it runs" "$(alternate)" 1
show_screen "at the start"

# --- A migration appears. -----------------------------------------------------------------------
omx-burn 8 1000000 >/dev/null &
burn=$!
check "migrate $burn to node 2" omctl migrate "$burn" 2
check "the move appears: pid $burn 1->2 ok" wait_for 60 shows "#[0-9]+ pid $burn 1->2 ok"
show_screen "after the move"

# --- The other views. ---------------------------------------------------------------------------
tm send-keys -t mon g
check "g: the guests view" wait_for 60 shows '^openmosix node 1 \| guests \|'
check "g: $burn is listed as omx-burn, remote on node 2" \
	wait_for 60 shows "^ +$burn omx-burn +remote on node 2"
check "g: node 2 has a process of node 1" wait_for 60 shows '^ +2  up +\[#+\.*\] 1$'
show_screen "in the g view"
tm send-keys -t mon m
check "m: the memory view" wait_for 60 shows '^openmosix node 1 \| memory \|'
check "m: node 3's memory in use of its total" wait_for 60 shows '^ +3  up +\[#*\.*\] [0-9]+/[0-9]+M$'
tm send-keys -t mon n
check "n: the table of nodes" wait_for 60 shows '^NODE STATUS +LOAD'
check "n: node 2 up and connected at 198.18.0.2" \
	wait_for 60 shows '^ +2 up .* connected 198\.18\.0\.2$'
check "n: this node's traffic" wait_for 60 shows '^frames sent [1-9][0-9]* received [1-9][0-9]* rejected'
show_screen "in the n view"

# --- Small terminals. ---------------------------------------------------------------------------
tm send-keys -t mon l
check "l: the load view again" wait_for 60 shows '^openmosix node 1 \| load \|'
check "the terminal shrinks to 40x12" tm resize-window -t mon -x 40 -y 12
check "40x12: the short keys line" wait_for 60 shows '^l m g n: views  q: quit'
for j in 1 2 3; do
	check "40x12: node $j still shown" wait_for 60 shows "^ +$j. $UP +\[#*\.*\]"
done
show_screen "at 40x12"
check "the terminal shrinks to 12x3" tm resize-window -t mon -x 12 -y 3
check "12x3: a note" wait_for 60 shows '^openmosix: 1'
check "the terminal grows to 80x24" tm resize-window -t mon -x 80 -y 24
check "80x24: node 3 shown again" wait_for 60 shows '^ +3  up +\[#*\.*\] [0-9]'
check "the monitor still runs" mon_running

# --- The figures for Prometheus. ----------------------------------------------------------------
metrics=$(omctl metrics)
for j in 1 2 3; do
	expect_eq "metrics: node $j up" \
		"$(printf '%s\n' "$metrics" | grep -xF "openmosix_node_up{node=\"$j\"} 1")" \
		"openmosix_node_up{node=\"$j\"} 1"
	expect_match "metrics: node $j's load" "$metrics" "^openmosix_node_load\{node=\"$j\"\} [0-9.]+$"
done
expect_match "metrics: the process away" "$metrics" '^openmosix_processes_away 1$'
expect_match "metrics: moves counted" "$metrics" '^openmosix_moves_total [1-9][0-9]*$'
expect_match "metrics: node 2 hosts the guest" "$(on 2 omctl metrics)" '^openmosix_guests 1$'
expect_eq "metrics: every line a HELP, a TYPE or a sample of openmosix" \
	"$(printf '%s\n' "$metrics" | grep -cvE '^(# (HELP|TYPE) openmosix_[a-z_]+ .+|openmosix_[a-z_]+(\{[a-z]+="[^"]*"\})? [0-9.]+)$')" 0
check "metrics --out writes the file" omctl metrics --out /tmp/openmosix.prom
check "the file has the three nodes" \
	sh -c "[ \$(grep -c '^openmosix_node_up{node=\"[123]\"} 1\$' /tmp/openmosix.prom) = 3 ]"
check_fails "no temporary file is left" test -e /tmp/openmosix.prom.tmp
check_fails "metrics --out into a missing directory fails" omctl metrics --out /nonexistent/x.prom

# --- q quits cleanly. ---------------------------------------------------------------------------
tm send-keys -t mon q
check "q: the monitor ends with status 0" wait_for 60 shows '^mon ended: status 0$'
check "q: the terminal is back in cooked mode" wait_for 60 shows '^tty: cooked$'
expect_eq "q: the alternate screen is off" "$(alternate)" 0
check_fails "q: no monitor process is left" mon_running
show_screen "after q"
tm kill-server

kill "$burn"
wait_end 120 "$burn" "omx-burn"
wait "$burn"
check "node 2 keeps no guest" wait_for 60 sh -c "on 2 cat /sys/module/openmosix/refcnt | grep -qx 0"
nothing_left 3
finish
