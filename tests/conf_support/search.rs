//! The subset of SPL search syntax the app's eventtypes use: `field=value`, `field=*`,
//! `field IN (v1, v2, ...)`, `NOT`, `OR`, explicit or implicit `AND`, and parentheses. As in
//! splunkd: field names are case-sensitive, values match case-insensitively with `*` as a
//! wildcard, a multivalue field matches when any value does, `field=*` needs a non-empty value,
//! and boolean operators are upper-case words.

use super::json_fields::Fields;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Comma,
    Equals,
    Word(String),
    Quoted(String),
}

#[derive(Debug, Clone)]
pub enum Search {
    Or(Vec<Search>),
    And(Vec<Search>),
    Not(Box<Search>),
    /// field, accepted values (wildcards allowed)
    Match(String, Vec<String>),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            c if c.is_whitespace() => i += 1,
            c @ ('(' | ')' | ',' | '=') => {
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    ',' => Token::Comma,
                    _ => Token::Equals,
                });
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated quoted value".into()),
                        Some('"') => break,
                        Some('\\') if chars.get(i + 1) == Some(&'"') => {
                            s.push('"');
                            i += 2;
                        }
                        Some(&c) => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                tokens.push(Token::Quoted(s));
            }
            '!' | '<' | '>' | '|' | '[' | ']' => {
                return Err(format!("{:?} is not modelled", chars[i]));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !"()=,\"!<>|[]".contains(chars[i])
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn keyword(&self, word: &str) -> bool {
        self.peek() == Some(&Token::Word(word.to_string()))
    }

    fn or(&mut self) -> Result<Search, String> {
        let mut terms = vec![self.and()?];
        while self.keyword("OR") {
            self.at += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().unwrap()
        } else {
            Search::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Search, String> {
        let mut terms = vec![self.not()?];
        loop {
            if self.keyword("AND") {
                self.at += 1;
            } else if self.peek().is_none()
                || self.peek() == Some(&Token::Close)
                || self.keyword("OR")
            {
                break;
            }
            terms.push(self.not()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().unwrap()
        } else {
            Search::And(terms)
        })
    }

    fn not(&mut self) -> Result<Search, String> {
        if self.keyword("NOT") {
            self.at += 1;
            return Ok(Search::Not(Box::new(self.not()?)));
        }
        self.term()
    }

    fn value(&mut self) -> Result<String, String> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Word(w)) | Some(Token::Quoted(w)) => {
                self.at += 1;
                Ok(w)
            }
            other => Err(format!("expected a value, found {other:?}")),
        }
    }

    fn term(&mut self) -> Result<Search, String> {
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            if self.peek() != Some(&Token::Close) {
                return Err(format!("expected ')', found {:?}", self.peek()));
            }
            self.at += 1;
            return Ok(inner);
        }
        let field = match self.tokens.get(self.at).cloned() {
            Some(Token::Word(w)) if !["AND", "OR", "NOT", "IN"].contains(&w.as_str()) => w,
            other => return Err(format!("expected a field, found {other:?}")),
        };
        self.at += 1;
        if self.peek() == Some(&Token::Equals) {
            self.at += 1;
            return Ok(Search::Match(field, vec![self.value()?]));
        }
        if self.keyword("IN") {
            self.at += 1;
            if self.peek() != Some(&Token::Open) {
                return Err("IN needs a parenthesised list".into());
            }
            self.at += 1;
            let mut values = vec![self.value()?];
            while self.peek() == Some(&Token::Comma) {
                self.at += 1;
                values.push(self.value()?);
            }
            if self.peek() != Some(&Token::Close) {
                return Err("unterminated IN list".into());
            }
            self.at += 1;
            return Ok(Search::Match(field, values));
        }
        Err(format!(
            "bare term {field:?} (free-text search) is not modelled"
        ))
    }
}

impl Search {
    pub fn parse(text: &str) -> Result<Search, String> {
        let mut parser = Parser {
            tokens: tokenize(text)?,
            at: 0,
        };
        let search = parser.or()?;
        match parser.peek() {
            None => Ok(search),
            Some(extra) => Err(format!("unexpected {extra:?} in {text:?}")),
        }
    }

    pub fn matches(&self, fields: &Fields) -> bool {
        match self {
            Search::Or(terms) => terms.iter().any(|t| t.matches(fields)),
            Search::And(terms) => terms.iter().all(|t| t.matches(fields)),
            Search::Not(term) => !term.matches(fields),
            Search::Match(field, patterns) => fields.get(field).is_some_and(|values| {
                values
                    .iter()
                    .any(|v| patterns.iter().any(|p| wildcard_match(p, v)))
            }),
        }
    }
}

/// Case-insensitive match with `*` for any run of characters; `*` alone needs a non-empty value.
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return !value.is_empty();
    }
    let (pattern, value) = (pattern.to_lowercase(), value.to_lowercase());
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if value.len() < first.len() + last.len() || !value.starts_with(first) || !value.ends_with(last)
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}
