// SPDX-License-Identifier: GPL-2.0

//! The module's files, its module tree, and the graph of which file uses which.
//!
//! Files are named by their path relative to the repository root, with `/` separators
//! (`src/migrate.rs`). The module tree is resolved from the crate root as rustc does for this
//! tree (see the crate documentation); a path in code or in a `use` names the file of the
//! deepest module on it that is a known module (an item re-exported by a module counts as that
//! module's: re-exports are not followed).

use crate::lex::{tokenize, Tok, Token};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// The crate root, relative to the repository root.
pub const CRATE_ROOT: &str = "src/openmosix_main.rs";
/// The directories whose `*.rs` files are checked, relative to the repository root.
pub const DIRS: [&str; 2] = ["src", "rust"];

/// One checked file.
#[derive(Clone, Debug)]
pub struct File {
    /// Its lines.
    pub lines: usize,
    /// Its tokens.
    pub tokens: Vec<Token>,
}

/// Where a module is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModFile {
    /// The file that holds the module (for an inline module, the file it is written in).
    pub file: String,
    /// The file is outside the checked set (edges into it are ignored).
    pub external: bool,
}

/// Why there is an edge: the first place that makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Line in the using file.
    pub line: usize,
    /// The path as written, `::`-joined.
    pub path: String,
}

/// The checked files, their module tree and their import graph.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// Every checked file by relative path.
    pub files: BTreeMap<String, File>,
    /// Module paths (`[]` is the crate root) and their files.
    pub modules: BTreeMap<Vec<String>, ModFile>,
    /// The module path of each file of the tree.
    pub file_module: BTreeMap<String, Vec<String>>,
    /// Edges: user file -> used file -> the first place of use.
    pub edges: BTreeMap<String, BTreeMap<String, Site>>,
    /// Problems found while resolving (a `mod` without a file), as `FILE: problem`.
    pub problems: Vec<String>,
}

/// Whether a file under the checked directories is generated (and so not checked): named
/// `*_generated.rs`, or saying "automatically generated" in its first line (bindgen does).
pub fn is_generated(name: &str, text: &str) -> bool {
    name.ends_with("_generated.rs")
        || text
            .lines()
            .next()
            .is_some_and(|l| l.contains("automatically generated"))
}

/// Normalises `a/./b/../c` to `a/c`; `None` if it climbs above its start.
pub fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// The directory part of a relative path (`""` for a bare name).
fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(dir: &str, rest: &str) -> String {
    match (dir.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (false, true) => dir.to_string(),
        (false, false) => format!("{dir}/{rest}"),
    }
}

/// Every `*.rs` under `root/dir` (recursively), relative to `root`, sorted.
fn collect(root: &Path, dir: &str, out: &mut Vec<String>) -> Result<(), String> {
    let full = root.join(dir);
    let rd = fs::read_dir(&full).map_err(|e| format!("{}: {e}", full.display()))?;
    let mut names = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| format!("{}: {e}", full.display()))?;
        let ty = ent
            .file_type()
            .map_err(|e| format!("{}: {e}", ent.path().display()))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        names.push((name, ty.is_dir(), ty.is_file()));
    }
    names.sort();
    for (name, is_dir, is_file) in names {
        let rel = join(dir, &name);
        if is_dir {
            collect(root, &rel, out)?;
        } else if is_file && name.ends_with(".rs") {
            out.push(rel);
        }
    }
    Ok(())
}

/// Reads the checked files of the repository at `root` and resolves their tree and graph.
pub fn load(root: &Path) -> Result<Tree, String> {
    let mut names = Vec::new();
    for d in DIRS {
        if root.join(d).is_dir() {
            collect(root, d, &mut names)?;
        }
    }
    if !root.join(CRATE_ROOT).is_file() {
        return Err(format!("{}: no crate root {CRATE_ROOT}", root.display()));
    }
    let mut files = BTreeMap::new();
    for n in names {
        let bytes = fs::read(root.join(&n)).map_err(|e| format!("{n}: {e}"))?;
        let text = String::from_utf8_lossy(&bytes);
        if is_generated(&n, &text) {
            continue;
        }
        files.insert(
            n,
            File {
                lines: text.lines().count(),
                tokens: tokenize(&text),
            },
        );
    }
    Ok(build(files, |rel| root.join(rel).is_file()))
}

/// Resolves the tree and the graph of `files`; `exists` says whether a relative path is a file
/// (checked files and files outside the checked set, such as omcore's).
pub fn build(files: BTreeMap<String, File>, exists: impl Fn(&str) -> bool) -> Tree {
    let mut t = Tree {
        files,
        ..Tree::default()
    };
    let mut todo = vec![(
        CRATE_ROOT.to_string(),
        Vec::new(),
        dir_of(CRATE_ROOT).to_string(),
    )];
    t.modules.insert(
        Vec::new(),
        ModFile {
            file: CRATE_ROOT.into(),
            external: !t.files.contains_key(CRATE_ROOT),
        },
    );
    while let Some((file, module, child_dir)) = todo.pop() {
        if t.file_module.contains_key(&file) {
            continue;
        }
        t.file_module.insert(file.clone(), module.clone());
        let Some(f) = t.files.get(&file) else {
            continue;
        };
        for d in mod_decls(&f.tokens) {
            let mut path = module.clone();
            path.extend(d.inline.iter().cloned());
            path.push(d.name.clone());
            if d.body {
                t.modules.insert(
                    path,
                    ModFile {
                        file: file.clone(),
                        external: false,
                    },
                );
                continue;
            }
            let inline_dir = d.inline.join("/");
            let (candidates, owns_dir) = match &d.path_attr {
                Some(p) => {
                    let base = if d.inline.is_empty() {
                        dir_of(&file).to_string()
                    } else {
                        join(&child_dir, &inline_dir)
                    };
                    (vec![join(&base, p)], true)
                }
                None => {
                    let base = join(&child_dir, &inline_dir);
                    (
                        vec![
                            join(&base, &format!("{}.rs", d.name)),
                            join(&base, &format!("{}/mod.rs", d.name)),
                        ],
                        false,
                    )
                }
            };
            let found = candidates
                .iter()
                .filter_map(|c| normalize(c))
                .find(|c| t.files.contains_key(c) || exists(c));
            let Some(target) = found else {
                t.problems.push(format!(
                    "{file}: line {}: `mod {};` has no file (looked for {})",
                    d.line,
                    d.name,
                    candidates.join(", ")
                ));
                continue;
            };
            let external = !t.files.contains_key(&target);
            t.modules.insert(
                path.clone(),
                ModFile {
                    file: target.clone(),
                    external,
                },
            );
            if external {
                continue;
            }
            let dir = if owns_dir || target.ends_with("/mod.rs") {
                dir_of(&target).to_string()
            } else {
                target.trim_end_matches(".rs").to_string()
            };
            todo.push((target, path, dir));
        }
    }
    let users: Vec<String> = t.file_module.keys().cloned().collect();
    for file in users {
        let edges = file_edges(&t, &file);
        if !edges.is_empty() {
            t.edges.insert(file, edges);
        }
    }
    t
}

/// A `mod NAME;` or `mod NAME { ... }` item.
struct ModDecl {
    name: String,
    line: usize,
    /// The inline modules it is declared in, outermost first.
    inline: Vec<String>,
    /// `mod NAME { ... }`.
    body: bool,
    /// Its `#[path = "..."]`.
    path_attr: Option<String>,
}

/// The `mod` items of a file, inline ones and those inside inline ones included.
fn mod_decls(toks: &[Token]) -> Vec<ModDecl> {
    let mut out = Vec::new();
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut path_attr: Option<String> = None;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        // #[path = "..."]
        if t.is_punct('#')
            && toks.get(i + 1).is_some_and(|t| t.is_punct('['))
            && toks.get(i + 2).is_some_and(|t| t.is_ident("path"))
            && toks.get(i + 3).is_some_and(|t| t.is_punct('='))
        {
            if let Some(Tok::Str(p)) = toks.get(i + 4).map(|t| &t.tok) {
                path_attr = Some(p.clone());
                i += 5;
                continue;
            }
        }
        if t.is_ident("mod") {
            let name = toks.get(i + 1).and_then(Token::ident);
            let next = toks.get(i + 2);
            if let (Some(name), Some(next)) = (name, next) {
                if next.is_punct(';') || next.is_punct('{') {
                    let body = next.is_punct('{');
                    out.push(ModDecl {
                        name: name.to_string(),
                        line: t.line,
                        inline: stack.iter().map(|s| s.0.clone()).collect(),
                        body,
                        path_attr: path_attr.take(),
                    });
                    if body {
                        stack.push((name.to_string(), depth));
                        depth += 1;
                    }
                    i += 3;
                    continue;
                }
            }
        }
        match t.tok {
            Tok::Punct('{') => {
                depth += 1;
                path_attr = None;
            }
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if stack.last().is_some_and(|s| s.1 == depth) {
                    stack.pop();
                }
                path_attr = None;
            }
            Tok::Punct(';') => path_attr = None,
            _ => {}
        }
        i += 1;
    }
    out
}

/// The paths of a `use` tree in `toks` (the tokens between `use` and `;`), each as segments;
/// a trailing `self` is dropped (`a::{self}` is `a`).
pub fn use_paths(toks: &[Token]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    use_tree(toks, &mut i, &[], &mut out, 0);
    out
}

fn use_tree(toks: &[Token], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>, d: u32) {
    if d > 64 {
        return;
    }
    let mut segs: Vec<String> = prefix.to_vec();
    if toks.get(*i).is_some_and(|t| t.tok == Tok::PathSep) {
        // `::name`: an external crate.
        segs.push("::".into());
        *i += 1;
    }
    loop {
        match toks.get(*i).map(|t| &t.tok) {
            Some(Tok::Ident(id)) => {
                segs.push(id.clone());
                *i += 1;
                if toks.get(*i).is_some_and(|t| t.tok == Tok::PathSep) {
                    *i += 1;
                    continue;
                }
                // `as NAME` and anything else: the path ends here.
                if toks.get(*i).is_some_and(|t| t.is_ident("as")) {
                    *i += 2;
                }
                emit(segs, out);
                return;
            }
            Some(Tok::Punct('*')) => {
                *i += 1;
                emit(segs, out);
                return;
            }
            Some(Tok::Punct('{')) => {
                *i += 1;
                loop {
                    match toks.get(*i) {
                        None => return,
                        Some(t) if t.is_punct('}') => {
                            *i += 1;
                            return;
                        }
                        Some(t) if t.is_punct(',') => *i += 1,
                        Some(_) => {
                            let before = *i;
                            use_tree(toks, i, &segs, out, d + 1);
                            if *i == before {
                                // Not a tree: skip the token rather than loop.
                                *i += 1;
                            }
                        }
                    }
                }
            }
            _ => {
                if !segs.is_empty() && segs.len() > prefix.len() {
                    emit(segs, out);
                }
                return;
            }
        }
    }
}

fn emit(mut segs: Vec<String>, out: &mut Vec<Vec<String>>) {
    if segs.len() > 1 && segs.last().is_some_and(|s| s == "self") {
        segs.pop();
    }
    if !segs.is_empty() {
        out.push(segs);
    }
}

/// The module path that `segs`, written in module `scope`, names; `None` for paths into other
/// crates.
pub fn absolute(
    modules: &BTreeMap<Vec<String>, ModFile>,
    scope: &[String],
    segs: &[String],
) -> Option<Vec<String>> {
    let first = segs.first()?;
    let mut abs: Vec<String>;
    let mut rest = segs;
    match first.as_str() {
        "crate" | "$crate" => {
            abs = Vec::new();
            rest = &segs[1..];
        }
        "self" | "super" => {
            abs = scope.to_vec();
            while let Some(s) = rest.first() {
                match s.as_str() {
                    "self" => {}
                    "super" => {
                        abs.pop()?;
                    }
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        name => {
            // A child module of the scope, or an external crate.
            let mut child = scope.to_vec();
            child.push(name.to_string());
            if !modules.contains_key(&child) {
                return None;
            }
            abs = scope.to_vec();
        }
    }
    abs.extend(rest.iter().cloned());
    Some(abs)
}

/// The module that defines what module path `abs` names: its deepest known prefix.
pub fn owner<'a>(
    modules: &'a BTreeMap<Vec<String>, ModFile>,
    abs: &[String],
) -> Option<&'a ModFile> {
    (0..=abs.len()).rev().find_map(|k| modules.get(&abs[..k]))
}

/// The files `file` uses, each with its first place of use.
fn file_edges(tree: &Tree, file: &str) -> BTreeMap<String, Site> {
    let mut out: BTreeMap<String, Site> = BTreeMap::new();
    let (Some(f), Some(module)) = (tree.files.get(file), tree.file_module.get(file)) else {
        return out;
    };
    let toks = &f.tokens;
    let mut add = |scope: &[String], segs: &[String], line: usize| {
        let Some(abs) = absolute(&tree.modules, scope, segs) else {
            return;
        };
        let Some(m) = owner(&tree.modules, &abs) else {
            return;
        };
        if m.external || m.file == file {
            return;
        }
        out.entry(m.file.clone()).or_insert_with(|| Site {
            line,
            path: segs.join("::"),
        });
    };
    // The module scopes: the file's, then inline modules (name, brace depth outside them).
    let mut scope: Vec<String> = module.clone();
    let mut stack: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.is_ident("mod") {
            if let (Some(name), Some(next)) =
                (toks.get(i + 1).and_then(Token::ident), toks.get(i + 2))
            {
                if next.is_punct('{') {
                    scope.push(name.to_string());
                    stack.push(depth);
                    depth += 1;
                    i += 3;
                    continue;
                }
                if next.is_punct(';') {
                    // Declaring a child is not using it.
                    i += 3;
                    continue;
                }
            }
        }
        if t.is_ident("use") {
            let end = toks[i..]
                .iter()
                .position(|t| t.is_punct(';'))
                .map_or(toks.len(), |p| i + p);
            for p in use_paths(&toks[i + 1..end]) {
                add(&scope, &p, t.line);
            }
            i = end + 1;
            continue;
        }
        match &t.tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if stack.last() == Some(&depth) {
                    stack.pop();
                    scope.pop();
                }
            }
            Tok::Ident(first) if toks.get(i + 1).is_some_and(|n| n.tok == Tok::PathSep) => {
                let prev = i.checked_sub(1).map(|p| &toks[p]);
                let starts = !prev.is_some_and(|p| p.tok == Tok::PathSep || p.is_punct('.'));
                // `pub(in crate::a)` is a visibility, not a use.
                let vis = prev.is_some_and(|p| p.is_ident("in"));
                if starts && !vis {
                    let mut segs = vec![first.clone()];
                    if prev.is_some_and(|p| p.is_punct('$')) && first == "crate" {
                        segs[0] = "$crate".into();
                    }
                    let mut j = i + 1;
                    while toks.get(j).is_some_and(|n| n.tok == Tok::PathSep) {
                        match toks.get(j + 1).and_then(Token::ident) {
                            Some(id) => {
                                segs.push(id.to_string());
                                j += 2;
                            }
                            None => break,
                        }
                    }
                    add(&scope, &segs, t.line);
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        tokenize(s)
    }

    fn paths(s: &str) -> Vec<String> {
        use_paths(&toks(s)).iter().map(|p| p.join("::")).collect()
    }

    #[test]
    fn use_trees_expand() {
        assert_eq!(
            paths("crate::omcore::{fwd, mig}"),
            ["crate::omcore::fwd", "crate::omcore::mig"]
        );
        assert_eq!(
            paths("crate::a::{self, b::{c, d as e}, f::*,\n g}"),
            [
                "crate::a",
                "crate::a::b::c",
                "crate::a::b::d",
                "crate::a::f",
                "crate::a::g"
            ]
        );
        assert_eq!(paths("super::errno::{eafnosupport, econnreset}").len(), 2);
        assert_eq!(paths("::std::fmt"), ["::::std::fmt"]);
        assert_eq!(paths("{a::b, c}"), ["a::b", "c"]);
        // Odd input ends without a panic.
        for s in ["crate::{", "{{{", "crate::a::{b,,}", "as", "::", "}"] {
            let _ = paths(s);
        }
    }

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize("src/../rust/ksys.rs").as_deref(),
            Some("rust/ksys.rs")
        );
        assert_eq!(normalize("./a//b/./c").as_deref(), Some("a/b/c"));
        assert_eq!(normalize("../x"), None);
    }

    #[test]
    fn generated_files_are_recognised() {
        assert!(is_generated("rust/bindings_generated.rs", ""));
        assert!(is_generated(
            "x.rs",
            "/* automatically generated by rust-bindgen 0.72 */\n"
        ));
        assert!(!is_generated("x.rs", "// SPDX\n"));
    }
}
