//! The error type of the tasks crate: each variant says what to change.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum TasksError {
    /// A suite parameter is out of range; `key` is the parameter's name inside the suite.
    #[error("{key}: {message}")]
    InvalidParameter { key: String, message: String },
}

impl TasksError {
    /// The offending parameter's name.
    pub fn key(&self) -> &str {
        match self {
            TasksError::InvalidParameter { key, .. } => key,
        }
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        match self {
            TasksError::InvalidParameter { message, .. } => message,
        }
    }

    /// A problem with a data file (missing, damaged, malformed); `key` is the suite
    /// parameter to change (usually `data_dir`).
    pub fn data(key: &str, message: impl Into<String>) -> Self {
        Self::invalid(key, message)
    }

    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        TasksError::InvalidParameter {
            key: key.to_string(),
            message: message.into(),
        }
    }
}
