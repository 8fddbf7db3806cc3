//! `--tags` / `--skip-tags` selection with Ansible's special tags.

/// Which tasks run.
#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    only: Vec<String>,
    skip: Vec<String>,
}

impl TagFilter {
    /// From the CLI lists (`all` in `only` means no restriction).
    pub fn new(only: &[String], skip: &[String]) -> Self {
        let only = only.iter().filter(|t| t.as_str() != "all").cloned().collect();
        TagFilter { only, skip: skip.to_vec() }
    }

    /// True when a task with `tags` runs.
    pub fn selects(&self, tags: &[String]) -> bool {
        let has = |t: &str| tags.iter().any(|x| x == t);
        if self.skip.iter().any(|s| has(s) || (s == "tagged" && !tags.is_empty()) || (s == "untagged" && tags.is_empty())) {
            return false;
        }
        if self.only.is_empty() {
            return !has("never");
        }
        if has("always") {
            return true;
        }
        self.only.iter().any(|o| has(o) || (o == "tagged" && !tags.is_empty()) || (o == "untagged" && tags.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn ansible_rules() {
        let all = TagFilter::new(&[], &[]);
        assert!(all.selects(&v(&[])));
        assert!(!all.selects(&v(&["never"])));
        let only = TagFilter::new(&v(&["net"]), &[]);
        assert!(only.selects(&v(&["net"])));
        assert!(only.selects(&v(&["always"])));
        assert!(!only.selects(&v(&["mirror"])));
        let skip = TagFilter::new(&[], &v(&["always"]));
        assert!(!skip.selects(&v(&["always"])));
    }
}
