//! Ansible's one-line module arguments: `copy: src=a dest="b c"` and
//! `command: ls -l chdir=/tmp`, split the way Ansible's `parse_kv` does.

use crate::vars::{Value, Vars};
use std::ops::Range;

/// Options that `command`-like modules pick out of their free-form string;
/// every other word, `a=b` or not, belongs to the command.
const RAW_OPTIONS: &[&str] = &["creates", "removes", "chdir", "executable", "stdin", "stdin_add_newline", "strip_empty_ends"];

/// A quote or a `{{`/`{%`/`{#` is not closed, so the words cannot be told apart.
#[derive(Debug, PartialEq)]
pub(crate) struct Unbalanced;

/// Splits `text` into arguments. `key=value` words become arguments and the
/// other words go, rejoined, to `_raw_params`, as Ansible does; whether the
/// module takes `_raw_params` is for it to say. With `raw` the text is a
/// command, and only the [`RAW_OPTIONS`] words are taken out of it.
pub(crate) fn parse(text: &str, raw: bool) -> Result<Vars, Unbalanced> {
    let words = split(text)?;
    let mut args = Vars::new();
    // Byte ranges of the words that stay in the command.
    let mut kept: Vec<Range<usize>> = Vec::new();
    for range in words {
        let word = &text[range.clone()];
        match key_value(word) {
            Some((k, v)) if !raw || RAW_OPTIONS.contains(&k) => {
                args.insert(k.to_string(), Value::String(unquote(v).to_string()));
            }
            _ => kept.push(range),
        }
    }
    let rest = rejoin(text, &kept);
    if !rest.is_empty() {
        args.shift_insert(0, "_raw_params".to_string(), Value::String(rest));
    }
    Ok(args)
}

/// The kept words with their original spacing where they were neighbours,
/// so that a command's own quoting and newlines survive.
fn rejoin(text: &str, kept: &[Range<usize>]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Range<usize>> = None;
    for range in kept {
        if let Some(p) = prev {
            let gap = &text[p.end..range.start];
            if gap.chars().all(char::is_whitespace) {
                out.push_str(gap);
            } else {
                out.push(' ');
            }
        }
        out.push_str(&text[range.clone()]);
        prev = Some(range);
    }
    out
}

/// `key=value` with a non-empty key made of word characters.
fn key_value(word: &str) -> Option<(&str, &str)> {
    let (k, v) = word.split_once('=')?;
    let ok = !k.is_empty() && k.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
    ok.then_some((k, v))
}

/// `"a b"` and `'a b'` without their quotes.
fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// Byte ranges of the whitespace-separated words of `text`, where quotes and
/// Jinja blocks hold their spaces.
fn split(text: &str) -> Result<Vec<Range<usize>>, Unbalanced> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut jinja_depth = 0usize;
    let mut escaped = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        if escaped {
            escaped = false;
        } else if let Some(q) = quote {
            if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
        } else if c == '{' && matches!(next, Some('{' | '%' | '#')) {
            jinja_depth += 1;
            chars.next();
        } else if jinja_depth > 0 && matches!(c, '}' | '%' | '#') && next == Some('}') {
            jinja_depth -= 1;
            chars.next();
        } else if jinja_depth == 0 {
            if c.is_whitespace() {
                if let Some(s) = start.take() {
                    words.push(s..i);
                }
                continue;
            }
            match c {
                '\\' => escaped = true,
                '"' | '\'' => quote = Some(c),
                _ => {}
            }
        }
        start.get_or_insert(i);
    }
    if quote.is_some() || jinja_depth > 0 {
        return Err(Unbalanced);
    }
    if let Some(s) = start {
        words.push(s..text.len());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str, raw: bool) -> String {
        match parse(text, raw) {
            Ok(a) => serde_json::to_string(&a).unwrap_or_default(),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn key_values_with_quotes() {
        assert_eq!(args("src=a dest=\"b c\" mode='0644'", false), r#"{"src":"a","dest":"b c","mode":"0644"}"#);
        assert_eq!(args("msg={{ a ~ ' x' }}", false), r#"{"msg":"{{ a ~ ' x' }}"}"#);
    }

    #[test]
    fn other_words_are_raw_params_for_any_module() {
        assert_eq!(args("flush_handlers", false), r#"{"_raw_params":"flush_handlers"}"#);
        assert_eq!(args("hello msg=x world", false), r#"{"_raw_params":"hello world","msg":"x"}"#);
    }

    #[test]
    fn command_options_are_picked_out_anywhere() {
        assert_eq!(args("ls -l  /tmp creates=/x chdir=\"/a b\"", true), r#"{"_raw_params":"ls -l  /tmp","creates":"/x","chdir":"/a b"}"#);
        assert_eq!(args("chdir=/a echo a=b", true), r#"{"_raw_params":"echo a=b","chdir":"/a"}"#);
        assert_eq!(args("chdir=/a", true), r#"{"chdir":"/a"}"#);
    }

    #[test]
    fn command_keeps_its_own_quoting_and_newlines() {
        assert_eq!(args("echo 'a  b' \"c\\\" d\"\nls", true), r#"{"_raw_params":"echo 'a  b' \"c\\\" d\"\nls"}"#);
        assert_eq!(args("echo {{ a | join(' ') }}", true), r#"{"_raw_params":"echo {{ a | join(' ') }}"}"#);
    }

    #[test]
    fn unbalanced_quotes_and_braces() {
        assert_eq!(args("echo \"a", true), "Unbalanced");
        assert_eq!(args("msg={{ a", false), "Unbalanced");
        assert_eq!(args("echo it\\'s", true), r#"{"_raw_params":"echo it\\'s"}"#);
    }
}
