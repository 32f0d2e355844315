// SPDX-License-Identifier: GPL-2.0

//! Arguments that point to structures holding pointers of their own, packed flat for a
//! forwarded call: `sendmsg` and `recvmsg` with control messages (a `struct user_msghdr`, its
//! address, its control buffer and one data buffer) and `pselect6` with a signal mask (its
//! `{mask pointer, size}` pair and the mask).
//!
//! The guest packs the structure and what it points to into one buffer, with every pointer
//! left 0; the deputy places the buffer in its memory as any other ([`crate::fwd::place`]) and
//! sets the pointers inside it to the parts of the same buffer ([`pointers`]), which it computes
//! from the lengths alone: no pointer a guest sends is ever followed. A request whose pack is
//! not well formed is refused when it is parsed ([`check`]).
//!
//! A packed message (native-endian, as the deputy's kernel reads it):
//!
//! | offset            | size | contents                                                      |
//! | ----------------- | ---- | ------------------------------------------------------------- |
//! | 0                 | 56   | `struct user_msghdr`: `msg_namelen` (8), `msg_iovlen` 1 (24), `msg_controllen` (40), `msg_flags` (48) |
//! | 56                | 16   | one `struct iovec`: `iov_len` (64) is the data's length         |
//! | 72                | name | the address, padded to 8                                      |
//! | 72 + name         | ctl  | the control messages, padded to 8                             |
//! | 72 + name + ctl   | data | the data                                                      |
//!
//! A packed mask: the pointer (0), the size (8), the mask (8 bytes).

use super::syscalls::nr;

/// Where the parts of a packed message start.
pub const MSG_HEAD: usize = 72;
/// Largest address (`struct sockaddr_storage`).
pub const MAX_NAME: usize = 128;
/// Largest control buffer a forwarded message carries (the kernel's own default bound on
/// ancillary data, `optmem_max`, is 128 KiB; control messages of common programs are a few
/// hundred bytes).
pub const MAX_CONTROL: usize = 64 * 1024;
/// Length of a packed mask.
pub const MASK_PACK: usize = 24;

/// The lengths of a packed message's parts.
///
/// # Invariants
///
/// `name` <= [`MAX_NAME`], `control` <= [`MAX_CONTROL`], and the packed length fits a `usize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgLayout {
    name: usize,
    control: usize,
    data: usize,
}

fn word(b: &[u8], at: usize) -> Option<u64> {
    let w = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(w);
    Some(u64::from_ne_bytes(a))
}

fn put(b: &mut [u8], at: usize, v: u64) {
    if let Some(w) = b.get_mut(at..at + 8) {
        w.copy_from_slice(&v.to_ne_bytes());
    }
}

fn pad8(n: usize) -> Option<usize> {
    n.checked_next_multiple_of(8)
}

impl MsgLayout {
    /// A layout of these lengths; `None` if a part is over its bound or the whole over `max`.
    pub fn new(name: usize, control: usize, data: usize, max: usize) -> Option<Self> {
        let l = Self {
            name,
            control,
            data,
        };
        (name <= MAX_NAME && control <= MAX_CONTROL && l.total()? <= max).then_some(l)
    }

    /// The largest data a message with these address and control lengths can carry in `max`
    /// bytes (0 if even those do not fit).
    pub fn data_room(name: usize, control: usize, max: usize) -> usize {
        Self::new(name, control, 0, max)
            .and_then(|l| l.total())
            .map_or(0, |t| max - t)
    }

    /// The address's length (the room for it, for `recvmsg`).
    pub fn name(&self) -> usize {
        self.name
    }

    /// The control buffer's length.
    pub fn control(&self) -> usize {
        self.control
    }

    /// The data's length.
    pub fn data(&self) -> usize {
        self.data
    }

    /// Where the control buffer starts.
    pub fn control_at(&self) -> usize {
        MSG_HEAD + self.name.next_multiple_of(8)
    }

    /// Where the data starts.
    pub fn data_at(&self) -> usize {
        self.control_at() + self.control.next_multiple_of(8)
    }

    /// The packed length (always `Some` for a layout made by [`Self::new`] or [`Self::of`]).
    pub fn total(&self) -> Option<usize> {
        MSG_HEAD
            .checked_add(pad8(self.name)?)?
            .checked_add(pad8(self.control)?)?
            .checked_add(self.data)
    }

    /// Writes the header for these lengths into `head` (every pointer 0, flags 0).
    pub fn write_head(&self, head: &mut [u8; MSG_HEAD]) {
        head.fill(0);
        put(head, 8, self.name as u64);
        put(head, 24, 1);
        put(head, 40, self.control as u64);
        put(head, 64, self.data as u64);
    }

    /// The layout of packed message `b`, its header read back; `None` unless the lengths it
    /// gives are within bounds and add up to `b`'s length exactly.
    pub fn of(b: &[u8]) -> Option<Self> {
        let name = usize::try_from(word(b, 8)? & 0xffff_ffff).ok()?;
        let control = usize::try_from(word(b, 40)?).ok()?;
        let data = usize::try_from(word(b, 64)?).ok()?;
        let l = Self::new(name, control, data, b.len())?;
        (l.total()? == b.len()).then_some(l)
    }
}

/// What a `recvmsg` made of a packed message, read from the header the deputy's kernel
/// updated: the address's length (which may exceed the room it had: the address was cut), the
/// control messages' length and the message's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// `msg_namelen`: the address's whole length.
    pub name_len: u32,
    /// `msg_controllen`: the length of the control messages received.
    pub control_len: usize,
    /// `msg_flags`.
    pub flags: u32,
}

impl Received {
    /// Reads them from the reply's copy of the packed message of layout `l`; `None` if the
    /// control length is more than the room the message had.
    pub fn of(b: &[u8], l: &MsgLayout) -> Option<Self> {
        let name_len = (word(b, 8)? & 0xffff_ffff) as u32;
        let control_len = usize::try_from(word(b, 40)?).ok()?;
        let flags = (word(b, 48)? & 0xffff_ffff) as u32;
        (control_len <= l.control).then_some(Self {
            name_len,
            control_len,
            flags,
        })
    }
}

/// Packs `pselect6`'s signal mask argument: the size the caller gave and its mask.
pub fn mask_pack(size: u64, mask: u64) -> [u8; MASK_PACK] {
    let mut b = [0u8; MASK_PACK];
    put(&mut b, 8, size);
    put(&mut b, 16, mask);
    b
}

/// Which argument of call `nr` with `args` is a pack, if one is.
pub fn packed_arg(nr: u32, args: &[u64; 6]) -> Option<usize> {
    match nr {
        nr::SENDMSG | nr::RECVMSG => Some(1),
        nr::PSELECT6 if args[5] != 0 => Some(5),
        _ => None,
    }
}

/// Whether `b`, argument `at` of call `nr`, is a well-formed pack ([`packed_arg`]).
pub fn check(nr: u32, at: usize, b: &[u8]) -> bool {
    match (nr, at) {
        (nr::SENDMSG | nr::RECVMSG, 1) => MsgLayout::of(b).is_some(),
        (nr::PSELECT6, 5) => b.len() == MASK_PACK,
        _ => false,
    }
}

/// At most this many pointers are set in one pack.
pub const MAX_POINTERS: usize = 4;

/// The pointers to set in pack `b` of call `nr`, placed at address `base` in the deputy's
/// memory: `(offset in the pack, value)`, each a native-endian word. `None` if `b` is not a
/// well-formed pack of that call, or the addresses overflow.
pub fn pointers(nr: u32, b: &[u8], base: u64) -> Option<[Option<(usize, u64)>; MAX_POINTERS]> {
    let at = |off: usize| base.checked_add(u64::try_from(off).ok()?);
    Some(match nr {
        nr::SENDMSG | nr::RECVMSG => {
            let l = MsgLayout::of(b)?;
            let name = if l.name > 0 { at(MSG_HEAD)? } else { 0 };
            let control = if l.control > 0 {
                at(l.control_at())?
            } else {
                0
            };
            [
                Some((0, name)),
                Some((16, at(56)?)),
                Some((32, control)),
                Some((56, at(l.data_at())?)),
            ]
        }
        nr::PSELECT6 if b.len() == MASK_PACK => [Some((0, at(16)?)), None, None, None],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    #[test]
    fn a_message_packs_and_reads_back() {
        let l = MsgLayout::new(16, 20, 100, 4096).unwrap();
        assert_eq!(l.control_at(), 88);
        assert_eq!(l.data_at(), 112);
        assert_eq!(l.total(), Some(212));
        let mut b = vec![0u8; 212];
        let mut head = [0u8; MSG_HEAD];
        l.write_head(&mut head);
        b[..MSG_HEAD].copy_from_slice(&head);
        assert_eq!(MsgLayout::of(&b), Some(l));
        assert!(check(nr::SENDMSG, 1, &b));
        // One byte more or less than the lengths say: refused.
        assert_eq!(MsgLayout::of(&b[..211]), None);
        b.push(0);
        assert_eq!(MsgLayout::of(&b), None);
    }

    #[test]
    fn the_deputy_sets_pointers_into_the_pack_alone() {
        let l = MsgLayout::new(0, 24, 5, 4096).unwrap();
        let mut b = vec![0xffu8; l.total().unwrap()];
        let mut head = [0u8; MSG_HEAD];
        l.write_head(&mut head);
        b[..MSG_HEAD].copy_from_slice(&head);
        let p = pointers(nr::RECVMSG, &b, 0x1000).unwrap();
        // No address: NULL; iovec at 56, control at 72, data after the control buffer.
        assert_eq!(
            p,
            [
                Some((0, 0)),
                Some((16, 0x1000 + 56)),
                Some((32, 0x1000 + 72)),
                Some((56, 0x1000 + 96)),
            ]
        );
        // Addresses past the end of the address space: none.
        assert_eq!(pointers(nr::RECVMSG, &b, u64::MAX - 10), None);
        let m = mask_pack(8, 1 << 9);
        assert_eq!(
            pointers(nr::PSELECT6, &m, 0x2000),
            Some([Some((0, 0x2010)), None, None, None])
        );
        assert_eq!(pointers(nr::PSELECT6, &m[..16], 0x2000), None);
    }

    #[test]
    fn hostile_lengths_are_refused() {
        let mut b = vec![0u8; MSG_HEAD + 8];
        // An address longer than any.
        put(&mut b, 8, (MAX_NAME + 8) as u64);
        put(&mut b, 64, 0);
        assert_eq!(MsgLayout::of(&b), None);
        // Lengths that overflow when added.
        put(&mut b, 8, 0);
        put(&mut b, 40, u64::MAX - 3);
        assert_eq!(MsgLayout::of(&b), None);
        put(&mut b, 40, 0);
        put(&mut b, 64, u64::MAX);
        assert_eq!(MsgLayout::of(&b), None);
        // Shorter than the header.
        assert_eq!(MsgLayout::of(&b[..40]), None);
        assert!(!check(nr::SENDMSG, 1, &b[..40]));
        assert!(!check(nr::WRITE, 1, &b));
        assert_eq!(MsgLayout::new(0, MAX_CONTROL + 1, 0, usize::MAX), None);
        assert_eq!(MsgLayout::data_room(16, 24, 200), 200 - 72 - 16 - 24);
        assert_eq!(MsgLayout::data_room(16, 24, 100), 0);
    }

    #[test]
    fn what_recvmsg_made_is_read_within_the_room() {
        let l = MsgLayout::new(16, 32, 8, 4096).unwrap();
        let mut b = vec![0u8; l.total().unwrap()];
        put(&mut b, 8, 110);
        put(&mut b, 40, 24);
        put(&mut b, 48, 0x20);
        assert_eq!(
            Received::of(&b, &l),
            Some(Received {
                name_len: 110,
                control_len: 24,
                flags: 0x20
            })
        );
        put(&mut b, 40, 33);
        assert_eq!(Received::of(&b, &l), None);
    }
}
