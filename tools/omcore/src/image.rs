// SPDX-License-Identifier: GPL-2.0

//! The process image: what a migration (or a checkpoint) sends, as a stream of records.
//!
//! A sender emits records one by one and never needs the whole image in memory; a receiver
//! feeds each record to an [`ImageReader`], which validates it completely (fields, order, and
//! every address against the user address space and the areas declared earlier) before anything
//! of it may reach the restoring task. Record header (8 bytes, big-endian):
//!
//! | offset | size | field                          |
//! | ------ | ---- | ------------------------------ |
//! | 0      | 2    | kind ([`Kind`])                |
//! | 2      | 2    | flags, must be 0               |
//! | 4      | 4    | body length                    |
//!
//! Order: `Begin`; then `Regs`, `Xstate`, `Mm`, `Signals`, `Limits`, `Misc` once each in any
//! order; then the memory: `Vma` records in ascending address order, each followed by the `Pages`
//! records of that area in ascending order; then `End`, which requires every once-only record to
//! have been seen. A reader so needs to remember only the current area, and a restore can map an
//! area and fill it as the records stream in.
//!
//! An incremental checkpoint (`crate::ckpt`) also has `Parent` records among an area's `Pages`:
//! pages the process did not change since its previous checkpoint, to be taken from that one.
//! Only a reader made with [`ImageReader::incremental`] accepts them; a migration's or a
//! restore's reader refuses them, so such an image reaches a process only merged whole.
//! Multi-byte fields of this crate's records are big-endian; the XSAVE area is the CPU's own
//! (little-endian) layout, carried as it is and checked at its fixed offsets.

use core::fmt;

/// `"OMXI"`: first field of `Begin`.
pub const MAGIC: u32 = u32::from_be_bytes(*b"OMXI");
/// Version of the image format; other versions are refused.
pub const IMAGE_VERSION: u16 = 5;
/// ELF machine number of x86-64, the only architecture.
pub const ARCH_X86_64: u16 = 62;
/// Page size of images.
pub const PAGE_SIZE: usize = 4096;
/// End of the x86-64 user address space (`TASK_SIZE_MAX` with 4-level paging).
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;
/// Size of a record header.
pub const RECORD_HEADER_LEN: usize = 8;
/// Most pages one `Pages` record carries.
pub const MAX_PAGES_PER_RECORD: usize = 255;
/// Most memory areas an image may declare: the kernel's default `vm.max_map_count`
/// (`DEFAULT_MAX_MAP_COUNT`), which a process of a default system cannot exceed.
pub const MAX_VMAS: usize = 65530;
/// Longest file path of a file-backed area.
pub const MAX_PATH: usize = 4096;
/// Largest XSAVE area accepted.
pub const MAX_XSTATE: usize = 64 * 1024;
/// Number of general registers (`struct user_regs_struct`).
pub const NREGS: usize = 27;
/// Number of resource limits.
pub const NLIMITS: usize = 16;
/// Number of signals with an action.
pub const NSIG: usize = 64;

/// Record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Kind {
    /// Image identity and geometry.
    Begin = 1,
    /// General registers.
    Regs = 2,
    /// XSAVE area (FPU, SSE, AVX... state).
    Xstate = 3,
    /// One memory area.
    Vma = 4,
    /// Consecutive pages of one area.
    Pages = 5,
    /// Memory layout (code, data, brk, stack, arguments, environment).
    Mm = 6,
    /// Signal mask, pending signals, alternate stack, actions.
    Signals = 7,
    /// Resource limits.
    Limits = 8,
    /// umask, personality, interval timers.
    Misc = 9,
    /// Pages of one area unchanged since the previous checkpoint (incremental checkpoints).
    Parent = 10,
    /// Last record.
    End = 255,
}

impl Kind {
    fn from_wire(v: u16) -> Option<Self> {
        Some(match v {
            1 => Self::Begin,
            2 => Self::Regs,
            3 => Self::Xstate,
            4 => Self::Vma,
            5 => Self::Pages,
            6 => Self::Mm,
            7 => Self::Signals,
            8 => Self::Limits,
            9 => Self::Misc,
            10 => Self::Parent,
            255 => Self::End,
            _ => return None,
        })
    }

    /// Bit of once-only records in [`ImageReader`]'s bookkeeping.
    fn once_bit(self) -> u16 {
        match self {
            Self::Regs => 1 << 0,
            Self::Xstate => 1 << 1,
            Self::Mm => 1 << 2,
            Self::Signals => 1 << 3,
            Self::Limits => 1 << 4,
            Self::Misc => 1 << 5,
            _ => 0,
        }
    }

    /// Largest body a record of this kind may have.
    pub fn max_len(self) -> usize {
        match self {
            Self::Begin => Begin::LEN,
            Self::Regs => NREGS * 8,
            Self::Xstate => MAX_XSTATE,
            Self::Vma => VMA_FIXED_LEN + MAX_PATH,
            Self::Pages => 8 + MAX_PAGES_PER_RECORD * PAGE_SIZE,
            Self::Mm => MM_FIELDS * 8,
            Self::Signals => SIGNALS_LEN,
            Self::Limits => NLIMITS * 16,
            Self::Misc => MISC_LEN,
            Self::Parent => PARENT_LEN,
            Self::End => 8,
        }
    }
}

const ONCE_ALL: u16 = (1 << 6) - 1;
const VMA_FIXED_LEN: usize = 8 + 8 + 1 + 1 + 2 + 8 + 2;
/// Values in an `Mm` record.
pub const MM_FIELDS: usize = 12;
const SIGNALS_LEN: usize = 8 + 8 + (8 + 4 + 8) + 8 + NSIG * 32;
const MISC_LEN: usize = 4 + 4 + 3 * 16 + 2 * 8 + 16 + 4;
/// A `Parent` record: the first page's address, the number of pages.
pub const PARENT_LEN: usize = 8 + 4;

/// Why an image was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageError {
    /// Bad record header: unknown kind, flags set, or a body too long for its kind.
    Header,
    /// A body of the wrong length for its kind.
    Length(Kind),
    /// A record out of order (or a once-only record repeated, or `End` too early).
    Order(Kind),
    /// A field out of range; the name says which.
    Field(&'static str),
    /// More than [`MAX_VMAS`] areas.
    TooManyVmas,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header => write!(f, "bad record header"),
            Self::Length(k) => write!(f, "{k:?} record of the wrong length"),
            Self::Order(k) => write!(f, "{k:?} record out of order"),
            Self::Field(name) => write!(f, "field {name} out of range"),
            Self::TooManyVmas => write!(f, "more than {MAX_VMAS} memory areas"),
        }
    }
}

/// A validated record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// What the record is.
    pub kind: Kind,
    /// Body length, at most [`Kind::max_len`].
    pub len: u32,
}

impl RecordHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; RECORD_HEADER_LEN] {
        let mut b = [0u8; RECORD_HEADER_LEN];
        b[..2].copy_from_slice(&(self.kind as u16).to_be_bytes());
        b[4..].copy_from_slice(&self.len.to_be_bytes());
        b
    }

    /// Decodes and validates a header (the body's own checks come with [`ImageReader::feed`]).
    pub fn decode(b: &[u8]) -> Result<Self, ImageError> {
        let b = b.get(..RECORD_HEADER_LEN).ok_or(ImageError::Header)?;
        let kind = Kind::from_wire(u16::from_be_bytes([b[0], b[1]])).ok_or(ImageError::Header)?;
        if b[2] != 0 || b[3] != 0 {
            return Err(ImageError::Header);
        }
        let len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        if len as usize > kind.max_len() {
            return Err(ImageError::Header);
        }
        Ok(Self { kind, len })
    }
}

/// Big-endian reader over a body whose length the caller checked; reads past the end give zeros
/// (never a panic), so a length mistake can only make a check fail.
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let b = self.bytes(N);
        out[..b.len()].copy_from_slice(b);
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take())
    }
}

fn check(ok: bool, name: &'static str) -> Result<(), ImageError> {
    if ok {
        Ok(())
    } else {
        Err(ImageError::Field(name))
    }
}

fn user_addr(v: u64) -> bool {
    v <= TASK_SIZE
}

/// `Begin`: identity and geometry of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    /// XSAVE features the sender's state uses (XCR0 bits); the receiver refuses what it lacks.
    pub xfeatures: u64,
    /// Size of the `Xstate` record.
    pub xstate_size: u32,
    /// Node the process belongs to.
    pub home_node: u32,
    /// Its pid at home.
    pub home_pid: u32,
    /// Its command name, NUL-padded.
    pub comm: [u8; 16],
    /// `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` as the process read them when it was captured,
    /// in nanoseconds: where it goes, its clocks go on from there.
    pub clocks: [u64; 2],
}

/// Nanoseconds in a second.
const NSEC: u64 = 1_000_000_000;

/// A time-namespace clock offset as `/proc/PID/timens_offsets` takes it: whole seconds
/// (negative or not) and nanoseconds (`0..1e9`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockOffset {
    /// Seconds.
    pub secs: i64,
    /// Nanoseconds, below one second.
    pub nsecs: u32,
}

impl Begin {
    /// Encoded size.
    pub const LEN: usize = 4 + 2 + 2 + 4 + 4 + 8 + 4 + 4 + 16 + 16;

    /// The offsets that make a node's `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME`, read now as
    /// `host` (nanoseconds), show the process the clocks it read when it was captured: a time
    /// namespace with these offsets continues them (they stand still while the image travels).
    pub fn clock_offsets(&self, host: [u64; 2]) -> [ClockOffset; 2] {
        // In 64-bit arithmetic (the kernel has no 128-bit division): a difference of two u64
        // is at most 2^64 ns, whose seconds fit an i64 with room.
        core::array::from_fn(|i| {
            let (p, h) = (self.clocks[i], host[i]);
            let d = p.abs_diff(h);
            let (s, n) = ((d / NSEC) as i64, (d % NSEC) as u32);
            if p >= h {
                ClockOffset { secs: s, nsecs: n }
            } else if n == 0 {
                ClockOffset { secs: -s, nsecs: 0 }
            } else {
                ClockOffset {
                    secs: -s - 1,
                    nsecs: NSEC as u32 - n,
                }
            }
        })
    }

    /// Encodes the body.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        let mut at = 0;
        for part in [
            &MAGIC.to_be_bytes()[..],
            &IMAGE_VERSION.to_be_bytes(),
            &ARCH_X86_64.to_be_bytes(),
            &(PAGE_SIZE as u32).to_be_bytes(),
            &self.xstate_size.to_be_bytes(),
            &self.xfeatures.to_be_bytes(),
            &self.home_node.to_be_bytes(),
            &self.home_pid.to_be_bytes(),
            &self.comm,
            &self.clocks[0].to_be_bytes(),
            &self.clocks[1].to_be_bytes(),
        ] {
            b[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        b
    }

    fn decode(b: &[u8]) -> Result<Self, ImageError> {
        let mut r = Rd(b);
        check(r.u32() == MAGIC, "magic")?;
        check(r.u16() == IMAGE_VERSION, "version")?;
        check(r.u16() == ARCH_X86_64, "arch")?;
        check(r.u32() as usize == PAGE_SIZE, "page size")?;
        let xstate_size = r.u32();
        check(
            (576..=MAX_XSTATE as u32).contains(&xstate_size),
            "xstate size",
        )?;
        let xfeatures = r.u64();
        // x87 and SSE are always there; bits above 62 are not user features.
        check(xfeatures & 3 == 3 && xfeatures >> 63 == 0, "xfeatures")?;
        let home_node = r.u32();
        let home_pid = r.u32();
        check(home_node >= 1 && home_pid >= 1, "home")?;
        let comm = r.take();
        let clocks = [r.u64(), r.u64()];
        Ok(Self {
            xfeatures,
            xstate_size,
            home_node,
            home_pid,
            comm,
            clocks,
        })
    }
}

/// Index of `rax` in [`Regs::r`] (`struct user_regs_struct` order): in a system call, its
/// result.
pub const REG_RAX: usize = 10;
/// Index of `orig_rax`: the system call the process was in (-1 for none).
pub const REG_ORIG_RAX: usize = 15;
/// Index of `rip`.
pub const REG_RIP: usize = 16;
/// Index of `eflags`.
pub const REG_EFLAGS: usize = 18;
/// Index of `rsp`.
pub const REG_RSP: usize = 19;
/// Index of `fs_base`.
pub const REG_FS_BASE: usize = 21;
/// Index of `gs_base`.
pub const REG_GS_BASE: usize = 22;

/// Flags a user program may hold in `eflags` (CF PF AF ZF SF TF IF DF OF AC ID, and bit 1).
pub const USER_EFLAGS: u64 = 0x0024_0fd7;

/// General registers, in `struct user_regs_struct` order (r15 ... gs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regs {
    /// The registers.
    pub r: [u64; NREGS],
}

impl Regs {
    /// Encodes the body.
    pub fn encode(&self) -> [u8; NREGS * 8] {
        let mut b = [0u8; NREGS * 8];
        for (i, v) in self.r.iter().enumerate() {
            b[8 * i..8 * i + 8].copy_from_slice(&v.to_be_bytes());
        }
        b
    }

    fn decode(b: &[u8]) -> Result<Self, ImageError> {
        let mut r = Rd(b);
        let regs = Self {
            r: core::array::from_fn(|_| r.u64()),
        };
        check(user_addr(regs.r[REG_RIP]), "rip")?;
        check(user_addr(regs.r[REG_RSP]), "rsp")?;
        check(user_addr(regs.r[REG_FS_BASE]), "fs_base")?;
        check(user_addr(regs.r[REG_GS_BASE]), "gs_base")?;
        check(regs.r[REG_EFLAGS] & !USER_EFLAGS == 0, "eflags")?;
        Ok(regs)
    }
}

/// Offset of the XSAVE header in an XSAVE area.
pub const XSAVE_HEADER: usize = 512;

/// Checks an XSAVE area against the features of `begin`: MXCSR reserved bits clear, the header's
/// `xstate_bv` within the features, `xcomp_bv` either 0 or compacted with the same features,
/// reserved header bytes zero.
fn check_xstate(b: &[u8], begin: &Begin) -> Result<(), ImageError> {
    let le32 = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let le64 = |at: usize| u64::from(le32(at)) | (u64::from(le32(at + 4)) << 32);
    check(le32(24) & !0xffff == 0, "mxcsr")?;
    let xstate_bv = le64(XSAVE_HEADER);
    let xcomp_bv = le64(XSAVE_HEADER + 8);
    check(xstate_bv & !begin.xfeatures == 0, "xstate_bv")?;
    check(
        xcomp_bv == 0 || (xcomp_bv >> 63 == 1 && xcomp_bv & !(1 << 63) & !begin.xfeatures == 0),
        "xcomp_bv",
    )?;
    check(
        b[XSAVE_HEADER + 16..XSAVE_HEADER + 64]
            .iter()
            .all(|&x| x == 0),
        "xsave header",
    )
}

/// Protection bit: readable.
pub const PROT_READ: u8 = 1;
/// Protection bit: writable.
pub const PROT_WRITE: u8 = 2;
/// Protection bit: executable.
pub const PROT_EXEC: u8 = 4;

/// What kind of memory an area is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum VmaKind {
    /// Private anonymous memory.
    Anon = 0,
    /// Private mapping of a file (its pages as the process changed them follow in `Pages`).
    File = 1,
    /// The main stack, or another area that grows down (`MAP_GROWSDOWN`): made so again.
    Stack = 2,
    /// The `brk` heap.
    Heap = 3,
    /// A private mapping of a file at home, its pages paged from home as they are touched
    /// ([`Vma::file`] names it): only the pages the process changed follow.
    HomeFile = 4,
    /// The same, of a shared mapping that cannot write: made shared again at home.
    HomeShared = 5,
}

impl VmaKind {
    /// Whether the area's pages come from a file held at home.
    pub fn from_home(self) -> bool {
        matches!(self, Self::HomeFile | Self::HomeShared)
    }
}

/// Most files at home that a process's areas page from (ids `1..=MAX_HOME_FILES`).
pub const MAX_HOME_FILES: u16 = 4096;
/// The bit of [`Vma::file`] of a shared area whose file is open for writing: made writable,
/// it writes the file (at home).
pub const HOME_MAY_WRITE: u16 = 0x8000;

/// One memory area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vma<'a> {
    /// First address (page-aligned).
    pub start: u64,
    /// End address (page-aligned, exclusive, at most [`TASK_SIZE`]).
    pub end: u64,
    /// `PROT_*` bits.
    pub prot: u8,
    /// What the area is.
    pub kind: VmaKind,
    /// The file at home the pages come from (`1..=MAX_HOME_FILES`, with [`HOME_MAY_WRITE`] for
    /// a shared area that may be made writable; home areas only, else 0).
    pub file: u16,
    /// File offset of `start`, in pages (file and home areas only, else 0).
    pub pgoff: u64,
    /// Absolute path of the file (file areas only, else empty).
    pub path: &'a [u8],
}

impl Vma<'_> {
    /// Encodes the body into `out` (at least `VMA_FIXED_LEN + path.len()` bytes); returns its length.
    pub fn encode(&self, out: &mut [u8]) -> usize {
        let mut at = 0;
        for part in [
            &self.start.to_be_bytes()[..],
            &self.end.to_be_bytes(),
            &[self.prot, self.kind as u8],
            &self.file.to_be_bytes(),
            &self.pgoff.to_be_bytes(),
            &(self.path.len() as u16).to_be_bytes(),
            self.path,
        ] {
            out[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        at
    }
}

fn decode_vma(b: &[u8]) -> Result<Vma<'_>, ImageError> {
    if b.len() < VMA_FIXED_LEN {
        return Err(ImageError::Length(Kind::Vma));
    }
    let mut r = Rd(b);
    let start = r.u64();
    let end = r.u64();
    let prot = r.u8();
    let kind = match r.u8() {
        0 => VmaKind::Anon,
        1 => VmaKind::File,
        2 => VmaKind::Stack,
        3 => VmaKind::Heap,
        4 => VmaKind::HomeFile,
        5 => VmaKind::HomeShared,
        _ => return Err(ImageError::Field("vma kind")),
    };
    let file = r.u16();
    let pgoff = r.u64();
    let path_len = usize::from(r.u16());
    if r.0.len() != path_len {
        return Err(ImageError::Length(Kind::Vma));
    }
    let path = r.bytes(path_len);
    let page = PAGE_SIZE as u64;
    check(
        start % page == 0 && end % page == 0 && start < end,
        "vma range",
    )?;
    check(end <= TASK_SIZE, "vma end")?;
    check(
        prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) == 0,
        "vma prot",
    )?;
    match kind {
        VmaKind::File => {
            check(
                path.first() == Some(&b'/') && !path.contains(&0),
                "vma path",
            )?;
            check(
                pgoff.checked_add((end - start) / page).is_some(),
                "vma pgoff",
            )?;
        }
        VmaKind::HomeFile | VmaKind::HomeShared => {
            check(
                (1..=MAX_HOME_FILES).contains(&(file & !HOME_MAY_WRITE))
                    && (kind == VmaKind::HomeShared || file & HOME_MAY_WRITE == 0)
                    && path.is_empty(),
                "vma home file",
            )?;
            check(
                pgoff.checked_add((end - start) / page).is_some(),
                "vma pgoff",
            )?;
        }
        _ => check(path.is_empty() && pgoff == 0, "vma path")?,
    }
    if !kind.from_home() {
        check(file == 0, "vma reserved")?;
    }
    Ok(Vma {
        start,
        end,
        prot,
        kind,
        file,
        pgoff,
        path,
    })
}

/// Memory layout: indices of [`Mm::v`].
pub const MM_NAMES: [&str; MM_FIELDS] = [
    "start_code",
    "end_code",
    "start_data",
    "end_data",
    "start_brk",
    "brk",
    "start_stack",
    "arg_start",
    "arg_end",
    "env_start",
    "env_end",
    // Address of the vDSO text (0: none); the host maps its own vDSO there.
    "vdso",
];

/// Index of `start_brk` in [`Mm`] values.
pub const MM_START_BRK: usize = 4;
/// Index of `brk` in [`Mm`] values.
pub const MM_BRK: usize = 5;
/// Index of `start_stack` in [`Mm`] values.
pub const MM_START_STACK: usize = 6;
/// Index of the vDSO address in [`Mm`] values (the last: the others are set on restore).
pub const MM_VDSO: usize = 11;

/// Memory layout values, in [`MM_NAMES`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mm {
    /// The values.
    pub v: [u64; MM_FIELDS],
}

impl Mm {
    /// Encodes the body.
    pub fn encode(&self) -> [u8; MM_FIELDS * 8] {
        let mut b = [0u8; MM_FIELDS * 8];
        for (i, v) in self.v.iter().enumerate() {
            b[8 * i..8 * i + 8].copy_from_slice(&v.to_be_bytes());
        }
        b
    }

    fn decode(b: &[u8]) -> Result<Self, ImageError> {
        let mut r = Rd(b);
        let mm = Self {
            v: core::array::from_fn(|_| r.u64()),
        };
        check(mm.v.iter().all(|&a| user_addr(a)), "mm address")?;
        // Pairs that delimit a range: code, data, brk, arguments, environment.
        for (a, b) in [(0, 1), (2, 3), (4, 5), (7, 8), (9, 10)] {
            check(mm.v[a] <= mm.v[b], MM_NAMES[b])?;
        }
        Ok(mm)
    }
}

/// `SIGKILL` and `SIGSTOP`, whose action cannot be changed.
const UNCATCHABLE: [usize; 2] = [9, 19];

/// Signal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// Blocked signals (bit N-1 for signal N).
    pub blocked: u64,
    /// Signals pending for the process.
    pub pending: u64,
    /// Alternate stack: `ss_sp`, `ss_flags`, `ss_size`.
    pub altstack: (u64, u32, u64),
    /// Per signal 1..64: handler, `sa_flags`, restorer, mask.
    pub actions: [(u64, u64, u64, u64); NSIG],
}

impl Signals {
    /// Encodes the body.
    pub fn encode(&self) -> [u8; SIGNALS_LEN] {
        let mut b = [0u8; SIGNALS_LEN];
        let mut at = 0;
        let mut put = |v: &[u8]| {
            b[at..at + v.len()].copy_from_slice(v);
            at += v.len();
        };
        put(&self.blocked.to_be_bytes());
        put(&self.pending.to_be_bytes());
        put(&self.altstack.0.to_be_bytes());
        put(&self.altstack.1.to_be_bytes());
        put(&self.altstack.2.to_be_bytes());
        put(&0u64.to_be_bytes());
        for (h, f, r, m) in &self.actions {
            for v in [h, f, r, m] {
                put(&v.to_be_bytes());
            }
        }
        b
    }

    /// Decodes and validates a body whole (2 KiB: for userspace; the module reads a
    /// [`SignalsRef`] in place).
    pub fn decode(b: &[u8]) -> Result<Self, ImageError> {
        let v = SignalsRef::check(b)?;
        Ok(Self {
            blocked: v.blocked(),
            pending: v.pending(),
            altstack: v.altstack(),
            actions: core::array::from_fn(|i| v.action(i + 1)),
        })
    }
}

/// A validated `Signals` body, read in place (the decoded form is 2 KiB: too much for a kernel
/// stack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalsRef<'a>(&'a [u8]);

impl<'a> SignalsRef<'a> {
    fn u64_at(&self, at: usize) -> u64 {
        Rd(&self.0[at.min(self.0.len())..]).u64()
    }

    /// Blocked signals.
    pub fn blocked(&self) -> u64 {
        self.u64_at(0)
    }

    /// Pending signals.
    pub fn pending(&self) -> u64 {
        self.u64_at(8)
    }

    /// Alternate stack: `ss_sp`, `ss_flags`, `ss_size`.
    pub fn altstack(&self) -> (u64, u32, u64) {
        let mut r = Rd(&self.0[16..]);
        (r.u64(), r.u32(), r.u64())
    }

    /// Action of signal `sig` (1..=64): handler, `sa_flags`, restorer, mask.
    pub fn action(&self, sig: usize) -> (u64, u64, u64, u64) {
        let at = 44 + 32 * (sig.clamp(1, NSIG) - 1);
        (
            self.u64_at(at),
            self.u64_at(at + 8),
            self.u64_at(at + 16),
            self.u64_at(at + 24),
        )
    }

    fn check(b: &'a [u8]) -> Result<Self, ImageError> {
        if b.len() != SIGNALS_LEN {
            return Err(ImageError::Length(Kind::Signals));
        }
        let v = Self(b);
        check(Rd(&b[36..]).u64() == 0, "signals reserved")?;
        let unblockable = UNCATCHABLE.iter().fold(0u64, |m, &n| m | 1 << (n - 1));
        check(v.blocked() & unblockable == 0, "blocked")?;
        check(user_addr(v.altstack().0), "sigaltstack")?;
        for sig in 1..=NSIG {
            let (handler, _, restorer, _) = v.action(sig);
            // 0 is SIG_DFL, 1 is SIG_IGN; anything else is code in the process.
            check(handler <= 1 || user_addr(handler), "handler")?;
            check(user_addr(restorer), "restorer")?;
            if UNCATCHABLE.contains(&sig) {
                check(handler == 0, "uncatchable handler")?;
            }
        }
        Ok(v)
    }
}

/// Resource limits: `(cur, max)` per `RLIMIT_*` number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The limits.
    pub l: [(u64, u64); NLIMITS],
}

impl Limits {
    /// Encodes the body.
    pub fn encode(&self) -> [u8; NLIMITS * 16] {
        let mut b = [0u8; NLIMITS * 16];
        for (i, (c, m)) in self.l.iter().enumerate() {
            b[16 * i..16 * i + 8].copy_from_slice(&c.to_be_bytes());
            b[16 * i + 8..16 * i + 16].copy_from_slice(&m.to_be_bytes());
        }
        b
    }

    fn decode(b: &[u8]) -> Result<Self, ImageError> {
        let mut r = Rd(b);
        let l = Self {
            l: core::array::from_fn(|_| (r.u64(), r.u64())),
        };
        check(l.l.iter().all(|(c, m)| c <= m), "rlimit")?;
        Ok(l)
    }
}

/// umask, personality, the three interval timers, the CPU time used away from home and the
/// restartable-sequences registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Misc {
    /// File creation mask.
    pub umask: u32,
    /// Execution domain.
    pub personality: u32,
    /// `ITIMER_REAL`, `ITIMER_VIRTUAL`, `ITIMER_PROF`: (value, interval) in microseconds.
    pub itimers: [(u64, u64); 3],
    /// CPU time the process used on hosts since it left home, user and system, in
    /// nanoseconds: its home counts it when the process comes back.
    pub away_cpu_ns: [u64; 2],
    /// The restartable-sequences registration in force (`rseq(2)`), or none.
    pub rseq: Rseq,
    /// Its real user id as its home sees it: the sender's `si_uid` of a signal it sends itself.
    pub uid: u32,
}

/// Length of the original `struct rseq`, the shortest registration and its alignment.
pub const RSEQ_MIN_LEN: u32 = 32;
/// Longest registration accepted (the kernel's `struct rseq` is far shorter; a C library
/// registers what the kernel announces in `AT_RSEQ_FEATURE_SIZE`).
pub const RSEQ_MAX_LEN: u32 = 1024;

/// A thread's restartable-sequences registration: the area's address and length and the
/// signature of its abort handlers; all zero when the thread has none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rseq {
    /// Address of the `struct rseq` area in the process.
    pub addr: u64,
    /// Its registered length.
    pub len: u32,
    /// Signature that precedes every abort handler.
    pub sig: u32,
}

impl Rseq {
    /// Whether this is a registration the kernel could have accepted: none at all, or an area
    /// of at least [`RSEQ_MIN_LEN`] (and at most [`RSEQ_MAX_LEN`]) bytes, aligned to 32, inside
    /// the user address space. (The kernel checks it again against its own rules.)
    pub fn plausible(&self) -> bool {
        if self.len == 0 {
            return self.addr == 0 && self.sig == 0;
        }
        (RSEQ_MIN_LEN..=RSEQ_MAX_LEN).contains(&self.len)
            && self.addr != 0
            && self.addr % u64::from(RSEQ_MIN_LEN) == 0
            && self
                .addr
                .checked_add(u64::from(self.len))
                .is_some_and(|end| end <= TASK_SIZE)
    }
}

impl Misc {
    /// Encodes the body.
    pub fn encode(&self) -> [u8; MISC_LEN] {
        let mut b = [0u8; MISC_LEN];
        b[..4].copy_from_slice(&self.umask.to_be_bytes());
        b[4..8].copy_from_slice(&self.personality.to_be_bytes());
        for (i, (v, n)) in self.itimers.iter().enumerate() {
            b[8 + 16 * i..16 + 16 * i].copy_from_slice(&v.to_be_bytes());
            b[16 + 16 * i..24 + 16 * i].copy_from_slice(&n.to_be_bytes());
        }
        b[56..64].copy_from_slice(&self.away_cpu_ns[0].to_be_bytes());
        b[64..72].copy_from_slice(&self.away_cpu_ns[1].to_be_bytes());
        b[72..80].copy_from_slice(&self.rseq.addr.to_be_bytes());
        b[80..84].copy_from_slice(&self.rseq.len.to_be_bytes());
        b[84..88].copy_from_slice(&self.rseq.sig.to_be_bytes());
        b[88..92].copy_from_slice(&self.uid.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Result<Self, ImageError> {
        let mut r = Rd(b);
        let m = Self {
            umask: r.u32(),
            personality: r.u32(),
            itimers: core::array::from_fn(|_| (r.u64(), r.u64())),
            away_cpu_ns: [r.u64(), r.u64()],
            rseq: Rseq {
                addr: r.u64(),
                len: r.u32(),
                sig: r.u32(),
            },
            uid: r.u32(),
        };
        check(m.umask <= 0o777, "umask")?;
        check(m.rseq.plausible(), "rseq registration")?;
        // (uid_t)-1 is no user.
        check(m.uid != u32::MAX, "uid")?;
        check(personality_known(m.personality), "personality")?;
        Ok(m)
    }
}

/// Execution domains a process may have (`PER_LINUX`, `PER_LINUX32`): the low byte of its
/// personality.
pub const PER_DOMAINS: [u32; 2] = [0x0000, 0x0008];
/// Every flag of `include/uapi/linux/personality.h`, `UNAME26` (0x20000) to `ADDR_LIMIT_3GB`
/// (0x8000000).
pub const PER_FLAGS: u32 = 0x0ffe_0000;

/// Whether `p` is a personality of a Linux x86-64 process: a known execution domain and known
/// flags only.
pub fn personality_known(p: u32) -> bool {
    PER_DOMAINS.contains(&(p & 0xff)) && p & !0xff & !PER_FLAGS == 0
}

/// A validated record, borrowing variable-size data from the body it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// See [`Begin`].
    Begin(Begin),
    /// See [`Regs`].
    Regs(Regs),
    /// An XSAVE area, checked against `Begin`.
    Xstate(&'a [u8]),
    /// See [`Vma`].
    Vma(Vma<'a>),
    /// Pages starting at `addr`, inside one declared area.
    Pages {
        /// Address of the first page.
        addr: u64,
        /// The pages' contents, a multiple of [`PAGE_SIZE`].
        data: &'a [u8],
    },
    /// See [`Mm`].
    Mm(Mm),
    /// See [`SignalsRef`].
    Signals(SignalsRef<'a>),
    /// See [`Limits`].
    Limits(Limits),
    /// See [`Misc`].
    Misc(Misc),
    /// `pages` pages from `addr`, inside one declared area, are those of the previous
    /// checkpoint (only from a reader made with [`ImageReader::incremental`]).
    Parent {
        /// Address of the first page.
        addr: u64,
        /// How many pages, at least 1.
        pages: u32,
    },
    /// The end, with the number of pages the image carried.
    End(u64),
}

/// Checks a stream of records in order. Fixed size, so the kernel can allocate one up front.
pub struct ImageReader {
    begin: Option<Begin>,
    seen: u16,
    /// The area being filled (start, end), and where its next `Pages` may start.
    vma: Option<(u64, u64)>,
    next_page: u64,
    nvmas: usize,
    /// A `Vma` was read: once-only records may no longer come.
    areas_started: bool,
    pages: u64,
    ended: bool,
    /// `Parent` records are accepted.
    incremental: bool,
}

impl Default for ImageReader {
    fn default() -> Self {
        Self::new()
    }
}

impl ImageReader {
    /// A reader expecting `Begin`.
    pub const fn new() -> Self {
        Self {
            begin: None,
            seen: 0,
            vma: None,
            next_page: 0,
            nvmas: 0,
            areas_started: false,
            pages: 0,
            ended: false,
            incremental: false,
        }
    }

    /// A reader of an incremental checkpoint's image: as [`ImageReader::new`], and `Parent`
    /// records are accepted among an area's `Pages`.
    pub const fn incremental() -> Self {
        let mut r = Self::new();
        r.incremental = true;
        r
    }

    /// The `Begin` record, once it has been read.
    pub fn begin(&self) -> Option<&Begin> {
        self.begin.as_ref()
    }

    /// Whether `End` has been read: the image is complete and valid.
    pub fn is_complete(&self) -> bool {
        self.ended
    }

    /// Validates the next record, whose header is `h` and body `body`.
    pub fn feed<'a>(&mut self, h: RecordHeader, body: &'a [u8]) -> Result<Record<'a>, ImageError> {
        let kind = h.kind;
        if body.len() != h.len as usize {
            return Err(ImageError::Length(kind));
        }
        if self.ended || (self.begin.is_none() && kind != Kind::Begin) {
            return Err(ImageError::Order(kind));
        }
        let exact = |n: usize| {
            if body.len() == n {
                Ok(())
            } else {
                Err(ImageError::Length(kind))
            }
        };
        let once = kind.once_bit();
        if once != 0 {
            if self.seen & once != 0 || self.areas_started {
                return Err(ImageError::Order(kind));
            }
            self.seen |= once;
        }
        match kind {
            Kind::Begin => {
                if self.begin.is_some() {
                    return Err(ImageError::Order(kind));
                }
                exact(Begin::LEN)?;
                let b = Begin::decode(body)?;
                self.begin = Some(b);
                Ok(Record::Begin(b))
            }
            Kind::Regs => {
                exact(NREGS * 8)?;
                Ok(Record::Regs(Regs::decode(body)?))
            }
            Kind::Xstate => {
                let begin = self.begin.as_ref().ok_or(ImageError::Order(kind))?;
                exact(begin.xstate_size as usize)?;
                check_xstate(body, begin)?;
                Ok(Record::Xstate(body))
            }
            Kind::Vma => {
                let v = decode_vma(body)?;
                if self.vma.is_some_and(|(_, end)| v.start < end) {
                    return Err(ImageError::Field("vma order"));
                }
                if self.nvmas == MAX_VMAS {
                    return Err(ImageError::TooManyVmas);
                }
                self.vma = Some((v.start, v.end));
                self.next_page = v.start;
                self.nvmas += 1;
                self.areas_started = true;
                Ok(Record::Vma(v))
            }
            Kind::Pages => {
                let n = body.len().saturating_sub(8) / PAGE_SIZE;
                if body.len() < 8 + PAGE_SIZE || (body.len() - 8) % PAGE_SIZE != 0 {
                    return Err(ImageError::Length(kind));
                }
                let addr = Rd(body).u64();
                self.take_pages(addr, n as u64, "pages address")?;
                self.pages += n as u64;
                Ok(Record::Pages {
                    addr,
                    data: &body[8..],
                })
            }
            Kind::Parent => {
                if !self.incremental {
                    return Err(ImageError::Order(kind));
                }
                exact(PARENT_LEN)?;
                let mut rd = Rd(body);
                let (addr, pages) = (rd.u64(), rd.u32());
                check(pages > 0, "parent pages")?;
                self.take_pages(addr, u64::from(pages), "parent address")?;
                Ok(Record::Parent { addr, pages })
            }
            Kind::Mm => {
                exact(MM_FIELDS * 8)?;
                Ok(Record::Mm(Mm::decode(body)?))
            }
            Kind::Signals => Ok(Record::Signals(SignalsRef::check(body)?)),
            Kind::Limits => {
                exact(NLIMITS * 16)?;
                Ok(Record::Limits(Limits::decode(body)?))
            }
            Kind::Misc => {
                exact(MISC_LEN)?;
                Ok(Record::Misc(Misc::decode(body)?))
            }
            Kind::End => {
                exact(8)?;
                if self.seen != ONCE_ALL {
                    return Err(ImageError::Order(kind));
                }
                let pages = Rd(body).u64();
                check(pages == self.pages, "page count")?;
                self.ended = true;
                Ok(Record::End(pages))
            }
        }
    }
}

impl ImageReader {
    /// Checks that `n` pages from `addr` lie in the current area, after those it had so far,
    /// and takes them.
    fn take_pages(&mut self, addr: u64, n: u64, name: &'static str) -> Result<(), ImageError> {
        let end = n
            .checked_mul(PAGE_SIZE as u64)
            .and_then(|len| addr.checked_add(len))
            .ok_or(ImageError::Field(name))?;
        let inside = self
            .vma
            .is_some_and(|(_, e)| self.next_page <= addr && end <= e);
        check(addr % PAGE_SIZE as u64 == 0 && inside, name)?;
        self.next_page = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn home_areas_name_their_file_and_only_they() {
        let v = Vma {
            start: 0x10000,
            end: 0x14000,
            prot: PROT_READ,
            kind: VmaKind::HomeFile,
            file: 7,
            pgoff: 3,
            path: b"",
        };
        let mut b = [0u8; 64];
        let n = v.encode(&mut b);
        assert_eq!(decode_vma(&b[..n]), Ok(v));
        let shared = Vma {
            kind: VmaKind::HomeShared,
            ..v
        };
        let n = shared.encode(&mut b);
        assert_eq!(decode_vma(&b[..n]), Ok(shared));
        let writable = Vma {
            file: 7 | HOME_MAY_WRITE,
            ..shared
        };
        let n = writable.encode(&mut b);
        assert_eq!(decode_vma(&b[..n]), Ok(writable));
        for bad in [
            Vma { file: 0, ..v },
            Vma {
                file: MAX_HOME_FILES + 1,
                ..v
            },
            // Only a shared area may write its file.
            Vma {
                file: 7 | HOME_MAY_WRITE,
                ..v
            },
            Vma {
                kind: VmaKind::Anon,
                pgoff: 0,
                ..v
            },
            Vma {
                pgoff: u64::MAX,
                ..v
            },
        ] {
            let n = bad.encode(&mut b);
            assert!(decode_vma(&b[..n]).is_err(), "{bad:?}");
        }
    }

    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn begin() -> Begin {
        Begin {
            xfeatures: 0x7,
            xstate_size: 832,
            home_node: 1,
            home_pid: 1234,
            comm: *b"sha256sum\0\0\0\0\0\0\0",
            clocks: [90_000_000_123, 95_500_000_000],
        }
    }

    #[test]
    fn clock_offsets_continue_the_process_clocks() {
        let b = begin();
        // The host booted later: its clocks are behind, the offsets are positive.
        let o = b.clock_offsets([10_000_000_000, 12_000_000_000]);
        assert_eq!(
            o[0],
            ClockOffset {
                secs: 80,
                nsecs: 123
            }
        );
        assert_eq!(
            o[1],
            ClockOffset {
                secs: 83,
                nsecs: 500_000_000
            }
        );
        // Earlier: negative seconds, nanoseconds still in 0..1e9 (-0.5 s = -1 s + 0.5 s).
        let o = b.clock_offsets([90_500_000_123, 95_500_000_000]);
        assert_eq!(
            o[0],
            ClockOffset {
                secs: -1,
                nsecs: 500_000_000
            }
        );
        assert_eq!(o[1], ClockOffset { secs: 0, nsecs: 0 });
        // Host clock plus offset is the process's clock, at the extremes too.
        for (p, h) in [
            (0u64, u64::MAX),
            (u64::MAX, 0),
            (7, 7),
            (1, 999_999_999_999),
        ] {
            let b = Begin {
                clocks: [p, p],
                ..begin()
            };
            let o = b.clock_offsets([h, h])[0];
            assert!(o.nsecs < 1_000_000_000);
            assert_eq!(
                i128::from(h) + i128::from(o.secs) * 1_000_000_000 + i128::from(o.nsecs),
                i128::from(p)
            );
        }
    }

    fn xstate() -> Vec<u8> {
        let mut x = std::vec![0u8; 832];
        x[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        x[XSAVE_HEADER..XSAVE_HEADER + 8].copy_from_slice(&7u64.to_le_bytes());
        x
    }

    fn regs() -> Regs {
        let mut r = [0u64; NREGS];
        r[REG_RIP] = 0x401000;
        r[REG_RSP] = 0x7ffd_0000_0000;
        r[REG_EFLAGS] = 0x246;
        Regs { r }
    }

    fn signals() -> Signals {
        Signals {
            blocked: 0,
            pending: 0,
            altstack: (0, 2, 0),
            actions: [(0, 0, 0, 0); NSIG],
        }
    }

    fn rec(kind: Kind, body: Vec<u8>) -> (RecordHeader, Vec<u8>) {
        (
            RecordHeader {
                kind,
                len: body.len() as u32,
            },
            body,
        )
    }

    /// A valid image as `(header, body)` records.
    fn image() -> Vec<(RecordHeader, Vec<u8>)> {
        let mut vma = [0u8; VMA_FIXED_LEN + 16];
        let heap = Vma {
            start: 0x600000,
            end: 0x602000,
            prot: PROT_READ | PROT_WRITE,
            kind: VmaKind::Heap,
            file: 0,
            pgoff: 0,
            path: b"",
        };
        let text = Vma {
            start: 0x400000,
            end: 0x401000,
            prot: PROT_READ | PROT_EXEC,
            kind: VmaKind::File,
            file: 0,
            pgoff: 0,
            path: b"/bin/busybox",
        };
        let mut vma2 = vma;
        let text_len = text.encode(&mut vma);
        let heap_len = heap.encode(&mut vma2);
        let mut pages = 0x600000u64.to_be_bytes().to_vec();
        pages.extend(std::vec![0xabu8; 2 * PAGE_SIZE]);
        std::vec![
            rec(Kind::Begin, begin().encode().to_vec()),
            rec(Kind::Regs, regs().encode().to_vec()),
            rec(Kind::Xstate, xstate()),
            rec(Kind::Mm, Mm { v: [0; MM_FIELDS] }.encode().to_vec()),
            rec(Kind::Signals, signals().encode().to_vec()),
            rec(
                Kind::Limits,
                Limits {
                    l: [(1, 2); NLIMITS]
                }
                .encode()
                .to_vec()
            ),
            rec(
                Kind::Misc,
                Misc {
                    umask: 0o022,
                    personality: 0,
                    itimers: [(0, 0); 3],
                    away_cpu_ns: [1_500_000_000, 20_000_000],
                    rseq: Rseq {
                        addr: 0x7f00_0000_1020,
                        len: 32,
                        sig: 0x5305_3053,
                    },
                    uid: 1000,
                }
                .encode()
                .to_vec()
            ),
            rec(Kind::Vma, vma[..text_len].to_vec()),
            rec(Kind::Vma, vma2[..heap_len].to_vec()),
            rec(Kind::Pages, pages),
            rec(Kind::End, 2u64.to_be_bytes().to_vec()),
        ]
    }

    fn read_all(recs: &[(RecordHeader, Vec<u8>)]) -> Result<ImageReader, ImageError> {
        let mut r = ImageReader::new();
        for (h, b) in recs {
            let enc = h.encode();
            assert_eq!(RecordHeader::decode(&enc), Ok(*h));
            r.feed(*h, b)?;
        }
        Ok(r)
    }

    #[test]
    fn rseq_registrations_the_kernel_could_not_have_made_are_refused() {
        let misc = |rseq: Rseq| Misc {
            umask: 0o022,
            personality: 0,
            itimers: [(0, 0); 3],
            away_cpu_ns: [0, 0],
            rseq,
            uid: 0,
        };
        let good = [
            Rseq::default(),
            Rseq {
                addr: 0x7f00_0000_1020,
                len: 32,
                sig: 0x5305_3053,
            },
            Rseq {
                addr: 0x5000_0040,
                len: RSEQ_MAX_LEN,
                sig: 0,
            },
            Rseq {
                addr: TASK_SIZE - 32,
                len: 32,
                sig: 1,
            },
        ];
        for r in good {
            let m = misc(r);
            assert_eq!(Misc::decode(&m.encode()), Ok(m), "{r:?}");
        }
        let bad = [
            Rseq {
                addr: 0,
                len: 0,
                sig: 7,
            },
            Rseq {
                addr: 0x1000,
                len: 0,
                sig: 0,
            },
            Rseq {
                addr: 0,
                len: 32,
                sig: 0,
            },
            Rseq {
                addr: 0x1010,
                len: 32,
                sig: 0,
            },
            Rseq {
                addr: 0x1000,
                len: 31,
                sig: 0,
            },
            Rseq {
                addr: 0x1000,
                len: RSEQ_MAX_LEN + 1,
                sig: 0,
            },
            Rseq {
                addr: TASK_SIZE - 32,
                len: 64,
                sig: 0,
            },
            Rseq {
                addr: u64::MAX - 31,
                len: 32,
                sig: 0,
            },
        ];
        for r in bad {
            assert!(Misc::decode(&misc(r).encode()).is_err(), "{r:?}");
        }
    }

    #[test]
    fn as_many_areas_as_a_process_may_have_and_no_more() {
        let area = |i: usize| {
            let start = 0x1000_0000 + (i as u64) * 2 * PAGE_SIZE as u64;
            let v = Vma {
                start,
                end: start + PAGE_SIZE as u64,
                prot: PROT_READ,
                kind: if i % 2 == 0 {
                    VmaKind::Anon
                } else {
                    VmaKind::Stack
                },
                file: 0,
                pgoff: 0,
                path: b"",
            };
            let mut b = [0u8; 64];
            let n = v.encode(&mut b);
            rec(Kind::Vma, b[..n].to_vec())
        };
        let head = &image()[..7];
        let mut r = read_all(head).unwrap();
        for i in 0..MAX_VMAS {
            let (h, b) = area(i);
            r.feed(h, &b).unwrap();
        }
        let (h, b) = area(MAX_VMAS);
        assert_eq!(r.feed(h, &b).err(), Some(ImageError::TooManyVmas));
    }

    #[test]
    fn a_valid_image_reads_back() {
        let recs = image();
        let r = read_all(&recs).unwrap();
        assert!(r.is_complete());
        assert_eq!(r.begin(), Some(&begin()));
        let mut r = ImageReader::new();
        for (h, b) in &recs {
            match r.feed(*h, b).unwrap() {
                Record::Regs(x) => assert_eq!(x, regs()),
                Record::Signals(x) => {
                    assert_eq!(Signals::decode(x.0), Ok(signals()));
                    assert_eq!(x.altstack(), (0, 2, 0));
                }
                Record::Vma(v) if v.kind == VmaKind::File => assert_eq!(v.path, b"/bin/busybox"),
                Record::Pages { addr, data } => {
                    assert_eq!(addr, 0x600000);
                    assert_eq!(data.len(), 2 * PAGE_SIZE);
                }
                _ => {}
            }
        }
    }

    fn parent(addr: u64, pages: u32) -> (RecordHeader, Vec<u8>) {
        let mut b = addr.to_be_bytes().to_vec();
        b.extend(pages.to_be_bytes());
        rec(Kind::Parent, b)
    }

    fn feed_all(mut r: ImageReader, recs: &[(RecordHeader, Vec<u8>)]) -> Result<(), ImageError> {
        for (h, b) in recs {
            r.feed(*h, b)?;
        }
        Ok(())
    }

    #[test]
    fn parent_pages_only_in_an_incremental_image_and_inside_their_area() {
        // The heap (0x600000..0x602000): one page from the parent, one sent.
        let mut img = image();
        let end = img.len() - 1;
        let mut one = 0x601000u64.to_be_bytes().to_vec();
        one.extend(std::vec![0xcdu8; PAGE_SIZE]);
        img.splice(end - 1..end, [parent(0x600000, 1), rec(Kind::Pages, one)]);
        img[end + 1] = rec(Kind::End, 1u64.to_be_bytes().to_vec());
        assert_eq!(feed_all(ImageReader::incremental(), &img), Ok(()));
        // A migration's or a restore's reader never takes them.
        assert_eq!(
            feed_all(ImageReader::new(), &img),
            Err(ImageError::Order(Kind::Parent))
        );
        // Parent pages are not counted as pages carried.
        let mut wrong = img.clone();
        wrong[end + 1] = rec(Kind::End, 2u64.to_be_bytes().to_vec());
        assert!(feed_all(ImageReader::incremental(), &wrong).is_err());
        for bad in [
            parent(0x600000, 0),
            parent(0x600000, 3),
            parent(0x600800, 1),
            parent(0x5ff000, 1),
            parent(!0xfff, u32::MAX),
        ] {
            let mut v = img.clone();
            v[end - 1] = bad;
            assert!(feed_all(ImageReader::incremental(), &v).is_err());
        }
        // Ascending with the area's Pages: none before a page already given.
        let mut v = img.clone();
        v.swap(end - 1, end);
        assert!(feed_all(ImageReader::incremental(), &v).is_err());
        let mut v = img;
        v[end - 1].1.truncate(8);
        v[end - 1].0.len = 8;
        assert_eq!(
            feed_all(ImageReader::incremental(), &v),
            Err(ImageError::Length(Kind::Parent))
        );
    }

    #[test]
    fn order_is_enforced() {
        let recs = image();
        // Nothing before Begin; End needs every once-only record; no repeats; no area behind the
        // current one; pages only inside the current area; no once-only record among the areas.
        let mut r = ImageReader::new();
        assert_eq!(
            r.feed(recs[1].0, &recs[1].1),
            Err(ImageError::Order(Kind::Regs))
        );
        let without_misc: Vec<_> = recs
            .iter()
            .filter(|(h, _)| h.kind != Kind::Misc)
            .cloned()
            .collect();
        assert_eq!(
            read_all(&without_misc).err(),
            Some(ImageError::Order(Kind::End))
        );
        let mut twice = recs.clone();
        twice.insert(2, recs[1].clone());
        assert_eq!(read_all(&twice).err(), Some(ImageError::Order(Kind::Regs)));
        let mut late_vma = recs.clone();
        late_vma.insert(10, recs[8].clone());
        assert_eq!(
            read_all(&late_vma).err(),
            Some(ImageError::Field("vma order"))
        );
        let mut pages_of_old_area = recs.clone();
        let mut later = [0u8; 64];
        let n = Vma {
            start: 0x700000,
            end: 0x701000,
            prot: PROT_READ,
            kind: VmaKind::Anon,
            file: 0,
            pgoff: 0,
            path: b"",
        }
        .encode(&mut later);
        pages_of_old_area.insert(9, rec(Kind::Vma, later[..n].to_vec()));
        assert_eq!(
            read_all(&pages_of_old_area).err(),
            Some(ImageError::Field("pages address"))
        );
        let mut pages_twice = recs.clone();
        pages_twice.insert(10, recs[9].clone());
        assert_eq!(
            read_all(&pages_twice).err(),
            Some(ImageError::Field("pages address"))
        );
        let mut misc_late = recs.clone();
        let misc = misc_late.remove(6);
        misc_late.insert(8, misc);
        assert_eq!(
            read_all(&misc_late).err(),
            Some(ImageError::Order(Kind::Misc))
        );
        let mut after_end = recs.clone();
        after_end.push(recs[10].clone());
        assert_eq!(
            read_all(&after_end).err(),
            Some(ImageError::Order(Kind::End))
        );
        // Areas must ascend.
        let mut swapped = recs.clone();
        swapped.swap(7, 8);
        assert_eq!(
            read_all(&swapped).err(),
            Some(ImageError::Field("vma order"))
        );
    }

    #[test]
    fn addresses_and_fields_are_checked() {
        let recs = image();
        let with = |i: usize, f: &dyn Fn(&mut Vec<u8>)| {
            let mut v = recs.clone();
            f(&mut v[i].1);
            v[i].0.len = v[i].1.len() as u32;
            read_all(&v).err()
        };
        // Pages outside every area, unaligned, or miscounted.
        assert_eq!(
            with(9, &|b| b[..8].copy_from_slice(&0x700000u64.to_be_bytes())),
            Some(ImageError::Field("pages address"))
        );
        assert_eq!(
            with(9, &|b| b[..8].copy_from_slice(&0x601001u64.to_be_bytes())),
            Some(ImageError::Field("pages address"))
        );
        assert_eq!(
            with(9, &|b| b.truncate(8 + 100)),
            Some(ImageError::Length(Kind::Pages))
        );
        assert_eq!(
            with(10, &|b| b[7] = 3),
            Some(ImageError::Field("page count"))
        );
        // Registers pointing into the kernel, privileged flags.
        assert_eq!(
            with(1, &|b| b[8 * REG_RIP..8 * REG_RIP + 8]
                .copy_from_slice(&0xffff_8000_0000_0000u64.to_be_bytes())),
            Some(ImageError::Field("rip"))
        );
        assert_eq!(
            with(1, &|b| b[8 * REG_EFLAGS + 6] = 0x30),
            Some(ImageError::Field("eflags"))
        );
        // XSAVE: features the image did not declare, bad MXCSR, reserved header bytes.
        assert_eq!(
            with(2, &|b| b[XSAVE_HEADER] = 0x0f),
            Some(ImageError::Field("xstate_bv"))
        );
        assert_eq!(with(2, &|b| b[26] = 1), Some(ImageError::Field("mxcsr")));
        assert_eq!(
            with(2, &|b| b[XSAVE_HEADER + 20] = 1),
            Some(ImageError::Field("xsave header"))
        );
        assert_eq!(
            with(2, &|b| b.truncate(576)),
            Some(ImageError::Length(Kind::Xstate))
        );
        // Areas: beyond user space, relative paths, paths on anonymous memory.
        assert_eq!(
            with(8, &|b| b[8..16]
                .copy_from_slice(&(TASK_SIZE + 4096).to_be_bytes())),
            Some(ImageError::Field("vma end"))
        );
        assert_eq!(
            with(7, &|b| b[30] = b'b'),
            Some(ImageError::Field("vma path"))
        );
        // Signals: a handler for SIGKILL, SIGSTOP blocked.
        assert_eq!(
            with(4, &|b| b[44 + 8 * 32..44 + 8 * 32 + 8]
                .copy_from_slice(&0x401000u64.to_be_bytes())),
            Some(ImageError::Field("uncatchable handler"))
        );
        assert_eq!(
            with(4, &|b| b[5] = 0x04),
            Some(ImageError::Field("blocked"))
        );
        // Begin: other versions and architectures.
        assert_eq!(with(0, &|b| b[5] = 2), Some(ImageError::Field("version")));
        assert_eq!(with(0, &|b| b[5] = 3), Some(ImageError::Field("version")));
        assert_eq!(with(0, &|b| b[5] = 4), Some(ImageError::Field("version")));
        assert_eq!(with(0, &|b| b[5] = 6), Some(ImageError::Field("version")));
        assert_eq!(with(0, &|b| b[7] = 3), Some(ImageError::Field("arch")));
        // Limits and umask.
        assert_eq!(with(5, &|b| b[7] = 9), Some(ImageError::Field("rlimit")));
        assert_eq!(with(6, &|b| b[1] = 1), Some(ImageError::Field("umask")));
        assert_eq!(
            with(6, &|b| b[79] = 0x28),
            Some(ImageError::Field("rseq registration"))
        );
        // Personality: unknown bits and domains are refused, known flags pass.
        for bad in [
            0x0000_0100u32,
            0x0001_0000,
            0x1000_0000,
            0x8000_0000,
            0x0000_0001,
            0xffff_ffff,
        ] {
            assert_eq!(
                with(6, &|b| b[4..8].copy_from_slice(&bad.to_be_bytes())),
                Some(ImageError::Field("personality")),
                "{bad:#x}"
            );
        }
        for good in [0u32, 0x0008, 0x0040000, 0x0400000, PER_FLAGS, PER_FLAGS | 8] {
            assert_eq!(
                with(6, &|b| b[4..8].copy_from_slice(&good.to_be_bytes())),
                None,
                "{good:#x}"
            );
        }
    }

    #[test]
    fn headers_are_checked() {
        assert_eq!(
            RecordHeader::decode(&[0, 1, 0, 0, 0, 0, 0, 64]).map(|h| h.kind),
            Ok(Kind::Begin)
        );
        assert_eq!(
            RecordHeader::decode(&[0, 1, 0, 0, 0, 0, 0, 65]),
            Err(ImageError::Header)
        );
        assert_eq!(
            RecordHeader::decode(&[0, 11, 0, 0, 0, 0, 0, 0]),
            Err(ImageError::Header)
        );
        assert_eq!(
            RecordHeader::decode(&[0, 1, 0, 1, 0, 0, 0, 0]),
            Err(ImageError::Header)
        );
        assert_eq!(RecordHeader::decode(&[0, 1, 0]), Err(ImageError::Header));
    }

    #[test]
    fn feeding_garbage_never_panics() {
        let recs = image();
        for (i, (h, b)) in recs.iter().enumerate() {
            for cut in [0, 1, b.len() / 2, b.len().saturating_sub(1)] {
                let mut r = ImageReader::new();
                for (h2, b2) in &recs[..i] {
                    r.feed(*h2, b2).unwrap();
                }
                let short = RecordHeader {
                    kind: h.kind,
                    len: cut as u32,
                };
                assert!(r.feed(short, &b[..cut]).is_err() || h.kind == Kind::Vma && cut > 0);
            }
        }
    }

    #[test]
    fn mm_indices_name_their_fields() {
        assert_eq!(MM_NAMES[MM_START_BRK], "start_brk");
        assert_eq!(MM_NAMES[MM_BRK], "brk");
        assert_eq!(MM_NAMES[MM_START_STACK], "start_stack");
        assert_eq!(MM_NAMES[MM_VDSO], "vdso");
        assert_eq!(MM_VDSO + 1, MM_FIELDS);
    }
}
