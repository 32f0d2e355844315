// SPDX-License-Identifier: GPL-2.0

//! `omctl mon` (openMosix's `mosmon`): a live view of the cluster as this node sees it, redrawn
//! every second: a bar per node of its load, memory in use or processes, each node's status
//! as words, and this node's migrations as they happen.
//!
//! Keys: `l` load, `m` memory, `g` guests and processes away, `n` a table of the nodes, `q`,
//! Escape or Ctrl-C quit and give the terminal back as it was. The screen is drawn with
//! ratatui on crossterm in plain ASCII, redrawing only what changed, so it works over a serial
//! console; a console that does not know its size (0 x 0) is taken as `$COLUMNS` x `$LINES`,
//! else 80 x 24.
//!
//! `omctl mon COUNT` prints COUNT frames as plain text, one a second, for a pipe or a log.
//!
//! The data comes from [`crate::snapshot`] (files into a model), the drawing from [`view`]
//! (model into a screen); this file only reads the keys and the clock.

mod view;

use crate::snapshot::{read_snapshot, Snapshot};
use crate::{proc_root, Failure, Res};
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::cursor;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;
use ratatui::{Terminal, TerminalOptions, Viewport};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};
use view::{Screen, View};

/// How often the screen is redrawn.
const PERIOD: Duration = Duration::from_secs(1);

/// `omctl mon [COUNT]`.
pub(crate) fn run(count: Option<u32>) -> Res {
    // Read once before touching the terminal: no module is a plain message.
    let snap = snapshot()?;
    match count {
        Some(n) => text_frames(snap, n),
        None if !std::io::stdout().is_terminal() => Err(Failure(
            "mon: standard output is not a terminal (`omctl mon COUNT` prints COUNT frames as text)"
                .into(),
            1,
        )),
        None => interactive(snap),
    }
}

fn snapshot() -> Result<Snapshot, Failure> {
    read_snapshot(&proc_root()).map_err(|e| Failure(e.0, 1))
}

/// The names (`comm`) of the processes the snapshot lists.
fn names(snap: &Snapshot) -> HashMap<u32, String> {
    snap.processes
        .iter()
        .filter_map(|p| {
            let pid = p.pid();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            Some((pid, comm.trim_end().to_string()))
        })
        .collect()
}

/// The highest move number of a snapshot: moves above it end while the monitor runs.
fn last_seq(snap: &Snapshot) -> u64 {
    snap.moves.last().map_or(0, |m| m.seq)
}

/// A size from `$COLUMNS` and `$LINES`, else 80 x 24.
fn size_from_env() -> (u16, u16) {
    size_from(|name| std::env::var(name).ok())
}

/// A size from the variables `COLUMNS` and `LINES` as `var` gives them, 80 x 24 for those
/// unset or not a positive number.
fn size_from(var: impl Fn(&str) -> Option<String>) -> (u16, u16) {
    let get = |name, default| {
        var(name)
            .and_then(|v| v.trim().parse::<u16>().ok())
            .filter(|&v| v > 0)
            .unwrap_or(default)
    };
    (get("COLUMNS", 80), get("LINES", 24))
}

/// `COUNT` frames as text, a second apart, each as tall as its nodes and 10 moves need.
fn text_frames(mut snap: Snapshot, count: u32) -> Res {
    let seen = last_seq(&snap);
    let (width, _) = size_from_env();
    let mut out = std::io::stdout().lock();
    for frame in 0..count {
        if frame > 0 {
            std::thread::sleep(PERIOD);
            snap = snapshot()?;
        }
        let names = names(&snap);
        // The title, the nodes, a blank line, the migrations title, the processes on their way
        // and the latest 10 moves.
        let height = 3 + snap.nodes.len() + snap.away_in("migrating") + 10;
        let area = Rect::new(0, 0, width, u16::try_from(height).unwrap_or(u16::MAX));
        let mut buf = Buffer::empty(area);
        let screen = Screen {
            snap: &snap,
            view: View::Load,
            names: &names,
            seen_seq: seen,
        };
        (&screen).render(area, &mut buf);
        let mut lines = view::buffer_lines(&buf);
        // The keys mean nothing here.
        lines.retain(|l| l != view::KEYS);
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let sep = if frame > 0 { "\n" } else { "" };
        writeln!(out, "{sep}{}", lines.join("\n"))
            .and_then(|()| out.flush())
            .map_err(|e| Failure(format!("mon: {e}"), 1))?;
    }
    Ok(())
}

/// Gives the terminal back: the cursor shown, the main screen, cooked mode.
fn restore() {
    let _ = execute!(
        std::io::stdout(),
        cursor::Show,
        terminal::LeaveAlternateScreen
    );
    let _ = terminal::disable_raw_mode();
}

/// The terminal in raw mode on the alternate screen while it lives.
struct RawScreen;

impl RawScreen {
    fn enter() -> std::io::Result<RawScreen> {
        // A panic (an abort in release builds, where no destructor runs) restores it too.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            hook(info);
        }));
        terminal::enable_raw_mode()?;
        let raw = RawScreen;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        Ok(raw)
    }
}

impl Drop for RawScreen {
    fn drop(&mut self) {
        restore();
    }
}

/// What an event asks.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Quit,
    Show(View),
    Redraw,
    Nothing,
}

fn action(ev: &Event) -> Action {
    let Event::Key(k) = ev else {
        return if matches!(ev, Event::Resize(..)) {
            Action::Redraw
        } else {
            Action::Nothing
        };
    };
    if k.kind != KeyEventKind::Press {
        return Action::Nothing;
    }
    match k.code {
        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Action::Quit,
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => Action::Quit,
        KeyCode::Char(c) => {
            View::from_key(c.to_ascii_lowercase()).map_or(Action::Nothing, Action::Show)
        }
        _ => Action::Nothing,
    }
}

fn interactive(first: Snapshot) -> Res {
    let io = |e: std::io::Error| Failure(format!("mon: terminal: {e}"), 1);
    let viewport = match terminal::size() {
        Ok((w, h)) if w > 0 && h > 0 => Viewport::Fullscreen,
        _ => {
            let (w, h) = size_from_env();
            Viewport::Fixed(Rect::new(0, 0, w, h))
        }
    };
    let raw = RawScreen::enter().map_err(io)?;
    let backend = CrosstermBackend::new(std::io::stdout());
    let mut term = Terminal::with_options(backend, TerminalOptions { viewport }).map_err(io)?;
    let seen = last_seq(&first);
    let mut snap = first;
    let mut view = View::Load;
    let result = loop {
        let names = names(&snap);
        let screen = Screen {
            snap: &snap,
            view,
            names: &names,
            seen_seq: seen,
        };
        if let Err(e) = term.draw(|f| f.render_widget(&screen, f.area())) {
            break Err(io(e));
        }
        // Keys until the next second, then a new snapshot.
        let next = Instant::now() + PERIOD;
        let mut quit = false;
        while let Some(left) = next.checked_duration_since(Instant::now()) {
            match event::poll(left).and_then(|ready| ready.then(event::read).transpose()) {
                Ok(None) => break,
                Ok(Some(ev)) => match action(&ev) {
                    Action::Quit => quit = true,
                    Action::Show(v) => view = v,
                    Action::Redraw => {}
                    Action::Nothing => continue,
                },
                Err(e) => return Err(io(e)),
            }
            break;
        }
        if quit {
            break Ok(());
        }
        match snapshot() {
            Ok(s) => snap = s,
            Err(e) => break Err(e),
        }
    };
    drop(term);
    drop(raw);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::{KeyEvent, KeyEventState};

    fn key(code: KeyCode, modifiers: KeyModifiers) -> Event {
        Event::Key(KeyEvent::new(code, modifiers))
    }

    #[test]
    fn keys() {
        let none = KeyModifiers::NONE;
        assert_eq!(action(&key(KeyCode::Char('q'), none)), Action::Quit);
        assert_eq!(
            action(&key(KeyCode::Char('Q'), KeyModifiers::SHIFT)),
            Action::Quit
        );
        assert_eq!(action(&key(KeyCode::Esc, none)), Action::Quit);
        assert_eq!(
            action(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Quit
        );
        assert_eq!(action(&key(KeyCode::Char('c'), none)), Action::Nothing);
        assert_eq!(
            action(&key(KeyCode::Char('m'), none)),
            Action::Show(View::Memory)
        );
        assert_eq!(
            action(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Action::Show(View::Processes)
        );
        assert_eq!(action(&key(KeyCode::Char('x'), none)), Action::Nothing);
        assert_eq!(action(&Event::Resize(40, 12)), Action::Redraw);
        assert_eq!(action(&Event::FocusGained), Action::Nothing);
        let release = Event::Key(KeyEvent {
            code: KeyCode::Char('q'),
            modifiers: none,
            kind: KeyEventKind::Release,
            state: KeyEventState::NONE,
        });
        assert_eq!(action(&release), Action::Nothing);
    }

    #[test]
    fn sizes_from_the_environment() {
        let env = |c: &'static str, l: &'static str| {
            move |name: &str| Some(if name == "COLUMNS" { c } else { l }.to_string())
        };
        assert_eq!(size_from(env("132", "50")), (132, 50));
        assert_eq!(size_from(env("0", "x")), (80, 24));
        assert_eq!(size_from(env("99999", "-3")), (80, 24));
        assert_eq!(size_from(|_| None), (80, 24));
    }
}
