# SPDX-License-Identifier: GPL-2.0
# Benchmark: checkpoint and restart of a 256 MB process (omx-burn) on one node, against the
# time the same node takes to write and read the same number of bytes to and from a file in
# the same directory (the medium's own speed, measured in the same run). Nothing is asserted:
# the figures and ratios are printed.
. /lib/cluster/lib.sh
clock_note
dir=/tmp/bench-ckpt
mkdir -p "$dir"

# rss_mb PID: resident memory of PID in MB.
rss_mb() {
	awk '$1 == "VmRSS:" { print int($2 / 1024) }' "/proc/$1/status"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "?" }'; }

omx-burn 256 100000 >/dev/null &
pid=$!
wait_for 600 sh -c "[ \$(awk '\$1 == \"VmRSS:\" { print int(\$2 / 1024) }' /proc/$pid/status) -ge 256 ]" >/dev/null
echo "omx-burn: $(rss_mb "$pid") MB resident"

t0=$(now_ms)
omctl checkpoint "$pid" "$dir/burn.ckpt" --kill >/dev/null
ck_ms=$(($(now_ms) - t0))
wait "$pid" 2>/dev/null
bytes=$(wc -c <"$dir/burn.ckpt")

# The medium: as many bytes written (and synced) and read back.
t0=$(now_ms)
dd if=/dev/zero of="$dir/plain" bs=1048576 count=$((bytes / 1048576)) conv=fsync 2>/dev/null
sync
wr_ms=$(($(now_ms) - t0))
t0=$(now_ms)
cat "$dir/plain" >/dev/null
rd_ms=$(($(now_ms) - t0))
rm -f "$dir/plain"

t0=$(now_ms)
omctl restart --check "$dir/burn.ckpt" >/dev/null
chk_ms=$(($(now_ms) - t0))
t0=$(now_ms)
omctl restart "$dir/burn.ckpt" >/dev/null &
rpid=$!
npid=
while [ -z "$npid" ]; do
	npid=$(awk -v p="$rpid" '$4 == p && $2 == "(omx-burn)" { print $1 }' /proc/[0-9]*/stat 2>/dev/null)
	[ $(($(now_ms) - t0)) -gt 600000 ] && break
done
rs_ms=$(($(now_ms) - t0))
[ -n "$npid" ] && kill "$npid"
wait "$rpid" 2>/dev/null

echo "checkpoint of $((bytes / 1048576)) MB: $ck_ms ms; writing as many bytes to a file: $wr_ms ms;" \
	"ratio $(ratio "$ck_ms" "$wr_ms")"
echo "restart of $((bytes / 1048576)) MB: $rs_ms ms (of which omctl's check of the file alone" \
	"takes $chk_ms ms); reading as many bytes from a file: $rd_ms ms; ratio $(ratio "$rs_ms" "$rd_ms")"
rm -rf "$dir"
