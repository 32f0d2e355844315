// SPDX-License-Identifier: GPL-2.0

//! The layout rules: file length, what the crate root may hold, no import circle.

use crate::lex::{Tok, Token};
use crate::tree::{Tree, CRATE_ROOT};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Most lines a file may have.
pub const MAX_LINES: usize = 800;

/// Traits the crate root may implement for its module struct (last path segment).
const ROOT_TRAITS: [&str; 4] = ["Module", "InPlaceModule", "Drop", "PinnedDrop"];

/// What `check` found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One line per problem, `FILE: problem`, in a stable order.
    pub problems: Vec<String>,
    /// Checked files that no `mod` reaches (not in the graph), as `FILE: note`.
    pub notes: Vec<String>,
    /// How many files were checked.
    pub files: usize,
    /// The longest file and its lines.
    pub longest: Option<(String, usize)>,
}

/// Checks every rule on `tree`.
pub fn check(tree: &Tree) -> Report {
    let mut r = Report {
        files: tree.files.len(),
        ..Report::default()
    };
    for (name, f) in &tree.files {
        if f.lines > MAX_LINES {
            r.problems
                .push(format!("{name}: {} lines, more than {MAX_LINES}", f.lines));
        }
        if r.longest.as_ref().is_none_or(|l| f.lines > l.1) {
            r.longest = Some((name.clone(), f.lines));
        }
        if !tree.file_module.contains_key(name) {
            r.notes.push(format!(
                "{name}: note: no `mod` declares it (not in the import graph)"
            ));
        }
    }
    if let Some(f) = tree.files.get(CRATE_ROOT) {
        r.problems.extend(
            root_problems(&f.tokens)
                .into_iter()
                .map(|p| format!("{CRATE_ROOT}: {p}")),
        );
    }
    r.problems.extend(tree.problems.iter().cloned());
    for c in cycles(&tree.edges) {
        let first = c.first().cloned().unwrap_or_default();
        r.problems
            .push(format!("{first}: cycle: {}", c.join(" -> ")));
    }
    r
}

/// The index after the group that opens at `toks[i]` (`(`, `[` or `{`), or the end.
fn skip_group(toks: &[Token], i: usize) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while j < toks.len() {
        match toks[j].tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    toks.len()
}

/// The index after the item that starts at `toks[i]`: after its `;` or its body's `}`.
fn skip_item(toks: &[Token], i: usize) -> usize {
    let mut j = i;
    while j < toks.len() {
        match toks[j].tok {
            Tok::Punct(';') => return j + 1,
            // A body ends the item (`struct S(..);` goes on to its `;`).
            Tok::Punct('{') => return skip_group(toks, j),
            Tok::Punct('(' | '[') => j = skip_group(toks, j),
            _ => j += 1,
        }
    }
    toks.len()
}

/// The type named by `type: NAME` in a `module!` invocation in `toks`.
fn module_type(toks: &[Token]) -> Option<String> {
    let at = toks
        .windows(2)
        .position(|w| w[0].is_ident("module") && w[1].is_punct('!'))?;
    let body = toks.get(at + 2..skip_group(toks, at + 2))?;
    body.windows(3).find_map(|w| {
        if w[0].is_ident("type") && w[1].is_punct(':') {
            w[2].ident().map(str::to_string)
        } else {
            None
        }
    })
}

/// What the crate root holds beyond declarations and the module's lifecycle, one line each.
pub fn root_problems(toks: &[Token]) -> Vec<String> {
    let mut out = Vec::new();
    let module = module_type(toks);
    if module.is_none() {
        out.push("no `module!` invocation naming the module's type".to_string());
    }
    let mut pinned_drop = false;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let line = t.line;
        let mut bad = |what: String| out.push(format!("line {line}: {what}"));
        match &t.tok {
            Tok::Punct('#') => {
                let mut j = i + 1;
                if toks.get(j).is_some_and(|t| t.is_punct('!')) {
                    j += 1;
                }
                if toks.get(j).is_some_and(|t| t.is_punct('[')) {
                    if toks.get(j + 1).is_some_and(|t| t.is_ident("pinned_drop")) {
                        pinned_drop = true;
                    }
                    i = skip_group(toks, j);
                } else {
                    bad("stray `#`".into());
                    i = j;
                }
                continue;
            }
            Tok::Punct(';') => {
                i += 1;
                continue;
            }
            Tok::Ident(kw) => match kw.as_str() {
                "pub" => {
                    i += 1;
                    if toks.get(i).is_some_and(|t| t.is_punct('(')) {
                        i = skip_group(toks, i);
                    }
                    continue;
                }
                "unsafe" => {
                    i += 1;
                    continue;
                }
                "mod" => {
                    let name = toks.get(i + 1).and_then(Token::ident).unwrap_or("?");
                    if toks.get(i + 2).is_some_and(|t| t.is_punct('{')) {
                        bad(format!("inline module `{name}`: give it a file of its own"));
                        i = skip_group(toks, i + 2);
                    } else {
                        i = skip_item(toks, i);
                    }
                    continue;
                }
                "use" => {
                    i = skip_item(toks, i);
                    continue;
                }
                "struct" => {
                    let name = toks.get(i + 1).and_then(Token::ident).unwrap_or("?");
                    if module.as_deref() != Some(name) {
                        bad(format!(
                            "struct `{name}` is not the module's struct: move it out of the crate root"
                        ));
                    }
                    i = skip_item(toks, i);
                    continue;
                }
                "impl" => {
                    let open = toks[i..]
                        .iter()
                        .position(|t| t.is_punct('{') || t.is_punct(';'))
                        .map_or(toks.len(), |p| i + p);
                    let head: Vec<&str> =
                        toks[i + 1..open].iter().filter_map(Token::ident).collect();
                    let ok = impl_allowed(&head, module.as_deref(), pinned_drop);
                    pinned_drop = false;
                    if !ok {
                        bad(format!(
                            "`impl {}`: only Module, InPlaceModule and Drop for the module's struct belong here",
                            head.join(" ")
                        ));
                    }
                    i = if open < toks.len() && toks[open].is_punct('{') {
                        skip_group(toks, open)
                    } else {
                        open + 1
                    };
                    continue;
                }
                "fn" | "const" | "static" | "enum" | "trait" | "type" | "union" | "extern"
                | "async" | "macro_rules" => {
                    let name = toks
                        .get(i + 1)
                        .and_then(Token::ident)
                        .filter(|_| kw != "macro_rules")
                        .or_else(|| toks.get(i + 2).and_then(Token::ident))
                        .unwrap_or("?");
                    bad(format!(
                        "`{kw} {name}` outside the module's impl blocks: move it out of the crate root"
                    ));
                    i = skip_item(toks, i);
                    continue;
                }
                _ => {
                    // A macro invocation: `module!` (or `kernel::module!`) only.
                    let mut j = i;
                    let mut last = kw.as_str();
                    while toks.get(j + 1).is_some_and(|t| t.tok == Tok::PathSep) {
                        match toks.get(j + 2).and_then(Token::ident) {
                            Some(id) => {
                                last = id;
                                j += 2;
                            }
                            None => break,
                        }
                    }
                    if toks.get(j + 1).is_some_and(|t| t.is_punct('!')) {
                        if last != "module" {
                            bad(format!("macro `{last}!` in the crate root"));
                        }
                        i = skip_group(toks, j + 2);
                        continue;
                    }
                    bad(format!("unexpected `{kw}`"));
                    i = skip_item(toks, i);
                    continue;
                }
            },
            other => {
                bad(format!("unexpected {other:?}"));
                i = skip_item(toks, i);
                continue;
            }
        }
    }
    out
}

/// Whether an `impl` whose header has identifiers `head` (after `impl`) is allowed in the root.
fn impl_allowed(head: &[&str], module: Option<&str>, pinned_drop: bool) -> bool {
    let Some(for_at) = head.iter().position(|h| *h == "for") else {
        return false;
    };
    let Some(module) = module else {
        return false;
    };
    let ty = head[for_at + 1..]
        .iter()
        .take_while(|h| **h != "where")
        .last();
    let tr = head[..for_at].last();
    let trait_ok =
        tr.is_some_and(|t| ROOT_TRAITS.contains(t)) && (tr != Some(&"PinnedDrop") || pinned_drop);
    trait_ok && ty == Some(&module)
}

/// Import circles of `edges`: for each edge inside a strongly connected part, the shortest
/// circle through it; each circle once, from its least file, as `[a, b, ..., a]`, sorted.
pub fn cycles(edges: &BTreeMap<String, BTreeMap<String, crate::tree::Site>>) -> Vec<Vec<String>> {
    let adj: BTreeMap<&str, Vec<&str>> = edges
        .iter()
        .map(|(a, bs)| (a.as_str(), bs.keys().map(String::as_str).collect()))
        .collect();
    let comp = components(&adj);
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for (a, bs) in &adj {
        for b in bs {
            let same = comp.get(a).is_some_and(|c| comp.get(b) == Some(c));
            if !same || a == b {
                continue;
            }
            // Shortest path b -> a inside the part.
            let Some(path) = shortest(&adj, &comp, b, a) else {
                continue;
            };
            let mut ring: Vec<String> = Vec::with_capacity(path.len() + 1);
            ring.push(a.to_string());
            ring.extend(
                path.iter()
                    .take(path.len().saturating_sub(1))
                    .map(|s| s.to_string()),
            );
            // Rotate to start at the least file.
            let least = (0..ring.len())
                .min_by(|x, y| ring[*x].cmp(&ring[*y]))
                .unwrap_or(0);
            ring.rotate_left(least);
            if let Some(f) = ring.first().cloned() {
                ring.push(f);
            }
            found.insert(ring);
        }
    }
    found.into_iter().collect()
}

/// Breadth-first shortest path `from` -> `to` within `from`'s component: `[from, ..., to]`.
fn shortest<'a>(
    adj: &BTreeMap<&'a str, Vec<&'a str>>,
    comp: &BTreeMap<&'a str, usize>,
    from: &'a str,
    to: &'a str,
) -> Option<Vec<&'a str>> {
    let c = comp.get(from)?;
    let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
    let mut q = VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(n) = q.pop_front() {
        if n == to {
            let mut path = vec![to];
            let mut at = to;
            while let Some(p) = prev.get(at) {
                path.push(p);
                at = p;
            }
            path.reverse();
            return Some(path);
        }
        for m in adj.get(n).into_iter().flatten() {
            if comp.get(m) == Some(c) && seen.insert(m) {
                prev.insert(m, n);
                q.push_back(m);
            }
        }
    }
    None
}

/// Strongly connected components (Tarjan's algorithm, without recursion): node -> component.
pub fn components<'a>(adj: &BTreeMap<&'a str, Vec<&'a str>>) -> BTreeMap<&'a str, usize> {
    let mut nodes: BTreeSet<&str> = adj.keys().copied().collect();
    nodes.extend(adj.values().flatten().copied());
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut low: BTreeMap<&str, usize> = BTreeMap::new();
    let mut on_stack: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = Vec::new();
    let mut comp: BTreeMap<&str, usize> = BTreeMap::new();
    let mut next = 0usize;
    let mut ncomp = 0usize;
    let empty: Vec<&str> = Vec::new();
    for &start in &nodes {
        if index.contains_key(start) {
            continue;
        }
        // (node, next child position)
        let mut work: Vec<(&str, usize)> = vec![(start, 0)];
        index.insert(start, next);
        low.insert(start, next);
        next += 1;
        stack.push(start);
        on_stack.insert(start);
        while let Some((n, pos)) = work.last().copied() {
            let kids = adj.get(n).unwrap_or(&empty);
            if let Some(&m) = kids.get(pos) {
                if let Some(w) = work.last_mut() {
                    w.1 += 1;
                }
                if !index.contains_key(m) {
                    index.insert(m, next);
                    low.insert(m, next);
                    next += 1;
                    stack.push(m);
                    on_stack.insert(m);
                    work.push((m, 0));
                } else if on_stack.contains(m) {
                    let lm = index[m].min(low[n]);
                    low.insert(n, lm);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                let lp = low[parent].min(low[n]);
                low.insert(parent, lp);
            }
            if low[n] == index[n] {
                while let Some(m) = stack.pop() {
                    on_stack.remove(m);
                    comp.insert(m, ncomp);
                    if m == n {
                        break;
                    }
                }
                ncomp += 1;
            }
        }
    }
    comp
}
