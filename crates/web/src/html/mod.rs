//! Server-rendered pages: the layout, the style sheet (inline, in the
//! binary), formatting helpers and error pages. maud escapes every value.

pub mod charts;
mod pages;

pub use pages::*;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::auth::Session;
use crate::i18n::{self, Lang};

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;background:#f4f6f8;color:#1f2933;font-size:14px;line-height:1.5}
a{color:#1d4f91;text-decoration:none} a:hover{text-decoration:underline}
header.top{background:#1f3a5f;color:#fff;display:flex;align-items:center;gap:28px;padding:0 24px;height:52px}
header.top .brand{color:#fff;font-weight:700;font-size:17px;letter-spacing:.5px}
header.top nav{display:flex;gap:20px;height:100%}
header.top nav a{color:#c7d3e0;display:flex;align-items:center;border-bottom:3px solid transparent}
header.top nav a.on{color:#fff;border-bottom-color:#fff}
header.top .me{margin-left:auto;display:flex;gap:14px;align-items:center;color:#c7d3e0;font-size:13px}
header.top .me a{color:#fff}
header.top form{margin:0}
header.top button{background:none;border:1px solid #7b93b0;color:#fff;border-radius:4px;padding:2px 10px;cursor:pointer;font:inherit;font-size:13px}
main{padding:16px 24px 48px;max-width:1320px;margin:0 auto}
.crumbs{color:#52606d;font-size:13px;margin:2px 0 4px}
h1{font-size:21px;margin:2px 0 4px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}
.sub{color:#52606d;margin:0 0 14px}
h2{font-size:16px;margin:0 0 10px}
h3{font-size:15px;margin:0 0 6px}
section.box{background:#fff;border-radius:8px;padding:14px 18px;margin-bottom:16px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}
.card{flex:1;min-width:130px;background:#fff;border-radius:8px;padding:10px 16px;box-shadow:0 1px 3px rgba(0,0,0,.08);color:inherit;display:block}
a.card:hover{text-decoration:none;box-shadow:0 2px 6px rgba(0,0,0,.18)}
.card b{display:block;font-size:26px;font-variant-numeric:tabular-nums}
.card span{color:#52606d;font-size:13px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #e4e7eb;padding:7px 8px;text-align:left;vertical-align:top}
th{background:#f5f7fa;font-weight:600;font-size:13px;color:#3e4c59;white-space:nowrap}
tr:hover td{background:#fafbfc}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;white-space:nowrap}
.v-ELIGIBLE{background:#e3f4e4;color:#1e6b25}
.v-INELIGIBLE{background:#fde4e4;color:#a61b1b}
.v-REVIEW{background:#fff1d6;color:#8a5a00}
.v-{background:#e4e7eb;color:#3e4c59}
.s-open{background:#e4e7eb;color:#3e4c59}
.s-confirmed{background:#fde4e4;color:#a61b1b}
.s-dismissed{background:#eceff1;color:#616e7c}
.s-corrected{background:#e3f4e4;color:#1e6b25}
.src-ok{color:#2e7d32;font-weight:600}
.src-bad{color:#c62828;font-weight:600}
.code{font-family:"DejaVu Sans Mono",ui-monospace,monospace;font-size:11.5px;color:#7b8794}
.mono{font-family:"DejaVu Sans Mono",ui-monospace,monospace;font-size:12.5px}
.muted{color:#7b8794}
.nowrap{white-space:nowrap}
.warn{background:#fff4e5;border-left:4px solid #f9a825;padding:10px 14px;margin-bottom:16px;border-radius:4px}
.err{background:#fde4e4;border-left:4px solid #c62828;padding:10px 14px;margin-bottom:16px;border-radius:4px}
.ok{background:#e3f4e4;border-left:4px solid #2e7d32;padding:10px 14px;margin-bottom:16px;border-radius:4px}
form.filters{display:flex;gap:12px;flex-wrap:wrap;align-items:flex-end;margin-bottom:12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#52606d;gap:3px}
form.filters select{max-width:300px}
.rv-reason{color:#8a5a00}
select,input[type=text],input[type=password],textarea{font:inherit;padding:5px 8px;border:1px solid #cbd2d9;border-radius:4px;background:#fff;color:#1f2933}
textarea{width:100%;min-height:80px}
button,.btn{font:inherit;background:#1f3a5f;color:#fff;border:0;border-radius:4px;padding:6px 16px;cursor:pointer;display:inline-block}
.btn.light,button.light{background:#e4e7eb;color:#1f2933}
a.btn:hover{text-decoration:none}
.pager{display:flex;gap:14px;align-items:center;margin-top:12px;color:#52606d}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media(max-width:1000px){.grid{grid-template-columns:1fr}}
.grid section.box{margin-bottom:0}
.grid + section.box,.grid + .grid{margin-top:16px}
.reason{border:1px solid #e4e7eb;border-left:5px solid #c62828;border-radius:6px;padding:10px 14px;margin-bottom:12px}
.reason.rv{border-left-color:#d69e2e}
.figures{display:flex;gap:28px;margin:8px 0 10px;flex-wrap:wrap}
.figures div span{display:block;font-size:12px;color:#52606d}
.figures div b{font-size:18px;font-variant-numeric:tabular-nums}
.over{color:#a61b1b}
.under{color:#1e6b25}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0}
dl.kv dt{color:#52606d}
dl.kv dd{margin:0;font-variant-numeric:tabular-nums}
.tabs{display:flex;gap:6px;margin-bottom:12px;flex-wrap:wrap}
.tabs a{padding:5px 14px;border-radius:16px;background:#e4e7eb;color:#1f2933}
.tabs a.on{background:#1f3a5f;color:#fff}
ul.chg{margin:0;padding:0;list-style:none}
ul.chg li{margin:1px 0;white-space:nowrap}
.chart{max-width:100%;height:auto}
.chart .lbl{font-size:12px;fill:#323f4b}
.chart .num{font-size:11px;fill:#52606d}
.chart a:hover rect{opacity:.8}
.login{max-width:380px;margin:70px auto;background:#fff;border-radius:10px;padding:26px 30px;box-shadow:0 2px 10px rgba(0,0,0,.1)}
.login h1{font-size:20px;margin-bottom:16px}
.login label{display:block;margin-bottom:12px;color:#52606d;font-size:13px}
.login input{width:100%;margin-top:4px}
.login button{width:100%;padding:8px}
.radios{display:flex;gap:18px;flex-wrap:wrap;margin:6px 0 12px}
.radios label{display:flex;gap:6px;align-items:center}
footer{color:#9aa5b1;font-size:12px;text-align:center;padding:10px}
"#;

/// A small hedui mark as the tab icon (inline, nothing fetched).
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%231f3a5f'/%3E%3Cpath d='M4 8.5l2.5 2.5L12 5' stroke='white' stroke-width='2' fill='none'/%3E%3C/svg%3E";

/// Which top-level section a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Runs,
    Feedback,
    None,
}

/// What every page knows about its request.
pub struct Ctx<'a> {
    pub lang: Lang,
    pub session: &'a Session,
    /// Path and query of this page (for the language switch).
    pub uri: String,
    pub state: &'a crate::AppState,
}

impl Ctx<'_> {
    pub fn t(&self, zh: &'static str, en: &'static str) -> &'static str {
        self.lang.t(zh, en)
    }

    pub fn county(&self, code: &str) -> String {
        self.state.county_label(code)
    }
}

/// Percent-encodes a query value or path segment.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path?k=v&…` with empty values left out.
pub fn url(path: &str, params: &[(&str, &str)]) -> String {
    let q: Vec<String> = params.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

/// The same page in the other language.
fn lang_switch(uri: &str, to: Lang) -> String {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut parts: Vec<&str> = query.split('&').filter(|kv| !kv.is_empty() && !kv.starts_with("lang=")).collect();
    let l = format!("lang={}", to.code());
    parts.push(&l);
    format!("{path}?{}", parts.join("&"))
}

/// Fen as yuan with thousands separators: `21,600.00`.
pub fn yuan(fen: i64) -> String {
    let neg = fen < 0;
    let abs = fen.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{:02}", if neg { "-" } else { "" }, abs % 100)
}

/// `2026-11-26T20:15:55Z` → `2026-11-26 20:15 UTC` (times are stored in UTC).
pub fn when(ts: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => ts.to_string(),
    }
}

pub fn opt_yuan(fen: Option<i64>) -> String {
    fen.map(yuan).unwrap_or_else(|| "—".into())
}

/// A margin with its sign: `+1,080.00`.
pub fn signed_yuan(fen: i64) -> String {
    if fen >= 0 {
        format!("+{}", yuan(fen))
    } else {
        yuan(fen)
    }
}

pub fn verdict_badge(v: &str, lang: Lang) -> Markup {
    html! { span class={ "badge v-" (v) } { (i18n::verdict(v, lang)) } }
}

pub fn status_badge(s: &str, lang: Lang) -> Markup {
    html! { span class={ "badge s-" (s) } { (i18n::review_status(s, lang)) } }
}

/// A label with its code in small type beneath or beside it.
pub fn labelled(label: &str, code: &str) -> Markup {
    html! {
        (label)
        @if label != code { " " span.code { (code) } }
    }
}

/// The `<head>` every page shares: inline CSS and icon, nothing fetched.
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width,initial-scale=1";
            title { (title) " · hedui" }
            link rel="icon" href=(FAVICON);
            style { (PreEscaped(CSS)) }
        }
    }
}

/// The page frame: top bar with navigation, user and language switch.
pub fn layout(ctx: &Ctx, nav: Nav, title: &str, body: Markup) -> Markup {
    let lang = ctx.lang;
    let analyst = ctx.session.user.is_analyst();
    html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            (head(title))
            body {
                header.top {
                    a.brand href="/" { (lang.t("hedui 核对工作台", "hedui workbench")) }
                    nav {
                        @if analyst {
                            a.on[nav == Nav::Runs] href="/runs" { (lang.t("核对批次", "Runs")) }
                        }
                        a.on[nav == Nav::Feedback] href="/feedback" { (lang.t("反馈文件", "Feedback files")) }
                    }
                    div.me {
                        span {
                            (ctx.session.user.name) " · "
                            @match ctx.session.department() {
                                None => (lang.t("分析员", "analyst")),
                                Some(d) => (i18n::department(d, lang)),
                            }
                        }
                        a href=(lang_switch(&ctx.uri, lang.other())) { (lang.other().t("中文", "English")) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(ctx.session.csrf);
                            button type="submit" { (lang.t("退出", "Sign out")) }
                        }
                    }
                }
                main { (body) }
                footer { "hedui · " (lang.t("家庭经济状况核对", "household economic-status verification")) }
            }
        }
    }
}

/// Breadcrumbs: (label, link) pairs, the last one unlinked.
pub fn crumbs(items: &[(String, Option<String>)]) -> Markup {
    html! {
        div.crumbs {
            @for (i, (label, href)) in items.iter().enumerate() {
                @if i > 0 { " › " }
                @match href {
                    Some(h) => a href=(h) { (label) },
                    None => span { (label) },
                }
            }
        }
    }
}

/// A bare page (sign-in, errors): no navigation.
pub fn bare(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            (head(title))
            body { (body) }
        }
    }
}

/// 403 / 404 / 400 as a page.
pub fn error_page(status: StatusCode, lang: Lang) -> Response {
    let (title, text) = match status {
        StatusCode::FORBIDDEN => (lang.t("无权访问", "Not allowed"), lang.t("您的角色不能查看此页面或文件。", "Your role may not see this page or file.")),
        StatusCode::NOT_FOUND => (lang.t("未找到", "Not found"), lang.t("没有这个页面、批次或记录。", "There is no such page, run or record.")),
        _ => (lang.t("请求无效", "Bad request"), lang.t("请求无法处理，请返回重试。", "The request could not be handled; go back and try again.")),
    };
    let body = html! {
        div.login {
            h1 { (status.as_u16()) " · " (title) }
            p { (text) }
            p { a href="/" { (lang.t("返回首页", "Back to the start page")) } }
        }
    };
    (status, bare(lang, title, body)).into_response()
}

pub fn internal_error(e: impl std::fmt::Display) -> Response {
    crate::store_error(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_and_signed() {
        assert_eq!(yuan(2_160_000), "21,600.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(-108_000), "-1,080.00");
        assert_eq!(yuan(100_000_000), "1,000,000.00");
        assert_eq!(signed_yuan(0), "+0.00");
    }

    #[test]
    fn the_language_switch_keeps_the_filters() {
        assert_eq!(lang_switch("/runs/1/discrepancies?code=ID_INVALID&lang=zh", Lang::En), "/runs/1/discrepancies?code=ID_INVALID&lang=en");
        assert_eq!(lang_switch("/runs", Lang::En), "/runs?lang=en");
    }

    #[test]
    fn urls_encode_their_values() {
        assert_eq!(url("/x", &[("a", "b c"), ("d", ""), ("e", "云")]), "/x?a=b%20c&e=%E4%BA%91");
    }
}
