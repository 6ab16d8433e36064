use std::borrow::Cow;

/// Why a raw input was refused. The message is shown to users as is, so it names the
/// field and says what a valid value looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The input field this error is about (`name`, `config_vars`, `quantity`, ...).
    pub field: &'static str,
    pub message: Cow<'static, str>,
}

impl ParseError {
    pub fn new(field: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
