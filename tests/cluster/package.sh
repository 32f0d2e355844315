# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# rootfs: debian
# init: systemd
# share: build/deb
# timeout: 900
# The Debian packages (make deb) on nodes that run Debian with systemd as PID 1 and no module
# loaded, the harness having put only each node's keyring in /etc/openmosix.key and the map in
# /etc/openmosix.map, as an administrator would: dpkg installs openmosix-tools and the module
# package for the running kernel, the service is enabled; a key file others can read makes
# `systemctl start openmosix` fail with a message saying so, and loads nothing; with mode 0600
# the service brings both nodes into the mesh and a process migrates through the package's guest
# stub; `systemctl stop` on its host sends it home and unloads the module, start brings the node
# back; `systemctl reload` applies an edited map (and loads the key again only when its file
# changed); purging the packages stops the service and leaves no module file behind.
. /lib/cluster/lib.sh

KVER=$(uname -r)
DEBS=/mnt/share
# This script runs in busybox sh, which prefers its own applets: Debian's kmod by its path.
MODINFO=/sbin/modinfo

for n in 1 2; do
	expect_eq "node $n runs systemd as PID 1" "$(on "$n" cat /proc/1/comm)" systemd
	check_fails "node $n: no module loaded at boot" on "$n" test -e /proc/openmosix
done
check "the packages were built (make deb)" ls "$DEBS/openmosix-tools_$1_amd64.deb" \
	"$DEBS/openmosix-modules-${KVER}_$1_amd64.deb"
ls "$DEBS" | sed 's/^/# /'

# --- Install ------------------------------------------------------------------------------------
for n in 1 2; do
	out=$(on "$n" "dpkg -i $DEBS/openmosix-tools_$1_amd64.deb $DEBS/openmosix-modules-${KVER}_$1_amd64.deb 2>&1")
	expect_eq "node $n: dpkg -i of both packages succeeds" "$?" 0 || echo "$out" | sed 's/^/  | /'
done
expect_match "dpkg says what to do next" "$out" "put this node's keyring in /etc/openmosix.key"
for n in 1 2; do
	expect_eq "node $n: both installed" "$(on "$n" dpkg-query -W -f="'\${Status}\n'" \
		openmosix-tools "openmosix-modules-$KVER" | grep -c 'install ok installed')" 2
done
expect_eq "the service is enabled for the next boot" "$(systemctl is-enabled openmosix)" enabled
expect_eq "omctl is the package's" "$(command -v omctl)" /usr/bin/omctl
expect_match "its openMosix names are there" "$(ls -l /usr/bin/mosctl /usr/bin/mosrun /usr/bin/migrate)" \
	"mosctl -> omctl"
expect_eq "the guest stub the module starts is the package's omctl" \
	"$(readlink -f /lib/openmosix/omx-guest)" /usr/bin/omctl
expect_eq "modprobe finds the module for $KVER" "$($MODINFO -n openmosix)" \
	"/lib/modules/$KVER/updates/openmosix.ko"
expect_eq "it is for this kernel" "$($MODINFO -F vermagic openmosix | cut -d' ' -f1)" "$KVER"
check_fails "installing started nothing" test -e /proc/openmosix

# --- A key file others may read: refused, nothing loaded ----------------------------------------
chmod 644 /etc/openmosix.key
check_fails "node 1: systemctl start openmosix fails with the key file mode 0644" \
	systemctl start openmosix
expect_eq "the unit is failed" "$(systemctl is-failed openmosix)" failed
expect_match "the journal says why" "$(journalctl -u openmosix --no-pager -o cat)" \
	"openmosix: refusing to start: /etc/openmosix.key may be read or written by others than root \(mode 644\); chmod 600 /etc/openmosix.key"
check_fails "and no module was loaded" test -e /proc/openmosix
chmod 600 /etc/openmosix.key
systemctl reset-failed openmosix

# --- Start: both nodes in the mesh ---------------------------------------------------------------
check "node 1: systemctl start openmosix" systemctl start openmosix
check "node 2: systemctl start openmosix" on 2 systemctl start openmosix
expect_eq "the unit is active" "$(systemctl is-active openmosix)" active
check "node 1 sees node 2 up" wait_for 60 omctl isup 2
check "node 2 sees node 1 up" wait_for 60 on 2 omctl isup 1
check "/proc/openmosix/nodes has both" test -d /proc/openmosix/nodes/1 -a -d /proc/openmosix/nodes/2
echo "# omctl nodes on node 1:"
omctl nodes | sed 's/^/#   /'
expect_match "the journal has the start" "$(journalctl -u openmosix --no-pager -o cat)" \
	"openmosix: node 1 started"

# --- A process migrates (the host starts the package's guest stub); stopping the host's service
# sends it home, where it ends as an unmoved run -------------------------------------------------
no_balancing 2
# omx-burn prints its checksum, then its pid (which differs between two runs).
omx-burn 16 1200 >/tmp/burn.ref
ref=$?
omx-burn 16 1200 >/tmp/burn.out &
pid=$!
check "migrate it to node 2" omctl migrate "$pid" 2
check "it runs on node 2" remote "$pid" 2
check "node 2: systemctl stop openmosix" on 2 systemctl stop openmosix
check_fails "it is no longer on node 2" remote "$pid" 2
check_fails "node 2: the module is unloaded" on 2 test -e /proc/openmosix
expect_match "node 2's journal: the module was unloaded" \
	"$(on 2 journalctl -u openmosix --no-pager -o cat)" "openmosix: module unloaded"
wait_end 300 "$pid" "omx-burn, sent home"
wait "$pid"
expect_eq "it ends with the status of an unmoved run" "$?" "$ref"
expect_eq "and its checksum" "$(cut -d' ' -f1-2 /tmp/burn.out)" "$(cut -d' ' -f1-2 /tmp/burn.ref)"
check "node 1 sees node 2 down" wait_for 30 sh -c '! omctl isup 2'
check "node 2: systemctl start openmosix again" on 2 systemctl start openmosix
check "node 1 sees node 2 up again" wait_for 60 omctl isup 2

# --- Reload: an edited map, the same key ---------------------------------------------------------
cp /etc/openmosix.map /tmp/map.full
echo "1 198.18.0.1 1" >/etc/openmosix.map
check "systemctl reload openmosix (node 2 left the map)" systemctl reload openmosix
expect_eq "the map in force is the edited one" "$(omctl map)" "1 198.18.0.1 1"
check "node 2 is forgotten" wait_for 10 sh -c '! test -e /proc/openmosix/nodes/2'
cp /tmp/map.full /etc/openmosix.map
check "systemctl reload openmosix (node 2 back in the map)" systemctl reload openmosix
check "node 1 sees node 2 up again" wait_for 60 omctl isup 2
expect_eq "the key was loaded once: its file did not change" \
	"$(journalctl -u openmosix --no-pager -o cat | grep -c 'key loaded from')" 1
echo "# map: bad" >/tmp/bad.map
echo "1 198.18.0.1" >>/tmp/bad.map
cp /tmp/bad.map /etc/openmosix.map
check_fails "a reload with a bad map fails" systemctl reload openmosix
expect_eq "the map in force stays" "$(omctl map)" "1 198.18.0.1 2"
expect_eq "the service stays active" "$(systemctl is-active openmosix)" active
cp /tmp/map.full /etc/openmosix.map

# --- Purge: the service stops, the files go -------------------------------------------------------
check "node 2: dpkg --purge of both packages" \
	on 2 dpkg --purge openmosix-tools "openmosix-modules-$KVER"
check_fails "node 2: the module is unloaded" on 2 test -e /proc/openmosix
check_fails "node 2: no module file left" on 2 test -e "/lib/modules/$KVER/updates/openmosix.ko"
check_fails "node 2: modprobe no longer finds it" on 2 $MODINFO openmosix
check "node 2: the administrator's key and map stay" on 2 test -f /etc/openmosix.key -a -f /etc/openmosix.map
check "node 1 sees node 2 down" wait_for 30 sh -c '! omctl isup 2'
finish
