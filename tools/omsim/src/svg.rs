// SPDX-License-Identifier: GPL-2.0

//! Line plots as standalone SVG text, for the simulator's reports.

use std::fmt::Write;

/// One line of a plot: a name for the legend and its points.
pub struct Series<'a> {
    /// Legend text.
    pub name: &'a str,
    /// `(x, y)` points in increasing x.
    pub points: &'a [(f64, f64)],
}

const W: f64 = 720.0;
const H: f64 = 360.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 48.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// A round step (1, 2 or 5 times a power of ten) giving about five ticks over `span`.
fn step(span: f64) -> f64 {
    let raw = (span / 5.0).max(f64::MIN_POSITIVE);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// A plot of `series` with axis labels; `vlines` are marked instants `(x, label)`.
pub fn plot(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    vlines: &[(f64, &str)],
) -> String {
    let pts = || series.iter().flat_map(|s| s.points.iter());
    let x_max = pts().map(|p| p.0).fold(0.0, f64::max).max(1e-9);
    let y_max = pts().map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.05;
    let (xs, ys) = (step(x_max), step(y_max));
    let x_max = (x_max / xs).ceil() * xs;
    let y_max = (y_max / ys).ceil() * ys;
    let px = |x: f64| LEFT + x / x_max * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - y / y_max * (H - TOP - BOTTOM);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{title}</text>",
        W / 2.0
    );
    let mut t = 0.0;
    while t <= x_max + xs / 2.0 {
        let x = px(t);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{t}</text>",
            py(0.0),
            py(y_max),
            py(0.0) + 16.0
        );
        t += xs;
    }
    let mut t = 0.0;
    while t <= y_max + ys / 2.0 {
        let y = py(t);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            (t * 1000.0).round() / 1000.0
        );
        t += ys;
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{x_label}</text>\
         <text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{y_label}</text>",
        (LEFT + W - RIGHT) / 2.0,
        H - 10.0,
        (TOP + H - BOTTOM) / 2.0
    );
    for (x, label) in vlines {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#888\" \
             stroke-dasharray=\"4 3\"/><text x=\"{3:.1}\" y=\"{4:.1}\">{label}</text>",
            px(*x),
            py(0.0),
            py(y_max),
            px(*x) + 3.0,
            py(y_max) + 12.0
        );
    }
    for (i, se) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut d = String::new();
        for (x, y) in se.points {
            let _ = write!(d, "{:.1},{:.1} ", px(*x), py(*y));
        }
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{d}\"/>"
        );
        let ly = TOP + 4.0 + 16.0 * i as f64;
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{ly:.1}\" x2=\"{1:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" \
             stroke-width=\"2\"/><text x=\"{2:.1}\" y=\"{3:.1}\">{4}</text>",
            W - RIGHT - 200.0,
            W - RIGHT - 180.0,
            W - RIGHT - 174.0,
            ly + 4.0,
            se.name
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(step(10.0), 2.0);
        assert_eq!(step(1000.0), 200.0);
        assert_eq!(step(3.0), 1.0);
    }

    #[test]
    fn plot_is_one_svg_document_with_each_series() {
        let a = [(0.0, 1.0), (10.0, 3.0)];
        let b = [(0.0, 2.0), (5.0, 0.5)];
        let s = plot(
            "t",
            "x",
            "y",
            &[
                Series {
                    name: "a",
                    points: &a,
                },
                Series {
                    name: "b",
                    points: &b,
                },
            ],
            &[(4.0, "join")],
        );
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n"));
        assert_eq!(s.matches("<polyline").count(), 2);
        assert!(s.contains(">join</text>"));
    }
}
