//! The error type of the algorithms crate.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum AlgorithmsError {
    /// A parameter of an architecture, weighting, optimizer or model is out of range;
    /// `key` names it relative to its YAML entry.
    #[error("{key}: {message}")]
    InvalidParameter { key: String, message: String },
}

impl AlgorithmsError {
    /// The offending parameter's name.
    pub fn key(&self) -> &str {
        match self {
            AlgorithmsError::InvalidParameter { key, .. } => key,
        }
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        match self {
            AlgorithmsError::InvalidParameter { message, .. } => message,
        }
    }

    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        AlgorithmsError::InvalidParameter {
            key: key.to_string(),
            message: message.into(),
        }
    }
}
