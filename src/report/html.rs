//! `report.html`: one self-contained page a performance manager can read and forward. Charts are
//! inline SVG written here: a chart library would need font files or a runtime font stack to
//! lay out text, and the page must be identical for identical data.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Collection, Detail, Report, TrendPoint};
use crate::survey::DRIVERS;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.1}%")).unwrap_or_else(|| "—".into())
}

/// 1234567 → "1,234,567".
fn num(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn rate(num: i64, den: i64) -> String {
    if num > den {
        // A rate above 100 % means opportunities are missing, not a fact about customers.
        "not shown: more respondents than survey opportunities".into()
    } else if den > 0 {
        format!("{:.1}%", 100.0 * num as f64 / den as f64)
    } else {
        "—".into()
    }
}

/// The page's one style element (the console serves the page with this text's hash in its CSP).
pub const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1b1b;max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.4}
h1{font-size:1.8rem;margin-bottom:.2rem}h2{border-bottom:2px solid #005ea2;padding-bottom:.2rem;margin-top:2.5rem}h3{margin-top:1.8rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.92rem}th,td{border:1px solid #a9aeb1;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}.flag{background:#faf3d1;border-left:.4rem solid #ffbe2e;padding:.5rem 1rem;margin:.5rem 0}
.meta{color:#565c65}figure{margin:.5rem 0 1.5rem}figcaption{font-weight:600;margin-bottom:.3rem}.charts{display:flex;flex-wrap:wrap;gap:2rem}";

pub fn render(r: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024);
    head(&mut h, r);
    if r.details.is_empty() {
        h.push_str("<p>No deployment had responses, survey opportunities or operational volume in this quarter.</p>\n");
    }
    flags(&mut h, r);
    let mut current_hisp = String::new();
    for c in &r.collections {
        let hisp_key = format!("{}/{}", c.agency, c.hisp);
        if hisp_key != current_hisp {
            let _ = writeln!(
                h,
                "<h2>{} <span class=\"meta\">({})</span></h2>",
                esc(&c.hisp_name),
                esc(&c.hisp)
            );
            current_hisp = hisp_key;
        }
        service(&mut h, r, c);
    }
    pra(&mut h, r);
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// The page up to its first section: title, style and what the report covers.
fn head(h: &mut String, r: &Report) {
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>CX quarterly report, FY{} Q{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>Customer experience report, FY{} Q{}</h1>\n<p class=\"meta\">{} to {} ({}), A-11 Section 280 post-transaction surveys{}. Only responses with status <em>counted</em> are included; spam, test and deleted responses never are.</p>\n",
        r.fiscal_year,
        r.quarter,
        r.fiscal_year,
        r.quarter,
        esc(&r.first_day),
        esc(&r.last_day),
        esc(&r.time_zone),
        r.hisp.as_ref().map(|h| format!(", HISP {}", esc(h))).unwrap_or_default()
    );
}

/// "Needs attention": the report's flags, if any.
fn flags(h: &mut String, r: &Report) {
    if !r.flags.is_empty() {
        h.push_str("<h2>Needs attention</h2>\n");
        for f in &r.flags {
            let _ = writeln!(
                h,
                "<p class=\"flag\"><strong>Deployment {}</strong>: {}</p>",
                esc(&f.deployment_id),
                esc(&f.detail)
            );
        }
    }
}

/// One service of a HISP: trust and response rate, its deployments and its charts.
fn service(h: &mut String, r: &Report, c: &Collection) {
    let deps: Vec<&Detail> = r
        .details
        .iter()
        .filter(|d| d.agency == c.agency && d.hisp == c.hisp && d.service == c.service)
        .collect();
    let opportunity: i64 = deps
        .iter()
        .map(|d| d.volume_of_customers_provided_survey_opportunity)
        .sum();
    let (lo, hi) = super::wilson(c.trust_positive, c.trust_responses).unzip();
    let _ = writeln!(
        h,
        "<h3>{}</h3>\n<p>Trust: <strong>{}</strong> (95% interval {} to {}) from {} responses; {} offered the survey; response rate {}.</p>",
        esc(&c.service_name),
        pct(c.trust_score),
        pct(lo),
        pct(hi),
        num(c.trust_responses),
        num(opportunity),
        rate(c.volume_of_respondents, opportunity)
    );
    deployments_table(h, &deps);
    h.push_str("<div class=\"charts\">\n");
    h.push_str(&drivers_chart(&deps));
    let points: Vec<&TrendPoint> = r
        .trend
        .iter()
        .filter(|t| t.agency == c.agency && t.hisp == c.hisp && t.service == c.service)
        .collect();
    h.push_str(&trend_chart(&points));
    h.push_str("</div>\n");
}

fn deployments_table(h: &mut String, deps: &[&Detail]) {
    h.push_str("<table>\n<caption class=\"meta\">Deployments</caption>\n<tr><th scope=\"col\">Channel</th><th scope=\"col\">Transaction point</th><th scope=\"col\">Instrument</th><th scope=\"col\">Customers</th><th scope=\"col\">Offered the survey</th><th scope=\"col\">Respondents</th><th scope=\"col\">Response rate</th><th scope=\"col\">Trust</th><th scope=\"col\">95% interval</th></tr>\n");
    for d in deps {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{} ({})</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} – {}</td></tr>",
            esc(&d.channel),
            esc(&d.transaction_point),
            esc(&d.instrument_id),
            esc(&d.survey_type),
            d.volume_of_customers.map(num).unwrap_or_else(|| "not entered".into()),
            num(d.volume_of_customers_provided_survey_opportunity),
            num(d.volume_of_respondents),
            rate(d.volume_of_respondents, d.volume_of_customers_provided_survey_opportunity),
            pct(d.trust_score),
            pct(d.trust_score_ci_low),
            pct(d.trust_score_ci_high)
        );
    }
    h.push_str("</table>\n");
}

/// The Paperwork Reduction Act facts of the instruments used, if any.
fn pra(h: &mut String, r: &Report) {
    if !r.instruments.is_empty() {
        h.push_str("<h2>Paperwork Reduction Act</h2>\n<table>\n<tr><th scope=\"col\">Instrument</th><th scope=\"col\">Version</th><th scope=\"col\">Type</th><th scope=\"col\">OMB control number</th><th scope=\"col\">Expires</th><th scope=\"col\">Burden</th><th scope=\"col\">Federal Register notice</th></tr>\n");
        for p in &r.instruments {
            let _ = writeln!(
                h,
                "<tr><td>{} ({})</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{} min</td><td><a href=\"{}\">notice</a></td></tr>",
                esc(&p.title),
                esc(&p.instrument_id),
                p.version,
                esc(&p.survey_type),
                esc(&p.omb_control_number),
                esc(&p.expiration_date),
                p.burden_minutes,
                esc(&p.federal_register_url)
            );
        }
        h.push_str("</table>\n");
    }
}

/// Horizontal bars: how often each driver was chosen on each list, summed over deployments.
fn drivers_chart(deps: &[&Detail]) -> String {
    let mut well: BTreeMap<&str, i64> = BTreeMap::new();
    let mut poorly: BTreeMap<&str, i64> = BTreeMap::new();
    for d in deps {
        for k in DRIVERS {
            *well.entry(k).or_default() += d.went_well.get(k).copied().unwrap_or(0);
            *poorly.entry(k).or_default() += d.went_poorly.get(k).copied().unwrap_or(0);
        }
    }
    let max = well
        .values()
        .chain(poorly.values())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let (label_w, bar_w, row_h) = (110.0, 260.0, 34.0);
    let height = 30.0 + row_h * DRIVERS.len() as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        "<figure><figcaption>What went well and what didn't</figcaption>\n<svg width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\"><title>Drivers chosen: went well (blue) and didn't go well (orange)</title>\n<rect x=\"{label_w}\" y=\"4\" width=\"12\" height=\"12\" fill=\"#005ea2\"/><text x=\"{lx1}\" y=\"15\" font-size=\"12\">went well</text><rect x=\"{lx2}\" y=\"4\" width=\"12\" height=\"12\" fill=\"#c05600\"/><text x=\"{lx3}\" y=\"15\" font-size=\"12\">didn't go well</text>\n",
        w = label_w + bar_w + 60.0,
        lx1 = label_w + 16.0,
        lx2 = label_w + 100.0,
        lx3 = label_w + 116.0,
    );
    for (i, k) in DRIVERS.iter().enumerate() {
        let y = 26.0 + row_h * i as f64;
        let (a, b) = (well[k], poorly[k]);
        let (wa, wb) = (bar_w * a as f64 / max as f64, bar_w * b as f64 / max as f64);
        let (a, b) = (num(a), num(b));
        let _ = writeln!(
            s,
            "<text x=\"{tx}\" y=\"{ty:.1}\" font-size=\"12\" text-anchor=\"end\">{k}</text><rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{wa:.1}\" height=\"13\" fill=\"#005ea2\"/><text x=\"{ax:.1}\" y=\"{ay:.1}\" font-size=\"11\">{a}</text><rect x=\"{label_w}\" y=\"{y2:.1}\" width=\"{wb:.1}\" height=\"13\" fill=\"#c05600\"/><text x=\"{bx:.1}\" y=\"{by:.1}\" font-size=\"11\">{b}</text>",
            tx = label_w - 6.0,
            ty = y + 17.0,
            ax = label_w + wa + 4.0,
            ay = y + 11.0,
            y2 = y + 14.0,
            bx = label_w + wb + 4.0,
            by = y + 25.0,
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

/// Columns: trust score in each of the last four quarters.
fn trend_chart(points: &[&TrendPoint]) -> String {
    let (w, h, top, bottom) = (300.0, 200.0, 20.0, 40.0);
    let plot_h = h - top - bottom;
    let mut s = String::new();
    let _ = write!(
        s,
        "<figure><figcaption>Trust over the last four quarters</figcaption>\n<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\"><title>Trust score by quarter</title>\n<line x1=\"10\" y1=\"{base}\" x2=\"{x2}\" y2=\"{base}\" stroke=\"#71767a\"/>\n",
        base = top + plot_h,
        x2 = w - 10.0,
    );
    let slot = (w - 20.0) / 4.0;
    for (i, p) in points.iter().enumerate() {
        let x = 10.0 + slot * i as f64 + slot * 0.2;
        let score = p.trust_score.unwrap_or(0.0);
        let bh = plot_h * score / 100.0;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"#005ea2\"/><text x=\"{cx:.1}\" y=\"{ly:.1}\" font-size=\"11\" text-anchor=\"middle\">{label}</text><text x=\"{cx:.1}\" y=\"{qy:.1}\" font-size=\"11\" text-anchor=\"middle\">FY{fy} Q{q}</text><text x=\"{cx:.1}\" y=\"{ny:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#565c65\">n={n}</text>",
            y = top + plot_h - bh,
            bw = slot * 0.6,
            cx = x + slot * 0.3,
            ly = (top + plot_h - bh - 4.0).max(12.0),
            label = pct(p.trust_score),
            qy = top + plot_h + 15.0,
            ny = top + plot_h + 29.0,
            fy = p.fiscal_year,
            q = p.quarter,
            n = num(p.volume_of_respondents),
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands() {
        assert_eq!(super::num(0), "0");
        assert_eq!(super::num(999), "999");
        assert_eq!(super::num(1000), "1,000");
        assert_eq!(super::num(9_876_543), "9,876,543");
        assert_eq!(super::num(-12_345), "-12,345");
    }
}
