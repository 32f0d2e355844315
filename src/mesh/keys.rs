// SPDX-License-Identifier: GPL-2.0

//! The keys a node authenticates with: a shared cluster key, with which every holder can claim
//! to be any node, or this node's keyring (`omcore::keyring`), with a key of its own for each
//! pair of nodes, with which a node can authenticate only as itself. Both are written to
//! `/proc/openmosix/admin/key`; a keyring is told apart by its first line.

use super::config::{MAX_KEY, MAX_PEERS, MIN_KEY};
use crate::ksys::crypto::HmacKey;
use crate::ksys::Disp;
use crate::omcore::keyring::Ring;
use kernel::prelude::*;

/// The keys in force.
///
/// # Invariants
///
/// In a `Ring`, `pairs` is sorted by node ID, each ID at most once and none of them `node`.
pub(crate) enum Keys {
    /// One key for every node.
    Shared(HmacKey),
    /// Node `node`'s keyring.
    Ring {
        node: u32,
        pairs: KVVec<(u32, HmacKey)>,
        discovery: Option<HmacKey>,
    },
}

impl Keys {
    /// The keys an administrator wrote: a keyring when it starts with its magic line, else a
    /// shared key of [`MIN_KEY`]..=[`MAX_KEY`] bytes (one trailing newline dropped). Refused
    /// whole, with a log line saying why.
    pub(crate) fn from_input(input: &[u8]) -> Result<Self> {
        if !Ring::is_ring(input) {
            let key = input.strip_suffix(b"\n").unwrap_or(input);
            if !(MIN_KEY..=MAX_KEY).contains(&key.len()) {
                pr_warn!(
                    "admin/key: a key has {}..={} bytes, got {}\n",
                    MIN_KEY,
                    MAX_KEY,
                    key.len()
                );
                return Err(EINVAL);
            }
            return Ok(Self::Shared(HmacKey::new(key)?));
        }
        let ring = Ring::parse(input).map_err(|e| {
            pr_warn!("admin/key: {}\n", Disp(&e));
            EINVAL
        })?;
        if ring.peers > MAX_PEERS {
            pr_warn!(
                "admin/key: keyring with {} keys, at most {}\n",
                ring.peers,
                MAX_PEERS
            );
            return Err(EINVAL);
        }
        let mut pairs = KVVec::with_capacity(ring.peers, GFP_KERNEL)?;
        // INVARIANT: `Ring::parse` accepted only ascending IDs, none of them the node's.
        for (id, raw) in ring.pairs() {
            pairs.push((id, HmacKey::new(&raw)?), GFP_KERNEL)?;
        }
        let discovery = match ring.discovery {
            Some(raw) => Some(HmacKey::new(&raw)?),
            None => None,
        };
        Ok(Self::Ring {
            node: ring.node,
            pairs,
            discovery,
        })
    }

    /// The key this node, `me`, shares with node `peer`: the shared key, or the ring's key for
    /// the pair (none when the ring is another node's or holds no key for `peer`).
    pub(crate) fn for_pair(&self, me: u32, peer: u32) -> Option<&HmacKey> {
        match self {
            Self::Shared(k) => Some(k),
            Self::Ring { node, pairs, .. } => {
                if *node != me {
                    return None;
                }
                let i = pairs.binary_search_by_key(&peer, |(id, _)| *id).ok()?;
                pairs.get(i).map(|(_, k)| k)
            }
        }
    }

    /// The key of discovery beacons, if there is one.
    pub(crate) fn for_beacons(&self) -> Option<&HmacKey> {
        match self {
            Self::Shared(k) => Some(k),
            Self::Ring { discovery, .. } => discovery.as_ref(),
        }
    }

    /// Says in the log what was set.
    pub(crate) fn log_set(&self) {
        match self {
            Self::Shared(_) => pr_info!("cluster key set\n"),
            Self::Ring { node, pairs, .. } => {
                pr_info!("keyring of node {} set: {} keys\n", node, pairs.len())
            }
        }
    }
}
