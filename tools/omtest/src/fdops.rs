// SPDX-License-Identifier: GPL-2.0

//! More `omx-t` cases on descriptors, each checked in every part:
//! - `fdops`: data moved between descriptors in the kernel (`splice` with offsets, `tee`,
//!   `sendfile` with an offset, `copy_file_range`), `fallocate`, `statx`, `faccessat2`,
//!   `renameat2` (`RENAME_NOREPLACE`, `RENAME_EXCHANGE`), calls relative to a directory
//!   descriptor opened in part 0 (`openat`, `newfstatat`, `unlinkat`), `fchmod`, `utimensat`,
//!   `fsync`, `close_range`.
//! - `events`: `eventfd2` (counter and semaphore modes, `EAGAIN`), an eventfd of part 0 that
//!   kept its count, `inotify` watching a directory, `memfd_create` written and read back.
//! - `locks`: `flock` and `fcntl` record locks (`F_SETLK`, `F_GETLK` seeing another process's
//!   lock, `F_OFD_SETLK`), a lock taken in part 0 still held.

use super::basics::{close, cpath, write};
use super::{in_three_parts, sys, Checks};

const AT_FDCWD: u64 = -100i64 as u64;
const O_RDONLY: u64 = 0;
const O_RDWR: u64 = 2;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
const O_DIRECTORY: u64 = 0o200000;
const O_NONBLOCK: u64 = 0o4000;
const EAGAIN: i64 = 11;
const EEXIST: i64 = 17;

fn openat(dirfd: u64, path: &str, flags: u64) -> i64 {
    let p = cpath(path);
    sys(257, [dirfd, p.as_ptr() as u64, flags, 0o644, 0, 0])
}

fn pread(fd: u64, len: usize, off: u64) -> Vec<u8> {
    let mut b = vec![0u8; len];
    let n = sys(17, [fd, b.as_mut_ptr() as u64, len as u64, off, 0, 0]);
    b.truncate(n.max(0) as usize);
    b
}

fn pipe() -> (u64, u64) {
    let mut p = [0i32; 2];
    sys(293, [p.as_mut_ptr() as u64, 0, 0, 0, 0, 0]);
    (p[0] as u64, p[1] as u64)
}

// --- fdops ------------------------------------------------------------------------------------

fn fdops_round(c: &mut Checks, part: u32, dfd: u64) {
    let f = format!("src.{part}");
    let src = openat(dfd, &f, O_RDWR | O_CREAT | O_TRUNC);
    c.check(
        &format!("part {part}: openat in the directory of part 0"),
        src >= 0,
        || format!("{src}"),
    );
    let src = src.max(0) as u64;
    c.eq(
        &format!("part {part}: write"),
        write(src, b"abcdefghijklmnop"),
        16,
    );
    // splice from the file at offset 4 into a pipe; the offset moves, the file's does not.
    let (r, w) = pipe();
    let mut off: i64 = 4;
    c.eq(
        &format!("part {part}: splice from the file at an offset"),
        sys(275, [src, &mut off as *mut i64 as u64, w, 0, 6, 0]),
        6,
    );
    c.eq(&format!("part {part}: the offset moved"), off, 10);
    // tee the pipe into another, then splice it out to a file at offset 0.
    let (r2, w2) = pipe();
    c.eq(
        &format!("part {part}: tee"),
        sys(276, [r, w2, 6, 0, 0, 0]),
        6,
    );
    let dst = openat(dfd, &format!("dst.{part}"), O_RDWR | O_CREAT | O_TRUNC).max(0) as u64;
    let mut doff: i64 = 0;
    c.eq(
        &format!("part {part}: splice into a file"),
        sys(275, [r, 0, dst, &mut doff as *mut i64 as u64, 6, 0]),
        6,
    );
    c.eq(
        &format!("part {part}: the file has it"),
        pread(dst, 16, 0),
        b"efghij".to_vec(),
    );
    let mut t = [0u8; 8];
    let n = sys(0, [r2, t.as_mut_ptr() as u64, 8, 0, 0, 0]);
    c.eq(
        &format!("part {part}: the tee'd copy"),
        &t[..n.max(0) as usize],
        &b"efghij"[..],
    );
    for fd in [r, w, r2, w2] {
        close(fd);
    }
    // sendfile from offset 10; copy_file_range into dst at 6.
    let (r, w) = pipe();
    let mut soff: i64 = 10;
    c.eq(
        &format!("part {part}: sendfile"),
        sys(40, [w, src, &mut soff as *mut i64 as u64, 3, 0, 0]),
        3,
    );
    c.eq(&format!("part {part}: its offset moved"), soff, 13);
    let n = sys(0, [r, t.as_mut_ptr() as u64, 8, 0, 0, 0]);
    c.eq(
        &format!("part {part}: what it sent"),
        &t[..n.max(0) as usize],
        &b"klm"[..],
    );
    close(r);
    close(w);
    let (mut i, mut o): (i64, i64) = (13, 6);
    c.eq(
        &format!("part {part}: copy_file_range"),
        sys(
            326,
            [
                src,
                &mut i as *mut i64 as u64,
                dst,
                &mut o as *mut i64 as u64,
                3,
                0,
            ],
        ),
        3,
    );
    c.eq(
        &format!("part {part}: the copy"),
        (pread(dst, 16, 0), i, o),
        (b"efghijnop".to_vec(), 16, 9),
    );
    c.eq(
        &format!("part {part}: fallocate"),
        sys(285, [dst, 0, 0, 1 << 16, 0, 0]),
        0,
    );
    // statx: its size.
    let mut stx = [0u8; 256];
    let name = cpath(&format!("dst.{part}"));
    c.eq(
        &format!("part {part}: statx"),
        sys(
            332,
            [
                dfd,
                name.as_ptr() as u64,
                0,
                0x7ff,
                stx.as_mut_ptr() as u64,
                0,
            ],
        ),
        0,
    );
    let size = u64::from_ne_bytes(stx[40..48].try_into().unwrap_or([0; 8]));
    c.eq(
        &format!("part {part}: its size after fallocate"),
        size,
        1 << 16,
    );
    c.eq(
        &format!("part {part}: faccessat2"),
        sys(439, [dfd, name.as_ptr() as u64, 4, 0, 0, 0]),
        0,
    );
    c.eq(
        &format!("part {part}: fchmod"),
        sys(91, [dst, 0o600, 0, 0, 0, 0]),
        0,
    );
    let mut st = [0u64; 18];
    c.eq(
        &format!("part {part}: newfstatat"),
        sys(
            262,
            [dfd, name.as_ptr() as u64, st.as_mut_ptr() as u64, 0, 0, 0],
        ),
        0,
    );
    c.eq(
        &format!("part {part}: its mode"),
        (st[3] & 0o7777) as u32,
        0o600,
    );
    // utimensat: a fixed modification time.
    let times: [i64; 4] = [1_000_000, 0, 2_000_000, 0];
    c.eq(
        &format!("part {part}: utimensat"),
        sys(
            280,
            [dfd, name.as_ptr() as u64, times.as_ptr() as u64, 0, 0, 0],
        ),
        0,
    );
    sys(
        262,
        [dfd, name.as_ptr() as u64, st.as_mut_ptr() as u64, 0, 0, 0],
    );
    c.eq(
        &format!("part {part}: its modification time"),
        st[11],
        2_000_000,
    );
    c.eq(
        &format!("part {part}: fsync"),
        sys(74, [dst, 0, 0, 0, 0, 0]),
        0,
    );
    // renameat2: NOREPLACE refuses, EXCHANGE swaps.
    let (a, b) = (cpath(&format!("src.{part}")), cpath(&format!("dst.{part}")));
    c.eq(
        &format!("part {part}: renameat2 RENAME_NOREPLACE"),
        sys(316, [dfd, a.as_ptr() as u64, dfd, b.as_ptr() as u64, 1, 0]),
        -EEXIST,
    );
    c.eq(
        &format!("part {part}: renameat2 RENAME_EXCHANGE"),
        sys(316, [dfd, a.as_ptr() as u64, dfd, b.as_ptr() as u64, 2, 0]),
        0,
    );
    let swapped = openat(dfd, &format!("src.{part}"), O_RDONLY).max(0) as u64;
    c.eq(
        &format!("part {part}: swapped"),
        pread(swapped, 9, 0),
        b"efghijnop".to_vec(),
    );
    close(swapped);
    for n in [&a, &b] {
        c.eq(
            &format!("part {part}: unlinkat"),
            sys(263, [dfd, n.as_ptr() as u64, 0, 0, 0, 0]),
            0,
        );
    }
    // close_range of the two files (and nothing else: they are the highest).
    let (lo, hi) = (src.min(dst), src.max(dst));
    c.eq(
        &format!("part {part}: close_range"),
        sys(436, [lo, hi, 0, 0, 0, 0]),
        0,
    );
    c.eq(&format!("part {part}: closed"), close(src), -9);
}

pub(super) fn case_fdops(c: &mut Checks, dir: &str) {
    let dfd = openat(AT_FDCWD, dir, O_DIRECTORY);
    c.check("the directory", dfd >= 0, || format!("{dfd}"));
    in_three_parts(c, dir, |c, part| fdops_round(c, part, dfd.max(0) as u64));
}

// --- events -----------------------------------------------------------------------------------

const EFD_SEMAPHORE: u64 = 1;
const IN_CREATE: u32 = 0x100;
const IN_DELETE: u32 = 0x200;

fn eventfd(init: u64, flags: u64) -> u64 {
    sys(290, [init, flags, 0, 0, 0, 0]).max(0) as u64
}

fn ev_read(fd: u64) -> (i64, u64) {
    let mut v = 0u64;
    let r = sys(0, [fd, &mut v as *mut u64 as u64, 8, 0, 0, 0]);
    (r, v)
}

fn ev_add(fd: u64, v: u64) -> i64 {
    sys(1, [fd, &v as *const u64 as u64, 8, 0, 0, 0])
}

/// The (mask, name) of each inotify event in `buf[..n]`.
fn inotify_events(buf: &[u8]) -> Vec<(u32, String)> {
    let mut v = Vec::new();
    let mut at = 0;
    while at + 16 <= buf.len() {
        let word =
            |o: usize| u32::from_ne_bytes(buf[at + o..at + o + 4].try_into().unwrap_or([0; 4]));
        let (mask, len) = (word(4), word(12) as usize);
        let end = (at + 16 + len).min(buf.len());
        let name = String::from_utf8_lossy(&buf[at + 16..end])
            .trim_end_matches('\0')
            .to_string();
        v.push((mask, name));
        at = end;
    }
    v
}

fn events_round(c: &mut Checks, part: u32, dir: &str, kept: u64) {
    c.eq(
        &format!("part {part}: the eventfd of part 0 kept its count"),
        ev_read(kept),
        (8, 7 + u64::from(part)),
    );
    ev_add(kept, 8 + u64::from(part));
    let e = eventfd(3, O_NONBLOCK);
    c.eq(&format!("part {part}: add"), ev_add(e, 4), 8);
    c.eq(&format!("part {part}: the count"), ev_read(e), (8, 7));
    c.eq(&format!("part {part}: then EAGAIN"), ev_read(e).0, -EAGAIN);
    close(e);
    let s = eventfd(2, EFD_SEMAPHORE | O_NONBLOCK);
    c.eq(&format!("part {part}: semaphore, one"), ev_read(s), (8, 1));
    c.eq(&format!("part {part}: semaphore, two"), ev_read(s), (8, 1));
    c.eq(
        &format!("part {part}: semaphore, none"),
        ev_read(s).0,
        -EAGAIN,
    );
    close(s);
    // inotify on the directory: a file made and removed.
    let ino = sys(294, [O_NONBLOCK, 0, 0, 0, 0, 0]);
    c.check(&format!("part {part}: inotify_init1"), ino >= 0, || {
        format!("{ino}")
    });
    let ino = ino.max(0) as u64;
    let d = cpath(dir);
    let wd = sys(
        254,
        [
            ino,
            d.as_ptr() as u64,
            u64::from(IN_CREATE | IN_DELETE),
            0,
            0,
            0,
        ],
    );
    c.check(&format!("part {part}: a watch"), wd >= 1, || {
        format!("{wd}")
    });
    let name = format!("made.{part}");
    let f = openat(AT_FDCWD, &format!("{dir}/{name}"), O_RDWR | O_CREAT);
    close(f.max(0) as u64);
    let p = cpath(&format!("{dir}/{name}"));
    sys(87, [p.as_ptr() as u64, 0, 0, 0, 0, 0]);
    let mut buf = [0u8; 1024];
    let n = sys(0, [ino, buf.as_mut_ptr() as u64, buf.len() as u64, 0, 0, 0]);
    c.eq(
        &format!("part {part}: inotify saw it made and removed"),
        inotify_events(&buf[..n.max(0) as usize]),
        vec![(IN_CREATE, name.clone()), (IN_DELETE, name)],
    );
    close(ino);
    // memfd: written, sized, read back.
    let m = sys(319, [c"omx-t".as_ptr() as u64, 0, 0, 0, 0, 0]);
    c.check(&format!("part {part}: memfd_create"), m >= 0, || {
        format!("{m}")
    });
    let m = m.max(0) as u64;
    c.eq(
        &format!("part {part}: write to the memfd"),
        write(m, b"in memory"),
        9,
    );
    c.eq(
        &format!("part {part}: read it back"),
        pread(m, 16, 3),
        b"memory".to_vec(),
    );
    close(m);
}

pub(super) fn case_events(c: &mut Checks, dir: &str) {
    let kept = eventfd(7, 0);
    in_three_parts(c, dir, |c, part| events_round(c, part, dir, kept));
}

// --- locks ------------------------------------------------------------------------------------

const LOCK_EX: u64 = 2;
const LOCK_NB: u64 = 4;
const LOCK_UN: u64 = 8;
const F_GETLK: u64 = 5;
const F_SETLK: u64 = 6;
const F_OFD_SETLK: u64 = 37;
const F_WRLCK: i16 = 1;
const F_UNLCK: i16 = 2;

/// `struct flock`: type, whence, start, len, pid.
fn flock_of(kind: i16, start: i64, len: i64) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..2].copy_from_slice(&kind.to_ne_bytes());
    b[8..16].copy_from_slice(&start.to_ne_bytes());
    b[16..24].copy_from_slice(&len.to_ne_bytes());
    b
}

fn locks_round(c: &mut Checks, part: u32, dir: &str, other_pid: i64) {
    let f = format!("{dir}/lockfile");
    let fd = openat(AT_FDCWD, &f, O_RDWR).max(0) as u64;
    // Another process holds a write lock on bytes 100..110: F_GETLK names it.
    let mut q = flock_of(F_WRLCK, 100, 10);
    c.eq(
        &format!("part {part}: F_GETLK"),
        sys(72, [fd, F_GETLK, q.as_mut_ptr() as u64, 0, 0, 0]),
        0,
    );
    let pid = i32::from_ne_bytes(q[24..28].try_into().unwrap_or([0; 4]));
    c.eq(
        &format!("part {part}: the other process's lock"),
        (i16::from_ne_bytes([q[0], q[1]]), i64::from(pid)),
        (F_WRLCK, other_pid),
    );
    let mut l = flock_of(F_WRLCK, 0, 10);
    c.eq(
        &format!("part {part}: F_SETLK of free bytes"),
        sys(72, [fd, F_SETLK, l.as_mut_ptr() as u64, 0, 0, 0]),
        0,
    );
    let mut busy = flock_of(F_WRLCK, 105, 1);
    c.eq(
        &format!("part {part}: F_SETLK of its bytes: EAGAIN"),
        sys(72, [fd, F_SETLK, busy.as_mut_ptr() as u64, 0, 0, 0]),
        -EAGAIN,
    );
    let mut u = flock_of(F_UNLCK, 0, 10);
    c.eq(
        &format!("part {part}: unlock"),
        sys(72, [fd, F_SETLK, u.as_mut_ptr() as u64, 0, 0, 0]),
        0,
    );
    let mut ofd = flock_of(F_WRLCK, 200, 5);
    c.eq(
        &format!("part {part}: F_OFD_SETLK"),
        sys(72, [fd, F_OFD_SETLK, ofd.as_mut_ptr() as u64, 0, 0, 0]),
        0,
    );
    close(fd);
    // flock: the lock of part 0 is still held (another open of the file cannot take it).
    let again = openat(AT_FDCWD, &f, O_RDONLY).max(0) as u64;
    c.eq(
        &format!("part {part}: the flock of part 0 still holds"),
        sys(73, [again, LOCK_EX | LOCK_NB, 0, 0, 0, 0]),
        -EAGAIN,
    );
    close(again);
}

pub(super) fn case_locks(c: &mut Checks, dir: &str) {
    let f = format!("{dir}/lockfile");
    let fd = openat(AT_FDCWD, &f, O_RDWR | O_CREAT | O_TRUNC);
    c.check("the lock file", fd >= 0, || format!("{fd}"));
    let fd = fd.max(0) as u64;
    write(fd, &[0u8; 256]);
    c.eq("flock of part 0", sys(73, [fd, LOCK_EX, 0, 0, 0, 0]), 0);
    // A child holds a record lock on 100..110 until it is killed.
    let (r, w) = pipe();
    let child = sys(57, [0; 6]);
    if child == 0 {
        let cfd = openat(AT_FDCWD, &f, O_RDWR).max(0) as u64;
        let mut l = flock_of(F_WRLCK, 100, 10);
        sys(72, [cfd, F_SETLK, l.as_mut_ptr() as u64, 0, 0, 0]);
        write(w, b"k");
        loop {
            sys(34, [0; 6]);
        }
    }
    let mut b = [0u8; 1];
    sys(0, [r, b.as_mut_ptr() as u64, 1, 0, 0, 0]);
    in_three_parts(c, dir, |c, part| locks_round(c, part, dir, child));
    sys(62, [child as u64, 9, 0, 0, 0, 0]);
    sys(61, [child as u64, 0, 0, 0, 0, 0]);
    c.eq("unlock the flock", sys(73, [fd, LOCK_UN, 0, 0, 0, 0]), 0);
}
