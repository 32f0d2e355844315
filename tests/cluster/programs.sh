# SPDX-License-Identifier: GPL-2.0
# nodes: 2
# mem: 1024
# rootfs: debian
# timeout: 1500
# Real programs of the Debian userland (dynamically linked, from the distribution's packages),
# each run three ways at once: never moved; moved to node 2 mid-run and brought home; moved to
# node 2 mid-run and ending there. Every run must end with status 0 and the same output, byte
# for byte:
# python3 importing C-extension modules after the move (json, decimal, hashlib, sqlite3) and
# computing; sqlite3 running a script of statements over a database file; gzip and xz over a
# 100 MB file; sort of a 20 MB file; gcc compiling a C file (its cc1 is the process moved); dl,
# a C program of our own built here by Debian's gcc, that loads libraries with dlopen in every
# part (the C library's libm, zlib, and a library built here with a constructor and data of
# its own), calls them through dlsym, unloads and loads again, and checks each answer.
. /lib/cluster/lib.sh

check "node 2 up" wait_for 20 omctl isup 2
check "the Debian root filesystem is mounted" test -x /debian/usr/bin/python3
# The distribution's programs, not busybox's applets of the same names.
expect_match "Debian's gzip" "$(chroot /debian /usr/bin/gzip --version)" "^gzip 1"
expect_match "Debian's xz" "$(chroot /debian /usr/bin/xz --version)" "XZ Utils"
expect_match "Debian's sort" "$(chroot /debian /usr/bin/sort --version)" "GNU coreutils"
no_balancing 2
D=/tmp/p
mkdir -p $D

# The inputs, made at home (node 1).
# 100 MB of text lines for the compressors, 20 MB of shuffled numbers for sort.
chroot /debian /bin/sh -c "seq 1 14000000 | head -c 100000000" >$D/data
chroot /debian /usr/bin/python3 -c '
import random
r = random.Random(7)
print("\n".join(str(r.randrange(10**12)) for _ in range(1600000)))' >$D/numbers
# A C file of 250 functions with loops for the optimizer.
chroot /debian /usr/bin/python3 -c '
for i in range(250):
    print(f"unsigned f{i}(unsigned *v, int n) {{ unsigned s = {i}; for (int k = 0; k < n; k++) {{ s = s * 31u + v[k] * {i + 3}u; if (s & 1) s ^= v[(k + {i}) % n]; }} return s; }}")
print("int main(void) { unsigned v[64] = {1}; unsigned s = 0;")
for i in range(250):
    print(f"  s += f{i}(v, 64);")
print("  return (int)(s & 1); }")' >$D/big.c
# An SQL script: a table filled in batches (four transactions), an index, aggregates.
{
	echo "PRAGMA journal_mode=DELETE; PRAGMA cache_size=-32000;"
	echo "CREATE TABLE t(a INTEGER, b TEXT, c REAL);"
	i=0
	while [ $i -lt 200 ]; do
		[ $((i % 50)) = 0 ] && echo "BEGIN;"
		echo "INSERT INTO t SELECT value, printf('row %d of batch $i', value), value * 0.5 FROM (WITH RECURSIVE n(value) AS (SELECT $((i * 1000)) UNION ALL SELECT value + 1 FROM n WHERE value < $((i * 1000 + 999))) SELECT value FROM n);"
		[ $((i % 50)) = 49 ] && echo "COMMIT; SELECT count(*), sum(a), round(avg(c), 3) FROM t;"
		i=$((i + 1))
	done
	echo "CREATE INDEX ta ON t(a % 97);"
	echo "SELECT a % 97 AS k, count(*), max(b) FROM t GROUP BY k ORDER BY k LIMIT 20;"
	echo "SELECT count(*) FROM t WHERE b LIKE '%7 of batch 1%';"
	echo "DELETE FROM t WHERE a % 3 = 0; VACUUM; SELECT count(*), sum(a) FROM t;"
} >$D/q.sql
cat >$D/py.py <<'EOF'
import os, sys, time
d = sys.argv[1]

def step(k):
    open(f"{d}/at.{k}", "w").close()
    while not os.path.exists(f"{d}/go.{k}"):
        time.sleep(0.02)

step(1)
# Imported after the move: C extensions mapped from files at home.
import json, decimal, hashlib, sqlite3, zlib
import _json, _decimal, _hashlib, _sqlite3
for m in (_json, _decimal, _hashlib, _sqlite3):
    print(m.__name__, "loaded from", os.path.basename(m.__file__))
decimal.getcontext().prec = 400
print("sqrt(2) =", str(decimal.Decimal(2).sqrt())[:60], "...", str(decimal.Decimal(2).sqrt())[-20:])
h = hashlib.sha256()
for i in range(60000):
    h.update(str(i).encode() * 50)
print("sha256:", h.hexdigest(), "md5:", hashlib.md5(b"openmosix").hexdigest())
db = sqlite3.connect(":memory:")
db.execute("CREATE TABLE t(a, b)")
db.executemany("INSERT INTO t VALUES (?, ?)", ((i, str(i * i)) for i in range(30000)))
print("sqlite:", db.execute("SELECT count(*), sum(a), max(length(b)) FROM t").fetchone())
step(2)
doc = {"n": [i * i for i in range(5000)], "s": {str(i): i / 7 for i in range(500)}}
text = json.dumps(doc, sort_keys=True)
print("json:", len(text), hashlib.sha1(text.encode()).hexdigest(), json.loads(text)["n"][4999])
print("zlib:", zlib.crc32(text.encode()), len(zlib.compress(text.encode(), 9)))
x = decimal.Decimal(1)
for i in range(1, 3000):
    x = x * i / (i + decimal.Decimal("0.5"))
print("product:", str(x)[:50])
EOF

# dl: dlopen, dlsym, dladdr, dlclose in every part; PASS or FAIL for each check.
cat >$D/libomx.c <<'EOF'
int omx_counter = 41;
__attribute__((constructor)) static void omx_init(void) { omx_counter++; }
int omx_next(void) { return ++omx_counter; }
EOF
cat >$D/dl.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef unsigned long (*crc_fn)(unsigned long, const unsigned char *, unsigned);

static int fails;

static void check(int part, const char *what, int ok)
{
	printf("%s part %d: %s\n", ok ? "PASS" : "FAIL", part, what);
	fails += !ok;
}

static void step(const char *d, int k)
{
	char p[512];
	struct stat st;
	FILE *f;

	snprintf(p, sizeof(p), "%s/at.%d", d, k);
	f = fopen(p, "w");
	if (f)
		fclose(f);
	snprintf(p, sizeof(p), "%s/go.%d", d, k);
	while (stat(p, &st) != 0)
		usleep(20000);
}

static void part(int k, const char *own)
{
	void *m = dlopen("libm.so.6", RTLD_NOW);
	double (*cosine)(double) = m ? (double (*)(double))dlsym(m, "cos") : NULL;
	void *z = dlopen("libz.so.1", RTLD_LAZY);
	crc_fn crc = z ? (crc_fn)dlsym(z, "crc32") : NULL;
	const char *(*version)(void) = z ? (const char *(*)(void))dlsym(z, "zlibVersion") : NULL;
	const char *err;
	void *o, *o2;
	int (*next)(void);
	int *counter;
	Dl_info info;

	check(k, "dlopen libm.so.6", m != NULL);
	check(k, "cos through dlsym", cosine && cosine(0.0) == 1.0);
	if (cosine)
		printf("part %d: cos(1) = %.17g\n", k, cosine(1.0));
	check(k, "dlopen libz.so.1 (lazy binding)", z != NULL);
	check(k, "crc32 and zlibVersion through dlsym", crc && version);
	if (crc && version)
		printf("part %d: zlib %s crc32 %08lx\n", k, version(),
		       crc(0, (const unsigned char *)"openmosix", 9));
	check(k, "a symbol that is not there", z && !dlsym(z, "no_such_symbol") && dlerror());
	o = dlopen("libno-such-lib.so.9", RTLD_NOW);
	err = dlerror();
	check(k, "a library that is not there", !o && err &&
	      strstr(err, "cannot open shared object file"));
	/* Our own library: its constructor ran once, its data is its own. */
	o = dlopen(own, RTLD_NOW | RTLD_LOCAL);
	check(k, "dlopen of a library built at home", o != NULL);
	next = o ? (int (*)(void))dlsym(o, "omx_next") : NULL;
	counter = o ? (int *)dlsym(o, "omx_counter") : NULL;
	check(k, "its constructor ran: counter 42", counter && *counter == 42);
	check(k, "its function: 43, 44", next && next() == 43 && next() == 44);
	check(k, "dladdr names its file and symbol", next && dladdr((void *)next, &info) &&
	      strcmp(info.dli_fname, own) == 0 && info.dli_sname &&
	      strcmp(info.dli_sname, "omx_next") == 0);
	o2 = dlopen(own, RTLD_NOW | RTLD_NOLOAD);
	check(k, "RTLD_NOLOAD finds it loaded", o && o2 == o);
	if (o2)
		dlclose(o2);
	check(k, "dlclose", o && dlclose(o) == 0);
	check(k, "unloaded: RTLD_NOLOAD finds nothing", !dlopen(own, RTLD_NOW | RTLD_NOLOAD));
	o = dlopen(own, RTLD_NOW);
	counter = o ? (int *)dlsym(o, "omx_counter") : NULL;
	check(k, "loaded again: fresh data, its constructor again", counter && *counter == 42);
	if (o)
		dlclose(o);
	if (z)
		dlclose(z);
	if (m)
		dlclose(m);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	part(0, argv[2]);
	step(argv[1], 1);
	part(1, argv[2]);
	step(argv[1], 2);
	part(2, argv[2]);
	return fails ? 1 : 0;
}
EOF
check "gcc builds dl and its library" chroot /debian /bin/sh -c \
	"gcc -O2 -shared -fPIC -o $D/libomx.so $D/libomx.c && gcc -O2 -o $D/dl $D/dl.c"

# progress_pos PID FD: the offset of the process's descriptor FD (its position in its input).
progress_pos() {
	sed -n 's/^pos:[[:space:]]*//p' "/proc/$1/fdinfo/$2" 2>/dev/null || echo 0
}
# at_least N CMD...: CMD prints a number of at least N.
at_least() {
	p_n=$1
	shift
	[ "$("$@")" -ge "$p_n" ] 2>/dev/null
}
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
# child_named PPID NAME: the pid of a child of PPID whose command name is NAME.
child_named() {
	for _c in /proc/[0-9]*; do
		if [ "$(cut -d' ' -f2,4 "$_c/stat" 2>/dev/null)" = "($2) $1" ]; then
			echo "${_c#/proc/}"
			return 0
		fi
	done
	return 1
}

# run_three NAME: runs program NAME three times at once (started by start_NAME DIR, which sets
# `pid`): never moved (home), moved to node 2 once past mark 1 and brought home once past mark 2
# (back), moved to node 2 once past mark 1 and ending there (away). mark_NAME K DIR tells
# whether a run is past mark K, movable_NAME DIR names the process to move. A program that
# waits at its marks waits for the files DIR/go.K, made once it has moved. Every run must exit
# 0 with the same output (sum_NAME DIR prints its checksum).
run_three() {
	p_prog=$1
	for p_how in home back away; do
		rm -rf "$D/$p_prog.$p_how"
		mkdir -p "$D/$p_prog.$p_how"
		"start_$p_prog" "$D/$p_prog.$p_how"
		echo "$pid" >"$D/$p_prog.$p_how/top"
	done
	touch "$D/$p_prog.home/go.1" "$D/$p_prog.home/go.2"
	p_t0=$(now_ms)
	for p_how in back away; do
		p_d=$D/$p_prog.$p_how
		check "$p_prog ($p_how): mark 1 reached" wait_for 600 "mark_$p_prog" 1 "$p_d"
		p_pid=$(movable_$p_prog "$p_d")
		echo "$p_pid" >"$p_d/moved"
		check "$p_prog ($p_how): migrate $p_pid to node 2" omctl migrate "$p_pid" 2
		check "$p_prog ($p_how): it runs on node 2" wait_for 300 remote "$p_pid" 2
		touch "$p_d/go.1"
	done
	# The one that ends away first: it is checked as soon as it is past mark 2.
	for p_how in away back; do
		p_d=$D/$p_prog.$p_how
		p_pid=$(cat "$p_d/moved")
		check "$p_prog ($p_how): mark 2 reached" wait_for 600 "mark_$p_prog" 2 "$p_d"
		if [ "$p_how" = back ]; then
			check "$p_prog ($p_how): bring $p_pid home" omctl migrate "$p_pid" home
			check "$p_prog ($p_how): it runs at home again" wait_for 300 home "$p_pid"
		else
			check "$p_prog ($p_how): it still runs on node 2" remote "$p_pid" 2
		fi
		touch "$p_d/go.2"
	done
	for p_how in home back away; do
		wait "$(cat "$D/$p_prog.$p_how/top")"
		expect_eq "$p_prog ($p_how) exits 0" "$?" 0
		"sum_$p_prog" "$D/$p_prog.$p_how" >"$D/$p_prog.$p_how.sum"
	done
	echo "$p_prog: the three runs took $(($(now_ms) - p_t0)) ms; output $(cat "$D/$p_prog.home.sum")"
	for p_how in back away; do
		expect_eq "$p_prog ($p_how): the output of the run that never moved" \
			"$(cat "$D/$p_prog.$p_how.sum")" "$(cat "$D/$p_prog.home.sum")"
	done
}

# python3: waits at its own marks (files at.K, go.K), imports after mark 1.
start_python() {
	chroot /debian /usr/bin/python3 $D/py.py "$1" >"$1/out" 2>&1 &
	pid=$!
	echo "$pid" >"$1/pid"
}
mark_python() { test -e "$2/at.$1"; }
movable_python() { cat "$1/pid"; }
sum_python() { md5sum <"$1/out" | cut -d' ' -f1; }

# gzip and xz: their position in the 100 MB input.
start_gzip() {
	chroot /debian /usr/bin/gzip -6 -n -c <$D/data >"$1/out" &
	pid=$!
	echo "$pid" >"$1/pid"
}
mark_gzip() { at_least $(($1 == 1 ? 1048576 : 40000000)) progress_pos "$(cat "$2/pid")" 0; }
movable_gzip() { cat "$1/pid"; }
sum_gzip() { md5sum <"$1/out" | cut -d' ' -f1; rm -f "$1/out"; }
start_xz() {
	chroot /debian /usr/bin/xz -T1 -1 -c <$D/data >"$1/out" &
	pid=$!
	echo "$pid" >"$1/pid"
}
mark_xz() { mark_gzip "$@"; }
movable_xz() { cat "$1/pid"; }
sum_xz() { sum_gzip "$@"; }

# sort: reads its input, then sorts in memory (one thread: threads are not moved yet).
start_sort() {
	chroot /debian /usr/bin/sort --parallel=1 -S 200M <$D/numbers >"$1/out" &
	pid=$!
	echo "$pid" >"$1/pid"
}
mark_sort() { at_least $(($1 == 1 ? 1048576 : 12000000)) progress_pos "$(cat "$2/pid")" 0; }
movable_sort() { cat "$1/pid"; }
sum_sort() { sum_gzip "$@"; }

# sqlite3: its position in the SQL script.
start_sqlite() {
	(cd "$1" && exec chroot /debian /usr/bin/sqlite3 "$1/db" <$D/q.sql >"$1/out" 2>&1) &
	pid=$!
	echo "$pid" >"$1/pid"
}
mark_sqlite() { at_least $(($1 == 1 ? 4096 : 20000)) progress_pos "$(cat "$2/pid")" 0; }
movable_sqlite() { cat "$1/pid"; }
sum_sqlite() { sum_python "$@"; }

# gcc: the compiler proper (cc1) is moved once it has used a second of CPU (past the
# preprocessing, which is also a cc1), and brought home 5 s later.
start_gcc() {
	(cd "$1" && exec chroot /debian /usr/bin/gcc -O2 -save-temps=obj -c $D/big.c -o "$1/big.o") &
	pid=$!
	echo "$pid" >"$1/gcc"
}
mark_gcc() {
	if [ "$1" = 1 ]; then
		child_named "$(cat "$2/gcc")" cc1 >"$2/pid" &&
			at_least 100 cut -d' ' -f14 "/proc/$(cat "$2/pid")/stat" &&
			now_ms >"$2/t1"
		return
	fi
	[ $(($(now_ms) - $(cat "$2/t1"))) -ge 5000 ]
}
movable_gcc() { cat "$1/pid"; }
sum_gcc() { md5sum <"$1/big.o" | cut -d' ' -f1; }

# dl: waits at its own marks.
start_dl() {
	chroot /debian $D/dl "$1" $D/libomx.so >"$1/out" 2>&1 &
	pid=$!
	echo "$pid" >"$1/pid"
}
mark_dl() { test -e "$2/at.$1"; }
movable_dl() { cat "$1/pid"; }
sum_dl() { md5sum <"$1/out" | cut -d' ' -f1; }

for p in dl python sqlite gzip xz sort gcc; do
	run_three "$p"
done
for m in _json _decimal _hashlib _sqlite3; do
	expect_match "python: $m was loaded from a shared object" "$(cat $D/python.back/out)" \
		"loaded from $m\.cpython-[0-9]+-x86_64-linux-gnu\.so"
done

expect_eq "dl: its checks passed in the run that never moved (passed, failed)" \
	"$(grep -c '^PASS' $D/dl.home/out) $(grep -c '^FAIL' $D/dl.home/out)" "42 0"
grep -v '^PASS' $D/dl.home/out

nothing_left 2
finish
