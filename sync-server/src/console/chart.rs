//! Charts drawn on the server as SVG, inline in the page: no script, no library, nothing
//! fetched. Every label is escaped like the rest of the page.

use std::fmt::Write as _;

use super::html::esc;

/// One line or one set of bars: a name and (label, value) points, the same labels in the
/// same order for every series of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(String, f64)>,
}

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 40.0;
const TOP: f64 = 12.0;
const COLOURS: [&str; 8] = [
    "#1f6fb2", "#d9822b", "#2e9d5b", "#b8336a", "#6b5bd2", "#8c6d1f", "#198a8a", "#555",
];

fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// What a chart shows, in words, for a screen reader (its accessible name): each series
/// with its values, `Li: 2026-10 4, 2026-11 6; Wu: ...`.
fn spoken(series: &[Series], unit: &str) -> String {
    series
        .iter()
        .map(|s| {
            let values: Vec<String> = s
                .points
                .iter()
                .map(|(label, value)| format!("{label} {value:.0}{unit}"))
                .collect();
            format!("{}: {}", s.name, values.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn frame(out: &mut String, series: &[Series], max: f64, unit: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{}\" \
         viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"{}\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>",
        HEIGHT + 24.0,
        HEIGHT + 24.0,
        esc(&spoken(series, unit)),
    );
    let plot = HEIGHT - BOTTOM - TOP;
    for step in 0..=4 {
        let value = max * f64::from(step) / 4.0;
        let y = TOP + plot - plot * f64::from(step) / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{WIDTH}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e7ec\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{value:.0}{}</text>",
            LEFT - 4.0,
            y + 3.0,
            esc(unit)
        );
    }
}

fn legend(out: &mut String, series: &[Series]) {
    let mut x = LEFT;
    for (i, s) in series.iter().enumerate() {
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>",
            HEIGHT + 8.0,
            colour(i),
            x + 14.0,
            HEIGHT + 17.0,
            esc(&s.name)
        );
        x += 24.0 + label_width(&s.name);
    }
}

/// About how wide a legend's name is drawn at 11 px: Chinese characters are square, Latin
/// ones about half as wide.
fn label_width(name: &str) -> f64 {
    name.chars()
        .map(|c| if c.is_ascii() { 6.5 } else { 11.0 })
        .sum()
}

fn labels(series: &[Series]) -> Vec<&str> {
    series
        .first()
        .map(|s| s.points.iter().map(|(l, _)| l.as_str()).collect())
        .unwrap_or_default()
}

/// Grouped bars: for each label, one bar per series, on a scale from 0 to `max`.
pub fn bars(series: &[Series], max: f64, unit: &str) -> String {
    let mut out = String::new();
    frame(&mut out, series, max, unit);
    let labels = labels(series);
    let plot = HEIGHT - BOTTOM - TOP;
    let group = (WIDTH - LEFT) / labels.len().max(1) as f64;
    let bar = (group - 6.0) / series.len().max(1) as f64;
    for (g, label) in labels.iter().enumerate() {
        let x0 = LEFT + group * g as f64 + 3.0;
        for (i, s) in series.iter().enumerate() {
            let value = s.points.get(g).map(|p| p.1).unwrap_or(0.0).clamp(0.0, max);
            let h = if max > 0.0 { plot * value / max } else { 0.0 };
            let _ = write!(
                out,
                "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" \
                 fill=\"{}\"><title>{} {}: {value:.0}{}</title></rect>",
                x0 + bar * i as f64,
                TOP + plot - h,
                (bar - 1.0).max(1.0),
                colour(i),
                esc(&s.name),
                esc(label),
                esc(unit)
            );
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x0 + group / 2.0 - 3.0,
            HEIGHT - BOTTOM + 14.0,
            esc(label)
        );
    }
    legend(&mut out, series);
    out.push_str("</svg>");
    out
}

/// Lines, one per series, on a scale from 0 to the largest value (rounded up).
pub fn lines(series: &[Series]) -> String {
    let top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max);
    let max = if top <= 0.0 {
        10.0
    } else {
        let step = 10f64.powf(top.log10().floor());
        (top / step).ceil() * step
    };
    let mut out = String::new();
    frame(&mut out, series, max, "");
    let labels = labels(series);
    let plot = HEIGHT - BOTTOM - TOP;
    let step = (WIDTH - LEFT - 50.0) / (labels.len().max(2) - 1) as f64;
    let x = |i: usize| LEFT + 20.0 + step * i as f64;
    for (i, label) in labels.iter().enumerate() {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            x(i),
            HEIGHT - BOTTOM + 14.0,
            esc(label)
        );
    }
    for (n, s) in series.iter().enumerate() {
        let points: Vec<String> = s
            .points
            .iter()
            .enumerate()
            .map(|(i, (_, v))| format!("{:.1},{:.1}", x(i), TOP + plot - plot * v / max))
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"line\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" \
             points=\"{}\"><title>{}</title></polyline>",
            colour(n),
            points.join(" "),
            esc(&s.name)
        );
    }
    legend(&mut out, series);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_one_bar_per_series_and_label_and_escapes_names() {
        let series = vec![
            Series {
                name: "<b>Li</b>".into(),
                points: vec![("11-02".into(), 50.0), ("11-09".into(), 100.0)],
            },
            Series {
                name: "Wang".into(),
                points: vec![("11-02".into(), 0.0), ("11-09".into(), 75.0)],
            },
        ];
        let svg = bars(&series, 100.0, "%");
        assert_eq!(svg.matches("class=\"bar\"").count(), 4);
        assert!(!svg.contains("<b>") && svg.contains("&lt;b&gt;Li"));
        assert!(
            svg.contains(
                "aria-label=\"&lt;b&gt;Li&lt;/b&gt;: 11-02 50%, 11-09 100%; Wang: 11-02 0%, 11-09 75%\""
            ),
            "the chart's values are its accessible name: {svg}"
        );
        let svg = lines(&series);
        assert_eq!(svg.matches("<polyline").count(), 2);
    }
}
