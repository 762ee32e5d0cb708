//! A wrong command line (exit 2), as opposed to a run that failed (exit 1).
//! At the bottom: the checks that find one live in several layers.

#[derive(Debug)]
pub struct FlagError(pub String);

impl FlagError {
    pub fn new(msg: impl Into<String>) -> FlagError {
        FlagError(msg.into())
    }
}

impl std::fmt::Display for FlagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FlagError {}

/// A flag error as the `anyhow::Error` the checks return.
pub fn flag_error(msg: impl Into<String>) -> anyhow::Error {
    FlagError::new(msg).into()
}
