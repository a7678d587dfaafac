//! The subset of SPL eval expressions used by the app's `EVAL-` and `INGEST_EVAL` settings:
//! string and number literals, field names (bare or in single quotes), `.` concatenation, the
//! comparisons `=`/`==`/`!=`, and the functions case, coalesce, if, null, replace, strptime.
//! SPL semantics kept: a null operand makes a comparison or a concatenation null, a null
//! condition is false, case() without a true condition is null, string comparison is
//! case-sensitive, and in a string literal `\"` is a quote and `\\` a backslash while any other
//! backslash stays (so regexes such as `\d` and replacements such as `\1` pass through).

use std::collections::BTreeMap;

use super::pcre;

/// What an expression can read: the event's text, its time and its search-time fields.
pub struct Event<'a> {
    pub raw: &'a str,
    pub time: f64,
    pub fields: &'a BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Str(String),
    Num(f64),
    Bool(bool),
    Multi(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Num(f64),
    Field(String),
    Ident(String),
    Op(&'static str),
}

#[derive(Debug, Clone)]
enum Expr {
    Lit(Value),
    Field(String),
    Call(String, Vec<Expr>),
    Concat(Vec<Expr>),
    Compare(&'static str, Box<Expr>, Box<Expr>),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string literal".into()),
                    Some('"') => break,
                    Some('\\') if matches!(chars.get(i + 1), Some('"') | Some('\\')) => {
                        s.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&other) => {
                        s.push(other);
                        i += 1;
                    }
                }
            }
            i += 1;
            tokens.push(Token::Str(s));
        } else if c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == '\'')
                .ok_or("unterminated field name")?;
            tokens.push(Token::Field(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let number: String = chars[start..i].iter().collect();
            tokens.push(Token::Num(
                number.parse().map_err(|_| format!("bad number {number}"))?,
            ));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["==", "!="].into_iter().find(|op| *op == two);
            let op = match op {
                Some(op) => op,
                None => match c {
                    '=' => "=",
                    '.' => ".",
                    ',' => ",",
                    '(' => "(",
                    ')' => ")",
                    _ => return Err(format!("character {c:?} is not modelled")),
                },
            };
            i += op.len();
            tokens.push(Token::Op(op));
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

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        match self.next() {
            Some(Token::Op(found)) if found == op => Ok(()),
            other => Err(format!("expected {op:?}, found {other:?}")),
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let left = self.concat()?;
        match self.peek() {
            Some(Token::Op(op @ ("=" | "==" | "!="))) => {
                let op = if *op == "=" { "==" } else { *op };
                self.at += 1;
                let right = self.concat()?;
                Ok(Expr::Compare(op, Box::new(left), Box::new(right)))
            }
            _ => Ok(left),
        }
    }

    fn concat(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.primary()?];
        while self.peek() == Some(&Token::Op(".")) {
            self.at += 1;
            parts.push(self.primary()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Expr::Concat(parts)
        })
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Expr::Lit(Value::Str(s))),
            Some(Token::Num(n)) => Ok(Expr::Lit(Value::Num(n))),
            Some(Token::Field(name)) => Ok(Expr::Field(name)),
            Some(Token::Ident(name)) if self.peek() == Some(&Token::Op("(")) => {
                self.at += 1;
                let mut args = Vec::new();
                if self.peek() != Some(&Token::Op(")")) {
                    loop {
                        args.push(self.expr()?);
                        if self.peek() == Some(&Token::Op(",")) {
                            self.at += 1;
                        } else {
                            break;
                        }
                    }
                }
                self.expect(")")?;
                Ok(Expr::Call(name, args))
            }
            Some(Token::Ident(name)) => Ok(Expr::Field(name)),
            Some(Token::Op("(")) => {
                let inner = self.expr()?;
                self.expect(")")?;
                Ok(inner)
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// A parsed eval expression.
#[derive(Debug, Clone)]
pub struct Expression(Expr);

impl Expression {
    pub fn parse(text: &str) -> Result<Expression, String> {
        let mut parser = Parser {
            tokens: tokenize(text)?,
            at: 0,
        };
        let expr = parser.expr()?;
        match parser.peek() {
            None => Ok(Expression(expr)),
            Some(extra) => Err(format!(
                "unexpected {extra:?} after the expression in {text:?}"
            )),
        }
    }

    /// `field=expression`, the form of an INGEST_EVAL with one assignment.
    pub fn parse_assignment(text: &str) -> Result<(String, Expression), String> {
        let (field, expression) = text.split_once('=').ok_or("not an assignment")?;
        let field = field.trim();
        if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("not a field name: {field:?}"));
        }
        Ok((field.to_string(), Expression::parse(expression)?))
    }

    pub fn eval(&self, event: &Event) -> Value {
        eval(&self.0, event)
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Str(s) => Some(s.clone()),
        Value::Num(n) => Some(n.to_string()),
        other => panic!("{other:?} used as text: not modelled"),
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Null => false,
        other => panic!("{other:?} used as a condition: not modelled"),
    }
}

fn eval(expr: &Expr, event: &Event) -> Value {
    match expr {
        Expr::Lit(value) => value.clone(),
        Expr::Field(name) => match name.as_str() {
            "_raw" => Value::Str(event.raw.to_string()),
            "_time" => Value::Num(event.time),
            _ => match event.fields.get(name).map(Vec::as_slice) {
                None | Some([]) => Value::Null,
                Some([one]) => Value::Str(one.clone()),
                Some(many) => Value::Multi(many.to_vec()),
            },
        },
        Expr::Concat(parts) => {
            let mut out = String::new();
            for part in parts {
                match text(&eval(part, event)) {
                    Some(s) => out.push_str(&s),
                    None => return Value::Null,
                }
            }
            Value::Str(out)
        }
        Expr::Compare(op, left, right) => {
            let (left, right) = (eval(left, event), eval(right, event));
            let (Some(left), Some(right)) = (text(&left), text(&right)) else {
                return Value::Null;
            };
            Value::Bool(match *op {
                "==" => left == right,
                "!=" => left != right,
                _ => unreachable!(),
            })
        }
        Expr::Call(name, args) => call(name, args, event),
    }
}

fn call(name: &str, args: &[Expr], event: &Event) -> Value {
    let arity = |n: usize| assert_eq!(args.len(), n, "{name}() takes {n} arguments");
    match name {
        "null" => {
            arity(0);
            Value::Null
        }
        "coalesce" => args
            .iter()
            .map(|a| eval(a, event))
            .find(|v| *v != Value::Null)
            .unwrap_or(Value::Null),
        "if" => {
            arity(3);
            if truthy(&eval(&args[0], event)) {
                eval(&args[1], event)
            } else {
                eval(&args[2], event)
            }
        }
        "case" => {
            assert!(
                args.len().is_multiple_of(2),
                "case() takes condition/value pairs"
            );
            args.chunks(2)
                .find(|pair| truthy(&eval(&pair[0], event)))
                .map(|pair| eval(&pair[1], event))
                .unwrap_or(Value::Null)
        }
        "replace" => {
            arity(3);
            let values: Vec<Option<String>> = args.iter().map(|a| text(&eval(a, event))).collect();
            match (&values[0], &values[1], &values[2]) {
                (Some(s), Some(re), Some(with)) => Value::Str(replace(s, re, with)),
                _ => Value::Null,
            }
        }
        "strptime" => {
            arity(2);
            match (text(&eval(&args[0], event)), text(&eval(&args[1], event))) {
                (Some(s), Some(format)) => {
                    super::time::strptime(&s, &format).map_or(Value::Null, Value::Num)
                }
                _ => Value::Null,
            }
        }
        other => panic!("eval function {other}() is not modelled"),
    }
}

/// replace(): every non-overlapping PCRE match is replaced; `\N` in the replacement is group N
/// (empty when the group did not take part).
pub fn replace(subject: &str, pattern: &str, replacement: &str) -> String {
    let regex = pcre(pattern);
    let bytes = subject.as_bytes();
    let mut out = Vec::new();
    let mut last = 0;
    for caps in regex.captures_iter(bytes) {
        let caps = caps.unwrap_or_else(|e| panic!("PCRE error on {pattern:?}: {e}"));
        let whole = caps.get(0).unwrap();
        out.extend_from_slice(&bytes[last..whole.start()]);
        let mut rep = replacement.bytes().peekable();
        while let Some(b) = rep.next() {
            match (b, rep.peek()) {
                (b'\\', Some(d)) if d.is_ascii_digit() => {
                    let group = (*d - b'0') as usize;
                    rep.next();
                    if let Some(m) = caps.get(group) {
                        out.extend_from_slice(m.as_bytes());
                    }
                }
                _ => out.push(b),
            }
        }
        last = whole.end();
    }
    out.extend_from_slice(&bytes[last..]);
    String::from_utf8(out).expect("replace() keeps UTF-8")
}
