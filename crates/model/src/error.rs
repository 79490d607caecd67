//! Why a record could not be turned into a model value.

/// A record that is not a valid [`crate::Post`].
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not UTF-8 JSON of the expected shape.
    #[error("invalid JSON: {0}")]
    InvalidJson(#[from] serde_json::Error),
    /// A required field is present but empty.
    #[error("field `{0}` must not be empty")]
    EmptyField(&'static str),
    /// The record, its text or one of its fields is larger than its limit
    /// ([`crate::PostLimits`]).
    #[error("{what} is {size} bytes, more than the limit of {limit}")]
    Oversize {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    /// A JSON array where a post (a JSON object) belongs.
    #[error("invalid JSON: a post is a JSON object, not an array")]
    NotAnObject,
    /// `created_at` or `received_at` is far in the future or before 1970.
    #[error("{field} {} is {why}", time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))]
    ImplausibleTime {
        field: &'static str,
        time: chrono::DateTime<chrono::Utc>,
        why: String,
    },
    /// An id holds a control character (NUL, a newline…).
    #[error("field `{0}` contains a control character")]
    ControlCharacter(&'static str),
}

impl ModelError {
    /// A short, stable name for metrics labels and dead-letter headers.
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::InvalidJson(e) if e.is_data() => "invalid_post",
            ModelError::InvalidJson(_) => "invalid_json",
            ModelError::EmptyField(_) => "missing_field",
            ModelError::Oversize { .. } => "oversize",
            ModelError::NotAnObject => "invalid_post",
            ModelError::ControlCharacter(_) => "invalid_field",
            ModelError::ImplausibleTime { .. } => "implausible_time",
        }
    }
}
