//! The word splitting INI host lines get: Python's `shlex.split(line,
//! comments=True)` in POSIX mode, which is what ansible-core applies.
//!
//! Reproduced closely because its quirks decide real values: quotes are
//! removed before the value is typed (`a='x'` is the word `x`), and a `#` ends
//! the line even in the middle of a word (`a=1#x b=2` is just `a=1`).

/// One word of a host line, with the byte offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Word {
    pub text: String,
    pub offset: usize,
}

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ShlexError {
    /// A quote opened at this byte offset is never closed.
    NoClosingQuotation(usize),
    /// The line ends with a lone backslash.
    NoEscapedCharacter,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Between,
    Word,
    Quoted(char),
    Escape { resume: Resume },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Resume {
    Word,
    DoubleQuoted,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits `line` into words, POSIX-shell style, dropping `#` comments.
pub(super) fn split(line: &str) -> Result<Vec<Word>, ShlexError> {
    let mut words = Vec::new();
    let mut state = State::Between;
    let mut text = String::new();
    let mut start = 0;
    // `''` is a word even though it adds no character.
    let mut quoted = false;
    let mut quote_at = 0;

    for (i, c) in line.char_indices() {
        match state {
            State::Between => {
                if is_space(c) {
                    continue;
                }
                if c == '#' {
                    break;
                }
                start = i;
                match c {
                    '\\' => state = State::Escape { resume: Resume::Word },
                    '\'' | '"' => {
                        quoted = true;
                        quote_at = i;
                        state = State::Quoted(c);
                    }
                    _ => {
                        text.push(c);
                        state = State::Word;
                    }
                }
            }
            State::Word => {
                if is_space(c) || c == '#' {
                    words.push(Word { text: std::mem::take(&mut text), offset: start });
                    quoted = false;
                    state = State::Between;
                    if c == '#' {
                        // shlex reads the rest of the line as a comment.
                        return Ok(words);
                    }
                    continue;
                }
                match c {
                    '\\' => state = State::Escape { resume: Resume::Word },
                    '\'' | '"' => {
                        quoted = true;
                        quote_at = i;
                        state = State::Quoted(c);
                    }
                    _ => text.push(c),
                }
            }
            State::Quoted(q) => {
                if c == q {
                    state = State::Word;
                } else if c == '\\' && q == '"' {
                    state = State::Escape { resume: Resume::DoubleQuoted };
                } else {
                    text.push(c);
                }
            }
            State::Escape { resume } => {
                // Inside double quotes a backslash only escapes `\` and `"`.
                if resume == Resume::DoubleQuoted && c != '\\' && c != '"' {
                    text.push('\\');
                }
                text.push(c);
                state = match resume {
                    Resume::Word => State::Word,
                    Resume::DoubleQuoted => State::Quoted('"'),
                };
            }
        }
    }
    match state {
        State::Quoted(_) => Err(ShlexError::NoClosingQuotation(quote_at)),
        State::Escape { .. } => Err(ShlexError::NoEscapedCharacter),
        State::Word => {
            words.push(Word { text, offset: start });
            Ok(words)
        }
        State::Between => {
            if quoted {
                words.push(Word { text, offset: start });
            }
            Ok(words)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        split(line).unwrap().into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn splits_and_unquotes_like_python_shlex() {
        assert_eq!(texts("host a=1 b='x y'"), ["host", "a=1", "b=x y"]);
        assert_eq!(texts(r#"t mysecret="'03#pa33w0rd'""#), ["t", "mysecret='03#pa33w0rd'"]);
        assert_eq!(texts(r#"q a="x\"y" b="x\ny" c=x\ y"#), ["q", r#"a=x"y"#, r"b=x\ny", "c=x y"]);
        assert_eq!(texts("it b='it''s'"), ["it", "b=its"]);
        assert_eq!(texts("e ''"), ["e", ""]);
    }

    #[test]
    fn hash_ends_the_line_even_inside_a_word() {
        assert_eq!(texts("h a=1#tail b=2"), ["h", "a=1"]);
        assert_eq!(texts("h a=1 # comment b=2"), ["h", "a=1"]);
        assert_eq!(texts("h a='#not'"), ["h", "a=#not"]);
    }

    #[test]
    fn records_word_offsets() {
        let words = split("web1   ansible_port=22").unwrap();
        assert_eq!(words[1].offset, 7);
    }

    #[test]
    fn reports_unbalanced_quotes() {
        assert_eq!(split("h a='x"), Err(ShlexError::NoClosingQuotation(4)));
        assert_eq!(split("h a=\\"), Err(ShlexError::NoEscapedCharacter));
    }
}
