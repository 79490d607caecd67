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
    /// The text is larger than [`crate::MAX_TEXT_BYTES`].
    #[error("text is {0} bytes, more than the limit of {limit}", limit = crate::MAX_TEXT_BYTES)]
    Oversize(usize),
}

impl ModelError {
    /// A short, stable name for metrics labels and dead-letter headers.
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::InvalidJson(e) if e.is_data() => "invalid_post",
            ModelError::InvalidJson(_) => "invalid_json",
            ModelError::EmptyField(_) => "missing_field",
            ModelError::Oversize(_) => "oversize",
        }
    }
}
