//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no
//! network) an analyst opens to understand the night at a glance.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use hedui_core::engine::EngineOutput;
use hedui_core::rules::VerdictKind;

use super::manifest::Manifest;

const VERDICTS: [(VerdictKind, &str, &str); 3] = [
    (VerdictKind::Eligible, "符合 ELIGIBLE", "#2e7d32"),
    (VerdictKind::Ineligible, "不符合 INELIGIBLE", "#c62828"),
    (VerdictKind::Review, "待复核 REVIEW", "#f9a825"),
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A horizontal stacked bar chart: one row per label, one segment per series.
fn stacked_bars(rows: &[(String, Vec<u64>)], series: &[(&str, &str)]) -> String {
    let max = rows.iter().map(|(_, v)| v.iter().sum::<u64>()).max().unwrap_or(0).max(1);
    // Room for the longest label (CJK characters are about twice as wide).
    let longest = rows.iter().map(|(l, _)| l.chars().map(|c| if (c as u32) > 0x2E7F { 12.5 } else { 7.0 }).sum::<f64>()).fold(60.0, f64::max);
    let (label_w, bar_w, row_h) = (longest + 12.0, 420.0, 22.0);
    let height = rows.len() as f64 * row_h + if series.len() > 1 { 30.0 } else { 6.0 };
    let mut s = format!(r#"<svg class="chart" viewBox="0 0 {w} {height}" width="100%" style="max-width:{w}px" role="img">"#, w = label_w + bar_w + 60.0);
    for (i, (label, values)) in rows.iter().enumerate() {
        let y = i as f64 * row_h;
        let _ = write!(s, r#"<text x="{}" y="{}" text-anchor="end" class="lbl">{}</text>"#, label_w - 6.0, y + 15.0, esc(label));
        let mut x = label_w;
        for (j, v) in values.iter().enumerate() {
            let w = *v as f64 / max as f64 * bar_w;
            if w > 0.0 {
                let _ = write!(s, r#"<rect x="{x:.1}" y="{}" width="{w:.1}" height="{}" fill="{}"><title>{}: {v}</title></rect>"#, y + 3.0, row_h - 6.0, series[j].1, esc(series[j].0));
            }
            x += w;
        }
        let _ = write!(s, r#"<text x="{:.1}" y="{}" class="num">{}</text>"#, x + 4.0, y + 15.0, values.iter().sum::<u64>());
    }
    let ly = rows.len() as f64 * row_h + 18.0;
    let mut lx = label_w;
    for (name, color) in series.iter().filter(|_| series.len() > 1) {
        let _ = write!(s, r#"<rect x="{lx}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{ly}" class="lbl">{}</text>"#, ly - 9.0, lx + 14.0, esc(name));
        lx += 150.0;
    }
    s.push_str("</svg>");
    s
}

pub fn write(path: &Path, result: &EngineOutput, m: &Manifest, counties: &BTreeMap<String, String>) -> io::Result<()> {
    let series: Vec<(&str, &str)> = VERDICTS.iter().map(|(_, n, c)| (*n, *c)).collect();
    let idx = |v: VerdictKind| VERDICTS.iter().position(|(k, _, _)| *k == v).unwrap_or(2);

    // Keyed by county code so the chart lists counties in code order.
    let mut by_county: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    let mut by_program: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    let mut totals = [0u64; 3];
    for v in &result.verdicts {
        let name = counties.get(&v.county_code).map(|n| format!("{n} {}", v.county_code)).unwrap_or_else(|| format!("{} (未知区县)", v.county_code));
        by_county.entry((v.county_code.clone(), name)).or_insert_with(|| vec![0; 3])[idx(v.verdict)] += 1;
        by_program.entry(format!("{} {}", v.program, v.area_type)).or_insert_with(|| vec![0; 3])[idx(v.verdict)] += 1;
        totals[idx(v.verdict)] += 1;
        for r in &v.reasons {
            *reasons.entry(r.as_str()).or_default() += 1;
        }
    }
    let mut by_dept: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_code: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for d in &result.discrepancies {
        *by_dept.entry(&d.department).or_default() += 1;
        *by_code.entry((&d.department, d.code.as_str())).or_default() += 1;
    }
    let unavailable: Vec<&crate::run::SourceReport> = m.sources.iter().filter(|s| s.status != "ok").collect();

    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>核对报告 {run} · hedui</title>
<style>
body{{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1f2933}}
header{{background:#1f3a5f;color:#fff;padding:18px 28px}} header h1{{margin:0;font-size:22px}} header p{{margin:4px 0 0;opacity:.85}}
main{{padding:20px 28px;max-width:1200px}} section{{background:#fff;border-radius:8px;padding:16px 20px;margin-bottom:18px;box-shadow:0 1px 3px rgba(0,0,0,.08)}}
h2{{font-size:17px;margin:0 0 12px}} .cards{{display:flex;gap:14px;flex-wrap:wrap}}
.card{{flex:1;min-width:150px;background:#fff;border-radius:8px;padding:14px 18px;box-shadow:0 1px 3px rgba(0,0,0,.08)}}
.card b{{display:block;font-size:28px}} .card span{{color:#52606d;font-size:13px}}
table{{border-collapse:collapse;width:100%;font-size:13px}} th,td{{border-bottom:1px solid #e4e7eb;padding:6px 8px;text-align:left}} th{{background:#f5f7fa}}
td.n{{text-align:right;font-variant-numeric:tabular-nums}} .ok{{color:#2e7d32;font-weight:600}} .bad{{color:#c62828;font-weight:600}}
.chart .lbl{{font-size:12px;fill:#323f4b}} .chart .num{{font-size:11px;fill:#52606d}} .grid{{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:18px}} @media (max-width:900px){{.grid{{grid-template-columns:1fr}}}}
.warn{{background:#fff4e5;border-left:4px solid #f9a825;padding:10px 14px;margin-bottom:18px;border-radius:4px}}
</style></head><body>
<header><h1>低保/特困 家庭经济状况核对报告 · Verification report</h1>
<p>批次 run <b>{run}</b> · 核对日期 as of <b>{as_of}</b> · 政策 policy {pid} {pver} · 退出码 exit {exit} · 生成 {fin}</p></header><main>"#,
        run = esc(&m.run_id),
        as_of = esc(&m.as_of),
        pid = esc(&m.policy_id),
        pver = esc(&m.policy_version),
        exit = m.exit_code,
        fin = esc(&m.started_at),
    );
    if !unavailable.is_empty() {
        h.push_str(r#"<div class="warn"><b>部分数据源不可用 Some sources were unavailable</b> — 相关家庭已标记待复核 (DEPARTMENT_DATA_UNAVAILABLE)：<ul>"#);
        for s in &unavailable {
            let _ = write!(h, "<li><b>{}</b>: {}</li>", esc(&s.code), esc(s.reason.as_deref().unwrap_or("")));
        }
        h.push_str("</ul></div>");
    }
    let _ = write!(
        h,
        r#"<div class="cards"><div class="card"><b>{}</b><span>家庭 households</span></div><div class="card"><b style="color:#2e7d32">{}</b><span>符合 eligible</span></div><div class="card"><b style="color:#c62828">{}</b><span>不符合 ineligible</span></div><div class="card"><b style="color:#b7791f">{}</b><span>待复核 review</span></div><div class="card"><b>{}</b><span>问题记录 discrepancies</span></div><div class="card"><b>{}</b><span>隔离行 quarantined rows</span></div></div><br>"#,
        result.verdicts.len(),
        totals[0],
        totals[1],
        totals[2],
        result.discrepancies.len(),
        m.quarantined_rows
    );

    let county_rows: Vec<(String, Vec<u64>)> = by_county.into_iter().map(|((_, name), v)| (name, v)).collect();
    let program_rows: Vec<(String, Vec<u64>)> = by_program.into_iter().collect();
    let _ = write!(h, r#"<section><h2>按区县核对结果 Verdicts by county</h2>{}</section>"#, stacked_bars(&county_rows, &series));
    let mut reason_rows: Vec<(String, Vec<u64>)> = reasons.iter().map(|(k, v)| (k.to_string(), vec![*v])).collect();
    reason_rows.sort_by(|a, b| b.1[0].cmp(&a.1[0]).then(a.0.cmp(&b.0)));
    let _ = write!(
        h,
        r#"<section><h2>按项目 Verdicts by program and area</h2>{}</section><section><h2>原因分布 Reasons (households)</h2>{}</section>"#,
        stacked_bars(&program_rows, &series),
        stacked_bars(&reason_rows, &[("households", "#3e6fb0")])
    );
    let dept_rows: Vec<(String, Vec<u64>)> = by_dept.iter().map(|(k, v)| (k.to_string(), vec![*v])).collect();
    let mut code_table = String::from(r#"<table><tr><th>部门 department</th><th>问题代码 code</th><th>说明</th><th>数量 count</th></tr>"#);
    for ((dept, code), n) in &by_code {
        let zh = hedui_core::rules::DiscrepancyCode::ALL.iter().find(|c| c.as_str() == *code).map(|c| c.description_zh()).unwrap_or("");
        let _ = write!(code_table, r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="n">{n}</td></tr>"#, esc(dept), esc(code), esc(zh));
    }
    code_table.push_str("</table>");
    let _ = write!(
        h,
        r#"<div class="grid"><section><h2>按部门问题数 Discrepancies by department</h2>{}</section><section><h2>按问题代码 Discrepancies by code</h2>{}</section></div>"#,
        stacked_bars(&dept_rows, &[("discrepancies", "#7b5ea7")]),
        code_table
    );

    h.push_str(r#"<section><h2>数据源状态 Source status</h2><table><tr><th>数据源 source</th><th>状态 status</th><th>请求人数 persons</th><th>文件 files</th><th>请求 requests</th><th>重试 retries</th><th>读取 read</th><th>使用 used</th><th>隔离 quarantined</th><th>非请求 unrequested</th><th>未授权 not authorized</th><th>晚于核对日 after D</th><th>重复 duplicate</th></tr>"#);
    for s in &m.sources {
        let r = &s.records;
        let status = if s.status == "ok" { r#"<span class="ok">正常 ok</span>"#.to_string() } else { format!(r#"<span class="bad" title="{}">不可用 unavailable</span>"#, esc(s.reason.as_deref().unwrap_or(""))) };
        let _ = write!(
            h,
            r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&s.code),
            status,
            s.persons_requested,
            s.files,
            s.requests,
            s.retries,
            r.read,
            r.used,
            r.quarantined,
            r.unrequested,
            r.not_authorized,
            r.after_as_of,
            r.duplicate
        );
    }
    h.push_str("</table></section>");
    let _ = write!(
        h,
        r#"<section><h2>文件 Files</h2><p>verdicts.csv · discrepancies.csv · explanations.jsonl (每户原因、证据与差额 reasons with evidence and margins) · feedback/&lt;部门&gt;.csv/.xlsx · quarantine.csv · run.json</p><p style="color:#52606d;font-size:12px">config digest {}</p></section></main></body></html>"#,
        esc(&m.config_digest)
    );
    std::fs::write(path, h)
}
