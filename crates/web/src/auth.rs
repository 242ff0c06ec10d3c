//! Sessions, roles and CSRF.
//!
//! - The session cookie holds a random token; the database keeps only its
//!   sha256, with an expiry (`sessions.expires_at`) checked on every request.
//!   Cookie: HttpOnly, SameSite=Strict, Path=/ (Secure when configured).
//! - Each session has a CSRF token: every POST form carries it in a hidden
//!   field, every API POST in the `X-CSRF-Token` header. The sign-in form,
//!   before any session exists, uses a double-submit cookie instead.
//! - Roles are enforced by extractors: a handler takes [`SignedIn`] (any role,
//!   then checks the department itself) or [`Analyst`] (403 for department
//!   users). No handler reads data without one of them.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::i18n::Lang;
use crate::store::{Role, StoreError, User};
use crate::AppState;

pub const SESSION_COOKIE: &str = "hedui_session";
/// Double-submit token of the sign-in form (before a session exists).
pub const LOGIN_COOKIE: &str = "hedui_login";
pub const LANG_COOKIE: &str = "hedui_lang";

/// A signed-in user's session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    token_hash: String,
}

impl Session {
    /// Whether `token` is this session's CSRF token (constant time).
    pub fn csrf_ok(&self, token: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), token.as_bytes())
    }

    /// The department a department user is limited to.
    pub fn department(&self) -> Option<&str> {
        match &self.user.role {
            Role::Department(d) => Some(d),
            Role::Analyst => None,
        }
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes as hex (the thread RNG is a CSPRNG seeded by the OS).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex(&b)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// The value of a cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// A `Set-Cookie` value with the attributes every hedui cookie has.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age_secs: i64, http_only: bool, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; Max-Age={max_age_secs}; SameSite=Strict");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Starts a session for `user`; returns the cookie token.
pub async fn create_session(state: &AppState, user: &User) -> Result<String, StoreError> {
    let token = random_token();
    let ttl = state.options().session_ttl.as_secs() as i64;
    let pool = state.store().pool();
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now()).execute(pool).await?;
    sqlx::query("INSERT INTO sessions (token_hash, user_name, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(sha256_hex(&token))
        .bind(user.name.clone())
        .bind(random_token())
        .bind(now())
        .bind(now() + ttl)
        .execute(pool)
        .await?;
    Ok(token)
}

pub async fn end_session(state: &AppState, session: &Session) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(session.token_hash.clone()).execute(state.store().pool()).await?;
    Ok(())
}

/// The live session of a request, if any.
pub async fn session_of(headers: &HeaderMap, state: &AppState) -> Result<Option<Session>, StoreError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    if token.len() != 64 {
        return Ok(None);
    }
    let hash = sha256_hex(&token);
    let row = sqlx::query("SELECT s.user_name, s.csrf, u.role, u.department FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = $1 AND s.expires_at > $2")
        .bind(hash.clone())
        .bind(now())
        .fetch_optional(state.store().pool())
        .await?;
    let Some(r) = row else { return Ok(None) };
    let role: String = r.try_get("role")?;
    let user = User { name: r.try_get("user_name")?, role: if role == "analyst" { Role::Analyst } else { Role::Department(r.try_get("department")?) } };
    Ok(Some(Session { user, csrf: r.try_get("csrf")?, token_hash: hash }))
}

/// The URI as the client sent it (inside `/api` the router strips the prefix).
fn original_uri(parts: &Parts) -> &axum::http::Uri {
    parts.extensions.get::<axum::extract::OriginalUri>().map(|o| &o.0).unwrap_or(&parts.uri)
}

fn is_api(parts: &Parts) -> bool {
    let path = original_uri(parts).path();
    path.starts_with("/api/") || path == "/api"
}

/// JSON error body of the API.
pub fn api_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// Not signed in: the API answers 401, pages send the browser to sign in.
fn unauthenticated(parts: &Parts) -> Response {
    if is_api(parts) {
        return api_error(StatusCode::UNAUTHORIZED, "sign in first (POST /login), then send the session cookie");
    }
    let next = original_uri(parts).path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let location = format!("/login?next={}", crate::html::urlencode(next));
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

/// Signed in but not allowed.
pub fn forbidden(api: bool, lang: Lang) -> Response {
    if api {
        return api_error(StatusCode::FORBIDDEN, "not allowed for your role");
    }
    crate::html::error_page(StatusCode::FORBIDDEN, lang)
}

fn internal(e: StoreError) -> Response {
    tracing::error!(error = %e, "session lookup failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

/// Any signed-in user (analyst or department).
pub struct SignedIn(pub Session);

/// An analyst: department users get 403.
pub struct Analyst(pub Session);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match session_of(&parts.headers, state).await {
            Ok(Some(s)) => Ok(SignedIn(s)),
            Ok(None) => Err(unauthenticated(parts)),
            Err(e) => Err(internal(e)),
        }
    }
}

impl FromRequestParts<AppState> for Analyst {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let SignedIn(s) = SignedIn::from_request_parts(parts, state).await?;
        if s.user.is_analyst() {
            Ok(Analyst(s))
        } else {
            tracing::warn!(user = %s.user.name, path = %original_uri(parts).path(), "department user refused");
            Err(forbidden(is_api(parts), lang_of(parts)))
        }
    }
}

/// The page language: `?lang=` first, then the cookie, then Chinese.
pub fn lang_of(parts: &Parts) -> Lang {
    let from_query = parts.uri.query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")).and_then(Lang::parse));
    from_query.or_else(|| cookie(&parts.headers, LANG_COOKIE).and_then(|v| Lang::parse(&v))).unwrap_or(Lang::Zh)
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(lang_of(parts))
    }
}

/// Where to go after signing in: only a path of this site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.chars().any(|c| c.is_control()) && !n.starts_with("/login") => n.to_string(),
        _ => "/".to_string(),
    }
}

/// The response that completes a sign-in: session cookie set, login cookie cleared.
pub fn signed_in_redirect(token: &str, next: &str, state: &AppState) -> Response {
    let secure = state.options().secure_cookies;
    let mut headers = HeaderMap::new();
    headers.append(SET_COOKIE, set_cookie(SESSION_COOKIE, token, "/", state.options().session_ttl.as_secs() as i64, true, secure));
    headers.append(SET_COOKIE, set_cookie(LOGIN_COOKIE, "", "/login", 0, true, secure));
    headers.insert(LOCATION, HeaderValue::from_str(next).unwrap_or(HeaderValue::from_static("/")));
    (StatusCode::SEE_OTHER, headers).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/runs/1")), "/runs/1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_among_several() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; hedui_session=abc; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        let c = set_cookie(SESSION_COOKIE, "t", "/", 60, true, false);
        assert_eq!(c.to_str().unwrap(), "hedui_session=t; Path=/; Max-Age=60; SameSite=Strict; HttpOnly");
    }
}
