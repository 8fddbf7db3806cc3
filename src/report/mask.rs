//! Secrets never reach an output: every string that leaves the executor goes
//! through the run's `Masker`.

use std::sync::{Arc, RwLock};

/// The text shown instead of a secret.
pub const MASK: &str = "********";

/// The set of secret values of a run. Cloning shares the set.
#[derive(Clone, Default)]
pub struct Masker {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Masker {
    /// Adds a secret. Very short values are not masked (masking "1" would mangle all output);
    /// they cannot carry a credential anyway.
    pub fn add(&self, secret: &str) {
        let secret = secret.trim();
        if secret.len() < 4 {
            return;
        }
        if let Ok(mut s) = self.secrets.write() {
            if !s.iter().any(|x| x == secret) {
                s.push(secret.to_string());
                // Longest first, so a secret containing another is masked whole.
                s.sort_by_key(|x| std::cmp::Reverse(x.len()));
            }
        }
    }

    /// `text` with every known secret replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let Ok(secrets) = self.secrets.read() else { return text.to_string() };
        let mut out = text.to_string();
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }

    /// True when no secret is registered (lets hot paths skip the scan).
    pub fn is_empty(&self) -> bool {
        self.secrets.read().map(|s| s.is_empty()).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_longest_first() {
        let m = Masker::default();
        m.add("abcd");
        m.add("abcdefgh");
        assert_eq!(m.mask("x abcdefgh y abcd"), "x ******** y ********");
    }
}
