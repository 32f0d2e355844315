// SPDX-License-Identifier: GPL-2.0

//! The file graph as an SVG picture: a box per file, arrows from user to used.
//!
//! Files are placed in rows by the longest chain of uses below them: files that use no other
//! file are in the bottom row, the crate root near the top, so every arrow of the acyclic part
//! points down and reads "uses". An arrow that closes an import circle points up (dashed); every
//! arrow of a circle is red. Files of one directory share a colour; a file over the line limit
//! has a red frame.

use crate::check::{components, MAX_LINES};
use crate::svg::{esc, open, text_width};
use crate::tree::Tree;
use std::collections::BTreeMap;
use std::fmt::Write;

const FILLS: [(&str, &str); 8] = [
    ("#e3f2fd", "#1565c0"),
    ("#e8f5e9", "#2e7d32"),
    ("#fff3e0", "#ef6c00"),
    ("#f3e5f5", "#6a1b9a"),
    ("#e0f7fa", "#00838f"),
    ("#fce4ec", "#ad1457"),
    ("#f1f8e9", "#558b2f"),
    ("#ede7f6", "#4527a0"),
];
const RED: &str = "#c62828";
const MARGIN: f64 = 30.0;
const BOX_H: f64 = 40.0;
const GAP_X: f64 = 28.0;
const GAP_Y: f64 = 80.0;
const TOP: f64 = 56.0;

/// The label of a file: its path below `src/` or `rust/`.
pub fn label(file: &str) -> &str {
    file.strip_prefix("src/")
        .or_else(|| file.strip_prefix("rust/"))
        .unwrap_or(file)
}

fn dir_of(file: &str) -> &str {
    file.rsplit_once('/').map_or("", |(d, _)| d)
}

/// Row of each file (0 at the top) and which edges close a circle (point up), for `tree`.
fn layers(nodes: &[&str], adj: &BTreeMap<usize, Vec<usize>>) -> (Vec<usize>, Vec<(usize, usize)>) {
    let n = nodes.len();
    let mut state = vec![0u8; n];
    let mut depth = vec![0usize; n];
    let mut back = Vec::new();
    let empty = Vec::new();
    for s in 0..n {
        if state[s] != 0 {
            continue;
        }
        let mut work = vec![(s, 0usize)];
        state[s] = 1;
        while let Some(&(v, pos)) = work.last() {
            let kids = adj.get(&v).unwrap_or(&empty);
            if let Some(&w) = kids.get(pos) {
                if let Some(top) = work.last_mut() {
                    top.1 += 1;
                }
                match state[w] {
                    0 => {
                        state[w] = 1;
                        work.push((w, 0));
                    }
                    1 => back.push((v, w)),
                    _ => {}
                }
                continue;
            }
            // Finished: every successor over a forward edge is finished too.
            depth[v] = kids
                .iter()
                .filter(|w| !back.contains(&(v, **w)))
                .map(|w| depth[*w] + 1)
                .max()
                .unwrap_or(0);
            state[v] = 2;
            work.pop();
        }
    }
    let top = depth.iter().copied().max().unwrap_or(0);
    (depth.iter().map(|d| top - d).collect(), back)
}

/// The SVG picture of `tree`'s files and edges.
pub fn draw(tree: &Tree) -> String {
    let nodes: Vec<&str> = tree.files.keys().map(String::as_str).collect();
    let idx: BTreeMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut adj: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (a, bs) in &tree.edges {
        let Some(&ia) = idx.get(a.as_str()) else {
            continue;
        };
        let v: Vec<usize> = bs
            .keys()
            .filter_map(|b| idx.get(b.as_str()).copied())
            .collect();
        adj.insert(ia, v);
    }
    let sadj: BTreeMap<&str, Vec<&str>> = tree
        .edges
        .iter()
        .map(|(a, bs)| (a.as_str(), bs.keys().map(String::as_str).collect()))
        .collect();
    let comp = components(&sadj);
    let mut comp_size: BTreeMap<usize, usize> = BTreeMap::new();
    for c in comp.values() {
        *comp_size.entry(*c).or_default() += 1;
    }
    let in_circle = |a: usize, b: usize| {
        let (ca, cb) = (comp.get(nodes[a]), comp.get(nodes[b]));
        ca.is_some() && ca == cb && ca.is_some_and(|c| comp_size.get(c).copied().unwrap_or(0) > 1)
    };
    let (row, back) = layers(&nodes, &adj);
    let rows = row.iter().copied().max().map_or(0, |m| m + 1);

    let dirs: Vec<&str> = {
        let mut d: Vec<&str> = nodes.iter().map(|n| dir_of(n)).collect();
        d.sort();
        d.dedup();
        d
    };
    let colour = |n: usize| {
        let d = dirs
            .iter()
            .position(|d| *d == dir_of(nodes[n]))
            .unwrap_or(0);
        FILLS[d % FILLS.len()]
    };
    let lines = |n: usize| tree.files.get(nodes[n]).map_or(0, |f| f.lines);
    let width: Vec<f64> = (0..nodes.len())
        .map(|n| {
            let a = text_width(label(nodes[n]), 13.0);
            let b = text_width(&format!("{} lines", lines(n)), 11.0);
            a.max(b).max(70.0) + 20.0
        })
        .collect();

    // Rows, first by directory and name, then by the mean position of each file's neighbours.
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); rows];
    let mut by_dir: Vec<usize> = (0..nodes.len()).collect();
    by_dir.sort_by(|a, b| {
        (dir_of(nodes[*a]), label(nodes[*a])).cmp(&(dir_of(nodes[*b]), label(nodes[*b])))
    });
    for n in by_dir {
        order[row[n]].push(n);
    }
    let row_width = |r: &[usize]| {
        r.iter().map(|n| width[*n]).sum::<f64>() + GAP_X * r.len().saturating_sub(1) as f64
    };
    let canvas_w = order.iter().map(|r| row_width(r)).fold(360.0, f64::max) + 2.0 * MARGIN;
    let mut x = vec![0.0f64; nodes.len()];
    let place = |r: &[usize], x: &mut Vec<f64>| {
        let mut at = (canvas_w - row_width(r)) / 2.0;
        for n in r {
            x[*n] = at + width[*n] / 2.0;
            at += width[*n] + GAP_X;
        }
    };
    for r in &order {
        place(r, &mut x);
    }
    let mut nbrs: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (a, bs) in &adj {
        for b in bs {
            nbrs[*a].push(*b);
            nbrs[*b].push(*a);
        }
    }
    for _ in 0..4 {
        for r in order.iter_mut() {
            let key: Vec<(f64, f64, usize)> = r
                .iter()
                .map(|n| {
                    let others: Vec<f64> = nbrs[*n]
                        .iter()
                        .filter(|m| row[**m] != row[*n])
                        .map(|m| x[*m])
                        .collect();
                    let k = if others.is_empty() {
                        x[*n]
                    } else {
                        others.iter().sum::<f64>() / others.len() as f64
                    };
                    (k, x[*n], *n)
                })
                .collect();
            let mut key = key;
            key.sort_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then(a.1.total_cmp(&b.1))
                    .then(a.2.cmp(&b.2))
            });
            *r = key.into_iter().map(|k| k.2).collect();
            place(r, &mut x);
        }
    }
    let y = |n: usize| TOP + row[n] as f64 * (BOX_H + GAP_Y);

    // Edge ends, spread over the box sides in the order of the other ends.
    struct Edge {
        a: usize,
        b: usize,
        up: bool,
        red: bool,
    }
    let mut edges: Vec<Edge> = Vec::new();
    for (a, bs) in &adj {
        for b in bs {
            edges.push(Edge {
                a: *a,
                b: *b,
                up: back.contains(&(*a, *b)),
                red: in_circle(*a, *b),
            });
        }
    }
    // (node, bottom side?) -> [(other end's x, edge)]
    let mut sides: BTreeMap<(usize, bool), Vec<(f64, usize)>> = BTreeMap::new();
    for (k, e) in edges.iter().enumerate() {
        // Down: leaves a's bottom, enters b's top. Up: leaves a's top, enters b's bottom.
        sides.entry((e.a, !e.up)).or_default().push((x[e.b], k));
        sides.entry((e.b, e.up)).or_default().push((x[e.a], k));
    }
    let mut end_x: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for ((n, _), list) in sides.iter_mut() {
        list.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
        let w = width[*n] * 0.8;
        let left = x[*n] - w / 2.0;
        let count = list.len() as f64;
        for (i, (_, k)) in list.iter().enumerate() {
            end_x.insert((*k, *n), left + w * (i as f64 + 1.0) / (count + 1.0));
        }
    }

    let legend_y = TOP + rows as f64 * (BOX_H + GAP_Y) - GAP_Y + 36.0;
    let canvas_h = legend_y + 22.0 * (dirs.len() as f64 + 2.0) + 10.0;
    let mut s = open(canvas_w, canvas_h, 12.0);
    let long = nodes
        .iter()
        .filter(|n| tree.files.get(**n).is_some_and(|f| f.lines > MAX_LINES));
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"26\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">\
         Module files and their uses ({} files, {} edges, {} over {MAX_LINES} lines)</text>",
        canvas_w / 2.0,
        nodes.len(),
        edges.len(),
        long.count()
    );
    for (k, e) in edges.iter().enumerate() {
        let x1 = end_x.get(&(k, e.a)).copied().unwrap_or(x[e.a]);
        let x2 = end_x.get(&(k, e.b)).copied().unwrap_or(x[e.b]);
        let (y1, y2) = if e.up {
            (y(e.a), y(e.b) + BOX_H)
        } else {
            (y(e.a) + BOX_H, y(e.b))
        };
        let dy = ((y2 - y1) / 2.0).abs().clamp(20.0, 60.0);
        let (c1, c2) = if e.up {
            (y1 - dy, y2 + dy)
        } else {
            (y1 + dy, y2 - dy)
        };
        let (stroke, marker) = if e.red {
            (RED, "arrow-red")
        } else {
            ("#555", "arrow")
        };
        let dash = if e.up {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "<path d=\"M{x1:.1},{y1:.1} C{x1:.1},{c1:.1} {x2:.1},{c2:.1} {x2:.1},{y2:.1}\" \
             fill=\"none\" stroke=\"{stroke}\" stroke-width=\"1.3\"{dash} \
             marker-end=\"url(#{marker})\"><title>{} uses {}</title></path>",
            esc(nodes[e.a]),
            esc(nodes[e.b])
        );
    }
    for n in 0..nodes.len() {
        let (fill, stroke) = colour(n);
        let over = lines(n) > MAX_LINES;
        let (frame, fw) = if over { (RED, 2.5) } else { (stroke, 1.2) };
        let dash = if tree.file_module.contains_key(nodes[n]) {
            ""
        } else {
            " stroke-dasharray=\"4 3\""
        };
        let left = x[n] - width[n] / 2.0;
        let _ = writeln!(
            s,
            "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{BOX_H}\" rx=\"5\" \
             fill=\"{fill}\" stroke=\"{frame}\" stroke-width=\"{fw}\"{dash}/>",
            y(n),
            width[n]
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
            x[n],
            y(n) + 17.0,
            esc(label(nodes[n]))
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{}\">\
             {} lines</text>",
            x[n],
            y(n) + 32.0,
            if over { RED } else { "#444" },
            lines(n)
        );
    }
    let mut ly = legend_y;
    for (i, d) in dirs.iter().enumerate() {
        let (fill, stroke) = FILLS[i % FILLS.len()];
        let _ = writeln!(
            s,
            "<rect x=\"{MARGIN}\" y=\"{:.1}\" width=\"24\" height=\"14\" fill=\"{fill}\" \
             stroke=\"{stroke}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}/</text>",
            ly - 11.0,
            MARGIN + 32.0,
            ly,
            esc(d)
        );
        ly += 22.0;
    }
    let _ = writeln!(
        s,
        "<text x=\"{MARGIN}\" y=\"{ly:.1}\">An arrow A \u{2192} B: A uses an item of B. Red \
         arrows are in an import circle; dashed ones point up and close it.</text>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{MARGIN}\" y=\"{:.1}\">A red frame: more than {MAX_LINES} lines. A dashed \
         frame: no `mod` declares the file.</text>",
        ly + 22.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_put_users_above_what_they_use() {
        let nodes = ["a", "b", "c"];
        // a -> b -> c, c -> b (a circle of b and c).
        let adj = BTreeMap::from([(0, vec![1]), (1, vec![2]), (2, vec![1])]);
        let (row, back) = layers(&nodes, &adj);
        assert_eq!(back, [(2, 1)]);
        assert!(row[0] < row[1] && row[1] < row[2]);
    }

    #[test]
    fn labels_drop_the_top_directory() {
        assert_eq!(label("src/migrate/deputy.rs"), "migrate/deputy.rs");
        assert_eq!(label("rust/task.rs"), "task.rs");
    }
}
