//! Task tokens are bearer secrets: whoever holds one can complete the task. The newtype keeps
//! the whole value out of logs and debug output.

use std::fmt;

/// A Step Functions task token. `Debug` and `Display` show a short prefix and a hash, enough to
/// correlate log lines, never the token.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaskToken(String);

impl TaskToken {
    pub fn new(token: impl Into<String>) -> Self {
        TaskToken(token.into())
    }

    /// The whole token, for the SDK call that needs it. Never log this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A short, stable, non-reversible label: six characters and a 32-bit FNV-1a hash.
    pub fn redacted(&self) -> String {
        let prefix: String = self.0.chars().take(6).collect();
        let mut hash: u32 = 0x811c_9dc5;
        for b in self.0.as_bytes() {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        format!("{prefix}…#{hash:08x}")
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskToken({})", self.redacted())
    }
}

impl fmt::Display for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_never_printed_whole() {
        let secret = "AAAAKgAAAAIAAAAAAAAAASECRETSECRETSECRETxyz0123456789";
        let token = TaskToken::new(secret);
        for shown in [
            format!("{token}"),
            format!("{token:?}"),
            format!("{token:#?}"),
        ] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(
                shown.contains("AAAAKg"),
                "a prefix helps correlation: {shown}"
            );
        }
        assert_eq!(token.expose(), secret);
    }

    #[test]
    fn redaction_distinguishes_tokens_with_the_same_prefix() {
        let a = TaskToken::new("AAAAKg-first");
        let b = TaskToken::new("AAAAKg-second");
        assert_ne!(a.redacted(), b.redacted());
        assert_eq!(a.redacted(), TaskToken::new("AAAAKg-first").redacted());
    }
}
