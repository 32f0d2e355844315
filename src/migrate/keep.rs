// SPDX-License-Identifier: GPL-2.0

//! Processes saved periodically (`/proc/openmosix/keep`): `PID SECONDS` asks that process PID
//! be saved every SECONDS, `PID 0` that it no longer be. The saves are made by a helper the
//! module starts for each setting, `omx-keep PID SECONDS GENERATION UID GID` (the `omctl`
//! binary, as the guest stub is), which gives up root for the user and group that made the
//! setting and saves the process as `mosrun -C` does (a chain: a whole save, then saves of what
//! changed since, into `admin/ckpt_dir`), until the process ends or its entry here no longer
//! reads `PID SECONDS GENERATION`; it then removes its files. The module remembers each save
//! (`revive.rs`): a process kept so whose host is lost is restarted by its deputy.

use super::ckpt::{alive, Kept, MAX_KEEP_S, MAX_KEPT};
use super::config::STUB_PATH;
use super::Migrations;
use crate::ksys::cstr_fmt;
use crate::ksys::task::{self, cur, Task};
use crate::userlog::user_warn;
use core::fmt::Write;
use kernel::prelude::*;

impl Migrations {
    /// `PID SECONDS` on `/proc/openmosix/keep` (see the module documentation).
    pub(crate) fn keep_set(&self, text: &str) -> Result {
        let mut words = text.split_ascii_whitespace();
        let (Some(pid), Some(secs), None) = (words.next(), words.next(), words.next()) else {
            user_warn!("keep: expected 'PID SECONDS' (0 to stop)\n");
            return Err(EINVAL);
        };
        let pid = pid.parse::<i32>().ok().filter(|&p| p > 0).ok_or_else(|| {
            user_warn!("keep: bad pid\n");
            EINVAL
        })?;
        let secs = match secs.parse::<u64>() {
            Ok(s) if s <= MAX_KEEP_S => s as u32,
            _ => {
                user_warn!("keep: a period of 0 to {} seconds\n", MAX_KEEP_S);
                return Err(EINVAL);
            }
        };
        if self.guest_route(pid).is_some() {
            user_warn!("keep {}: a guest here: its home keeps it\n", pid);
            return Err(EPERM);
        }
        let task = Task::by_pid(pid).ok_or(ESRCH)?;
        if !task.may_be_migrated_by_current() {
            user_warn!("keep {}: permission denied\n", pid);
            return Err(EPERM);
        }
        let start = task.start_time();
        // A number no other setting had (drawn with the migrations' names).
        let generation = self.new_mig_id();
        {
            let mut list = self.kept.lock();
            list.retain(|k| alive(k.pid, k.start) && k.pid != pid);
            if secs == 0 {
                return Ok(());
            }
            if list.len() >= MAX_KEPT {
                user_warn!("keep: {} processes are kept already\n", MAX_KEPT);
                return Err(EBUSY);
            }
            list.push(
                Kept {
                    pid,
                    start,
                    secs,
                    generation,
                },
                GFP_KERNEL,
            )?;
        }
        let (uid, gid) = cur::init_real_ids();
        let mut b = [[0u8; 16]; 5];
        let [b0, b1, b2, b3, b4] = &mut b;
        let argv = [
            c"omx-keep",
            cstr_fmt(b0, format_args!("{}", pid)),
            cstr_fmt(b1, format_args!("{}", secs)),
            cstr_fmt(b2, format_args!("{}", generation)),
            cstr_fmt(b3, format_args!("{}", uid)),
            cstr_fmt(b4, format_args!("{}", gid)),
        ];
        if let Err(e) = task::spawn(STUB_PATH, &argv, &mut || Ok(())) {
            user_warn!(
                "keep {}: cannot start {}: error {}\n",
                pid,
                STUB_PATH.to_str().unwrap_or("?"),
                e.to_errno()
            );
            self.kept.lock().retain(|k| k.generation != generation);
            return Err(e);
        }
        Ok(())
    }

    /// `/proc/openmosix/keep` read: `PID SECONDS GENERATION` per process saved periodically.
    pub(crate) fn keep_show(&self, out: &mut impl Write) -> core::fmt::Result {
        writeln!(out, "# pid seconds generation")?;
        let list = self.kept.lock();
        for k in list.iter().filter(|k| alive(k.pid, k.start)) {
            writeln!(out, "{} {} {}", k.pid, k.secs, k.generation)?;
        }
        Ok(())
    }
}
