//! Page handlers. Each one takes [`Analyst`] or [`SignedIn`]: no page is
//! rendered without a role check.

use axum::extract::{Form, Path, Query, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::charts::{self, Bar, TrendColumn};
use super::*;
use crate::auth::{self, Analyst, SignedIn};
use crate::data::{self, DiscrepancyFilter, HouseholdFilter, ListQuery, Page, PAGE_SIZE, REVIEW_STATUSES};
use crate::i18n::{self, Lang};
use crate::AppState;

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response()
}

fn path_and_query(uri: &Uri) -> String {
    uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into())
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

// ---------------------------------------------------------------------------
// Start, sign-in, sign-out, rescan

pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match auth::session_of(&headers, &state).await {
        Ok(Some(s)) if s.user.is_analyst() => redirect("/runs"),
        Ok(Some(_)) => redirect("/feedback"),
        Ok(None) => redirect("/login"),
        Err(e) => internal_error(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
}

fn login_page(state: &AppState, lang: Lang, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let token = auth::random_token();
    let body = html! {
        div.login {
            h1 { (lang.t("hedui 核对工作台", "hedui workbench")) }
            @if let Some(e) = error { div.err { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(next);
                label { (lang.t("用户名", "User name")) input type="text" name="name" autocomplete="username" required autofocus; }
                label { (lang.t("密码", "Password")) input type="password" name="password" autocomplete="current-password" required; }
                button type="submit" { (lang.t("登录", "Sign in")) }
            }
            p.muted style="font-size:12px;margin-top:14px" {
                a href={ "/login?lang=" (lang.other().code()) "&next=" (urlencode(next)) } { (lang.other().t("中文", "English")) }
                " · " (lang.t("账号由管理员以 hedui user add 创建", "Accounts are created with hedui user add"))
            }
        }
    };
    let mut res = (status, bare(lang, lang.t("登录", "Sign in"), body)).into_response();
    res.headers_mut().append(SET_COOKIE, auth::set_cookie(auth::LOGIN_COOKIE, &token, "/login", 1800, true, state.options().secure_cookies));
    res
}

pub async fn login_form(State(state): State<AppState>, lang: Lang, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    if let Ok(Some(_)) = auth::session_of(&headers, &state).await {
        return redirect("/");
    }
    login_page(&state, lang, &auth::safe_next(q.next.as_deref()), None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub csrf: String,
    pub next: Option<String>,
}

pub async fn login(State(state): State<AppState>, lang: Lang, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let next = auth::safe_next(f.next.as_deref());
    let expected = auth::cookie(&headers, auth::LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !auth::constant_time_eq(expected.as_bytes(), f.csrf.as_bytes()) {
        return login_page(&state, lang, &next, Some(lang.t("表单已过期，请重新登录。", "The form expired; please sign in again.")), StatusCode::FORBIDDEN);
    }
    match state.store().check_password(&f.name, &f.password).await {
        Ok(Some(user)) => match auth::create_session(&state, &user).await {
            Ok(token) => {
                tracing::info!(user = %user.name, "signed in");
                let next = if user.is_analyst() || next.starts_with("/feedback") || next.starts_with("/runs/") && next.contains("/feedback/") { next } else { "/".to_string() };
                auth::signed_in_redirect(&token, &next, &state)
            }
            Err(e) => internal_error(e),
        },
        Ok(None) => {
            tracing::warn!("sign-in failed");
            login_page(&state, lang, &next, Some(lang.t("用户名或密码错误。", "Wrong user name or password.")), StatusCode::UNAUTHORIZED)
        }
        Err(e) => internal_error(e),
    }
}

pub async fn logout(State(state): State<AppState>, SignedIn(s): SignedIn, lang: Lang, Form(f): Form<CsrfForm>) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return error_page(StatusCode::FORBIDDEN, lang);
    }
    if let Err(e) = auth::end_session(&state, &s).await {
        return internal_error(e);
    }
    let mut res = redirect("/login");
    res.headers_mut().append(SET_COOKIE, auth::set_cookie(auth::SESSION_COOKIE, "", "/", 0, true, state.options().secure_cookies));
    res
}

pub async fn refresh(State(state): State<AppState>, Analyst(s): Analyst, lang: Lang, Form(f): Form<CsrfForm>) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return error_page(StatusCode::FORBIDDEN, lang);
    }
    if let Err(e) = state.refresh().await {
        tracing::warn!(error = %e, "rescan failed");
    }
    redirect("/runs")
}

pub async fn not_found(lang: Lang) -> Response {
    error_page(StatusCode::NOT_FOUND, lang)
}

// ---------------------------------------------------------------------------
// Runs

fn change_links(ctx: &Ctx, run_id: &str, c: &crate::import::ChangeSummary, top: usize) -> Markup {
    let lang = ctx.lang;
    let rows = [
        ("ineligible", lang.t("新增不符合", "newly ineligible"), &c.newly_ineligible, "over"),
        ("eligible", lang.t("新增符合", "newly eligible"), &c.newly_eligible, "under"),
        ("review", lang.t("新增待复核", "newly in review"), &c.newly_review, ""),
    ];
    html! {
        ul.chg {
            @for (kind, label, count, class) in rows {
                li {
                    a href=(url(&format!("/runs/{run_id}/changes"), &[("kind", kind)])) { span class=(class) { (label) " " b { (count.households) } } }
                    @if !count.reasons.is_empty() {
                        span.muted {
                            " · "
                            @for (i, (code, n)) in count.reasons.iter().take(top).enumerate() {
                                @if i > 0 { ", " }
                                @if kind == "eligible" { (lang.t("消除 ", "lost ")) }
                                (i18n::reason(code, lang)) " " (n)
                            }
                            @if count.reasons.len() > top { " …" }
                        }
                    }
                }
            }
        }
    }
}

fn sources_cell(ctx: &Ctx, r: &data::RunSummary) -> Markup {
    let bad: Vec<&data::SourceStatus> = r.unavailable_sources().collect();
    html! {
        @if bad.is_empty() {
            span.src-ok { (ctx.t("全部正常", "all ok")) " " (r.sources.len()) "/" (r.sources.len()) }
        } @else {
            @for s in &bad {
                div.src-bad title=(s.reason.clone().unwrap_or_default()) { (i18n::department(&s.code, ctx.lang)) " " (i18n::source_status(&s.status, ctx.lang)) }
            }
            span.muted { (r.sources.len() - bad.len()) "/" (r.sources.len()) " " (ctx.t("正常", "ok")) }
        }
    }
}

pub async fn runs_page(State(state): State<AppState>, Analyst(s): Analyst, lang: Lang, uri: Uri) -> Response {
    let runs = match data::runs(state.store()).await {
        Ok(r) => r,
        Err(e) => return internal_error(e),
    };
    let ctx = Ctx { lang, session: &s, uri: path_and_query(&uri), state: &state };
    let scan = state.last_scan();
    let body = html! {
        h1 { (ctx.t("核对批次", "Runs")) }
        p.sub {
            (ctx.t("每晚核对的结果。点击数字查看对应家庭，点击批次查看概览。", "Each night's results. Click a number for those households, a run for its dashboard."))
        }
        @if let Some(scan) = &scan {
            @if let Some(e) = &scan.error { div.err { (ctx.t("扫描批次目录失败：", "Scanning the runs folder failed: ")) (e) } }
            @for (run, why) in &scan.report.failed { div.warn { (ctx.t("未能导入 ", "Not imported: ")) b { (run) } " — " (why) } }
        }
        section.box {
            @if runs.is_empty() {
                p { (ctx.t("还没有已发布的批次。先运行 hedui run，再点“重新扫描”。", "No published run yet. Run hedui run, then press Rescan.")) }
            } @else {
                table {
                    tr {
                        th { (ctx.t("批次", "Run")) }
                        th { (ctx.t("核对日期", "As of")) }
                        th.n { (ctx.t("家庭", "Households")) }
                        th.n { (ctx.t("符合", "Eligible")) }
                        th.n { (ctx.t("不符合", "Ineligible")) }
                        th.n { (ctx.t("待复核", "Review")) }
                        th.n { (ctx.t("问题记录", "Discrepancies")) }
                        th { (ctx.t("数据源", "Sources")) }
                        th { (ctx.t("较上一批次的变化", "Change since the previous run")) }
                    }
                    @for r in &runs {
                        @let hh = format!("/runs/{}/households", r.run_id);
                        tr {
                            td { a href={ "/runs/" (r.run_id) } { b { (r.run_id) } } br; span.muted style="font-size:12px" { (when(&r.finished_at)) } }
                            td.nowrap { (r.as_of) }
                            td.n { a href=(hh) { (r.households) } }
                            td.n { a.under href=(url(&hh, &[("verdict", "ELIGIBLE")])) { (r.eligible) } }
                            td.n { a.over href=(url(&hh, &[("verdict", "INELIGIBLE")])) { b { (r.ineligible) } } }
                            td.n { a href=(url(&hh, &[("verdict", "REVIEW")])) { (r.review) } }
                            td.n { a href={ "/runs/" (r.run_id) "/discrepancies" } { (r.discrepancies) } }
                            td { (sources_cell(&ctx, r)) }
                            td {
                                @match &r.changes {
                                    Some(c) => {
                                        span.muted style="font-size:12px" { (ctx.t("对比 ", "vs ")) (c.previous_run_id) }
                                        (change_links(&ctx, &r.run_id, c, 2))
                                    }
                                    None => span.muted { (ctx.t("首个批次", "first run")) },
                                }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action="/refresh" {
            input type="hidden" name="csrf" value=(s.csrf);
            button.light type="submit" { (ctx.t("重新扫描批次目录", "Rescan the runs folder")) }
            @if let Some(scan) = &scan { span.muted style="margin-left:10px;font-size:12px" { (ctx.t("上次扫描 ", "last scan ")) (when(&scan.at)) } }
        }
    };
    layout(&ctx, Nav::Runs, ctx.t("核对批次", "Runs"), body).into_response()
}

fn run_crumbs(ctx: &Ctx, run_id: &str, rest: &[(String, Option<String>)]) -> Markup {
    let mut items = vec![(ctx.t("核对批次", "Runs").to_string(), Some("/runs".to_string())), (run_id.to_string(), Some(format!("/runs/{run_id}")))];
    items.extend_from_slice(rest);
    if rest.is_empty() {
        items[1].1 = None;
    }
    crumbs(&items)
}

pub async fn dashboard_page(State(state): State<AppState>, Analyst(s): Analyst, lang: Lang, uri: Uri, Path(run_id): Path<String>) -> Response {
    let d = match data::dashboard(state.store(), &run_id).await {
        Ok(Some(d)) => d,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, lang),
        Err(e) => return internal_error(e),
    };
    let ctx = Ctx { lang, session: &s, uri: path_and_query(&uri), state: &state };
    let r = &d.run;
    let base = format!("/runs/{}", r.run_id);
    let hh = format!("{base}/households");
    let disc = format!("{base}/discrepancies");
    let verdict_series = [(lang.t("符合", "eligible"), charts::GREEN), (lang.t("不符合", "ineligible"), charts::RED), (lang.t("待复核", "review"), charts::AMBER)];
    let county_bars: Vec<Bar> = d
        .by_county
        .iter()
        .map(|b| Bar { label: ctx.county(&b.key), tooltip: ctx.county(&b.key), href: Some(url(&hh, &[("county", &b.key)])), values: vec![b.eligible, b.ineligible, b.review] })
        .collect();
    let program_bars: Vec<Bar> = d
        .by_program
        .iter()
        .map(|b| {
            let (p, a) = b.key.split_once(' ').unwrap_or((&b.key, ""));
            let label = format!("{} · {}", i18n::program(p, lang), i18n::area(a, lang));
            Bar { label: label.clone(), tooltip: label, href: Some(url(&hh, &[("program", p)])), values: vec![b.eligible, b.ineligible, b.review] }
        })
        .collect();
    let reason_bars: Vec<Bar> = d.by_reason.iter().map(|c| Bar { label: i18n::reason(&c.code, lang), tooltip: c.code.clone(), href: Some(url(&hh, &[("reason", &c.code)])), values: vec![c.count] }).collect();
    let dept_bars: Vec<Bar> = d.by_department.iter().map(|c| Bar { label: i18n::department(&c.code, lang), tooltip: c.code.clone(), href: Some(url(&disc, &[("department", &c.code)])), values: vec![c.count] }).collect();
    let code_bars: Vec<Bar> = d
        .by_code
        .iter()
        .take(15)
        .map(|c| Bar {
            label: format!("{} · {}", i18n::discrepancy(&c.code, lang), i18n::department(&c.department, lang)),
            tooltip: format!("{} → {}", c.code, c.department),
            href: Some(url(&disc, &[("department", &c.department), ("code", &c.code)])),
            values: vec![c.count],
        })
        .collect();
    let status_bars: Vec<Bar> = d.review_status.iter().map(|c| Bar { label: i18n::review_status(&c.code, lang).to_string(), tooltip: c.code.clone(), href: Some(url(&disc, &[("status", &c.code)])), values: vec![c.count] }).collect();
    let trend: Vec<TrendColumn> = d
        .trend
        .iter()
        .map(|t| TrendColumn { label: t.as_of.get(5..).unwrap_or(&t.as_of).to_string(), href: format!("/runs/{}", t.run_id), eligible: t.eligible, ineligible: t.ineligible, review: t.review, discrepancies: t.discrepancies, current: t.run_id == r.run_id })
        .collect();
    let one = [("", charts::BLUE)];
    let purple = [("", charts::PURPLE)];
    let body = html! {
        (run_crumbs(&ctx, &r.run_id, &[]))
        h1 { (ctx.t("批次 ", "Run ")) (r.run_id) }
        p.sub {
            (ctx.t("核对日期 ", "as of ")) b { (r.as_of) } " · " (ctx.t("政策 ", "policy ")) (r.policy) " · "
            (ctx.t("完成于 ", "finished ")) (when(&r.finished_at)) " · " (ctx.t("退出码 ", "exit code ")) (r.exit_code) " · "
            a href={ (base) "/report" } { (ctx.t("批次报告", "batch report")) }
        }
        @let bad: Vec<&data::SourceStatus> = r.unavailable_sources().collect();
        @if !bad.is_empty() {
            div.warn {
                b { (ctx.t("部分数据源不可用：相关家庭为待复核（DEPARTMENT_DATA_UNAVAILABLE）", "Some sources were unavailable: the households concerned are in review (DEPARTMENT_DATA_UNAVAILABLE)")) }
                ul { @for s in &bad { li { b { (i18n::department(&s.code, lang)) } " — " (s.reason.clone().unwrap_or_default()) } } }
            }
        }
        div.cards {
            a.card href=(hh) { b { (r.households) } span { (ctx.t("家庭", "households")) } }
            a.card href=(url(&hh, &[("verdict", "ELIGIBLE")])) { b style="color:#2e7d32" { (r.eligible) } span { (ctx.t("符合", "eligible")) } }
            a.card href=(url(&hh, &[("verdict", "INELIGIBLE")])) { b style="color:#c62828" { (r.ineligible) } span { (ctx.t("不符合", "ineligible")) } }
            a.card href=(url(&hh, &[("verdict", "REVIEW")])) { b style="color:#b7791f" { (r.review) } span { (ctx.t("待复核", "in review")) } }
            a.card href=(disc) { b { (r.discrepancies) } span { (ctx.t("问题记录", "discrepancies")) } }
            div.card { b { (r.quarantined_rows) } span { (ctx.t("隔离行", "quarantined rows")) } }
        }
        section.box {
            h2 { (ctx.t("较上一批次的变化", "Change since the previous run")) }
            @match &r.changes {
                Some(c) => { p.muted { (ctx.t("对比批次 ", "compared with run ")) a href={ "/runs/" (c.previous_run_id) } { (c.previous_run_id) } } (change_links(&ctx, &r.run_id, c, 5)) }
                None => p.muted { (ctx.t("这是第一个批次，没有可对比的上一批次。", "This is the first run: there is nothing to compare with.")) },
            }
        }
        div.grid {
            section.box { h2 { (ctx.t("按区县核对结果", "Verdicts by county")) } (charts::hbars(&county_bars, &verdict_series)) }
            section.box { h2 { (ctx.t("按项目和城乡", "Verdicts by program and area")) } (charts::hbars(&program_bars, &verdict_series)) }
        }
        div.grid {
            section.box { h2 { (ctx.t("原因分布（家庭数）", "Reasons (households)")) } (charts::hbars(&reason_bars, &one)) }
            section.box { h2 { (ctx.t("近期批次趋势", "Trend over the last runs")) } (charts::trend(&trend, lang)) }
        }
        div.grid {
            section.box { h2 { (ctx.t("按部门问题记录", "Discrepancies by department")) } (charts::hbars(&dept_bars, &purple)) }
            section.box { h2 { (ctx.t("按问题代码", "Discrepancies by code")) } (charts::hbars(&code_bars, &purple)) }
        }
        div.grid {
            section.box { h2 { (ctx.t("复核进度", "Review progress")) } (charts::hbars(&status_bars, &one)) }
            section.box {
                h2 { (ctx.t("数据源状态", "Source status")) }
                table {
                    tr { th { (ctx.t("数据源", "Source")) } th { (ctx.t("状态", "Status")) } th.n { (ctx.t("读取", "Read")) } th.n { (ctx.t("使用", "Used")) } th.n { (ctx.t("隔离", "Quarantined")) } }
                    @for s in &r.sources {
                        tr {
                            td { (i18n::department(&s.code, lang)) " " span.code { (s.code) } }
                            td { span class=(if s.status == "ok" { "src-ok" } else { "src-bad" }) title=(s.reason.clone().unwrap_or_default()) { (i18n::source_status(&s.status, lang)) } }
                            td.n { (s.records_read) } td.n { (s.records_used) } td.n { (s.records_quarantined) }
                        }
                    }
                }
            }
        }
    };
    layout(&ctx, Nav::Runs, &format!("{} {}", ctx.t("批次", "Run"), r.run_id), body).into_response()
}

// ---------------------------------------------------------------------------
// Paging and filter widgets

fn pager<T>(ctx: &Ctx, page: &Page<T>, path: &str, params: &[(&str, &str)]) -> Markup {
    let first = page.offset + 1;
    let last = page.offset + page.items.len() as i64;
    let with = |k: &'static str, v: &str| {
        let mut p: Vec<(&str, &str)> = params.to_vec();
        p.push((k, v));
        url(path, &p)
    };
    html! {
        div.pager {
            @if page.total == 0 {
                span { (ctx.t("没有符合条件的记录。", "Nothing matches these filters.")) }
            } @else {
                span { (ctx.t("第 ", "Rows ")) (first) "–" (last) (ctx.t(" 条，共 ", " of ")) b { (page.total) } (ctx.t(" 条", "")) }
            }
            @if page.prev_before.is_some() || page.offset > 0 {
                a.btn.light href=(url(path, params)) { (ctx.t("« 首页", "« First")) }
            }
            @if let Some(b) = &page.prev_before { a.btn.light href=(with("before", b)) { (ctx.t("‹ 上一页", "‹ Previous")) } }
            @if let Some(a) = &page.next_after { a.btn.light href=(with("after", a)) { (ctx.t("下一页 ›", "Next ›")) } }
        }
    }
}

fn select(name: &str, label: &str, any: &str, options: &[(String, String)], selected: Option<&str>) -> Markup {
    html! {
        label {
            (label)
            select name=(name) {
                option value="" { (any) }
                @for (value, text) in options {
                    option value=(value) selected[selected == Some(value.as_str())] { (text) }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Discrepancies

pub async fn discrepancies_page(State(state): State<AppState>, Analyst(s): Analyst, lang: Lang, uri: Uri, Path(run_id): Path<String>, Query(q): Query<ListQuery>) -> Response {
    let run = match data::run(state.store(), &run_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, lang),
        Err(e) => return internal_error(e),
    };
    let filter = DiscrepancyFilter { department: q.department.clone(), code: q.code.clone(), county: q.county.clone(), status: q.status.clone(), household: q.household.clone() }.normalized();
    let cursor = q.cursor();
    let (page, choices) = match tokio::try_join!(data::discrepancies(state.store(), &run_id, &filter, &cursor, PAGE_SIZE), state.filter_choices(&run_id)) {
        Ok(x) => x,
        Err(e) => return internal_error(e),
    };
    let ctx = Ctx { lang, session: &s, uri: path_and_query(&uri), state: &state };
    let path = format!("/runs/{run_id}/discrepancies");
    let params: Vec<(&str, &str)> = [("department", &filter.department), ("code", &filter.code), ("county", &filter.county), ("status", &filter.status), ("household", &filter.household)]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect();
    let dept_opts: Vec<(String, String)> = choices.departments.iter().map(|d| (d.clone(), i18n::department(d, lang))).collect();
    let code_opts: Vec<(String, String)> = choices.codes.iter().map(|c| (c.clone(), format!("{} {}", i18n::discrepancy(c, lang), c))).collect();
    let county_opts: Vec<(String, String)> = choices.counties.iter().map(|c| (c.clone(), ctx.county(c))).collect();
    let status_opts: Vec<(String, String)> = REVIEW_STATUSES.iter().map(|st| (st.to_string(), i18n::review_status(st, lang).to_string())).collect();
    let any = ctx.t("全部", "any");
    let body = html! {
        (run_crumbs(&ctx, &run_id, &[(ctx.t("问题记录", "Discrepancies").to_string(), None)]))
        h1 { (ctx.t("问题记录", "Discrepancies")) span.muted style="font-size:14px;font-weight:400" { (run.run_id) " · " (run.as_of) } }
        section.box {
            form.filters method="get" action=(path) {
                (select("department", ctx.t("部门", "Department"), any, &dept_opts, filter.department.as_deref()))
                (select("code", ctx.t("问题代码", "Code"), any, &code_opts, filter.code.as_deref()))
                (select("county", ctx.t("区县", "County"), any, &county_opts, filter.county.as_deref()))
                (select("status", ctx.t("复核状态", "Review status"), any, &status_opts, filter.status.as_deref()))
                @if let Some(h) = &filter.household { input type="hidden" name="household" value=(h); }
                button type="submit" { (ctx.t("筛选", "Filter")) }
                a.btn.light href=(path) { (ctx.t("清除", "Clear")) }
            }
            table {
                tr {
                    th.n { "#" } th { (ctx.t("问题", "Finding")) } th { (ctx.t("部门", "Department")) } th { (ctx.t("家庭", "Household")) } th { (ctx.t("区县", "County")) }
                    th { (ctx.t("身份证号", "ID number")) } th { (ctx.t("记录标识", "Record")) } th { (ctx.t("详情", "Detail")) } th { (ctx.t("复核", "Review")) }
                }
                @for d in &page.items {
                    tr {
                        td.n { (d.seq) }
                        td { (labelled(&i18n::discrepancy(&d.code, lang), &d.code)) }
                        td.nowrap { (i18n::department(&d.department, lang)) }
                        td.nowrap { @if d.household_id.is_empty() { span.muted { "—" } } @else { a href={ "/runs/" (run_id) "/households/" (urlencode(&d.household_id)) } { (d.household_id) } } }
                        td.nowrap { (ctx.county(&d.county_code)) }
                        td.mono.nowrap { (d.person_id) }
                        td.mono { (d.record_ref) }
                        td { (d.detail) }
                        td.nowrap { a href={ "/runs/" (run_id) "/discrepancies/" (d.seq) } { (status_badge(&d.review.status, lang)) " " (ctx.t("处理", "review")) } }
                    }
                }
            }
            (pager(&ctx, &page, &path, &params))
        }
    };
    layout(&ctx, Nav::Runs, ctx.t("问题记录", "Discrepancies"), body).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub version: i64,
}

fn review_view(ctx: &Ctx, run_id: &str, d: &data::DiscrepancyDetail, message: Option<Markup>, draft: Option<&ReviewForm>) -> Markup {
    let lang = ctx.lang;
    let row = &d.row;
    let current = draft.map(|f| f.status.as_str()).unwrap_or(&row.review.status);
    let comment = draft.map(|f| f.comment.as_str()).unwrap_or(&row.review.comment);
    html! {
        (run_crumbs(ctx, run_id, &[(ctx.t("问题记录", "Discrepancies").to_string(), Some(format!("/runs/{run_id}/discrepancies"))), (format!("#{}", row.seq), None)]))
        h1 { (i18n::discrepancy(&row.code, lang)) span.code { (row.code) } (status_badge(&row.review.status, lang)) }
        @if let Some(m) = message { (m) }
        div.grid {
            section.box {
                h2 { (ctx.t("问题详情", "Finding")) }
                dl.kv {
                    dt { (ctx.t("部门", "Department")) } dd { (i18n::department(&row.department, lang)) " " span.code { (row.department) } }
                    dt { (ctx.t("家庭", "Household")) } dd { @if row.household_id.is_empty() { "—" } @else { a href={ "/runs/" (run_id) "/households/" (urlencode(&row.household_id)) } { (row.household_id) } } }
                    dt { (ctx.t("区县", "County")) } dd { (ctx.county(&row.county_code)) }
                    dt { (ctx.t("身份证号", "ID number")) } dd.mono { (row.person_id) }
                    dt { (ctx.t("记录标识", "Record")) } dd.mono { @if row.record_ref.is_empty() { "—" } @else { (row.record_ref) } }
                    dt { (ctx.t("详情", "Detail")) } dd { (row.detail) }
                    dt { (ctx.t("出现于批次", "Found in runs")) } dd { @for (i, r) in d.seen_in_runs.iter().enumerate() { @if i > 0 { ", " } a href={ "/runs/" (r) } { (r) } } }
                }
            }
            section.box {
                h2 { (ctx.t("复核", "Review")) }
                form method="post" action={ "/runs/" (run_id) "/discrepancies/" (row.seq) } {
                    input type="hidden" name="csrf" value=(ctx.session.csrf);
                    input type="hidden" name="version" value=(row.review.version);
                    div.radios {
                        @for st in REVIEW_STATUSES {
                            label { input type="radio" name="status" value=(st) checked[current == st]; (status_badge(st, lang)) }
                        }
                    }
                    label { (ctx.t("说明（排除时必填）", "Comment (required to dismiss)")) textarea name="comment" maxlength="2000" { (comment) } }
                    p { button type="submit" { (ctx.t("保存复核", "Save review")) } }
                }
                p.muted style="font-size:12px" {
                    (ctx.t("复核结果随问题保留：之后的批次再次发现同一问题时沿用。", "The review stays with the finding: later runs that find it again show it."))
                }
            }
        }
        section.box {
            h2 { (ctx.t("复核历史（只增不改）", "Review history (append-only)")) }
            @if d.history.is_empty() {
                p.muted { (ctx.t("尚未复核。", "Not reviewed yet.")) }
            } @else {
                table {
                    tr { th.n { "#" } th { (ctx.t("时间", "When")) } th { (ctx.t("复核人", "Who")) } th { (ctx.t("批次", "Run")) } th { (ctx.t("变更", "Change")) } th { (ctx.t("说明", "Comment")) } }
                    @for h in &d.history {
                        tr {
                            td.n { (h.version) } td.nowrap { (when(&h.at)) } td { (h.by) } td { (h.run_id) }
                            td.nowrap { (status_badge(&h.before_status, lang)) " → " (status_badge(&h.after_status, lang)) }
                            td {
                                @if h.before_comment != h.after_comment && !h.before_comment.is_empty() { del.muted { (h.before_comment) } br; }
                                (h.after_comment)
                            }
                        }
                    }
                }
            }
        }
    }
}

fn parse_seq(seq: &str) -> Option<i64> {
    seq.parse::<i64>().ok().filter(|n| *n > 0)
}

pub async fn review_page(State(state): State<AppState>, Analyst(s): Analyst, lang: Lang, uri: Uri, Path((run_id, seq)): Path<(String, String)>, Query(q): Query<ListQuery>) -> Response {
    let Some(seq) = parse_seq(&seq) else { return error_page(StatusCode::NOT_FOUND, lang) };
    let d = match data::discrepancy(state.store(), &run_id, seq).await {
        Ok(Some(d)) => d,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, lang),
        Err(e) => return internal_error(e),
    };
    let ctx = Ctx { lang, session: &s, uri: path_and_query(&uri), state: &state };
    let message = q.saved.as_ref().map(|_| html! { div.ok { (ctx.t("复核已保存。", "Review saved.")) } });
    layout(&ctx, Nav::Runs, ctx.t("复核", "Review"), review_view(&ctx, &run_id, &d, message, None)).into_response()
}

pub async fn review_post(State(state): State<AppState>, Analyst(s): Analyst, lang: Lang, uri: Uri, Path((run_id, seq)): Path<(String, String)>, Form(f): Form<ReviewForm>) -> Response {
    let Some(seq) = parse_seq(&seq) else { return error_page(StatusCode::NOT_FOUND, lang) };
    if !s.csrf_ok(&f.csrf) {
        tracing::warn!(user = %s.user.name, "review refused: bad CSRF token");
        return error_page(StatusCode::FORBIDDEN, lang);
    }
    let (status, message) = match data::set_review(state.store(), &run_id, seq, &s.user, &f.status, &f.comment, f.version).await {
        Ok(_) => {
            tracing::info!(user = %s.user.name, run = %run_id, seq, status = %f.status, "review recorded");
            return redirect(&format!("/runs/{run_id}/discrepancies/{seq}?saved=1"));
        }
        Err(data::ReviewError::NotFound) => return error_page(StatusCode::NOT_FOUND, lang),
        Err(data::ReviewError::Store(e)) => return internal_error(e),
        Err(data::ReviewError::Conflict(v)) => (StatusCode::CONFLICT, format!("{} (v{v})", lang.t("其他人刚刚修改了此复核，请查看最新状态后再提交。", "Someone else changed this review meanwhile; check the current state and submit again."))),
        Err(data::ReviewError::CommentRequired) => (StatusCode::BAD_REQUEST, lang.t("排除问题时请填写说明。", "Please say why when dismissing.").to_string()),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
    };
    let d = match data::discrepancy(state.store(), &run_id, seq).await {
        Ok(Some(d)) => d,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, lang),
        Err(e) => return internal_error(e),
    };
    let ctx = Ctx { lang, session: &s, uri: path_and_query(&uri), state: &state };
    let draft = if status == StatusCode::CONFLICT { None } else { Some(&f) };
    (status, layout(&ctx, Nav::Runs, ctx.t("复核", "Review"), review_view(&ctx, &run_id, &d, Some(html! { div.err { (message) } }), draft))).into_response()
}

// ---------------------------------------------------------------------------
// Households

/// "by how much": the margin of a reason that compares amounts.
fn margin_text(ctx: &Ctx, r: &data::ReasonBrief) -> Markup {
    html! {
        @match r.margin_fen {
            Some(0) => span.over.nowrap { (ctx.t("等于限额", "at the limit")) },
            Some(m) => span.over.nowrap { (ctx.t("超出 ", "over by ")) (signed_yuan(m)) },
            None => {},
        }
    }
}

pub async fn households_page(State(state): State<AppState>, Analyst(s): Analyst, lang: Lang, uri: Uri, Path(run_id): Path<String>, Query(q): Query<ListQuery>) -> Response {
    let run = match data::run(state.store(), &run_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, lang),
        Err(e) => return internal_error(e),
    };
    let filter = HouseholdFilter { verdict: q.verdict.clone(), county: q.county.clone(), program: q.program.clone(), reason: q.reason.clone(), q: q.q.clone() }.normalized();
    let cursor = q.cursor();
    let (page, choices) = match tokio::try_join!(data::households(state.store(), &run_id, &filter, &cursor, PAGE_SIZE), state.filter_choices(&run_id)) {
        Ok(x) => x,
        Err(e) => return internal_error(e),
    };
    let ctx = Ctx { lang, session: &s, uri: path_and_query(&uri), state: &state };
    let path = format!("/runs/{run_id}/households");
    let params: Vec<(&str, &str)> = [("verdict", &filter.verdict), ("county", &filter.county), ("program", &filter.program), ("reason", &filter.reason), ("q", &filter.q)]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect();
    let verdict_opts: Vec<(String, String)> = ["ELIGIBLE", "INELIGIBLE", "REVIEW"].iter().map(|v| (v.to_string(), i18n::verdict(v, lang).to_string())).collect();
    let county_opts: Vec<(String, String)> = choices.counties.iter().map(|c| (c.clone(), ctx.county(c))).collect();
    let program_opts: Vec<(String, String)> = choices.programs.iter().map(|p| (p.clone(), i18n::program(p, lang))).collect();
    let reason_opts: Vec<(String, String)> = choices.reasons.iter().map(|c| (c.clone(), i18n::reason(c, lang))).collect();
    let any = ctx.t("全部", "any");
    let body = html! {
        (run_crumbs(&ctx, &run_id, &[(ctx.t("家庭", "Households").to_string(), None)]))
        h1 { (ctx.t("家庭核对结果", "Households")) span.muted style="font-size:14px;font-weight:400" { (run.run_id) " · " (run.as_of) } }
        section.box {
            form.filters method="get" action=(path) {
                (select("verdict", ctx.t("结论", "Verdict"), any, &verdict_opts, filter.verdict.as_deref()))
                (select("reason", ctx.t("原因", "Reason"), any, &reason_opts, filter.reason.as_deref()))
                (select("county", ctx.t("区县", "County"), any, &county_opts, filter.county.as_deref()))
                (select("program", ctx.t("项目", "Program"), any, &program_opts, filter.program.as_deref()))
                label { (ctx.t("家庭编号", "Household ID")) input type="text" name="q" value=(filter.q.clone().unwrap_or_default()) size="12"; }
                button type="submit" { (ctx.t("筛选", "Filter")) }
                a.btn.light href=(path) { (ctx.t("清除", "Clear")) }
            }
            table {
                tr {
                    th { (ctx.t("家庭", "Household")) } th { (ctx.t("结论", "Verdict")) } th { (ctx.t("原因 · 差额 · 数据来源", "Reasons · margin · whose data")) }
                    th { (ctx.t("区县", "County")) } th { (ctx.t("项目", "Program")) } th.n { (ctx.t("计入人数", "Members")) }
                    th.n { (ctx.t("年净收入", "Net income 12m")) } th.n { (ctx.t("金融资产", "Financial assets")) }
                }
                @for h in &page.items {
                    tr {
                        td { a href={ "/runs/" (run_id) "/households/" (urlencode(&h.household_id)) } { b { (h.household_id) } } }
                        td { (verdict_badge(&h.verdict, lang)) }
                        td {
                            @for r in &h.reasons {
                                div.rv-reason[!is_ineligible_reason(&r.code)] {
                                    (i18n::reason(&r.code, lang)) " " (margin_text(&ctx, r))
                                    @if !r.departments.is_empty() {
                                        span.muted { " · " @for (i, dpt) in r.departments.iter().enumerate() { @if i > 0 { ", " } (i18n::department(dpt, lang)) } }
                                    }
                                }
                            }
                        }
                        td.nowrap { (ctx.county(&h.county_code)) }
                        td.nowrap { (i18n::program(&h.program, lang)) " · " (i18n::area(&h.area_type, lang)) }
                        td.n { (h.counted_members) }
                        td.n { (opt_yuan(h.net_income_12m_fen)) }
                        td.n { (opt_yuan(h.financial_assets_fen)) }
                    }
                }
            }
            (pager(&ctx, &page, &path, &params))
        }
    };
    layout(&ctx, Nav::Runs, ctx.t("家庭", "Households"), body).into_response()
}

pub async fn household_page(State(state): State<AppState>, Analyst(s): Analyst, lang: Lang, uri: Uri, Path((run_id, household_id)): Path<(String, String)>) -> Response {
    let h = match data::household(state.store(), &run_id, &household_id).await {
        Ok(Some(h)) => h,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, lang),
        Err(e) => return internal_error(e),
    };
    let ctx = Ctx { lang, session: &s, uri: path_and_query(&uri), state: &state };
    let v = &h.verdict;
    let body = html! {
        (run_crumbs(&ctx, &run_id, &[(ctx.t("家庭", "Households").to_string(), Some(format!("/runs/{run_id}/households"))), (v.household_id.clone(), None)]))
        h1 { (ctx.t("家庭 ", "Household ")) (v.household_id) (verdict_badge(&v.verdict, lang)) }
        p.sub {
            (i18n::program(&v.program, lang)) " · " (i18n::area(&v.area_type, lang)) " · " (ctx.county(&v.county_code)) " · "
            (ctx.t("计入成员 ", "counted members ")) (v.counted_members) " · " (ctx.t("批次 ", "run ")) (run_id)
            @if !h.income_window.is_empty() { " · " (ctx.t("收入核算期 ", "income window ")) (h.income_window) }
        }
        @if !h.unusable_departments.is_empty() {
            div.warn { b { (ctx.t("以下部门的数据无法用于本户：", "Data of these departments could not be used for this household: ")) } (h.unusable_departments.join("; ")) }
        }
        section.box {
            h2 { (ctx.t("结论依据", "Why this verdict")) }
            @if h.reasons.is_empty() {
                p { (ctx.t("各项条件均已满足，未发现不符合或待复核的原因。", "Every condition is met: no reason for ineligibility or review was found.")) }
            }
            @for r in &h.reasons {
                @let ineligible = v.verdict == "INELIGIBLE" && is_ineligible_reason(&r.code);
                div class={ "reason" @if !ineligible { " rv" } } {
                    h3 { (i18n::reason(&r.code, lang)) " " span.code { (r.code) } }
                    p style="margin:2px 0" { (r.summary) }
                    @if r.value_fen.is_some() || r.limit_fen.is_some() || r.margin_fen.is_some() {
                        div.figures {
                            div { span { (ctx.t("核算值", "Value")) } b { (opt_yuan(r.value_fen)) } }
                            div { span { (ctx.t("限额", "Limit")) } b { (opt_yuan(r.limit_fen)) } }
                            @if let Some(m) = r.margin_fen {
                                div { span { (ctx.t("差额（超出为正）", "Margin (over is +)")) } b.over { (signed_yuan(m)) " " (ctx.t("元", "yuan")) } }
                            }
                        }
                    }
                    @if !r.evidence.is_empty() {
                        table {
                            tr { th { (ctx.t("数据来源部门", "Department")) } th { (ctx.t("记录", "Record")) } th { (ctx.t("来源文件/请求", "From")) } th { (ctx.t("记录内容", "What it says")) } }
                            @for e in &r.evidence {
                                tr { td.nowrap { b { (i18n::department(&e.department, lang)) } } td.mono { (e.record_ref) } td.mono { (e.origin) } td { (e.fact) } }
                            }
                        }
                    }
                    @if !r.parameters.is_empty() {
                        p.muted style="font-size:12px;margin:6px 0 0" {
                            (ctx.t("所用参数：", "Parameters used: "))
                            @for (i, p) in r.parameters.iter().enumerate() {
                                @if i > 0 { "; " }
                                span.mono { (p.name) " = " (p.value) } @if !p.effective_from.is_empty() { " (" (ctx.t("自 ", "from ")) (p.effective_from) ")" }
                            }
                        }
                    }
                }
            }
        }
        div.grid {
            section.box {
                h2 { (ctx.t("收入与资产", "Income and assets")) }
                dl.kv {
                    dt { (ctx.t("月保障标准", "Monthly standard")) } dd { (opt_yuan(v.standard_monthly_fen)) }
                    dt { (ctx.t("12个月总收入", "Gross income, 12 months")) } dd { (opt_yuan(v.gross_income_12m_fen)) }
                    dt { (ctx.t("医疗支出扣减", "Medical deduction")) } dd { (opt_yuan(v.medical_deduction_fen)) }
                    dt { (ctx.t("12个月净收入", "Net income, 12 months")) } dd { b { (opt_yuan(v.net_income_12m_fen)) } }
                    dt { (ctx.t("金融资产", "Financial assets")) } dd { b { (opt_yuan(v.financial_assets_fen)) } }
                }
                p.muted style="font-size:12px" { (ctx.t("单位：元。“—”表示该项所依据的部门数据不可用。", "In yuan. “—”: the department data it rests on could not be used.")) }
            }
            section.box {
                h2 { (ctx.t("历次核对", "Verdict history")) }
                table {
                    tr { th { (ctx.t("批次", "Run")) } th { (ctx.t("核对日期", "As of")) } th { (ctx.t("结论", "Verdict")) } th { (ctx.t("原因", "Reasons")) } }
                    @for p in &h.history {
                        tr {
                            td { @if p.run_id == run_id { b { (p.run_id) } } @else { a href={ "/runs/" (p.run_id) "/households/" (urlencode(&v.household_id)) } { (p.run_id) } } }
                            td { (p.as_of) } td { (verdict_badge(&p.verdict, lang)) }
                            td { @for (i, c) in p.reason_codes.iter().enumerate() { @if i > 0 { ", " } (i18n::reason(c, lang)) } }
                        }
                    }
                }
            }
        }
        section.box {
            h2 { (ctx.t("家庭成员", "Members")) }
            table {
                tr { th { (ctx.t("姓名", "Name")) } th { (ctx.t("身份证号", "ID number")) } th { (ctx.t("关系", "Relation")) } th.n { (ctx.t("年龄", "Age")) } th { (ctx.t("户籍状态", "Registry status")) } th { (ctx.t("是否计入", "Counted")) } }
                @for m in &h.members {
                    tr {
                        td { (m.name) } td.mono { (m.id) } td { (m.relation) } td.n { (m.age.map(|a| a.to_string()).unwrap_or_default()) } td { (m.registry_status) }
                        td { @if m.counted { span.src-ok { (ctx.t("计入", "yes")) } } @else { span.src-bad { (ctx.t("不计入", "no")) } } }
                    }
                }
            }
        }
        section.box {
            h2 { (ctx.t("本户问题记录", "Discrepancies of this household")) }
            @if h.discrepancies.is_empty() {
                p.muted { (ctx.t("无。", "None.")) }
            } @else {
                table {
                    tr { th { (ctx.t("问题", "Finding")) } th { (ctx.t("部门", "Department")) } th { (ctx.t("身份证号", "ID number")) } th { (ctx.t("记录标识", "Record")) } th { (ctx.t("详情", "Detail")) } th { (ctx.t("复核", "Review")) } }
                    @for d in &h.discrepancies {
                        tr {
                            td { (labelled(&i18n::discrepancy(&d.code, lang), &d.code)) }
                            td.nowrap { (i18n::department(&d.department, lang)) }
                            td.mono.nowrap { (d.person_id) } td.mono { (d.record_ref) } td { (d.detail) }
                            td.nowrap { a href={ "/runs/" (run_id) "/discrepancies/" (d.seq) } { (status_badge(&d.review.status, lang)) " " (ctx.t("处理", "review")) } }
                        }
                    }
                }
            }
        }
    };
    layout(&ctx, Nav::Runs, &format!("{} {}", ctx.t("家庭", "Household"), v.household_id), body).into_response()
}

/// INELIGIBLE reasons (POLICY §7); the others lead to REVIEW.
fn is_ineligible_reason(code: &str) -> bool {
    matches!(code, "INCOME_ABOVE_STANDARD" | "FINANCIAL_ASSETS_ABOVE_LIMIT" | "VEHICLE_OWNED" | "MULTIPLE_RESIDENTIAL_PROPERTIES" | "NON_RESIDENTIAL_PROPERTY" | "BUSINESS_OWNER" | "PUBLIC_PAYROLL" | "TEKUN_NOT_QUALIFIED")
}

// ---------------------------------------------------------------------------
// Changes since the previous run

pub async fn changes_page(State(state): State<AppState>, Analyst(s): Analyst, lang: Lang, uri: Uri, Path(run_id): Path<String>, Query(q): Query<ListQuery>) -> Response {
    let run = match data::run(state.store(), &run_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, lang),
        Err(e) => return internal_error(e),
    };
    let kind = q.kind.as_deref().filter(|k| ["ineligible", "eligible", "review"].contains(k));
    let page = match data::changes(state.store(), &run_id, kind, &q.cursor(), PAGE_SIZE).await {
        Ok(p) => p,
        Err(e) => return internal_error(e),
    };
    let ctx = Ctx { lang, session: &s, uri: path_and_query(&uri), state: &state };
    let path = format!("/runs/{run_id}/changes");
    let params: Vec<(&str, &str)> = kind.map(|k| vec![("kind", k)]).unwrap_or_default();
    let counts = run.changes.clone().unwrap_or_default();
    let tabs = [
        (None, ctx.t("全部变化", "All changes"), counts.newly_ineligible.households + counts.newly_eligible.households + counts.newly_review.households),
        (Some("ineligible"), ctx.t("新增不符合", "Newly ineligible"), counts.newly_ineligible.households),
        (Some("eligible"), ctx.t("新增符合", "Newly eligible"), counts.newly_eligible.households),
        (Some("review"), ctx.t("新增待复核", "Newly in review"), counts.newly_review.households),
    ];
    let body = html! {
        (run_crumbs(&ctx, &run_id, &[(ctx.t("较上一批次的变化", "Changes").to_string(), None)]))
        h1 { (ctx.t("较上一批次的变化", "Change since the previous run")) }
        @match &run.changes {
            Some(c) => p.sub { (run.run_id) " (" (run.as_of) ") " (ctx.t("对比 ", "compared with ")) a href={ "/runs/" (c.previous_run_id) } { (c.previous_run_id) } },
            None => p.sub { (ctx.t("这是第一个批次，没有可对比的上一批次。", "This is the first run: there is nothing to compare with.")) },
        }
        div.tabs {
            @for (k, label, n) in tabs {
                a.on[k == kind] href=(url(&path, &k.map(|k| vec![("kind", k)]).unwrap_or_default())) { (label) " " (n) }
            }
        }
        section.box {
            table {
                tr { th { (ctx.t("家庭", "Household")) } th { (ctx.t("上一批次", "Before")) } th { "" } th { (ctx.t("本批次", "Now")) } th { (ctx.t("新增原因", "Reasons gained")) } th { (ctx.t("消除原因", "Reasons lost")) } }
                @for c in &page.items {
                    tr {
                        td { a href={ "/runs/" (run_id) "/households/" (urlencode(&c.household_id)) } { b { (c.household_id) } } }
                        td { (verdict_badge(&c.before_verdict, lang)) } td { "→" } td { (verdict_badge(&c.after_verdict, lang)) }
                        td { @for r in &c.reasons_added { div.over { "+ " (i18n::reason(r, lang)) } } }
                        td { @for r in &c.reasons_removed { div.under { "− " (i18n::reason(r, lang)) } } }
                    }
                }
            }
            (pager(&ctx, &page, &path, &params))
        }
    };
    layout(&ctx, Nav::Runs, ctx.t("变化", "Changes"), body).into_response()
}

// ---------------------------------------------------------------------------
// The batch's own report and the feedback files

pub async fn batch_report(State(state): State<AppState>, Analyst(_s): Analyst, lang: Lang, Path(run_id): Path<String>) -> Response {
    match data::run(state.store(), &run_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return error_page(StatusCode::NOT_FOUND, lang),
        Err(e) => return internal_error(e),
    }
    match tokio::fs::read(state.out().join(&run_id).join("report.html")).await {
        Ok(bytes) => ([(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], bytes).into_response(),
        Err(_) => error_page(StatusCode::NOT_FOUND, lang),
    }
}

pub async fn feedback_page(State(state): State<AppState>, SignedIn(s): SignedIn, lang: Lang, uri: Uri) -> Response {
    let own = s.department().map(str::to_string);
    let runs = match data::feedback(state.store(), state.out(), own.as_deref()).await {
        Ok(r) => r,
        Err(e) => return internal_error(e),
    };
    let ctx = Ctx { lang, session: &s, uri: path_and_query(&uri), state: &state };
    let body = html! {
        h1 {
            (ctx.t("部门反馈文件", "Department feedback files"))
            @if let Some(d) = &own { span.muted style="font-size:15px;font-weight:400" { " — " (i18n::department(d, lang)) } }
        }
        p.sub {
            @if own.is_some() {
                (ctx.t("本部门数据中核对发现的问题，每个批次一份（CSV 可用 Excel 打开；XLSX 为 Excel 格式）。", "Problems found in your department's data, one file per run (CSV opens in Excel; XLSX is Excel's format)."))
            } @else {
                (ctx.t("每个部门只能看到并下载自己的文件。", "Each department sees and downloads only its own files."))
            }
        }
        section.box {
            @if runs.is_empty() {
                p.muted { (ctx.t("还没有批次。", "No run yet.")) }
            } @else {
                table {
                    tr { th { (ctx.t("批次", "Run")) } th { (ctx.t("核对日期", "As of")) } th { (ctx.t("部门", "Department")) } th.n { (ctx.t("问题条数", "Rows")) } th { (ctx.t("下载", "Download")) } }
                    @for r in &runs {
                        @if r.departments.is_empty() {
                            tr { td { (r.run_id) } td { (r.as_of) } td.muted colspan="3" { (ctx.t("本批次无问题记录", "no finding in this run")) } }
                        }
                        @for f in &r.departments {
                            tr {
                                td { (r.run_id) } td { (r.as_of) }
                                td { (i18n::department(&f.department, lang)) " " span.code { (f.department) } }
                                td.n { (f.rows) }
                                td { @for (i, file) in f.files.iter().enumerate() { @if i > 0 { " · " } a href={ "/runs/" (r.run_id) "/feedback/" (file) } { (file) } } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(&ctx, Nav::Feedback, ctx.t("反馈文件", "Feedback files"), body).into_response()
}
