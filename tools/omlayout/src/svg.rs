// SPDX-License-Identifier: GPL-2.0

//! Helpers for SVG written by hand: escaping, text width, the document frame.

use std::fmt::Write;

/// `s` escaped for XML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Estimated width in px of `s` in a sans-serif font of `size` px: 0.52 em a character, a
/// little more than DejaVu Sans or Arial take for ordinary mixed text.
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size * 0.52
}

/// The opening of a document of `w` x `h` px on white, with an arrow head marker `arrow` and a
/// red one `arrow-red`.
pub fn open(w: f64, h: f64, font_size: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
         viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"sans-serif\" font-size=\"{font_size}\">"
    );
    for (id, colour) in [("arrow", "#333"), ("arrow-red", "#c62828")] {
        let _ = writeln!(
            s,
            "<defs><marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
             markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">\
             <path d=\"M0,0 L10,5 L0,10 z\" fill=\"{colour}\"/></marker></defs>"
        );
    }
    let _ = writeln!(
        s,
        "<rect width=\"{w:.0}\" height=\"{h:.0}\" fill=\"white\"/>"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            esc("a<b & \"c\" 'd'>"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;"
        );
        assert_eq!(esc("x\u{1}y"), "x y");
    }
}
