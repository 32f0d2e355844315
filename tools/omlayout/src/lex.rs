// SPDX-License-Identifier: GPL-2.0

//! A small Rust lexer: enough to find paths, `mod` and `use` items in code.
//!
//! Comments (line, block, nested block) are dropped; string, byte-string, C-string and raw-string
//! literals become one [`Tok::Str`] token and character literals one [`Tok::Lit`], so that
//! nothing inside them looks like code. Lifetimes (`'a`) are told from character literals
//! (`'a'`). Malformed input never fails: an unterminated literal or comment ends at the end of
//! the text.

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// An identifier or keyword (a raw identifier `r#type` gives `type`).
    Ident(String),
    /// `::`.
    PathSep,
    /// Any other punctuation character.
    Punct(char),
    /// A string literal of any kind, with its contents (escapes `\\`, `\"`, `\n`, `\t` undone).
    Str(String),
    /// A number or character literal.
    Lit,
    /// A lifetime or loop label (`'a`).
    Lifetime,
}

/// A token and the line (from 1) it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its line, counted from 1.
    pub line: usize,
}

impl Token {
    /// Whether this token is the identifier or keyword `s`.
    pub fn is_ident(&self, s: &str) -> bool {
        matches!(&self.tok, Tok::Ident(i) if i == s)
    }

    /// Whether this token is the punctuation character `c`.
    pub fn is_punct(&self, c: char) -> bool {
        self.tok == Tok::Punct(c)
    }

    /// The identifier, if the token is one.
    pub fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(i) => Some(i),
            _ => None,
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The lexer's state: the characters and where it is.
struct Lexer {
    c: Vec<char>,
    i: usize,
    line: usize,
}

impl Lexer {
    fn at(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    /// Moves on one character, counting lines.
    fn bump(&mut self) {
        if self.at(0) == Some('\n') {
            self.line += 1;
        }
        self.i += 1;
    }

    fn line_comment(&mut self) {
        while let Some(c) = self.at(0) {
            if c == '\n' {
                return;
            }
            self.bump();
        }
    }

    fn block_comment(&mut self) {
        // At "/*".
        self.bump();
        self.bump();
        let mut depth = 1usize;
        while let Some(c) = self.at(0) {
            if c == '/' && self.at(1) == Some('*') {
                depth += 1;
                self.bump();
            } else if c == '*' && self.at(1) == Some('/') {
                depth -= 1;
                self.bump();
                if depth == 0 {
                    self.bump();
                    return;
                }
            }
            self.bump();
        }
    }

    /// A quoted string with escapes; at the opening quote.
    fn string(&mut self) -> String {
        self.bump();
        let mut s = String::new();
        while let Some(c) = self.at(0) {
            self.bump();
            match c {
                '"' => return s,
                '\\' => {
                    let Some(e) = self.at(0) else { break };
                    self.bump();
                    match e {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        '\n' => {
                            // A line continuation: leading white space of the next line goes.
                            while self.at(0).is_some_and(char::is_whitespace) {
                                self.bump();
                            }
                        }
                        other => s.push(other),
                    }
                }
                other => s.push(other),
            }
        }
        s
    }

    /// A raw string; at the first `#` or the quote after the prefix.
    fn raw_string(&mut self) -> String {
        let mut hashes = 0;
        while self.at(0) == Some('#') {
            hashes += 1;
            self.bump();
        }
        // At the opening quote.
        self.bump();
        let mut s = String::new();
        while let Some(c) = self.at(0) {
            if c == '"' && (1..=hashes).all(|k| self.at(k) == Some('#')) {
                for _ in 0..=hashes {
                    self.bump();
                }
                return s;
            }
            s.push(c);
            self.bump();
        }
        s
    }

    /// Whether a raw string starts here (after its `r`): `#`* then `"`.
    fn raw_string_follows(&self) -> bool {
        let mut k = 0;
        while self.at(k) == Some('#') {
            k += 1;
        }
        self.at(k) == Some('"')
    }

    /// A character literal; at the opening quote (known not to be a lifetime).
    fn char_lit(&mut self) {
        self.bump();
        if self.at(0) == Some('\\') {
            self.bump();
        }
        self.bump();
        // `'\u{1F600}'`, `'\x7f'`: on to the closing quote, a few characters at most.
        for _ in 0..12 {
            match self.at(0) {
                Some('\'') => {
                    self.bump();
                    return;
                }
                Some('\n') | None => return,
                Some(_) => self.bump(),
            }
        }
    }

    /// `'` starts a character literal (not a lifetime or label).
    fn char_follows(&self) -> bool {
        matches!(
            (self.at(1), self.at(2)),
            (Some('\\'), _) | (Some(_), Some('\''))
        )
    }

    fn ident(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.at(0).filter(|c| is_ident_char(*c)) {
            s.push(c);
            self.bump();
        }
        s
    }
}

/// The tokens of `src`, comments left out.
pub fn tokenize(src: &str) -> Vec<Token> {
    let mut lx = Lexer {
        c: src.chars().collect(),
        i: 0,
        line: 1,
    };
    let mut out = Vec::new();
    while let Some(c) = lx.at(0) {
        let line = lx.line;
        let tok = if c.is_whitespace() {
            lx.bump();
            continue;
        } else if c == '/' && lx.at(1) == Some('/') {
            lx.line_comment();
            continue;
        } else if c == '/' && lx.at(1) == Some('*') {
            lx.block_comment();
            continue;
        } else if is_ident_start(c) {
            let id = lx.ident();
            match (id.as_str(), lx.at(0)) {
                ("r" | "br" | "cr", Some('#' | '"')) if lx.raw_string_follows() => {
                    Tok::Str(lx.raw_string())
                }
                ("r", Some('#')) if lx.at(1).is_some_and(is_ident_start) => {
                    lx.bump();
                    Tok::Ident(lx.ident())
                }
                ("b" | "c", Some('"')) => Tok::Str(lx.string()),
                ("b", Some('\'')) => {
                    lx.char_lit();
                    Tok::Lit
                }
                _ => Tok::Ident(id),
            }
        } else if c.is_ascii_digit() {
            while let Some(d) = lx.at(0) {
                let fraction = d == '.' && lx.at(1).is_some_and(|n| n.is_ascii_digit());
                if !(is_ident_char(d) || fraction) {
                    break;
                }
                lx.bump();
            }
            Tok::Lit
        } else if c == '"' {
            Tok::Str(lx.string())
        } else if c == '\'' {
            if lx.char_follows() {
                lx.char_lit();
                Tok::Lit
            } else {
                lx.bump();
                if lx.at(0).is_some_and(is_ident_start) {
                    lx.ident();
                    Tok::Lifetime
                } else {
                    Tok::Punct('\'')
                }
            }
        } else if c == ':' && lx.at(1) == Some(':') {
            lx.bump();
            lx.bump();
            Tok::PathSep
        } else {
            lx.bump();
            Tok::Punct(c)
        };
        out.push(Token { tok, line });
    }
    out
}

/// The identifiers of `src` in order (what the path scanner can see), for tests and debugging.
pub fn idents(src: &str) -> Vec<String> {
    tokenize(src)
        .into_iter()
        .filter_map(|t| match t.tok {
            Tok::Ident(i) => Some(i),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_literals_hide_code() {
        let src = r####"
            // crate::h1::X
            /* crate::h2::Y /* nested crate::h3 */ still comment crate::h4 */
            let s = "crate::h5::Z \" crate::h6";
            let r = r#"crate::h7 "quoted" crate::h8"#;
            let b = b"crate::h9"; let br = br"crate::h10"; let c = c"crate::h11";
            let cr = cr#"crate::h12"#;
            let ch = '"'; let q = '\''; let u = '\u{1F600}'; let bc = b'"';
            fn f<'a>(x: &'a str) -> &'a str { 'outer: loop { break 'outer; } x }
            keep
        "####;
        let ids = idents(src);
        assert!(
            !ids.iter().any(|i| i == "crate" || i.starts_with('h')),
            "{ids:?}"
        );
        assert_eq!(ids.last().map(String::as_str), Some("keep"));
        // The lifetimes did not swallow `str`, `loop`, `break`, `x`.
        for seen in ["str", "loop", "break", "x", "fn"] {
            assert!(ids.iter().any(|i| i == seen), "{seen} missing from {ids:?}");
        }
    }

    #[test]
    fn strings_keep_their_contents_and_lines_are_counted() {
        let t = tokenize("#[path = \"../rust/ksys.rs\"]\nmod ksys;\n\"a\\\"b\" r#type");
        assert_eq!(t[4].tok, Tok::Str("../rust/ksys.rs".into()));
        assert_eq!(t[6].line, 2);
        assert!(t[6].is_ident("mod"));
        assert_eq!(t[9].tok, Tok::Str("a\"b".into()));
        assert_eq!(t[9].line, 3);
        assert!(t[10].is_ident("type"));
    }

    #[test]
    fn path_separators_and_odd_input() {
        let t = tokenize("crate::a::b");
        assert_eq!(t.len(), 5);
        assert_eq!(t[1].tok, Tok::PathSep);
        // Unterminated things end at the end; nothing panics.
        for s in [
            "\"abc", "/* abc", "r#\"abc", "'", "'\\", "b'", "r#", "1.", "é::ü",
        ] {
            let _ = tokenize(s);
        }
    }
}
