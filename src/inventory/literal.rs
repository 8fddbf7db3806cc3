//! How INI values get their type: ansible-core runs each one through Python's
//! `ast.literal_eval` and keeps the raw text when that fails.
//!
//! So `8080` is a number, `True` a boolean, `[1, 2]` a list, `'x'` the string
//! `x`, and `yes`, `true`, `1+2` or `foo.bar` stay strings. This module parses
//! exactly the Python literal grammar (numbers with `_` and `0x`/`0o`/`0b`,
//! string prefixes and escapes, tuples, sets, dicts, one unary sign) and
//! answers `None` for anything else, so the caller keeps the text.
//!
//! Two corners differ, both rare: complex numbers (`1+2j`) and `\N{...}`
//! escapes are left as the raw text, and integers beyond 64 bits become
//! strings (JSON numbers here are 64-bit).

use crate::vars::Value;

/// The typed value of `text` if it is a Python literal, else `None`.
pub(super) fn literal_eval(text: &str) -> Option<Value> {
    // literal_eval strips leading spaces and tabs before parsing.
    let text = text.trim_start_matches([' ', '\t']);
    let mut p = Parser { src: text, pos: 0, depth: 0 };
    let value = p.expr_list()?;
    p.skip_space();
    if p.pos != p.src.len() {
        return None;
    }
    value.into_json()
}

#[derive(Debug, Clone, PartialEq)]
enum Py {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Ellipsis,
    List(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

impl Py {
    fn into_json(self) -> Option<Value> {
        Some(match self {
            Py::None => Value::Null,
            Py::Bool(b) => Value::Bool(b),
            Py::Int(i) => {
                if let Ok(v) = i64::try_from(i) {
                    Value::from(v)
                } else if let Ok(v) = u64::try_from(i) {
                    Value::from(v)
                } else {
                    Value::String(i.to_string())
                }
            }
            Py::Float(f) => serde_json::Number::from_f64(f).map(Value::Number)?,
            Py::Str(s) => Value::String(s),
            // ansible-core turns bytes back into text.
            Py::Bytes(b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
            Py::Ellipsis => Value::String("...".to_string()),
            Py::List(items) => Value::Array(items.into_iter().map(Py::into_json).collect::<Option<_>>()?),
            Py::Dict(pairs) => {
                let mut map = serde_json::Map::new();
                for (k, v) in pairs {
                    map.insert(k.key_string()?, v.into_json()?);
                }
                Value::Object(map)
            }
        })
    }

    /// The JSON key Python's `json.dumps` writes for a dict key.
    fn key_string(&self) -> Option<String> {
        Some(match self {
            Py::Str(s) => s.clone(),
            Py::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Py::Int(i) => i.to_string(),
            Py::Float(f) => format!("{f:?}"),
            Py::Bool(b) => b.to_string(),
            Py::None => "null".to_string(),
            Py::Ellipsis | Py::List(_) | Py::Dict(_) => return None,
        })
    }

    fn is_number(&self) -> bool {
        matches!(self, Py::Int(_) | Py::Float(_))
    }
}

/// Python's tokenizer refuses more nested brackets than this ("too many
/// nested parentheses"), so the text stays a string; the limit also keeps
/// this recursive parser off the end of the stack.
const MAX_NESTING: usize = 200;

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// Brackets open around `pos`.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches([' ', '\t', '\x0c']);
        self.pos += rest.len() - trimmed.len();
        if trimmed.starts_with('#') {
            // A comment runs to the end of the (single) line.
            self.pos = self.src.len();
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// `a, b, c` at the top level or inside parentheses: a tuple if there is
    /// a comma, else the single value.
    fn expr_list(&mut self) -> Option<Py> {
        let first = self.expr()?;
        self.skip_space();
        if self.peek() != Some(',') {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(',') {
            self.skip_space();
            if self.at_expr_end() {
                break;
            }
            items.push(self.expr()?);
        }
        Some(Py::List(items))
    }

    fn at_expr_end(&self) -> bool {
        matches!(self.peek(), None | Some(')' | ']' | '}'))
    }

    /// One value, with at most one sign in front of a number, as
    /// `literal_eval` allows.
    fn expr(&mut self) -> Option<Py> {
        self.skip_space();
        match self.peek()? {
            sign @ ('+' | '-') => {
                self.pos += 1;
                let v = self.atom()?;
                if !v.is_number() {
                    return None;
                }
                Some(match (sign, v) {
                    ('-', Py::Int(i)) => Py::Int(-i),
                    ('-', Py::Float(f)) => Py::Float(-f),
                    (_, v) => v,
                })
            }
            _ => self.atom(),
        }
    }

    fn atom(&mut self) -> Option<Py> {
        self.skip_space();
        let c = self.peek()?;
        match c {
            '(' => self.nested(|p| {
                if p.eat(')') {
                    return Some(Py::List(Vec::new()));
                }
                let v = p.expr_list()?;
                p.eat(')').then_some(v)
            }),
            '[' => self.nested(|p| p.sequence(']').map(Py::List)),
            '{' => self.nested(Parser::braces),
            '0'..='9' => self.number(),
            '.' => {
                if self.rest().starts_with("...") {
                    self.pos += 3;
                    Some(Py::Ellipsis)
                } else {
                    self.number()
                }
            }
            '\'' | '"' => self.strings(),
            c if c.is_alphabetic() || c == '_' => {
                let word_len = self.rest().find(|ch: char| !(ch.is_alphanumeric() || ch == '_')).unwrap_or(self.rest().len());
                let word = &self.rest()[..word_len];
                let after = &self.rest()[word_len..];
                if is_string_prefix(word) && (after.starts_with('\'') || after.starts_with('"')) {
                    return self.strings();
                }
                let v = match word {
                    "True" => Py::Bool(true),
                    "False" => Py::Bool(false),
                    "None" => Py::None,
                    // Any other name (and `set()`, whose order Python decides
                    // by hash) is not a literal we type.
                    _ => return None,
                };
                self.pos += word_len;
                Some(v)
            }
            _ => None,
        }
    }

    /// Steps past an opening bracket and parses what it holds with `inner`.
    fn nested(&mut self, inner: impl FnOnce(&mut Self) -> Option<Py>) -> Option<Py> {
        if self.depth == MAX_NESTING {
            return None;
        }
        self.pos += 1;
        self.depth += 1;
        let v = inner(self);
        self.depth -= 1;
        v
    }

    fn sequence(&mut self, close: char) -> Option<Vec<Py>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.expr()?);
            if !self.eat(',') {
                return self.eat(close).then_some(items);
            }
        }
    }

    /// `{}` (dict), `{k: v, ...}` or `{a, b}` (set, kept as a list).
    fn braces(&mut self) -> Option<Py> {
        if self.eat('}') {
            return Some(Py::Dict(Vec::new()));
        }
        let first = self.expr()?;
        if self.eat(':') {
            let mut pairs: Vec<(Py, Py)> = Vec::new();
            let mut key = first;
            loop {
                let value = self.expr()?;
                // Later duplicates win but keep the first position, like a dict.
                match pairs.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => pairs.push((key, value)),
                }
                if self.eat('}') {
                    return Some(Py::Dict(pairs));
                }
                if !self.eat(',') {
                    return None;
                }
                if self.eat('}') {
                    return Some(Py::Dict(pairs));
                }
                key = self.expr()?;
                if !self.eat(':') {
                    return None;
                }
            }
        }
        let mut items = vec![first];
        loop {
            if self.eat('}') {
                return Some(Py::List(dedup(items)));
            }
            if !self.eat(',') {
                return None;
            }
            if self.eat('}') {
                return Some(Py::List(dedup(items)));
            }
            items.push(self.expr()?);
        }
    }

    fn number(&mut self) -> Option<Py> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let hex = bytes.len() > 1 && bytes[0] == b'0' && matches!(bytes[1], b'x' | b'X');
        let mut len = 0;
        while let Some(&b) = bytes.get(len) {
            let exponent_sign = matches!(b, b'+' | b'-') && !hex && len > 0 && matches!(bytes[len - 1], b'e' | b'E');
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || exponent_sign {
                len += 1;
            } else {
                break;
            }
        }
        let v = parse_number(&rest[..len])?;
        self.pos += len;
        Some(v)
    }

    /// One or more adjacent string literals, concatenated as Python does.
    fn strings(&mut self) -> Option<Py> {
        let mut text: Option<String> = None;
        let mut bytes: Option<Vec<u8>> = None;
        loop {
            self.skip_space();
            let rest = self.rest();
            let prefix_len = rest.find(['\'', '"']).unwrap_or(0);
            let prefix = &rest[..prefix_len];
            if !is_string_prefix(prefix) || !(rest[prefix_len..].starts_with(['\'', '"'])) {
                break;
            }
            let lower = prefix.to_ascii_lowercase();
            let raw = lower.contains('r');
            let is_bytes = lower.contains('b');
            self.pos += prefix_len;
            let body = self.string_body(raw, is_bytes)?;
            if is_bytes {
                if text.is_some() {
                    return None;
                }
                bytes.get_or_insert_with(Vec::new).extend(body);
            } else {
                if bytes.is_some() {
                    return None;
                }
                text.get_or_insert_with(String::new).push_str(&String::from_utf8(body).ok()?);
            }
        }
        match (text, bytes) {
            (Some(t), None) => Some(Py::Str(t)),
            (None, Some(b)) => Some(Py::Bytes(b)),
            _ => None,
        }
    }

    /// The contents of one quoted literal starting at `self.pos`, as UTF-8 bytes.
    fn string_body(&mut self, raw: bool, is_bytes: bool) -> Option<Vec<u8>> {
        let rest = self.rest();
        let quote = rest.chars().next()?;
        let triple: String = std::iter::repeat_n(quote, 3).collect();
        let (delim, mut i) = if rest.starts_with(&triple) { (triple.as_str(), 3) } else { (&rest[..1], 1) };
        let mut out = Vec::new();
        loop {
            let tail = &rest[i..];
            if tail.starts_with(delim) {
                self.pos += i + delim.len();
                return Some(out);
            }
            let c = tail.chars().next()?;
            if c == '\n' && delim.len() == 1 {
                return None;
            }
            if is_bytes && !c.is_ascii() {
                return None;
            }
            if c != '\\' {
                push_char(&mut out, c);
                i += c.len_utf8();
                continue;
            }
            let next = tail[1..].chars().next()?;
            if raw {
                // A raw string keeps the backslash, and `\'` does not end it.
                out.push(b'\\');
                push_char(&mut out, next);
                i += 1 + next.len_utf8();
                continue;
            }
            i += 1 + next.len_utf8();
            match next {
                '\n' => {}
                '\\' => out.push(b'\\'),
                '\'' => out.push(b'\''),
                '"' => out.push(b'"'),
                'a' => out.push(0x07),
                'b' => out.push(0x08),
                'f' => out.push(0x0c),
                'n' => out.push(b'\n'),
                'r' => out.push(b'\r'),
                't' => out.push(b'\t'),
                'v' => out.push(0x0b),
                '0'..='7' => {
                    let mut value = next.to_digit(8)?;
                    for _ in 0..2 {
                        match rest[i..].chars().next().and_then(|d| d.to_digit(8)) {
                            Some(d) => {
                                value = value * 8 + d;
                                i += 1;
                            }
                            None => break,
                        }
                    }
                    if is_bytes {
                        out.push(u8::try_from(value & 0xff).ok()?);
                    } else {
                        push_char(&mut out, char::from_u32(value)?);
                    }
                }
                'x' => {
                    let code = hex_digits(&rest[i..], 2)?;
                    i += 2;
                    if is_bytes {
                        out.push(u8::try_from(code).ok()?);
                    } else {
                        push_char(&mut out, char::from_u32(code)?);
                    }
                }
                'u' | 'U' if !is_bytes => {
                    let n = if next == 'u' { 4 } else { 8 };
                    let code = hex_digits(&rest[i..], n)?;
                    i += n;
                    push_char(&mut out, char::from_u32(code)?);
                }
                // `\N{NAME}` needs Unicode's name table; keep the raw text.
                'N' if !is_bytes => return None,
                other => {
                    // Unknown escapes keep their backslash.
                    out.push(b'\\');
                    push_char(&mut out, other);
                }
            }
        }
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn hex_digits(s: &str, n: usize) -> Option<u32> {
    let digits = s.get(..n)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

fn is_string_prefix(p: &str) -> bool {
    matches!(p.to_ascii_lowercase().as_str(), "" | "r" | "u" | "b" | "br" | "rb")
}

fn dedup(items: Vec<Py>) -> Vec<Py> {
    let mut out: Vec<Py> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Digits separated by single underscores, as Python allows in numbers.
fn digit_part(s: &str, radix: u32) -> bool {
    !s.is_empty() && !s.starts_with('_') && !s.ends_with('_') && !s.contains("__") && s.chars().all(|c| c == '_' || c.is_digit(radix))
}

/// A Python numeric literal (without sign), or `None` if `token` is not one.
fn parse_number(token: &str) -> Option<Py> {
    let lower = token.to_ascii_lowercase();
    if lower.ends_with('j') {
        // Complex numbers: kept as text (see the module docs).
        return None;
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            // `0x_1f` is allowed: one underscore may follow the prefix.
            let digits = digits.strip_prefix('_').unwrap_or(digits);
            if !digit_part(digits, radix) {
                return None;
            }
            return i128::from_str_radix(&digits.replace('_', ""), radix).ok().map(Py::Int);
        }
    }
    let is_float = lower.contains('.') || lower.contains('e');
    if !is_float {
        if !digit_part(&lower, 10) {
            return None;
        }
        let digits = lower.replace('_', "");
        // Python rejects `08`: only zeros may have a leading zero.
        if digits.len() > 1 && digits.starts_with('0') && digits.bytes().any(|b| b != b'0') {
            return None;
        }
        return digits.parse::<i128>().ok().map(Py::Int);
    }
    let (mantissa, exponent) = match lower.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (lower.as_str(), None),
    };
    if let Some(e) = exponent {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if !digit_part(e, 10) {
            return None;
        }
    }
    match mantissa.split_once('.') {
        Some((int, frac)) => {
            if int.is_empty() && frac.is_empty() {
                return None;
            }
            if (!int.is_empty() && !digit_part(int, 10)) || (!frac.is_empty() && !digit_part(frac, 10)) {
                return None;
            }
        }
        None => {
            if !digit_part(mantissa, 10) {
                return None;
            }
        }
    }
    let f: f64 = lower.replace('_', "").parse().ok()?;
    f.is_finite().then_some(Py::Float(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(s: &str) -> Option<Value> {
        literal_eval(s)
    }

    #[test]
    fn numbers_follow_python() {
        assert_eq!(eval("8080"), Some(json!(8080)));
        assert_eq!(eval("-5"), Some(json!(-5)));
        assert_eq!(eval("+7"), Some(json!(7)));
        assert_eq!(eval("1_000"), Some(json!(1000)));
        assert_eq!(eval("0x1F"), Some(json!(31)));
        assert_eq!(eval("0o17"), Some(json!(15)));
        assert_eq!(eval("0b101"), Some(json!(5)));
        assert_eq!(eval("00"), Some(json!(0)));
        assert_eq!(eval("08"), None);
        assert_eq!(eval("1.5"), Some(json!(1.5)));
        assert_eq!(eval(".5"), Some(json!(0.5)));
        assert_eq!(eval("5."), Some(json!(5.0)));
        assert_eq!(eval("1e3"), Some(json!(1000.0)));
        assert_eq!(eval("-2.5e-3"), Some(json!(-0.0025)));
        assert_eq!(eval("1_0.5"), Some(json!(10.5)));
        assert_eq!(eval("--5"), None);
        assert_eq!(eval("1__0"), None);
        assert_eq!(eval("1abc"), None);
        assert_eq!(eval("1j"), None);
        assert_eq!(eval("1+2"), None);
    }

    #[test]
    fn constants_strings_and_containers() {
        assert_eq!(eval("True"), Some(json!(true)));
        assert_eq!(eval("None"), Some(json!(null)));
        assert_eq!(eval("true"), None);
        assert_eq!(eval("'it'"), Some(json!("it")));
        assert_eq!(eval("'a' \"b\""), Some(json!("ab")));
        assert_eq!(eval(r"'\x41\u00e9\n'"), Some(json!("Aé\n")));
        assert_eq!(eval(r"r'\d+'"), Some(json!(r"\d+")));
        assert_eq!(eval(r"'\q'"), Some(json!(r"\q")));
        assert_eq!(eval("b'bytes'"), Some(json!("bytes")));
        assert_eq!(eval("f'x'"), None);
        assert_eq!(eval("'a' b'b'"), None);
        assert_eq!(eval("[1, 'x', [2]]"), Some(json!([1, "x", [2]])));
        assert_eq!(eval("(1,)"), Some(json!([1])));
        assert_eq!(eval("()"), Some(json!([])));
        assert_eq!(eval("1, 2"), Some(json!([1, 2])));
        assert_eq!(eval("{'k': 'v', 1: [None]}"), Some(json!({"k": "v", "1": [null]})));
        assert_eq!(eval("{}"), Some(json!({})));
        assert_eq!(eval("{1, 2, 1}"), Some(json!([1, 2])));
        assert_eq!(eval("..."), Some(json!("...")));
        assert_eq!(eval("-True"), None);
        assert_eq!(eval("-(5)"), Some(json!(-5)));
    }

    #[test]
    fn comments_and_whitespace() {
        assert_eq!(eval("8080 # a comment"), Some(json!(8080)));
        assert_eq!(eval("  42"), Some(json!(42)));
        assert_eq!(eval("foo # comment"), None);
        assert_eq!(eval(""), None);
        assert_eq!(eval("'unterminated"), None);
        assert_eq!(eval("[1, 2"), None);
        assert_eq!(eval("foo.bar"), None);
    }

    #[test]
    fn nesting_stops_where_pythons_tokenizer_does() {
        // tests/fuzz_parsers.rs found a value of a few thousand `{`: the
        // recursion overflowed the stack.
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(eval(&deep(200)).is_some());
        assert_eq!(eval(&deep(201)), None);
        assert_eq!(eval(&"{".repeat(100_000)), None);
        assert_eq!(eval(&"(".repeat(100_000)), None);
    }
}
