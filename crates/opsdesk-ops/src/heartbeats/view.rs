//! How checks read on the pages (pure): periods in words (`1 h 30 min`), times relative to now
//! (`3 min ago`, `in 2 h`), durations typed in forms (`90s`, `15m`, `1h 30m`, `2d`), and the
//! small SVG charts — a sparkline of recent pings and a bar chart of run durations. Labels in
//! the SVG are escaped here; numbers are formatted by us.

/// `1 h 30 min`, `45 s`, `2 d`.
pub fn span(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d} d"));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 && d == 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 && d == 0 && h == 0 {
        parts.push(format!("{s} s"));
    }
    if parts.is_empty() {
        "0 s".into()
    } else {
        parts.join(" ")
    }
}

/// How long a run took: `120 ms`, `4.2 s`, `3 min 5 s`.
pub fn took(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{} ms", ms.max(0)),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => span(ms / 1000),
    }
}

/// The largest unit only: `3 min`, `2 h`, `5 d`.
fn rough(ms: i64) -> String {
    let s = ms.abs() / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 => format!("{} min", s / 60),
        3_600..=172_799 => format!("{} h", s / 3_600),
        _ => format!("{} d", s / 86_400),
    }
}

/// `3 min ago`, `in 2 h`, `just now`.
pub fn relative(now: i64, at: i64) -> String {
    let diff = at - now;
    if diff.abs() < 1_000 {
        "just now".into()
    } else if diff < 0 {
        format!("{} ago", rough(diff))
    } else {
        format!("in {}", rough(diff))
    }
}

/// Reads `90`, `90s`, `15m`, `1h 30m`, `2d`, `1w` into seconds.
pub fn parse_span(input: &str) -> Result<i64, &'static str> {
    const HELP: &str = "must be a duration such as 90s, 15m, 1h 30m or 2d";
    let s = input.trim().to_ascii_lowercase();
    if s.is_empty() {
        return Err(HELP);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut seen_unit = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
        } else if c.is_whitespace() {
            continue;
        } else {
            let mut unit = String::from(c);
            while let Some(n) = chars.peek().filter(|n| n.is_ascii_alphabetic()) {
                unit.push(*n);
                chars.next();
            }
            let k = match unit.as_str() {
                "s" | "sec" | "secs" | "second" | "seconds" => 1,
                "m" | "min" | "mins" | "minute" | "minutes" => 60,
                "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
                "d" | "day" | "days" => 86_400,
                "w" | "week" | "weeks" => 604_800,
                _ => return Err(HELP),
            };
            let n: i64 = num.parse().map_err(|_| HELP)?;
            total = total.saturating_add(n.saturating_mul(k));
            num.clear();
            seen_unit = true;
        }
    }
    if !num.is_empty() || !seen_unit {
        return Err(HELP);
    }
    Ok(total)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A ping as the charts see it.
#[derive(Clone, Debug)]
pub struct Dot {
    /// `success`, `fail`, `start`, `log`, `ign`.
    pub kind: String,
    pub duration_ms: Option<i64>,
    pub label: String,
}

/// A sparkline of recent pings, oldest left: bars coloured by kind, as tall as the run took
/// (relative to the longest shown; full height when runs are not measured).
pub fn sparkline(dots: &[Dot]) -> String {
    const W: f64 = 120.0;
    const H: f64 = 20.0;
    const N: usize = 20;
    let shown = &dots[dots.len().saturating_sub(N)..];
    let longest = shown
        .iter()
        .filter_map(|d| d.duration_ms)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let step = W / N as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"spark\" viewBox=\"0 0 {W} {H}\" \
         role=\"img\" aria-label=\"{} recent pings\">",
        shown.len()
    );
    for (i, d) in shown.iter().enumerate() {
        let h = match d.duration_ms {
            Some(ms) => (ms as f64 / longest * (H - 4.0)).max(3.0) + 2.0,
            None => H,
        };
        let kind = match d.kind.as_str() {
            k @ ("success" | "fail" | "start" | "log") => k,
            _ => "ign",
        };
        s.push_str(&format!(
            "<rect class=\"{kind}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{}</title></rect>",
            i as f64 * step + 0.5,
            H - h,
            step - 1.5,
            esc(&d.label)
        ));
    }
    s.push_str("</svg>");
    s
}

/// Run durations (seconds) of measured runs, oldest left, with a labelled axis.
pub fn durations_chart(dots: &[Dot]) -> String {
    bar_chart(
        dots,
        "Run durations",
        "No measured runs yet: send /start before the job and its end after it.",
    )
}

/// Response times of a monitor's runs, oldest left; failed runs in red.
pub fn response_chart(dots: &[Dot]) -> String {
    bar_chart(dots, "Response times", "No runs yet.")
}

fn bar_chart(dots: &[Dot], title: &str, empty: &str) -> String {
    const W: f64 = 640.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 12.0;
    let runs: Vec<&Dot> = dots.iter().filter(|d| d.duration_ms.is_some()).collect();
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"{t}\" class=\"chart\"><title>{t}</title>",
        t = esc(title)
    );
    if runs.is_empty() {
        s.push_str(&format!(
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></svg>",
            W / 2.0,
            H / 2.0,
            esc(empty)
        ));
        return s;
    }
    let longest = runs
        .iter()
        .filter_map(|d| d.duration_ms)
        .max()
        .unwrap_or(1)
        .max(1) as f64
        / 1000.0;
    let max = nice_max(longest);
    let plot_h = H - TOP - BOTTOM;
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let y = TOP + plot_h - plot_h * f64::from(k) / 4.0;
        s.push_str(&format!(
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{W}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y + 4.0,
            fmt_secs(v)
        ));
    }
    // Bars at most 24 units wide: a few runs do not fill the chart with one block.
    let step = ((W - LEFT) / runs.len() as f64).min(24.0);
    for (i, d) in runs.iter().enumerate() {
        let v = d.duration_ms.unwrap_or(0) as f64 / 1000.0;
        let h = (v / max * plot_h).max(1.0);
        let class = if d.kind == "fail" { "bar fail" } else { "bar" };
        s.push_str(&format!(
            "<rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{} — {}</title></rect>",
            LEFT + i as f64 * step + 1.0,
            TOP + plot_h - h,
            (step - 2.0).max(1.0),
            esc(&d.label),
            fmt_secs(v)
        ));
    }
    s.push_str("</svg>");
    s
}

fn fmt_secs(v: f64) -> String {
    if v > 0.0 && v < 0.01 {
        format!("{:.1} ms", v * 1000.0)
    } else if v > 0.0 && v < 1.0 {
        format!("{:.0} ms", v * 1000.0)
    } else if v >= 120.0 {
        format!("{:.0} min", v / 60.0)
    } else if v >= 10.0 {
        format!("{v:.0} s")
    } else {
        format!("{v:.1} s")
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_and_print() {
        assert_eq!(span(5_400), "1 h 30 min");
        assert_eq!(span(45), "45 s");
        assert_eq!(span(2 * 86_400 + 3_600), "2 d 1 h");
        assert_eq!(parse_span("1h 30m"), Ok(5_400));
        assert_eq!(parse_span("90"), Ok(90));
        assert_eq!(parse_span("2 days"), Ok(172_800));
        assert_eq!(parse_span("15m"), Ok(900));
        for bad in ["", "soon", "10x", "5 h 3", "h"] {
            assert!(parse_span(bad).is_err(), "{bad}");
        }
        assert_eq!(took(120), "120 ms");
        assert_eq!(took(4_200), "4.2 s");
        assert_eq!(took(185_000), "3 min 5 s");
        assert_eq!(relative(10_000, 10_500), "just now");
        assert_eq!(relative(600_000, 420_000), "3 min ago");
        assert_eq!(relative(0, 7_200_000), "in 2 h");
    }

    #[test]
    fn charts_escape_labels_and_scale_bars() {
        let dots = vec![
            Dot {
                kind: "success".into(),
                duration_ms: Some(2_000),
                label: "<script>".into(),
            },
            Dot {
                kind: "fail".into(),
                duration_ms: Some(4_000),
                label: "b".into(),
            },
        ];
        let spark = sparkline(&dots);
        assert!(spark.contains("&lt;script&gt;") && !spark.contains("<script>"));
        assert!(spark.contains("class=\"fail\""));
        let chart = durations_chart(&dots);
        assert!(
            chart.contains("4.0 s — b") || chart.contains("b — 4.0 s"),
            "{chart}"
        );
        assert!(durations_chart(&[]).contains("No measured runs yet"));
        assert_eq!(fmt_secs(0.0025), "2.5 ms");
        assert_eq!(fmt_secs(0.25), "250 ms");
        assert_eq!(fmt_secs(4.0), "4.0 s");
    }
}
