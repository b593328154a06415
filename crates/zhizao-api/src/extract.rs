//! Request extractors that turn bad input into [`ApiError`]s naming the
//! field: JSON bodies (syntax, unknown fields, wrong types, size) and
//! list query strings.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use zhizao_store::{Filter, ListQuery, Sort};

use crate::error::ApiError;

/// A JSON body, deserialised with the path of any failing field.
pub struct ValidJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "request body is larger than the server accepts",
            ),
            other => ApiError::bad_request(other.body_text()),
        })?;
        parse_json(&bytes).map(ValidJson)
    }
}

/// Parses JSON, reporting syntax errors as 400 and shape errors as 422 with
/// the field path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("request body is not valid JSON: {inner}"),
            );
        }
        let msg = inner.to_string();
        // Missing fields are reported at their parent's path; name them.
        let field = match named_field(&msg) {
            Some(f) if path == "." => f,
            Some(f) if msg.starts_with("missing field") => format!("{path}.{f}"),
            _ if path == "." => "body".to_owned(),
            _ => path,
        };
        ApiError::validation(field.clone(), format!("{field}: {msg}"))
    })
}

/// The field serde names in "unknown field `x`, …" or "missing field `x`".
fn named_field(msg: &str) -> Option<String> {
    let rest = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("missing field `"))?;
    Some(rest.split('`').next()?.to_owned())
}

/// A numeric `{id}` path segment; anything else is a 422 naming `id`.
pub struct IdPath(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad_request(e.body_text()))?;
        raw.parse::<i64>()
            .map(IdPath)
            .map_err(|_| ApiError::validation("id", format!("id: `{raw}` is not an integer id")))
    }
}

/// Raw query parameters.
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(q)
            .map(QueryMap)
            .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))
    }
}

/// A filter a list endpoint accepts: query name, SQL condition template, kind.
pub struct FilterSpec {
    pub name: &'static str,
    pub condition: &'static str,
    pub integer: bool,
}

fn int_param(name: &str, v: &str) -> Result<i64, ApiError> {
    v.parse::<i64>()
        .map_err(|_| ApiError::validation(name, format!("{name}: `{v}` is not an integer")))
}

/// Builds a [`ListQuery`] from `limit`, `offset`, `sort`, `q` and the
/// endpoint's own filters; any other parameter is an error.
pub fn list_query(
    params: &HashMap<String, String>,
    filters: &[FilterSpec],
) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery::default();
    for (k, v) in params {
        match k.as_str() {
            "limit" => {
                let n = int_param("limit", v)?;
                if !(1..=zhizao_store::MAX_LIMIT).contains(&n) {
                    return Err(ApiError::validation(
                        "limit",
                        format!("limit: must be between 1 and {}", zhizao_store::MAX_LIMIT),
                    ));
                }
                q.limit = n;
            }
            "offset" => {
                let n = int_param("offset", v)?;
                if n < 0 {
                    return Err(ApiError::validation(
                        "offset",
                        "offset: must not be negative",
                    ));
                }
                q.offset = n;
            }
            "sort" => {
                let (sort, desc) = Sort::parse(v).ok_or_else(|| {
                    ApiError::validation(
                        "sort",
                        format!("sort: `{v}` is not one of id, code, name, created_at (prefix - for descending)"),
                    )
                })?;
                q.sort = sort;
                q.descending = desc;
            }
            "q" => {
                if !v.trim().is_empty() {
                    q.search = Some(v.trim().to_owned());
                }
            }
            other => {
                let spec = filters.iter().find(|f| f.name == other).ok_or_else(|| {
                    let known: Vec<&str> = ["limit", "offset", "sort", "q"]
                        .into_iter()
                        .chain(filters.iter().map(|f| f.name))
                        .collect();
                    ApiError::validation(
                        other,
                        format!(
                            "unknown query parameter `{other}`; expected one of {}",
                            known.join(", ")
                        ),
                    )
                })?;
                let value = if spec.integer {
                    Filter::Int(int_param(spec.name, v)?)
                } else {
                    Filter::Text(v.clone())
                };
                q.filters.push((spec.condition, value));
            }
        }
    }
    // HashMap order is random; keep SQL text stable for the statement cache.
    q.filters.sort_by_key(|(c, _)| *c);
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        code: String,
        line_id: i64,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Body>(br#"{"code":"A","line_id":"x"}"#).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.field.as_deref()),
            (422, Some("line_id"))
        );
        let e = parse_json::<Body>(br#"{"code":"A","line_id":1,"colour":2}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("colour"));
        let e = parse_json::<Body>(br#"{"code":"A"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("line_id"));
        let e = parse_json::<Body>(b"\"text\"").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
        let e = parse_json::<Body>(b"{nope").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "malformed_json"));
    }

    #[test]
    fn list_params_are_checked() {
        let f = [FilterSpec {
            name: "line_id",
            condition: "line_id = {}",
            integer: true,
        }];
        let p = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let q = list_query(
            &p(&[("limit", "10"), ("sort", "-name"), ("line_id", "3")]),
            &f,
        )
        .unwrap();
        assert_eq!((q.limit, q.sort, q.descending), (10, Sort::Name, true));
        assert_eq!(q.filters, vec![("line_id = {}", Filter::Int(3))]);
        assert_eq!(
            list_query(&p(&[("limit", "0")]), &f)
                .unwrap_err()
                .field
                .as_deref(),
            Some("limit")
        );
        assert_eq!(
            list_query(&p(&[("site_id", "1")]), &f)
                .unwrap_err()
                .field
                .as_deref(),
            Some("site_id")
        );
        assert_eq!(
            list_query(&p(&[("line_id", "x")]), &f)
                .unwrap_err()
                .field
                .as_deref(),
            Some("line_id")
        );
    }
}
