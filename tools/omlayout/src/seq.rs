// SPDX-License-Identifier: GPL-2.0

//! Sequence diagrams: the text format of the crate documentation, parsed and drawn as SVG.

use crate::svg::{esc, open, text_width};
use std::fmt::Write;

/// A lifeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// Its name in the source.
    pub id: String,
    /// Its label, one entry a line.
    pub label: Vec<String>,
}

/// A band behind neighbouring lifelines (a node, say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// First and last lifeline (indices into [`Seq::actors`], first <= last).
    pub from: usize,
    /// Last lifeline.
    pub to: usize,
    /// Its label.
    pub label: String,
}

/// One step of a diagram, top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// An arrow between lifelines (or from one to itself).
    Msg {
        /// Sending lifeline.
        from: usize,
        /// Receiving lifeline.
        to: usize,
        /// Its text, one entry a line.
        text: Vec<String>,
        /// Drawn dashed (a reply).
        dashed: bool,
    },
    /// A note box on a lifeline.
    Note {
        /// The lifeline.
        on: usize,
        /// Its text, one entry a line.
        text: Vec<String>,
    },
}

/// A parsed diagram.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seq {
    /// Its title, if any.
    pub title: Option<String>,
    /// Messages are numbered.
    pub autonumber: bool,
    /// Lifelines, left to right.
    pub actors: Vec<Actor>,
    /// Bands behind lifelines.
    pub groups: Vec<Group>,
    /// The steps.
    pub items: Vec<Item>,
}

/// Splits text at `\n` (the two characters) into lines.
fn lines(s: &str) -> Vec<String> {
    s.split("\\n").map(|l| l.trim().to_string()).collect()
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && !s.contains("->")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `"text"` -> `text`.
fn quoted(s: &str) -> Option<&str> {
    s.strip_prefix('"')?.strip_suffix('"')
}

impl Seq {
    fn actor(&self, id: &str, n: usize) -> Result<usize, String> {
        self.actors
            .iter()
            .position(|a| a.id == id)
            .ok_or_else(|| format!("line {n}: unknown actor `{id}` (declare it with `actor`)"))
    }
}

/// Parses the diagram source `src`; errors name the line.
pub fn parse(src: &str) -> Result<Seq, String> {
    let mut seq = Seq::default();
    for (k, raw) in src.lines().enumerate() {
        let n = k + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let head = line.split(':').next().unwrap_or("");
        if head.contains("->") {
            let (arrow, text) = line
                .split_once(':')
                .ok_or_else(|| format!("line {n}: expected `ID -> ID: text`"))?;
            let (a, b) = arrow
                .split_once("->")
                .ok_or_else(|| format!("line {n}: expected `ID -> ID: text`"))?;
            let (a, b) = (a.trim(), b.trim());
            if !valid_id(a) || !valid_id(b) {
                return Err(format!("line {n}: expected `ID -> ID: text`"));
            }
            let from = seq.actor(a, n)?;
            let to = seq.actor(b, n)?;
            let mut text = text.trim();
            let mut dashed = false;
            if let Some(t) = text.strip_suffix("[dashed]") {
                text = t.trim_end();
                dashed = true;
            }
            seq.items.push(Item::Msg {
                from,
                to,
                text: lines(text),
                dashed,
            });
        } else if let Some(t) = line.strip_prefix("title ") {
            if seq.title.is_some() {
                return Err(format!("line {n}: a second title"));
            }
            seq.title = Some(t.trim().to_string());
        } else if line == "autonumber" {
            seq.autonumber = true;
        } else if let Some(rest) = line.strip_prefix("actor ") {
            let rest = rest.trim();
            let (id, label) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if !valid_id(id) {
                return Err(format!(
                    "line {n}: bad actor name `{id}` (letters, digits, _ - .)"
                ));
            }
            if seq.actors.iter().any(|a| a.id == id) {
                return Err(format!("line {n}: actor `{id}` declared twice"));
            }
            let label = label.trim();
            let label = if label.is_empty() {
                id
            } else {
                quoted(label).ok_or_else(|| {
                    format!("line {n}: the label of `{id}` must be in double quotes")
                })?
            };
            seq.actors.push(Actor {
                id: id.to_string(),
                label: lines(label),
            });
        } else if let Some(rest) = line.strip_prefix("group ") {
            let mut parts = rest.trim().splitn(3, char::is_whitespace);
            let (a, b, label) = (parts.next(), parts.next(), parts.next().map(str::trim));
            let (Some(a), Some(b), Some(label)) = (a, b, label.and_then(quoted)) else {
                return Err(format!("line {n}: expected `group ID ID \"Label\"`"));
            };
            let (a, b) = (seq.actor(a, n)?, seq.actor(b, n)?);
            seq.groups.push(Group {
                from: a.min(b),
                to: a.max(b),
                label: label.to_string(),
            });
        } else if let Some(rest) = line.strip_prefix("note ") {
            let (id, text) = rest
                .split_once(':')
                .ok_or_else(|| format!("line {n}: expected `note ID: text`"))?;
            let on = seq.actor(id.trim(), n)?;
            seq.items.push(Item::Note {
                on,
                text: lines(text.trim()),
            });
        } else {
            return Err(format!("line {n}: cannot read `{line}`"));
        }
    }
    if seq.actors.is_empty() {
        return Err("no actors: declare lifelines with `actor ID \"Label\"`".into());
    }
    Ok(seq)
}

const FONT: f64 = 13.0;
const LINE_H: f64 = 17.0;
const MARGIN: f64 = 20.0;
const BANDS: [(&str, &str); 4] = [
    ("#eef4fb", "#5b7fa6"),
    ("#f3f8ee", "#5f8a3c"),
    ("#fbf1e8", "#a66a2c"),
    ("#f5eefa", "#7a4f9a"),
];

fn widest(text: &[String], size: f64) -> f64 {
    text.iter().map(|l| text_width(l, size)).fold(0.0, f64::max)
}

/// Message text with its number, if numbered.
fn numbered(seq: &Seq, k: usize, text: &[String]) -> Vec<String> {
    let mut t = text.to_vec();
    if seq.autonumber {
        if let Some(first) = t.first_mut() {
            *first = format!("{k}. {first}");
        }
    }
    t
}

/// Writes lines of text centred (`anchor` "middle") or from `x` ("start"), first baseline `y`,
/// with a white halo so that lifelines behind do not hide them.
fn text_block(s: &mut String, x: f64, y: f64, anchor: &str, text: &[String], halo: bool) {
    for (i, l) in text.iter().enumerate() {
        let halo = if halo {
            " stroke=\"white\" stroke-width=\"4\" stroke-linejoin=\"round\" paint-order=\"stroke\""
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\"{halo}>{}</text>",
            y + i as f64 * LINE_H,
            esc(l)
        );
    }
}

/// The SVG picture of `seq`.
pub fn render(seq: &Seq) -> String {
    let n = seq.actors.len();
    let box_w: Vec<f64> = seq
        .actors
        .iter()
        // Labels are bold: wider than plain text.
        .map(|a| (widest(&a.label, FONT) * 1.12 + 24.0).max(110.0))
        .collect();
    let head_lines = seq.actors.iter().map(|a| a.label.len()).max().unwrap_or(1);
    let head_h = head_lines as f64 * LINE_H + 14.0;

    // How far each lifeline's notes and self-message texts reach left and right of it.
    let mut l_off = vec![0.0f64; n];
    let mut r_off = vec![0.0f64; n];
    // Messages between lifelines: (left, right, width their text needs).
    let mut need: Vec<(usize, usize, f64)> = Vec::new();
    let mut k = 0;
    for it in &seq.items {
        match it {
            Item::Msg { from, to, text, .. } => {
                k += 1;
                let w = widest(&numbered(seq, k, text), FONT);
                if from == to {
                    r_off[*from] = r_off[*from].max(w + 14.0);
                } else {
                    need.push(((*from).min(*to), (*from).max(*to), w + 28.0));
                }
            }
            Item::Note { on, text } => {
                let half = (widest(text, FONT) + 16.0) / 2.0;
                l_off[*on] = l_off[*on].max(half);
                r_off[*on] = r_off[*on].max(half);
            }
        }
    }
    // Neighbouring boxes keep apart, and so do the texts beside lifelines; a band edge
    // between two lifelines takes room too.
    let edge = |i: usize| seq.groups.iter().any(|g| g.to == i || g.from == i + 1);
    let mut gap: Vec<f64> = (1..n)
        .map(|i| {
            let band = if edge(i - 1) { 24.0 } else { 0.0 };
            let boxes = (box_w[i - 1] + box_w[i]) / 2.0 + 20.0;
            let texts = r_off[i - 1] + l_off[i] + 12.0;
            boxes.max(texts) + band
        })
        .collect();
    for i in 0..n {
        l_off[i] = l_off[i].max(box_w[i] / 2.0);
        r_off[i] = r_off[i].max(box_w[i] / 2.0);
    }
    // Widened until every message's text fits over its arrow, shortest spans first.
    need.sort_by(|a, b| (a.1 - a.0).cmp(&(b.1 - b.0)).then(a.0.cmp(&b.0)));
    for (lo, hi, w) in need {
        let span = hi - lo;
        let have: f64 = gap[lo..hi].iter().sum();
        if w > have && span > 0 {
            let add = (w - have) / span as f64;
            for g in &mut gap[lo..hi] {
                *g += add;
            }
        }
    }
    let pad = if seq.groups.is_empty() { 0.0 } else { 10.0 };
    let left_over = l_off.first().copied().unwrap_or(0.0) + pad;
    let right_over = r_off.last().copied().unwrap_or(0.0) + pad;
    let mut x = Vec::with_capacity(n);
    let mut at = MARGIN + left_over;
    for i in 0..n {
        x.push(at);
        at += gap.get(i).copied().unwrap_or(0.0);
    }
    let width = x.last().copied().unwrap_or(0.0) + right_over + MARGIN;

    // Vertical layout.
    let title_h = if seq.title.is_some() { 44.0 } else { 12.0 };
    let band_top = title_h;
    let head_y = title_h + if seq.groups.is_empty() { 0.0 } else { 28.0 };
    let mut y = head_y + head_h + 22.0;
    let mut body = String::new();
    let mut k = 0;
    for it in &seq.items {
        match it {
            Item::Msg {
                from,
                to,
                text,
                dashed,
            } => {
                k += 1;
                let text = numbered(seq, k, text);
                let (xa, xb) = (x[*from], x[*to]);
                let dash = if *dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                };
                let lines_h = text.len() as f64 * LINE_H;
                if from == to {
                    text_block(&mut body, xa + 8.0, y + 13.0, "start", &text, true);
                    let ly = y + lines_h + 4.0;
                    let _ = writeln!(
                        body,
                        "<path d=\"M{xa:.1},{ly:.1} H{:.1} V{:.1} H{:.1}\" fill=\"none\" \
                         stroke=\"#333\" stroke-width=\"1.3\"{dash} marker-end=\"url(#arrow)\"/>",
                        xa + 34.0,
                        ly + 16.0,
                        xa + 2.0
                    );
                    y += lines_h + 30.0;
                } else {
                    text_block(&mut body, (xa + xb) / 2.0, y + 13.0, "middle", &text, true);
                    let ay = y + lines_h + 6.0;
                    let _ = writeln!(
                        body,
                        "<line x1=\"{xa:.1}\" y1=\"{ay:.1}\" x2=\"{xb:.1}\" y2=\"{ay:.1}\" \
                         stroke=\"#333\" stroke-width=\"1.3\"{dash} marker-end=\"url(#arrow)\"/>"
                    );
                    y += lines_h + 20.0;
                }
            }
            Item::Note { on, text } => {
                let w = widest(text, FONT) + 16.0;
                let h = text.len() as f64 * LINE_H + 8.0;
                let _ = writeln!(
                    body,
                    "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" \
                     fill=\"#fff8c4\" stroke=\"#b8a23a\"/>",
                    x[*on] - w / 2.0
                );
                text_block(&mut body, x[*on], y + 17.0, "middle", text, false);
                y += h + 12.0;
            }
        }
    }
    let foot_y = y + 8.0;
    let height = foot_y + head_h + 14.0;

    let mut s = open(width, height, FONT);
    if let Some(t) = &seq.title {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"28\" text-anchor=\"middle\" font-size=\"17\" \
             font-weight=\"bold\">{}</text>",
            width / 2.0,
            esc(t)
        );
    }
    for (i, g) in seq.groups.iter().enumerate() {
        let (fill, stroke) = BANDS[i % BANDS.len()];
        let left = x[g.from] - l_off[g.from] - 10.0;
        let right = x[g.to] + r_off[g.to] + 10.0;
        let _ = writeln!(
            s,
            "<rect x=\"{left:.1}\" y=\"{band_top:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\" \
             fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\" fill=\"{stroke}\">{}</text>",
            right - left,
            height - band_top - 6.0,
            left + 10.0,
            band_top + 19.0,
            esc(&g.label)
        );
    }
    for (i, a) in seq.actors.iter().enumerate() {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#999\" \
             stroke-dasharray=\"5 4\"/>",
            x[i],
            head_y + head_h,
            foot_y
        );
        for top in [head_y, foot_y] {
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{head_h:.1}\" rx=\"4\" \
                 fill=\"#f4f4f4\" stroke=\"#555\"/>",
                x[i] - box_w[i] / 2.0,
                box_w[i]
            );
            let first =
                top + 7.0 + LINE_H - 4.0 + (head_lines - a.label.len()) as f64 * LINE_H / 2.0;
            for (j, l) in a.label.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
                    x[i],
                    first + j as f64 * LINE_H,
                    esc(l)
                );
            }
        }
    }
    s.push_str(&body);
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
# a comment
title Two & two
autonumber
actor a "Alpha\nfirst"
actor b
group a b "Node <1>"

a -> b: ask
b -> a: answer [dashed]
b -> b: think\nhard
note a: a note
"#;

    #[test]
    fn parses_every_kind_of_line() {
        let s = parse(SRC).unwrap();
        assert_eq!(s.title.as_deref(), Some("Two & two"));
        assert!(s.autonumber);
        assert_eq!(s.actors.len(), 2);
        assert_eq!(s.actors[0].label, ["Alpha", "first"]);
        assert_eq!(s.actors[1].label, ["b"]);
        assert_eq!(s.groups[0].label, "Node <1>");
        assert_eq!(s.items.len(), 4);
        assert_eq!(
            s.items[1],
            Item::Msg {
                from: 1,
                to: 0,
                text: vec!["answer".into()],
                dashed: true
            }
        );
        assert_eq!(
            s.items[2],
            Item::Msg {
                from: 1,
                to: 1,
                text: vec!["think".into(), "hard".into()],
                dashed: false
            }
        );
        assert_eq!(
            s.items[3],
            Item::Note {
                on: 0,
                text: vec!["a note".into()]
            }
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        let cases = [
            ("actor a\nfoo bar", "line 2: cannot read"),
            ("actor a\na -> b: x", "line 2: unknown actor `b`"),
            ("actor a\n\na -> a x", "line 3:"),
            ("actor a\nactor a", "line 2: actor `a` declared twice"),
            (
                "actor a Alpha",
                "line 1: the label of `a` must be in double quotes",
            ),
            ("actor a\nnote a text", "line 2: expected `note ID: text`"),
            ("actor a\nnote b: text", "line 2: unknown actor `b`"),
            ("actor a\ngroup a \"x\"", "line 2: expected `group"),
            ("title a\ntitle b\nactor a", "line 2: a second title"),
            ("actor a b c", "line 1:"),
            ("actor a->b", "line 1: expected"),
            ("actor a-b.c_d e", "line 1: the label"),
            ("# nothing", "no actors"),
        ];
        for (src, want) in cases {
            let e = parse(src).unwrap_err();
            assert!(e.starts_with(want), "{src:?}: {e}");
        }
    }

    #[test]
    fn renders_escaped_and_deterministic() {
        let s = parse(SRC).unwrap();
        let a = render(&s);
        assert_eq!(a, render(&s));
        assert!(a.starts_with("<svg ") && a.ends_with("</svg>\n"));
        assert!(a.contains("Two &amp; two"));
        assert!(a.contains("Node &lt;1&gt;"));
        assert!(a.contains("1. ask"));
        assert!(a.contains("2. answer"));
        assert!(a.contains("stroke-dasharray=\"6 4\""));
        assert!(!a.contains("<1>"));
    }

    #[test]
    fn long_texts_widen_the_gaps() {
        let short = render(&parse("actor a\nactor b\na -> b: x").unwrap());
        let long_text = "x".repeat(200);
        let long = render(&parse(&format!("actor a\nactor b\na -> b: {long_text}")).unwrap());
        let width = |s: &str| -> f64 {
            let w = s.split("width=\"").nth(1).and_then(|r| r.split('"').next());
            w.and_then(|w| w.parse().ok()).unwrap_or(0.0)
        };
        assert!(width(&long) > width(&short) + crate::svg::text_width(&long_text, FONT) - 200.0);
    }
}
