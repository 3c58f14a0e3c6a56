//! Server-rendered SVG charts (pure): a line chart over time and a bar chart, sized by the page
//! and readable without JavaScript. Every label is escaped; numbers are formatted by us.

const W: f64 = 640.0;
const H: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round upper bound for an axis (1, 2 or 5 times a power of ten).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|m| *m >= v)
        .unwrap_or(10.0 * p)
}

fn open(title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"{t}\" class=\"chart\"><title>{t}</title>",
        t = esc(title)
    )
}

fn axes(max: f64, unit: &str) -> String {
    let mut s = String::new();
    let plot_h = H - TOP - BOTTOM;
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
        s.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" class=\"grid\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{}{}</text>",
            W - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            trim(v),
            esc(unit)
        ));
    }
    s
}

fn trim(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A line over labelled points (`None` leaves a gap), with the y axis in `unit`.
pub fn line(title: &str, points: &[(String, Option<f64>)], unit: &str) -> String {
    let mut s = open(title);
    if points.iter().all(|(_, v)| v.is_none()) {
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"empty\">No data in this period</text></svg>",
            W / 2.0,
            H / 2.0
        ));
        return s;
    }
    let max = nice_max(points.iter().filter_map(|(_, v)| *v).fold(0.0, f64::max));
    s.push_str(&axes(max, unit));
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let step = plot_w / (points.len().max(2) - 1) as f64;
    let mut path = String::new();
    let mut pen_down = false;
    let every = points.len().div_ceil(8).max(1);
    for (i, (label, v)) in points.iter().enumerate() {
        let x = LEFT + step * i as f64;
        if i % every == 0 {
            s.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
                H - BOTTOM + 16.0,
                esc(label)
            ));
        }
        match v {
            Some(v) => {
                let y = TOP + plot_h - plot_h * v / max;
                path.push_str(&format!(
                    "{}{x:.1},{y:.1} ",
                    if pen_down { "L" } else { "M" }
                ));
                s.push_str(&format!(
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" class=\"dot\"><title>{}: {}{}</title></circle>",
                    esc(label),
                    trim(*v),
                    esc(unit)
                ));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    s.push_str(&format!(
        "<path d=\"{}\" class=\"series\"/></svg>",
        path.trim_end()
    ));
    s
}

/// Bars for labelled counts.
pub fn bars(title: &str, bars: &[(String, f64)], unit: &str) -> String {
    let mut s = open(title);
    let max = nice_max(bars.iter().map(|(_, v)| *v).fold(0.0, f64::max));
    s.push_str(&axes(max, unit));
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / bars.len().max(1) as f64;
    for (i, (label, v)) in bars.iter().enumerate() {
        let h = plot_h * v / max;
        let x = LEFT + slot * i as f64 + slot * 0.15;
        s.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" class=\"bar\"><title>{}: {}{}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            TOP + plot_h - h,
            slot * 0.7,
            esc(label),
            trim(*v),
            esc(unit),
            x + slot * 0.35,
            H - BOTTOM + 16.0,
            esc(label)
        ));
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(130.0), 200.0);
        assert_eq!(nice_max(0.43), 0.5);
    }

    #[test]
    fn charts_escape_labels_and_leave_gaps() {
        let pts = vec![
            ("<w1>".to_string(), Some(10.0)),
            ("w2".to_string(), None),
            ("w3".to_string(), Some(30.0)),
        ];
        let svg = line("Median & p90", &pts, " min");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;w1&gt;") && !svg.contains("<w1>"));
        assert!(svg.contains("aria-label=\"Median &amp; p90\""));
        // The gap starts a new segment: two moves, no line across it.
        let d = svg
            .split("<path d=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default();
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert!(!d.contains('L'), "{d}");
        assert!(line("t", &[("a".into(), None)], "").contains("No data in this period"));
        let b = bars("Bands", &[("< 1 h".into(), 3.0), ("1–4 h".into(), 1.0)], "");
        assert_eq!(b.matches("<rect").count(), 2);
        assert!(b.contains("&lt; 1 h: 3"));
    }
}
