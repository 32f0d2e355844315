// SPDX-License-Identifier: GPL-2.0

//! Release and protocol versions, and the text of `/proc/openmosix/version`.
//!
//! The module renders the version file with [`VersionInfo::write_to`] and `omctl` reads it back
//! with [`VersionInfo::parse`], so both sides agree on the format by construction.

use core::fmt;

/// Release of openmosix-rs this source belongs to (module and tools are released together).
pub const RELEASE: &str = "0.1.0";

/// Version of the node-to-node wire protocol. Peers speaking another version are refused.
pub const PROTOCOL_VERSION: u16 = 7;

/// Key of the release line in the version file.
const KEY_MODULE: &str = "module";
/// Key of the protocol line in the version file.
const KEY_PROTOCOL: &str = "protocol";
/// Key of the kernel release line in the version file.
const KEY_KERNEL: &str = "kernel";

/// What `/proc/openmosix/version` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionInfo<'a> {
    /// Release of the loaded module.
    pub release: &'a str,
    /// Wire protocol version the module speaks.
    pub protocol: u16,
    /// Release of the running kernel (`uname -r`).
    pub kernel: &'a str,
}

/// Why a version file could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionParseError {
    /// A required line is absent.
    Missing(&'static str),
    /// A line appears twice.
    Duplicate(&'static str),
    /// A line is not `KEY VALUE` with a known key and a valid value.
    BadLine,
}

impl fmt::Display for VersionParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(k) => write!(f, "no '{k}' line"),
            Self::Duplicate(k) => write!(f, "'{k}' line given twice"),
            Self::BadLine => write!(f, "malformed line"),
        }
    }
}

impl<'a> VersionInfo<'a> {
    /// The version of this build, running on kernel `kernel`.
    pub fn this_build(kernel: &'a str) -> Self {
        Self {
            release: RELEASE,
            protocol: PROTOCOL_VERSION,
            kernel,
        }
    }

    /// Writes the version file text: one `KEY VALUE` line each for module, protocol and kernel.
    pub fn write_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        writeln!(out, "{KEY_MODULE} {}", self.release)?;
        writeln!(out, "{KEY_PROTOCOL} {}", self.protocol)?;
        writeln!(out, "{KEY_KERNEL} {}", self.kernel)
    }

    /// Parses version file text. Every known key must appear exactly once; unknown keys are an
    /// error so that a format change cannot go unnoticed.
    pub fn parse(text: &'a str) -> Result<Self, VersionParseError> {
        let mut release = None;
        let mut protocol = None;
        let mut kernel = None;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (key, value) = line.split_once(' ').ok_or(VersionParseError::BadLine)?;
            let value = value.trim();
            if value.is_empty() || value.contains(char::is_whitespace) {
                return Err(VersionParseError::BadLine);
            }
            let (slot, name): (&mut Option<&'a str>, &'static str) = match key {
                KEY_MODULE => (&mut release, KEY_MODULE),
                KEY_PROTOCOL => (&mut protocol, KEY_PROTOCOL),
                KEY_KERNEL => (&mut kernel, KEY_KERNEL),
                _ => return Err(VersionParseError::BadLine),
            };
            if slot.replace(value).is_some() {
                return Err(VersionParseError::Duplicate(name));
            }
        }
        let protocol = protocol
            .ok_or(VersionParseError::Missing(KEY_PROTOCOL))?
            .parse()
            .map_err(|_| VersionParseError::BadLine)?;
        Ok(Self {
            release: release.ok_or(VersionParseError::Missing(KEY_MODULE))?,
            protocol,
            kernel: kernel.ok_or(VersionParseError::Missing(KEY_KERNEL))?,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    #[test]
    fn release_matches_cargo_version() {
        assert_eq!(RELEASE, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn write_then_parse_round_trips() {
        let info = VersionInfo::this_build("7.2.12");
        let mut text = String::new();
        info.write_to(&mut text).unwrap();
        assert_eq!(text, "module 0.1.0\nprotocol 7\nkernel 7.2.12\n");
        assert_eq!(VersionInfo::parse(&text), Ok(info));
    }

    #[test]
    fn parse_refuses_malformed_text() {
        use VersionParseError::*;
        let cases: &[(&str, VersionParseError)] = &[
            ("", Missing("protocol")),
            ("module 0.1.0\nkernel 7.2\n", Missing("protocol")),
            ("protocol 1\nkernel 7.2\n", Missing("module")),
            ("module 0.1.0\nprotocol 1\n", Missing("kernel")),
            ("module 0.1.0\nmodule 0.1.0\n", Duplicate("module")),
            ("module\nprotocol 1\nkernel 7\n", BadLine),
            ("module 0.1.0\nprotocol x\nkernel 7\n", BadLine),
            ("module 0.1.0\nprotocol 70000\nkernel 7\n", BadLine),
            ("module 0.1.0\nprotocol 1\nkernel 7\nextra 1\n", BadLine),
            ("module a b\nprotocol 1\nkernel 7\n", BadLine),
        ];
        for (text, want) in cases {
            assert_eq!(VersionInfo::parse(text), Err(*want), "{text:?}");
        }
    }
}
