// SPDX-License-Identifier: GPL-2.0

//! Chains of saves (`omctl checkpoint --parent`, `mosrun -C`): an incremental checkpoint holds
//! only the pages its process wrote since the save it adds to, and `Parent` records for the
//! others. A restart merges the chain, newest first, into one whole image in memory (a memfd),
//! which the module then reads as it reads any checkpoint.
//!
//! Every file of the chain is checked whole first, as any checkpoint is; each must be the one
//! its child names (the save's name in its home section), and a chain holds at most
//! `ckpt::MAX_CHAIN` saves.

use crate::Failure;
use omcore::ckpt::{self, MAX_CHAIN};
use omcore::image::{
    Kind, Record, RecordHeader, MAX_PAGES_PER_RECORD, PAGE_SIZE, RECORD_HEADER_LEN,
};
use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// One save of a chain, as checked: where its pages are.
pub(crate) struct Save {
    pub(crate) path: PathBuf,
    file: std::fs::File,
    /// Pages it carries: address, offset of the page's bytes in the file.
    data: BTreeMap<u64, u64>,
    /// Runs of pages it takes from its parent: first page, end (exclusive), ascending.
    same: Vec<(u64, u64)>,
    pub(crate) id: u64,
    pub(crate) parent: u64,
    pub(crate) parent_path: Vec<u8>,
    pub(crate) image_at: u64,
    pub(crate) home_at: u64,
    pub(crate) vdso: u64,
    /// Its place in its session: flags and terminal (`ckpt::Job`).
    pub(crate) job: (u8, Vec<u8>),
}

impl Save {
    /// Checks checkpoint file `path` whole (see `ckpt::check_file`) and indexes its pages.
    pub(crate) fn read(path: &Path) -> Result<Self, Failure> {
        Self::read_as(path, path)
    }

    /// [`Save::read`] of the file opened as `open`, named `path` (the directory its parent's
    /// relative path is in). Only a regular file is read (a FIFO or a device is refused
    /// without waiting).
    pub(crate) fn read_as(open: &Path, path: &Path) -> Result<Self, Failure> {
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        const O_NONBLOCK: i32 = 0o4000;
        let name = path.display();
        let bad = |what: String| Failure(format!("{name}: not a usable checkpoint: {what}"), 1);
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NONBLOCK)
            .open(open)
            .map_err(|e| Failure(format!("{name}: {e}"), 1))?;
        let kind = f.metadata().map_err(|e| bad(e.to_string()))?.file_type();
        if !kind.is_file() || kind.is_fifo() {
            return Err(bad("not a regular file".into()));
        }
        let mut r =
            BufReader::with_capacity(1 << 20, f.try_clone().map_err(|e| bad(e.to_string()))?);
        let mut head = [0u8; ckpt::HEADER_LEN];
        r.read_exact(&mut head).map_err(|e| bad(e.to_string()))?;
        ckpt::decode_header(&head).map_err(|e| bad(e.to_string()))?;
        let mut at = ckpt::HEADER_LEN as u64;
        let mut reader = omcore::image::ImageReader::incremental();
        let (mut vdso, mut data, mut same) = (None, BTreeMap::new(), Vec::new());
        let mut body = Vec::new();
        loop {
            let mut h = [0u8; RECORD_HEADER_LEN];
            r.read_exact(&mut h)
                .map_err(|e| bad(format!("image: {e}")))?;
            let h = RecordHeader::decode(&h).map_err(|e| bad(format!("image: {e}")))?;
            // At most the kind's largest body (`RecordHeader::decode`).
            body.resize(h.len as usize, 0);
            r.read_exact(&mut body)
                .map_err(|e| bad(format!("image: {e}")))?;
            let body_at = at + RECORD_HEADER_LEN as u64;
            at = body_at + body.len() as u64;
            match reader
                .feed(h, &body)
                .map_err(|e| bad(format!("image: {e}")))?
            {
                Record::Mm(m) => vdso = Some(m.v[omcore::image::MM_VDSO]),
                Record::Pages { addr, data: d } => {
                    for i in 0..(d.len() / PAGE_SIZE) as u64 {
                        data.insert(
                            addr + i * PAGE_SIZE as u64,
                            body_at + 8 + i * PAGE_SIZE as u64,
                        );
                    }
                }
                Record::Parent { addr, pages } => {
                    // The reader checked that the run lies in its area: no overflow.
                    same.push((addr, addr + u64::from(pages) * PAGE_SIZE as u64));
                }
                Record::End(_) => break,
                _ => {}
            }
        }
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).map_err(|e| bad(e.to_string()))?;
        let home = ckpt::decode_home(&rest).map_err(|e| bad(e.to_string()))?;
        if home.lineage.parent == 0 && !same.is_empty() {
            return Err(bad("pages of a parent in a whole save".into()));
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: f,
            data,
            same,
            id: home.lineage.id,
            parent: home.lineage.parent,
            parent_path: home.lineage.parent_path.to_vec(),
            job: (home.job.flags, home.job.terminal.to_vec()),
            image_at: ckpt::HEADER_LEN as u64,
            home_at: at,
            vdso: vdso.ok_or_else(|| bad("image without a memory layout".into()))?,
        })
    }

    /// Whether page `addr` is one this save takes from its parent.
    fn takes_from_parent(&self, addr: u64) -> bool {
        let i = self.same.partition_point(|&(start, _)| start <= addr);
        i > 0 && addr < self.same[i - 1].1
    }

    /// The file of this save's parent: its path as saved, a relative one in this file's
    /// directory.
    fn parent_file(&self) -> PathBuf {
        let p = Path::new(std::ffi::OsStr::from_bytes(&self.parent_path));
        match self.path.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }
}

/// The interval timers of the image at byte `image_at` of `file` (its `Misc` record, one of
/// the first records), if it has one; the file was checked before.
pub(crate) fn itimers(file: &std::fs::File, image_at: u64) -> Option<[(u64, u64); 3]> {
    let mut r = BufReader::new(file);
    r.seek(SeekFrom::Start(image_at)).ok()?;
    let mut reader = omcore::image::ImageReader::new();
    let mut body = Vec::new();
    loop {
        let mut h = [0u8; RECORD_HEADER_LEN];
        r.read_exact(&mut h).ok()?;
        let h = RecordHeader::decode(&h).ok()?;
        body.resize(h.len as usize, 0);
        r.read_exact(&mut body).ok()?;
        match reader.feed(h, &body).ok()? {
            Record::Misc(m) => return Some(m.itimers),
            Record::Vma(_) | Record::End(_) => return None,
            _ => {}
        }
    }
}

/// Checks the save in `path` and every save it adds to; newest first.
pub(crate) fn read_chain(path: &Path) -> Result<Vec<Save>, Failure> {
    read_chain_as(path, path)
}

/// [`read_chain`] from the save opened as `open`, named `path`.
pub(crate) fn read_chain_as(open: &Path, path: &Path) -> Result<Vec<Save>, Failure> {
    let mut chain = vec![Save::read_as(open, path)?];
    while let Some(last) = chain.last().filter(|s| s.parent != 0) {
        if chain.len() == MAX_CHAIN {
            return Err(Failure(
                format!("{}: a chain of more than {MAX_CHAIN} saves", path.display()),
                1,
            ));
        }
        let (want, file) = (last.parent, last.parent_file());
        let s = Save::read(&file)?;
        if s.id != want {
            return Err(Failure(
                format!(
                    "{}: not the save {want:#x} that {} adds to (it is {:#x})",
                    file.display(),
                    last.path.display(),
                    s.id
                ),
                1,
            ));
        }
        chain.push(s);
    }
    Ok(chain)
}

/// Page `addr` as the chain from save `k` on has it, into `page` (zeros if none has it).
fn resolve(chain: &[Save], mut k: usize, addr: u64, page: &mut [u8]) -> std::io::Result<()> {
    loop {
        let Some(s) = chain.get(k) else {
            page.fill(0);
            return Ok(());
        };
        if let Some(&off) = s.data.get(&addr) {
            return s.file.read_exact_at(page, off);
        }
        if !s.takes_from_parent(addr) {
            page.fill(0);
            return Ok(());
        }
        k += 1;
    }
}

/// Writes the whole image of `chain` (newest first, as [`read_chain`] gives it) into a new
/// memfd, as a checkpoint file: header, the image, the newest save's home section. Returns
/// the memfd and where its home section starts.
pub(crate) fn merge(chain: &[Save]) -> Result<(std::fs::File, u64), Failure> {
    let fail = |e: std::io::Error| Failure(format!("merging the saves: {e}"), 1);
    let fd = crate::raw::memfd(c"omx-restart");
    if fd < 0 {
        return Err(fail(std::io::Error::from_raw_os_error(-fd as i32)));
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let out = unsafe { std::fs::File::from_raw_fd(fd as i32) };
    let newest = &chain[0];
    let mut w = BufWriter::with_capacity(1 << 20, &out);
    w.write_all(&ckpt::encode_header()).map_err(fail)?;
    let mut r = BufReader::with_capacity(1 << 20, &newest.file);
    r.seek(SeekFrom::Start(newest.image_at)).map_err(fail)?;
    let mut run = Run::default();
    let mut page = vec![0u8; PAGE_SIZE];
    let mut body = Vec::new();
    loop {
        let mut h = [0u8; RECORD_HEADER_LEN];
        r.read_exact(&mut h).map_err(fail)?;
        // Checked by `Save::read`.
        let h = RecordHeader::decode(&h).map_err(|e| fail(std::io::Error::other(e.to_string())))?;
        body.resize(h.len as usize, 0);
        r.read_exact(&mut body).map_err(fail)?;
        let pages: Vec<u64> = match h.kind {
            Kind::Pages | Kind::Parent => {
                let addr = u64::from_be_bytes(body[..8].try_into().unwrap_or_default());
                let n = if h.kind == Kind::Pages {
                    ((body.len() - 8) / PAGE_SIZE) as u64
                } else {
                    u64::from(u32::from_be_bytes(
                        body[8..12].try_into().unwrap_or_default(),
                    ))
                };
                (0..n).map(|i| addr + i * PAGE_SIZE as u64).collect()
            }
            Kind::Vma | Kind::End => {
                run.flush(&mut w).map_err(fail)?;
                if h.kind == Kind::End {
                    let end = RecordHeader {
                        kind: Kind::End,
                        len: 8,
                    };
                    w.write_all(&end.encode()).map_err(fail)?;
                    w.write_all(&run.count.to_be_bytes()).map_err(fail)?;
                    break;
                }
                w.write_all(&h.encode())
                    .and_then(|()| w.write_all(&body))
                    .map_err(fail)?;
                continue;
            }
            _ => {
                w.write_all(&h.encode())
                    .and_then(|()| w.write_all(&body))
                    .map_err(fail)?;
                continue;
            }
        };
        for (i, addr) in pages.into_iter().enumerate() {
            if h.kind == Kind::Pages {
                page.copy_from_slice(&body[8 + i * PAGE_SIZE..8 + (i + 1) * PAGE_SIZE]);
            } else {
                resolve(chain, 1, addr, &mut page).map_err(fail)?;
            }
            run.add(&mut w, addr, &page).map_err(fail)?;
        }
    }
    let home_at = w.stream_position().map_err(fail)?;
    let mut home = Vec::new();
    let mut f = &newest.file;
    f.seek(SeekFrom::Start(newest.home_at)).map_err(fail)?;
    f.read_to_end(&mut home).map_err(fail)?;
    w.write_all(&home).and_then(|()| w.flush()).map_err(fail)?;
    drop(w);
    Ok((out, home_at))
}

/// The merged image's pages not written yet: consecutive non-zero pages from `at`, and the
/// count of pages written so far (the merged `End`'s).
#[derive(Default)]
struct Run {
    at: u64,
    bytes: Vec<u8>,
    count: u64,
}

impl Run {
    /// Adds page `addr` (zeros are left out, as in any image).
    fn add(&mut self, w: &mut impl Write, addr: u64, page: &[u8]) -> std::io::Result<()> {
        let contiguous = self.at + self.bytes.len() as u64 == addr;
        let zero = page.iter().all(|&b| b == 0);
        if zero || !contiguous || self.bytes.len() == MAX_PAGES_PER_RECORD * PAGE_SIZE {
            self.flush(w)?;
        }
        if !zero {
            if self.bytes.is_empty() {
                self.at = addr;
            }
            self.bytes.extend_from_slice(page);
        }
        Ok(())
    }

    /// Writes the pages held as one `Pages` record.
    fn flush(&mut self, w: &mut impl Write) -> std::io::Result<()> {
        if self.bytes.is_empty() {
            return Ok(());
        }
        let h = RecordHeader {
            kind: Kind::Pages,
            len: (8 + self.bytes.len()) as u32,
        };
        w.write_all(&h.encode())?;
        w.write_all(&self.at.to_be_bytes())?;
        w.write_all(&self.bytes)?;
        self.count += (self.bytes.len() / PAGE_SIZE) as u64;
        self.bytes.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omcore::image::{
        Begin, ImageReader, Limits, Misc, Mm, Regs, Rseq, Signals, Vma, VmaKind, MM_FIELDS,
        NLIMITS, NREGS, NSIG, PROT_READ, PROT_WRITE, XSAVE_HEADER,
    };

    const HEAP: u64 = 0x60_0000;

    fn rec(out: &mut Vec<u8>, kind: Kind, body: &[u8]) {
        let h = RecordHeader {
            kind,
            len: body.len() as u32,
        };
        out.extend_from_slice(&h.encode());
        out.extend_from_slice(body);
    }

    /// A checkpoint file of a process with one 8-page heap: `pages` (page index, fill byte)
    /// carried, `same` (page index, count) from the parent.
    fn save(
        dir: &Path,
        name: &str,
        id: u64,
        parent: Option<(u64, &str)>,
        pages: &[(u64, u8)],
        same: &[(u64, u32)],
    ) -> PathBuf {
        let mut f = ckpt::encode_header().to_vec();
        let begin = Begin {
            xfeatures: 7,
            xstate_size: 832,
            home_node: 1,
            home_pid: 9,
            comm: *b"t\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            clocks: [1, 1],
        };
        rec(&mut f, Kind::Begin, &begin.encode());
        let mut r = [0u64; NREGS];
        r[omcore::image::REG_RIP] = 0x40_1000;
        r[omcore::image::REG_EFLAGS] = 0x246;
        rec(&mut f, Kind::Regs, &Regs { r }.encode());
        let mut x = vec![0u8; 832];
        x[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        x[XSAVE_HEADER..XSAVE_HEADER + 8].copy_from_slice(&7u64.to_le_bytes());
        rec(&mut f, Kind::Xstate, &x);
        rec(&mut f, Kind::Mm, &Mm { v: [0; MM_FIELDS] }.encode());
        let sig = Signals {
            blocked: 0,
            pending: 0,
            altstack: (0, 2, 0),
            actions: [(0, 0, 0, 0); NSIG],
        };
        rec(&mut f, Kind::Signals, &sig.encode());
        rec(
            &mut f,
            Kind::Limits,
            &Limits {
                l: [(1, 2); NLIMITS],
            }
            .encode(),
        );
        let misc = Misc {
            umask: 0o22,
            personality: 0,
            itimers: [(0, 0); 3],
            away_cpu_ns: [0, 0],
            rseq: Rseq {
                addr: 0,
                len: 0,
                sig: 0,
            },
            uid: 0,
        };
        rec(&mut f, Kind::Misc, &misc.encode());
        let mut v = [0u8; 64];
        let heap = Vma {
            start: HEAP,
            end: HEAP + 8 * 4096,
            prot: PROT_READ | PROT_WRITE,
            kind: VmaKind::Heap,
            file: 0,
            pgoff: 0,
            path: b"",
        };
        let n = heap.encode(&mut v);
        rec(&mut f, Kind::Vma, &v[..n]);
        // In address order, as a capture makes them.
        let mut all: Vec<(u64, Option<u8>, u32)> =
            pages.iter().map(|&(p, b)| (p, Some(b), 1)).collect();
        all.extend(same.iter().map(|&(p, n)| (p, None, n)));
        all.sort();
        for (p, fill, n) in all {
            let addr = HEAP + p * 4096;
            let mut b = addr.to_be_bytes().to_vec();
            match fill {
                Some(x) => {
                    b.extend(vec![x; 4096]);
                    rec(&mut f, Kind::Pages, &b);
                }
                None => {
                    b.extend(n.to_be_bytes());
                    rec(&mut f, Kind::Parent, &b);
                }
            }
        }
        rec(&mut f, Kind::End, &(pages.len() as u64).to_be_bytes());
        let lineage = ckpt::Lineage {
            id,
            parent: parent.map_or(0, |p| p.0),
            parent_path: parent.map_or(&b""[..], |p| p.1.as_bytes()),
        };
        let n = ckpt::home_len(&lineage, b"/", &[], &Default::default()).unwrap();
        let mut home = vec![0u8; n];
        ckpt::encode_home(1, 9, &lineage, b"/", &[], &Default::default(), &mut home).unwrap();
        f.extend(home);
        let path = dir.join(name);
        std::fs::write(&path, f).unwrap();
        path
    }

    /// The merged image's pages, by page index, each as its fill byte (all its bytes equal).
    fn merged(path: &Path) -> BTreeMap<u64, u8> {
        let chain = read_chain(path).unwrap_or_else(|Failure(m, _)| panic!("{m}"));
        let (mut f, home_at) = merge(&chain).unwrap_or_else(|Failure(m, _)| panic!("{m}"));
        let mut all = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut all).unwrap();
        ckpt::decode_header(&all).unwrap();
        ckpt::decode_home(&all[home_at as usize..]).unwrap();
        // The merged image is whole: a migration's reader takes it.
        let mut r = ImageReader::new();
        let mut at = ckpt::HEADER_LEN;
        let mut out = BTreeMap::new();
        while !r.is_complete() {
            let h = RecordHeader::decode(&all[at..]).unwrap();
            let body = &all[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + h.len as usize];
            if let Record::Pages { addr, data } = r.feed(h, body).unwrap() {
                for (i, p) in data.chunks(4096).enumerate() {
                    assert!(p.iter().all(|&b| b == p[0]));
                    out.insert((addr - HEAP) / 4096 + i as u64, p[0]);
                }
            }
            at += RECORD_HEADER_LEN + h.len as usize;
        }
        assert_eq!(at as u64, home_at);
        out
    }

    #[test]
    fn a_chain_merges_into_the_latest_state() {
        let dir = std::env::temp_dir().join(format!("omctl-chain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Whole: pages 0..4 = 1, 2, 3, 4.
        save(&dir, "a", 10, None, &[(0, 1), (1, 2), (2, 3), (3, 4)], &[]);
        // Then: 0 and 1 unchanged, 2 rewritten, 3 now zeros (absent), 5 new.
        save(
            &dir,
            "b",
            11,
            Some((10, "a")),
            &[(2, 30), (5, 50)],
            &[(0, 2)],
        );
        // Then: 0 unchanged (from a, through b), 1 unchanged, 2 unchanged (b's), 5 rewritten,
        // 6 unchanged (none before it has it: zeros).
        let c = save(
            &dir,
            "c",
            12,
            Some((11, "b")),
            &[(5, 51)],
            &[(0, 3), (6, 1)],
        );
        let want: BTreeMap<u64, u8> = [(0, 1), (1, 2), (2, 30), (5, 51)].into_iter().collect();
        assert_eq!(merged(&c), want);
        // A save that names the wrong parent, or a missing one, is refused.
        let bad = save(&dir, "d", 13, Some((99, "c")), &[], &[(0, 1)]);
        assert!(read_chain(&bad).is_err());
        let lost = save(&dir, "e", 14, Some((12, "nowhere")), &[], &[(0, 1)]);
        assert!(read_chain(&lost).is_err());
        // Parent pages in a whole save are refused.
        let whole = save(&dir, "f", 15, None, &[], &[(0, 1)]);
        assert!(Save::read(&whole).is_err());
        // A chain of saves that name each other never ends: refused at its limit.
        save(&dir, "x", 20, Some((21, "y")), &[], &[]);
        let y = save(&dir, "y", 21, Some((20, "x")), &[], &[]);
        assert!(read_chain(&y).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
