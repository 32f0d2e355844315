// SPDX-License-Identifier: GPL-2.0

//! What `omctl mon` draws: a [`Screen`] is a ratatui widget made of a [`Snapshot`], the view
//! the user chose and the names of the processes it shows; it never reads a file.
//!
//! Lines from top to bottom: a title (this node, the view, how many nodes are up), one line
//! per node (its ID, its status as words, and a bar of the view's figure, or `down`/`unknown`
//! where the node has no fresh figure), the migrations (processes on their way, then the latest
//! moves, newest first; `+` marks those that ended since the monitor started) and the keys.
//! Everything is ASCII, so that a serial console shows it; a small terminal gets fewer lines and
//! narrower bars, a tiny one a one-line note.

use crate::snapshot::{status_words, NodeFigures, Process, Snapshot};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::widgets::Widget;
use std::collections::HashMap;

/// The figure the node lines show, chosen by a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// `l`: load (runnable tasks, normalised to a standard node).
    Load,
    /// `m`: memory in use of the total.
    Memory,
    /// `g`: guests here, this node's processes on the others; the processes listed.
    Processes,
    /// `n`: a table of every node's figures and link, and this node's traffic.
    Nodes,
}

impl View {
    /// The view a key selects.
    pub(crate) fn from_key(c: char) -> Option<View> {
        match c {
            'l' => Some(View::Load),
            'm' => Some(View::Memory),
            'g' | 'p' => Some(View::Processes),
            'n' => Some(View::Nodes),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            View::Load => "load",
            View::Memory => "memory",
            View::Processes => "guests",
            View::Nodes => "nodes",
        }
    }
}

/// The keys line.
pub(crate) const KEYS: &str = "l load  m memory  g guests  n nodes  q quit";
/// The keys line of a narrow terminal.
const KEYS_SHORT: &str = "l m g n: views  q: quit";

/// Below this size the screen shows a one-line note only.
const MIN_WIDTH: u16 = 24;
const MIN_HEIGHT: u16 = 3;

/// One frame of the monitor.
pub(crate) struct Screen<'a> {
    /// What this node knows.
    pub(crate) snap: &'a Snapshot,
    /// The view chosen.
    pub(crate) view: View,
    /// Names (`comm`) of the processes the snapshot lists, by pid.
    pub(crate) names: &'a HashMap<u32, String>,
    /// Moves with a higher number ended while the monitor ran.
    pub(crate) seen_seq: u64,
}

/// `[####......]` of `width` characters for `value` of `scale`.
fn bar(value: u64, scale: u64, width: usize) -> String {
    let inner = width.saturating_sub(2);
    let filled = if scale == 0 {
        0
    } else {
        let (v, s) = (u128::from(value.min(scale)), u128::from(scale));
        usize::try_from((v * inner as u128 + s / 2) / s).unwrap_or(inner)
    };
    format!("[{}{}]", "#".repeat(filled), ".".repeat(inner - filled))
}

fn mb(kib: Option<u64>) -> String {
    kib.map_or("-".into(), |k| (k / 1024).to_string())
}

fn num(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

/// A load as runnable tasks: `1.50`.
fn load_text(load: u64) -> String {
    format!("{}.{:02}", load / 100, load % 100)
}

impl Screen<'_> {
    /// The view's figure of node `n` and its text, or why there is none.
    fn figure(&self, n: &NodeFigures) -> Result<(u64, String), &'static str> {
        let missing = if n.is_up() { "unknown" } else { "down" };
        if !n.is_up() && self.view != View::Processes {
            return Err(missing);
        }
        match self.view {
            View::Load | View::Nodes => n.load.map(|l| (l, load_text(l))).ok_or(missing),
            View::Memory => match (n.mem, n.tmem) {
                (Some(avail), Some(total)) if total > 0 => {
                    let used = total.saturating_sub(avail);
                    Ok((used, format!("{}/{}M", used / 1024, total / 1024)))
                }
                _ => Err(missing),
            },
            View::Processes => {
                let c = self.snap.processes_on(n.id) as u64;
                Ok((c, c.to_string()))
            }
        }
    }

    /// The full scale of the view's bars for node `n`.
    fn scale(&self, n: &NodeFigures) -> u64 {
        let nodes = &self.snap.nodes;
        match self.view {
            // One busy process per CPU of the largest node, or the highest load if above.
            View::Load | View::Nodes => {
                let cpus = nodes.iter().filter_map(|n| n.cpus).max().unwrap_or(1);
                let top = nodes.iter().filter_map(|n| n.load).max().unwrap_or(0);
                (cpus.max(1) * 100).max(top)
            }
            View::Memory => n.tmem.unwrap_or(0),
            View::Processes => nodes
                .iter()
                .map(|n| self.snap.processes_on(n.id) as u64)
                .max()
                .unwrap_or(0)
                .max(4),
        }
    }

    fn title(&self) -> Line<'static> {
        let up = self.snap.nodes.iter().filter(|n| n.is_up()).count();
        let me = match self.snap.me {
            0 => "no ID yet".to_string(),
            id => format!("node {id}"),
        };
        Line::styled(
            format!(
                "openmosix {me} | {} | {up}/{} nodes up",
                self.view.name(),
                self.snap.nodes.len()
            ),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }

    /// One line per node with a bar of the view's figure, fitted to `width`.
    fn node_lines(&self, width: usize) -> Vec<Line<'static>> {
        let status_w = self
            .snap
            .nodes
            .iter()
            .map(|n| status_words(n.status).len())
            .max()
            .unwrap_or(4)
            .min(if width >= 50 { 16 } else { 8 });
        let value_w = 10;
        self.snap
            .nodes
            .iter()
            .map(|n| {
                let mark = if n.id == self.snap.me { '*' } else { ' ' };
                let mut status = status_words(n.status);
                status.truncate(status_w);
                let head = format!("{:>3}{mark} {status:<status_w$} ", n.id);
                let bar_w = width.saturating_sub(head.len() + value_w + 1);
                let tail = match self.figure(n) {
                    Ok((v, text)) if bar_w >= 5 => {
                        format!("{} {text}", bar(v, self.scale(n), bar_w))
                    }
                    Ok((_, text)) => text,
                    Err(why) => format!("{:^bar_w$} -", format!("- {why} -")),
                };
                let line = Line::from(format!("{head}{tail}"));
                if n.is_up() {
                    line
                } else {
                    line.style(Style::new().add_modifier(Modifier::DIM))
                }
            })
            .collect()
    }

    /// The table of the `n` view: every figure of every node and its link, the most telling
    /// columns first (a narrow terminal cuts the last ones).
    fn table_lines(&self) -> Vec<Line<'static>> {
        let mut out = vec![Line::styled(
            format!(
                "{:>4} {:<10} {:>5} {:>4} {:>6} {:>6} {:>4} {:>5} {:<9} {}",
                "NODE",
                "STATUS",
                "LOAD",
                "UTIL",
                "MEM",
                "TOTAL",
                "CPUS",
                "SPEED",
                "LINK",
                "ADDRESS"
            ),
            Style::new().add_modifier(Modifier::BOLD),
        )];
        for n in &self.snap.nodes {
            let peer = self.snap.peers.iter().find(|p| p.id == n.id);
            let link = match peer {
                None if n.id == self.snap.me => "self",
                Some(p) if p.connected => "connected",
                _ => "-",
            };
            out.push(Line::from(format!(
                "{:>4} {:<10} {:>5} {:>4} {:>6} {:>6} {:>4} {:>5} {link:<9} {}",
                n.id,
                status_words(n.status),
                n.load.map_or("-".into(), load_text),
                num(n.util),
                mb(n.mem),
                mb(n.tmem),
                num(n.cpus),
                num(n.speed),
                self.snap.address(n.id).unwrap_or("-"),
            )));
        }
        // This node's traffic, from `stats`.
        let stat = |name: &str| {
            let v = self.snap.stats.iter().find(|(n, _)| n == name);
            v.map_or("-".to_string(), |(_, v)| v.to_string())
        };
        out.push(Line::from(format!(
            "frames sent {} received {} rejected {} dropped {}; handshakes ok {} failed {}",
            stat("frames_sent"),
            stat("frames_received"),
            stat("frames_rejected"),
            stat("frames_dropped"),
            stat("handshakes_ok"),
            stat("handshakes_failed"),
        )));
        out
    }

    fn name_of(&self, pid: u32) -> &str {
        self.names.get(&pid).map_or("?", String::as_str)
    }

    /// The processes of the `g` view: this node's away, then its guests.
    fn process_lines(&self) -> Vec<Line<'static>> {
        let mut out = vec![Line::styled(
            format!(
                "processes ({} away, {} guests)",
                self.snap.away_in("remote"),
                self.snap.guests()
            ),
            Style::new().add_modifier(Modifier::BOLD),
        )];
        for p in &self.snap.processes {
            out.push(Line::from(match p {
                Process::Away { pid, node, state } => {
                    format!(
                        " {pid:>6} {:<12} {state} on node {node}",
                        self.name_of(*pid)
                    )
                }
                Process::Guest {
                    pid,
                    home,
                    home_pid,
                } => format!(
                    " {pid:>6} {:<12} guest of node {home} (pid {home_pid} there)",
                    self.name_of(*pid)
                ),
            }));
        }
        out
    }

    /// Processes on their way, then the latest moves, newest first.
    fn migration_lines(&self) -> Vec<Line<'static>> {
        let mut out = vec![Line::styled(
            "migrations (newest first)",
            Style::new().add_modifier(Modifier::BOLD),
        )];
        for p in &self.snap.processes {
            if let Process::Away { pid, node, state } = p {
                if state == "migrating" {
                    out.push(Line::from(format!(
                        "  pid {pid} {} -> node {node}: on its way",
                        self.name_of(*pid)
                    )));
                }
            }
        }
        for m in self.snap.moves.iter().rev() {
            let new = m.seq > self.seen_seq;
            let how = if m.from == m.to {
                "nothing to do".to_string()
            } else if m.error != 0 {
                format!("failed (errno {})", m.error)
            } else {
                let kib = m.kib.map_or(String::new(), |k| format!(" {k} KiB"));
                let ms = m.frozen_ms.map_or(String::new(), |f| format!(" {f} ms"));
                format!("ok{kib}{ms}")
            };
            let text = format!(
                "{}#{} pid {} {}->{} {how}",
                if new { '+' } else { ' ' },
                m.seq,
                m.pid,
                m.from,
                m.to
            );
            out.push(if new {
                Line::styled(text, Style::new().add_modifier(Modifier::BOLD))
            } else {
                Line::from(text)
            });
        }
        if out.len() == 1 {
            out.push(Line::from("  none yet"));
        }
        out
    }
}

/// The text of a buffer, a line per row, trailing blanks removed.
pub(crate) fn buffer_lines(buf: &Buffer) -> Vec<String> {
    let a = buf.area;
    (a.top()..a.bottom())
        .map(|y| {
            let row: String = (a.left()..a.right())
                .map(|x| buf[(x, y)].symbol())
                .collect();
            row.trim_end().to_string()
        })
        .collect()
}

/// Draws `lines` from the top of `area`, as many as fit (ratatui clips the rest).
fn draw(lines: Vec<Line<'static>>, area: Rect, buf: &mut Buffer) {
    if area.width > 0 && area.height > 0 {
        Paragraph::new(lines).render(area, buf);
    }
}

/// The part of `area` from row `top`, `height` rows at most.
fn rows(area: Rect, top: u16, height: u16) -> Rect {
    let top = top.min(area.height);
    Rect::new(
        area.x,
        area.y + top,
        area.width,
        height.min(area.height - top),
    )
}

impl Widget for &Screen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let note = format!(
                "openmosix: {}x{}: too small (q quits)",
                area.width, area.height
            );
            draw(vec![Line::from(note)], area, buf);
            return;
        }
        draw(vec![self.title()], rows(area, 0, 1), buf);
        // The keys on the last line when there is room for them and a few more lines.
        let keys = area.height >= 8;
        if keys {
            let keys = if usize::from(area.width) >= KEYS.len() {
                KEYS
            } else {
                KEYS_SHORT
            };
            draw(vec![Line::from(keys)], rows(area, area.height - 1, 1), buf);
        }
        let body = rows(area, 1, area.height - 1 - u16::from(keys));
        let nodes = if self.view == View::Nodes {
            self.table_lines()
        } else {
            self.node_lines(usize::from(area.width))
        };
        // The nodes first, but leave two lines of migrations when the body has five or more.
        let reserve = if body.height >= 5 { 2 } else { 0 };
        let node_rows = (nodes.len() as u16).min(body.height - reserve);
        draw(nodes, rows(body, 0, node_rows), buf);
        let mut rest = rows(body, node_rows, body.height);
        if rest.height == 0 {
            return;
        }
        // A blank line between the parts when there is room.
        if rest.height >= 6 {
            rest = rows(rest, 1, rest.height);
        }
        if self.view == View::Processes {
            let procs = self.process_lines();
            let h = (procs.len() as u16).min(rest.height / 2);
            draw(procs, rows(rest, 0, h), buf);
            rest = rows(rest, h, rest.height);
        }
        draw(self.migration_lines(), rest, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::tests::sample;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    /// The screen of `snap` in `view` on a terminal of `w` x `h`, as lines of text.
    fn screen(snap: &Snapshot, view: View, w: u16, h: u16) -> Vec<String> {
        let names = HashMap::from([(101, "omx-burn".to_string())]);
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        let s = Screen {
            snap,
            view,
            names: &names,
            seen_seq: 1,
        };
        t.draw(|f| f.render_widget(&s, f.area())).unwrap();
        buffer_lines(t.backend().buffer())
    }

    fn line_with<'a>(lines: &'a [String], text: &str) -> &'a str {
        lines
            .iter()
            .find(|l| l.contains(text))
            .unwrap_or_else(|| panic!("no line with {text:?} in\n{}", lines.join("\n")))
    }

    #[test]
    fn load_view() {
        let l = screen(&sample(), View::Load, 80, 24);
        assert!(l[0].contains("node 1") && l[0].contains("load") && l[0].contains("2/3 nodes up"));
        // Node 1 (this one): 1.50 of a scale of 1 CPU x 100 or the top load, 150: a full bar.
        let n1 = line_with(&l, "  1* up ");
        assert!(n1.contains("[####") && n1.contains("#] 1.50"), "{n1}");
        let n2 = line_with(&l, "  2  up,block ");
        assert!(n2.contains("[###") && n2.contains(".] 0.40"), "{n2}");
        // Node 3 is down: no bar.
        let n3 = line_with(&l, "  3  down");
        assert!(!n3.contains('[') && n3.contains("- down -"), "{n3}");
        line_with(&l, "migrations");
        line_with(&l, "pid 102 ? -> node 3: on its way");
        assert!(line_with(&l, "#2 pid 103 1->3 failed (errno 113)").starts_with('+'));
        assert!(line_with(&l, "#1 pid 101 1->2 ok 1234 KiB 56 ms").starts_with(' '));
        assert_eq!(l[23], KEYS);
    }

    #[test]
    fn memory_and_processes_views() {
        let l = screen(&sample(), View::Memory, 60, 15);
        assert!(line_with(&l, "  2  up,block ").contains("390/488M"));
        assert!(line_with(&l, "  3  down").contains("- down -"));
        let l = screen(&sample(), View::Processes, 60, 20);
        assert!(line_with(&l, "  1* up").ends_with("] 1"));
        line_with(&l, "   101 omx-burn     remote on node 2");
        line_with(&l, "   200 ?            guest of node 2 (pid 77 there)");
        line_with(&l, "#2 pid 103");
    }

    #[test]
    fn nodes_view() {
        let l = screen(&sample(), View::Nodes, 90, 12);
        line_with(
            &l,
            "NODE STATUS      LOAD UTIL    MEM  TOTAL CPUS SPEED LINK      ADDRESS",
        );
        line_with(
            &l,
            "   1 up          1.50  750    390    488    1 10000 self      198.18.0.1",
        );
        line_with(
            &l,
            "   2 up,block    0.40  200     97    488    1 10000 connected 198.18.0.2",
        );
        line_with(
            &l,
            "   3 down           -    -      -      -    -     - -         198.18.0.3",
        );
        // A narrow terminal keeps the first columns.
        let l = screen(&sample(), View::Nodes, 40, 12);
        line_with(&l, "   2 up,block    0.40  200     97    488");
    }

    #[test]
    fn unknown_figures_of_an_up_node() {
        let mut s = sample();
        s.nodes[1].load = None;
        let l = screen(&s, View::Load, 80, 24);
        assert!(line_with(&l, "  2  up,block").contains("- unknown -"));
    }

    #[test]
    fn small_terminals_never_panic() {
        let mut big = sample();
        for id in 4..200 {
            let mut n = big.nodes[0].clone();
            n.id = id;
            big.nodes.push(n);
        }
        for snap in [sample(), big, Snapshot::default()] {
            for view in [View::Load, View::Memory, View::Processes, View::Nodes] {
                for (w, h) in [
                    (0, 0),
                    (1, 1),
                    (5, 2),
                    (23, 3),
                    (24, 3),
                    (40, 12),
                    (30, 5),
                    (200, 60),
                ] {
                    let l = screen(&snap, view, w, h);
                    assert_eq!(l.len(), usize::from(h));
                }
            }
        }
        // 40x12 still shows the three nodes and the latest move.
        let l = screen(&sample(), View::Load, 40, 12);
        line_with(&l, "  1* up");
        line_with(&l, "  3  down");
        line_with(&l, "#2 pid 103");
        assert_eq!(l[11], KEYS_SHORT);
        let l = screen(&sample(), View::Load, 20, 2);
        assert!(l[0].starts_with("openmosix: 20x2: too"));
    }

    #[test]
    fn words_and_bars() {
        assert_eq!(bar(50, 100, 12), "[#####.....]");
        assert_eq!(bar(500, 100, 6), "[####]");
        assert_eq!(bar(1, 0, 4), "[..]");
        assert_eq!(bar(1, 1, 1), "[]");
        assert_eq!(View::from_key('m'), Some(View::Memory));
        assert_eq!(View::from_key('x'), None);
    }
}
