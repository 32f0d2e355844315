// SPDX-License-Identifier: GPL-2.0

//! The directory checkpoints go to by default (`admin/ckpt_dir`, `mosrun -C`,
//! `omctl checkpoint PID` without a file): its first value and what a value must be.

/// Where checkpoints go when no directory is given (`admin/ckpt_dir`'s first value).
pub const DEFAULT_DIR: &str = "/var/lib/openmosix/ckpt";
/// Longest checkpoint directory (`admin/ckpt_dir`).
pub const MAX_DIR: usize = 255;

/// Checks a checkpoint directory (`admin/ckpt_dir`): an absolute path of at most [`MAX_DIR`]
/// bytes, of printable ASCII characters, with no `.` or `..` component. Says what is wrong.
pub fn check_dir(p: &[u8]) -> Result<(), &'static str> {
    if p.first() != Some(&b'/') {
        return Err("not an absolute path");
    }
    if p.len() > MAX_DIR {
        return Err("longer than 255 bytes");
    }
    if p.iter().any(|&b| !(0x20..0x7f).contains(&b)) {
        return Err("a character that is not printable ASCII in it");
    }
    if p.split(|&b| b == b'/').any(|c| c == b"." || c == b"..") {
        return Err("a . or .. component in it");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_directories_are_checked() {
        assert_eq!(check_dir(DEFAULT_DIR.as_bytes()), Ok(()));
        assert_eq!(check_dir(b"/"), Ok(()));
        assert_eq!(check_dir(b"/srv/ckpt/"), Ok(()));
        for bad in [
            &b""[..],
            b"var/lib",
            b"/a/../etc",
            b"/a/./b",
            b"/..",
            b"/a\nb",
            b"/a\0b",
            &[b'/'; 256],
            "/caf\u{e9}".as_bytes(),
        ] {
            assert!(check_dir(bad).is_err(), "{bad:?}");
        }
    }
}
