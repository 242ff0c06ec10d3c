//! Inline SVG charts (no script, nothing fetched). Bars are links where a
//! list can be filtered by them.

use maud::{html, Markup};

use crate::i18n::Lang;

pub const GREEN: &str = "#2e7d32";
pub const RED: &str = "#c62828";
pub const AMBER: &str = "#d69e2e";
pub const BLUE: &str = "#3e6fb0";
pub const PURPLE: &str = "#7b5ea7";

/// One bar: label, link, values (one per series).
pub struct Bar {
    pub label: String,
    pub tooltip: String,
    pub href: Option<String>,
    pub values: Vec<i64>,
}

fn shorten(s: &str, max_width: usize) -> String {
    let mut w = 0;
    let mut out = String::new();
    for c in s.chars() {
        let cw = if (c as u32) > 0x2E7F { 2 } else { 1 };
        if w + cw > max_width {
            out.push('…');
            return out;
        }
        w += cw;
        out.push(c);
    }
    out
}

/// Horizontal bars, stacked when there are several series.
pub fn hbars(bars: &[Bar], series: &[(&str, &str)]) -> Markup {
    if bars.is_empty() {
        return html! { p.muted { "—" } };
    }
    let (label_w, bar_w, row_h) = (230.0, 300.0, 24.0);
    let max = bars.iter().map(|b| b.values.iter().sum::<i64>()).max().unwrap_or(1).max(1) as f64;
    let legend_h = if series.len() > 1 { 24.0 } else { 0.0 };
    let height = bars.len() as f64 * row_h + legend_h + 4.0;
    let width = label_w + bar_w + 60.0;
    // Geometry first: (y, segments (x, width, color), end x, total).
    type Segment<'a> = (f64, f64, &'a str);
    let rows: Vec<(f64, Vec<Segment>, f64, i64)> = bars
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut x = label_w;
            let mut segs = Vec::new();
            for (j, v) in b.values.iter().enumerate() {
                let w = *v as f64 / max * bar_w;
                if w > 0.0 {
                    segs.push((x, w, series[j % series.len()].1));
                }
                x += w;
            }
            (i as f64 * row_h, segs, x, b.values.iter().sum())
        })
        .collect();
    html! {
        svg.chart width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } role="img" {
            @for (b, (y, segs, end, total)) in bars.iter().zip(&rows) {
                g {
                    title { (b.tooltip) ": " (total) }
                    text.lbl x=(label_w - 8.0) y=(y + 16.0) text-anchor="end" { (shorten(&b.label, 34)) }
                    @for (x, w, color) in segs {
                        @if let Some(h) = &b.href {
                            a href=(h) { rect x=(format!("{x:.1}")) y=(y + 4.0) width=(format!("{w:.1}")) height=(row_h - 8.0) fill=(color) {} }
                        } @else {
                            rect x=(format!("{x:.1}")) y=(y + 4.0) width=(format!("{w:.1}")) height=(row_h - 8.0) fill=(color) {}
                        }
                    }
                    text.num x=(format!("{:.1}", end + 5.0)) y=(y + 16.0) { (total) }
                }
            }
            @if series.len() > 1 {
                @let ly = bars.len() as f64 * row_h + 16.0;
                @for (j, (name, color)) in series.iter().enumerate() {
                    rect x=(label_w + j as f64 * 110.0) y=(ly - 10.0) width="11" height="11" fill=(color) {}
                    text.lbl x=(label_w + j as f64 * 110.0 + 16.0) y=(ly) { (name) }
                }
            }
        }
    }
}

/// One run of the trend chart.
pub struct TrendColumn {
    pub label: String,
    pub href: String,
    pub eligible: i64,
    pub ineligible: i64,
    pub review: i64,
    pub discrepancies: i64,
    pub current: bool,
}

/// Verdicts of the last runs as stacked columns, discrepancies as a line.
pub fn trend(cols: &[TrendColumn], lang: Lang) -> Markup {
    if cols.is_empty() {
        return html! { p.muted { "—" } };
    }
    // Columns share at least 440 px, so the legend always fits.
    let (left, top, plot_h) = (44.0, 12.0, 170.0);
    let col_w = (440.0 / cols.len() as f64).clamp(30.0, 70.0);
    let width = (left + cols.len() as f64 * col_w + 20.0).max(560.0);
    let height = top + plot_h + 70.0;
    let max_h = cols.iter().map(|c| c.eligible + c.ineligible + c.review).max().unwrap_or(1).max(1) as f64;
    let max_d = cols.iter().map(|c| c.discrepancies).max().unwrap_or(1).max(1) as f64;
    let base = top + plot_h;
    let points: Vec<String> = cols.iter().enumerate().map(|(i, c)| format!("{:.1},{:.1}", left + i as f64 * col_w + col_w / 2.0, base - c.discrepancies as f64 / max_d * plot_h)).collect();
    let series = [(lang.t("符合", "eligible"), GREEN), (lang.t("不符合", "ineligible"), RED), (lang.t("待复核", "review"), AMBER)];
    html! {
        svg.chart width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } role="img" {
            line x1=(left) y1=(base) x2=(left + cols.len() as f64 * col_w) y2=(base) stroke="#9aa5b1" {}
            text.num x=(left - 6.0) y=(top + 8.0) text-anchor="end" { (max_h as i64) }
            text.num x=(left - 6.0) y=(base) text-anchor="end" { "0" }
            @for (i, c) in cols.iter().enumerate() {
                @let x = left + i as f64 * col_w + 8.0;
                @let stack = stack_of(c, base, max_h, plot_h);
                a href=(c.href) {
                    title { (c.label) " — " (lang.t("符合", "eligible")) " " (c.eligible) ", " (lang.t("不符合", "ineligible")) " " (c.ineligible) ", " (lang.t("待复核", "review")) " " (c.review) ", " (lang.t("问题", "discrepancies")) " " (c.discrepancies) }
                    @for (y, h, color) in stack {
                        rect x=(x) y=(format!("{y:.1}")) width=(col_w - 16.0) height=(format!("{h:.1}")) fill=(color) {}
                    }
                }
                text.lbl x=(x + (col_w - 16.0) / 2.0) y=(base + 16.0) text-anchor="middle" font-weight=[c.current.then_some("700")] { (shorten(&c.label, 10)) }
            }
            polyline points=(points.join(" ")) fill="none" stroke=(PURPLE) stroke-width="2" stroke-dasharray="5 3" {}
            @for p in &points {
                @let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
                circle cx=(px) cy=(py) r="3" fill=(PURPLE) {}
            }
            @let ly = base + 44.0;
            @for (j, (name, color)) in series.iter().enumerate() {
                rect x=(left + j as f64 * 100.0) y=(ly - 10.0) width="11" height="11" fill=(color) {}
                text.lbl x=(left + j as f64 * 100.0 + 16.0) y=(ly) { (name) }
            }
            line x1=(left + 300.0) y1=(ly - 4.0) x2=(left + 322.0) y2=(ly - 4.0) stroke=(PURPLE) stroke-width="2" stroke-dasharray="5 3" {}
            text.lbl x=(left + 328.0) y=(ly) { (lang.t("问题记录数", "discrepancies")) " (max " (max_d as i64) ")" }
        }
    }
}

/// The segments (top y, height, color) of one stacked column, bottom up.
fn stack_of(c: &TrendColumn, base: f64, max: f64, plot_h: f64) -> Vec<(f64, f64, &'static str)> {
    let mut y = base;
    let mut out = Vec::new();
    for (v, color) in [(c.eligible, GREEN), (c.ineligible, RED), (c.review, AMBER)] {
        let h = v as f64 / max * plot_h;
        y -= h;
        out.push((y, h, color));
    }
    out
}
