//! The `description` of a mirror image status: free text, sometimes followed
//! by a JSON object (`"replaying, {...}"`), sometimes by a percentage
//! (`"bootstrapping, IMAGE_SYNC/COPY_IMAGE 45%"`).

use serde::{Deserialize, Deserializer};

use super::replay_progress::ReplayProgress;

/// A status description, kept raw and split into its parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusDescription {
    /// Exactly what rbd printed.
    pub raw: String,
    /// The text before any JSON, without the separating comma: `replaying`,
    /// `stopped`, `remote image is not primary`, `status not found`...
    pub text: String,
    /// The embedded JSON, when there is one and it parses.
    pub progress: Option<ReplayProgress>,
}

impl StatusDescription {
    /// Splits a raw description.
    pub fn new(raw: &str) -> Self {
        let (text, progress) = match raw.find('{') {
            Some(at) => (&raw[..at], ReplayProgress::from_json(&raw[at..])),
            None => (raw, None),
        };
        Self { raw: raw.to_string(), text: text.trim().trim_end_matches(',').trim_end().to_string(), progress }
    }

    /// A trailing `NN%` in the text (bootstrap / image sync progress).
    pub fn percent(&self) -> Option<u8> {
        let digits = self.text.strip_suffix('%')?;
        // Counting ASCII digit bytes from the end keeps the slice on a char boundary.
        let n = digits.bytes().rev().take_while(u8::is_ascii_digit).count();
        digits[digits.len() - n..].parse().ok().filter(|p| *p <= 100)
    }

    /// Whether the text contains `needle` (the human part only, not the JSON).
    pub fn says(&self, needle: &str) -> bool {
        self.text.contains(needle)
    }
}

impl<'de> Deserialize<'de> for StatusDescription {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Ok(Self::new(&raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_json() {
        let d = StatusDescription::new(r#"replaying, {"bytes_per_second":0.0,"entries_behind_primary":0}"#);
        assert_eq!(d.text, "replaying");
        assert_eq!(d.progress.unwrap().entries_behind_primary, Some(0));
    }

    #[test]
    fn plain_text_has_no_progress() {
        let d = StatusDescription::new("remote image is not primary");
        assert_eq!(d.text, "remote image is not primary");
        assert!(d.says("not primary"));
        assert_eq!(d.progress, None);
        assert_eq!(d.percent(), None);
    }

    #[test]
    fn broken_json_keeps_the_text() {
        let d = StatusDescription::new(r#"replaying, {"bytes_per_second":"#);
        assert_eq!(d.text, "replaying");
        assert_eq!(d.progress, None);
    }

    #[test]
    fn bootstrap_percentage() {
        let d = StatusDescription::new("bootstrapping, IMAGE_SYNC/COPY_IMAGE 45%");
        assert_eq!(d.percent(), Some(45));
        assert_eq!(StatusDescription::new("100%").percent(), Some(100));
        assert_eq!(StatusDescription::new("x 250%").percent(), None);
        assert_eq!(StatusDescription::new("%").percent(), None);
    }

    #[test]
    fn empty_and_odd_input() {
        assert_eq!(StatusDescription::new("").text, "");
        assert_eq!(StatusDescription::new("{").text, "");
        assert_eq!(StatusDescription::new("é, {}").text, "é");
        assert_eq!(StatusDescription::new("é45%").percent(), Some(45));
    }
}
