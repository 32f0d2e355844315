// SPDX-License-Identifier: GPL-2.0

//! The node: the parts of openMosix that one machine runs, and the frames between them.
//!
//! A [`Node`] owns the mesh (peers, connections, load), the migrations (processes of this node
//! away, their deputies, and the guests it hosts) and the load balancer, and runs the `omx-mig`
//! thread that watches migrations and drives the balancer. It is the mesh's [`Inbound`]: every
//! authenticated frame of a migration kind goes, in the connection's `omx-rx/ID` thread, to the
//! handler of [`Migrations`] for its kind.
//!
//! Start: [`Node::new`] binds the sockets, [`Node::start`] starts the threads. Stop:
//! [`Node::shutdown`] kills every guest and unhooks, stops `omx-mig`, then the mesh.

use crate::balance::Balancer;
use crate::error;
use crate::ksys::thread::{self, KThread};
use crate::mesh::{Inbound, Mesh};
use crate::migrate::Migrations;
use crate::omcore::frame::MessageKind;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Arc, Mutex};

/// Period of the migration watcher (ended guests, orphans) and of the balancer's tick, in ms.
const WATCH_MS: u32 = 20;

/// This node.
#[pin_data]
pub(crate) struct Node {
    pub(crate) mesh: Arc<Mesh>,
    pub(crate) mig: Arc<Migrations>,
    /// The load balancer.
    #[pin]
    pub(crate) bal: Balancer,
    /// The `omx-mig` thread, while it runs.
    #[pin]
    watcher: Mutex<Option<KThread>>,
}

impl Node {
    /// Creates the node's parts (the mesh binds its sockets); nothing runs yet.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let mesh = Mesh::new()?;
        let mig = Arc::pin_init(Migrations::new(mesh.clone()), GFP_KERNEL)?;
        Arc::pin_init(
            try_pin_init!(Self {
                mesh,
                mig,
                bal <- Balancer::new(),
                watcher <- new_mutex!(None, "Node::watcher"),
            }),
            GFP_KERNEL,
        )
    }

    /// Starts the mesh's threads and `omx-mig`.
    pub(crate) fn start(self: &Arc<Self>) -> Result {
        self.mesh.start(self)?;
        let me = self.clone();
        let t = KThread::spawn(c"omx-mig", move || {
            while !me.mesh.stopping() {
                thread::sleep_ms(WATCH_MS);
                me.mig.watch();
                me.bal.tick(&me.mesh, &me.mig);
            }
        })?;
        *self.watcher.lock() = Some(t);
        Ok(())
    }

    /// Stops everything: guests are killed and the hooks removed first, then `omx-mig`, then
    /// the mesh's threads and connections.
    pub(crate) fn shutdown(&self) {
        self.mig.shutdown();
        let t = self.watcher.lock().take();
        drop(t);
        self.mesh.shutdown();
    }
}

impl Inbound for Node {
    fn deliver(&self, peer: u32, kind: MessageKind, payload: KVec<u8>) -> error::Result {
        let mig = &self.mig;
        match kind {
            MessageKind::MigImage => mig.on_image(peer, payload),
            MessageKind::MigResult => mig.on_result(peer, &payload),
            MessageKind::GuestExit => mig.on_exit(peer, &payload),
            MessageKind::GuestSignal => mig.on_signal(peer, &payload),
            MessageKind::MigCtl => mig.on_ctl(peer, &payload),
            MessageKind::Syscall => mig.on_syscall(peer, payload),
            MessageKind::SyscallReply => mig.on_reply(peer, payload),
            // The mesh keeps its own kinds: anything else here is out of place.
            _ => Err(crate::ksys::errno::ebadmsg().into()),
        }
    }
}
