//! `/api/`: the same data as the pages, as JSON (documented in docs/api.md).
//! Same session cookie as the pages; POSTs carry the session's CSRF token in
//! the `X-CSRF-Token` header (GET /api/me returns it).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::{api_error, Analyst, SignedIn};
use crate::data::{self, DiscrepancyFilter, HouseholdFilter, ListQuery};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/runs", get(runs))
        .route("/refresh", axum::routing::post(refresh))
        .route("/runs/{run}", get(dashboard))
        .route("/runs/{run}/changes", get(changes))
        .route("/runs/{run}/households", get(households))
        .route("/runs/{run}/households/{household}", get(household))
        .route("/runs/{run}/discrepancies", get(discrepancies))
        .route("/runs/{run}/discrepancies/{seq}", get(discrepancy))
        .route("/runs/{run}/discrepancies/{seq}/review", axum::routing::post(review))
        .route("/feedback", get(feedback))
        .fallback(|| async { api_error(StatusCode::NOT_FOUND, "no such API endpoint") })
}

fn failed(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "API request failed");
    api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

fn not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "not found")
}

/// Checks the `X-CSRF-Token` header of a POST.
fn csrf_ok(headers: &HeaderMap, s: &crate::auth::Session) -> bool {
    headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).is_some_and(|t| s.csrf_ok(t))
}

async fn me(SignedIn(s): SignedIn) -> Response {
    Json(serde_json::json!({ "user": s.user, "csrf_token": s.csrf })).into_response()
}

async fn runs(State(state): State<AppState>, Analyst(_s): Analyst) -> Response {
    match data::runs(state.store()).await {
        Ok(r) => Json(serde_json::json!({ "runs": r, "last_scan": state.last_scan() })).into_response(),
        Err(e) => failed(e),
    }
}

async fn refresh(State(state): State<AppState>, Analyst(s): Analyst, headers: HeaderMap) -> Response {
    if !csrf_ok(&headers, &s) {
        return api_error(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token header");
    }
    match state.refresh().await {
        Ok(r) => Json(r).into_response(),
        Err(e) => failed(e),
    }
}

async fn dashboard(State(state): State<AppState>, Analyst(_s): Analyst, Path(run): Path<String>) -> Response {
    match data::dashboard(state.store(), &run).await {
        Ok(Some(d)) => Json(d).into_response(),
        Ok(None) => not_found(),
        Err(e) => failed(e),
    }
}

async fn changes(State(state): State<AppState>, Analyst(_s): Analyst, Path(run): Path<String>, Query(q): Query<ListQuery>) -> Response {
    match data::run(state.store(), &run).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(),
        Err(e) => return failed(e),
    }
    let kind = q.kind.as_deref().filter(|k| !k.is_empty());
    match data::changes(state.store(), &run, kind, &q.cursor(), q.limit()).await {
        Ok(p) => Json(p).into_response(),
        Err(e) => failed(e),
    }
}

async fn households(State(state): State<AppState>, Analyst(_s): Analyst, Path(run): Path<String>, Query(q): Query<ListQuery>) -> Response {
    match data::run(state.store(), &run).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(),
        Err(e) => return failed(e),
    }
    let filter = HouseholdFilter { verdict: q.verdict.clone(), county: q.county.clone(), program: q.program.clone(), reason: q.reason.clone(), q: q.q.clone() }.normalized();
    match data::households(state.store(), &run, &filter, &q.cursor(), q.limit()).await {
        Ok(p) => Json(p).into_response(),
        Err(e) => failed(e),
    }
}

async fn household(State(state): State<AppState>, Analyst(_s): Analyst, Path((run, household)): Path<(String, String)>) -> Response {
    match data::household(state.store(), &run, &household).await {
        Ok(Some(h)) => Json(h).into_response(),
        Ok(None) => not_found(),
        Err(e) => failed(e),
    }
}

async fn discrepancies(State(state): State<AppState>, Analyst(_s): Analyst, Path(run): Path<String>, Query(q): Query<ListQuery>) -> Response {
    match data::run(state.store(), &run).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(),
        Err(e) => return failed(e),
    }
    let filter = DiscrepancyFilter { department: q.department.clone(), code: q.code.clone(), county: q.county.clone(), status: q.status.clone(), household: q.household.clone() }.normalized();
    match data::discrepancies(state.store(), &run, &filter, &q.cursor(), q.limit()).await {
        Ok(p) => Json(p).into_response(),
        Err(e) => failed(e),
    }
}

async fn discrepancy(State(state): State<AppState>, Analyst(_s): Analyst, Path((run, seq)): Path<(String, i64)>) -> Response {
    match data::discrepancy(state.store(), &run, seq).await {
        Ok(Some(d)) => Json(d).into_response(),
        Ok(None) => not_found(),
        Err(e) => failed(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct ReviewBody {
    pub status: String,
    #[serde(default)]
    pub comment: String,
    /// The review version the client saw (0 when never reviewed).
    pub version: i64,
}

async fn review(State(state): State<AppState>, Analyst(s): Analyst, headers: HeaderMap, Path((run, seq)): Path<(String, i64)>, Json(body): Json<ReviewBody>) -> Response {
    if !csrf_ok(&headers, &s) {
        return api_error(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token header");
    }
    match data::set_review(state.store(), &run, seq, &s.user, &body.status, &body.comment, body.version).await {
        Ok(d) => {
            tracing::info!(user = %s.user.name, run = %run, seq, status = %body.status, "review recorded");
            Json(d).into_response()
        }
        Err(data::ReviewError::NotFound) => not_found(),
        Err(data::ReviewError::Store(e)) => failed(e),
        Err(e @ data::ReviewError::Conflict(_)) => api_error(StatusCode::CONFLICT, &e.to_string()),
        Err(e) => api_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// Feedback files: a department user's own only; analysts all.
async fn feedback(State(state): State<AppState>, SignedIn(s): SignedIn) -> Response {
    match data::feedback(state.store(), state.out(), s.department()).await {
        Ok(r) => Json(serde_json::json!({ "runs": r })).into_response(),
        Err(e) => failed(e),
    }
}
