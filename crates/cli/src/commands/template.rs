//! The part of Go's `text/template` that `docker … --format` is used with, over JSON values:
//! `{{.Field}}`, `{{.A.B}}`, `{{.}}`, `{{json .X}}`, `{{index .X "k"}}`, `{{join .X ", "}}`,
//! `{{upper .X}}`, `{{lower .X}}`, `{{len .X}}`, `{{"text"}}`, `{{range .X}}…{{end}}`,
//! `{{if .X}}…{{else}}…{{end}}` and the `{{-`/`-}}` trim markers. Anything else (`with`,
//! variables, pipes, comments, `define`) is refused when the template is parsed, naming what
//! was written.
//!
//! Values print as Go's `fmt` prints them: strings bare, lists `[a b]`, maps
//! `map[k:v]` (keys sorted). A JSON `null` prints as the caller's [`Template::null_text`]
//! says for the field it came from, since Go prints a nil slice `[]`, a nil map `map[]` and a
//! nil pointer `<nil>`.

use anyhow::{anyhow, bail, Result};
use serde_json::Value;

/// A parsed template.
pub struct Template {
    nodes: Vec<Node>,
    null_text: fn(&str) -> Option<&'static str>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Node {
    Text(String),
    Print(Expr),
    Range(Expr, Vec<Node>),
    If(Expr, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
enum Arg {
    /// `.A.B` (an empty path is `.`).
    Field(Vec<String>),
    /// A string or number literal.
    Lit(Value),
}

#[derive(Debug)]
enum Expr {
    Arg(Arg),
    Call(Func, Vec<Arg>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Json,
    Index,
    Join,
    Upper,
    Lower,
    Len,
}

/// One `{{…}}` action, classified.
enum Action {
    Expr(Expr),
    Range(Expr),
    If(Expr),
    Else,
    End,
}

impl Template {
    /// Parses `text`; an unsupported construct is an error naming it.
    pub fn parse(text: &str) -> Result<Template> {
        let tokens = lex(text)?;
        let mut tokens = tokens.into_iter();
        let (nodes, end) = parse_nodes(&mut tokens)?;
        match end {
            None => Ok(Template {
                nodes,
                null_text: |_| None,
            }),
            Some(Terminator::End) => bail!("unexpected {{{{end}}}} in the template"),
            Some(Terminator::Else) => bail!("unexpected {{{{else}}}} in the template"),
        }
    }

    /// Sets how a JSON `null` prints, by the name of the field that holds it (`<nil>` when
    /// `None`). A field the data leaves out (as Go's `omitempty` does) but for which this
    /// gives a text reads as `null`; other missing fields are an error.
    pub fn null_text(mut self, null_text: fn(&str) -> Option<&'static str>) -> Template {
        self.null_text = null_text;
        self
    }

    /// The template applied to `data`.
    pub fn render(&self, data: &Value) -> Result<String> {
        let mut out = String::new();
        self.render_nodes(&self.nodes, data, &mut out)?;
        Ok(out)
    }

    fn render_nodes(&self, nodes: &[Node], data: &Value, out: &mut String) -> Result<()> {
        for node in nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Print(expr) => {
                    let (value, field) = self.eval(expr, data)?;
                    out.push_str(&self.print(&value, &field));
                }
                Node::Range(expr, body) => match self.eval(expr, data)?.0 {
                    Value::Array(items) => {
                        for item in &items {
                            self.render_nodes(body, item, out)?;
                        }
                    }
                    Value::Object(map) => {
                        for item in map.values() {
                            self.render_nodes(body, item, out)?;
                        }
                    }
                    Value::Null => {}
                    other => bail!("range can't iterate over {}", self.print(&other, "")),
                },
                Node::If(expr, then, otherwise) => {
                    let branch = match truthy(&self.eval(expr, data)?.0) {
                        true => then,
                        false => otherwise,
                    };
                    self.render_nodes(branch, data, out)?;
                }
            }
        }
        Ok(())
    }

    /// The value of an expression, with the name of the field it was read from (for nulls).
    fn eval(&self, expr: &Expr, data: &Value) -> Result<(Value, String)> {
        match expr {
            Expr::Arg(arg) => self.arg_value(arg, data),
            Expr::Call(func, args) => {
                let values = args
                    .iter()
                    .map(|a| self.arg_value(a, data))
                    .collect::<Result<Vec<_>>>()?;
                Ok((self.call(*func, &values)?, String::new()))
            }
        }
    }

    fn call(&self, func: Func, args: &[(Value, String)]) -> Result<Value> {
        let want = match func {
            Func::Index => args.len().max(2),
            Func::Join => 2,
            _ => 1,
        };
        if args.len() != want {
            bail!("wrong number of arguments for {func:?} in the template (want {want})");
        }
        let first = &args[0].0;
        Ok(match func {
            Func::Json => Value::String(serde_json::to_string(first)?),
            Func::Upper => Value::String(self.print(first, &args[0].1).to_uppercase()),
            Func::Lower => Value::String(self.print(first, &args[0].1).to_lowercase()),
            Func::Len => Value::from(match first {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::String(s) => s.len(),
                Value::Null => 0,
                _ => bail!("len of a value that has no length"),
            }),
            Func::Join => {
                let items = match first {
                    Value::Array(items) => items.iter().map(|i| self.print(i, "")).collect(),
                    Value::Null => Vec::new(),
                    _ => bail!("join of a value that is not a list"),
                };
                Value::String(items.join(&self.print(&args[1].0, "")))
            }
            Func::Index => args[1..]
                .iter()
                .try_fold(first.clone(), |v, (key, _)| index(&v, key))?,
        })
    }

    fn arg_value(&self, arg: &Arg, data: &Value) -> Result<(Value, String)> {
        let path = match arg {
            Arg::Lit(v) => return Ok((v.clone(), String::new())),
            Arg::Field(path) => path,
        };
        let mut value = data;
        for name in path {
            value = match value {
                Value::Object(map) => match map.get(name) {
                    Some(value) => value,
                    None if (self.null_text)(name).is_some() => {
                        return Ok((Value::Null, name.clone()))
                    }
                    None => bail!("can't evaluate field {name} in the template"),
                },
                Value::Null => return Ok((Value::Null, name.clone())),
                _ => bail!("can't evaluate field {name}: the value is not an object"),
            };
        }
        Ok((value.clone(), path.last().cloned().unwrap_or_default()))
    }

    fn print(&self, value: &Value, field: &str) -> String {
        match value {
            Value::Null => (self.null_text)(field).unwrap_or("<nil>").to_string(),
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(|i| self.print(i, "")).collect();
                format!("[{}]", items.join(" "))
            }
            Value::Object(map) => {
                let items: Vec<String> = map
                    .iter()
                    .map(|(k, v)| match v {
                        Value::Object(o) if o.is_empty() => format!("{k}:{{}}"),
                        v => format!("{k}:{}", self.print(v, k)),
                    })
                    .collect();
                format!("map[{}]", items.join(" "))
            }
        }
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn index(value: &Value, key: &Value) -> Result<Value> {
    Ok(match (value, key) {
        (Value::Object(map), Value::String(k)) => map.get(k).cloned().unwrap_or(Value::Null),
        (Value::Null, _) => Value::Null,
        (Value::Array(items), Value::Number(n)) => {
            let i = n.as_u64().and_then(|i| usize::try_from(i).ok());
            match i.and_then(|i| items.get(i)) {
                Some(item) => item.clone(),
                None => bail!("index {n} out of range"),
            }
        }
        _ => bail!("can't index {value} with {key}"),
    })
}

/// What ended a list of nodes.
enum Terminator {
    Else,
    End,
}

enum Token {
    Text(String),
    Action(Action),
}

fn parse_nodes(
    tokens: &mut impl Iterator<Item = Token>,
) -> Result<(Vec<Node>, Option<Terminator>)> {
    let mut nodes = Vec::new();
    while let Some(token) = tokens.next() {
        let action = match token {
            Token::Text(text) => {
                nodes.push(Node::Text(text));
                continue;
            }
            Token::Action(action) => action,
        };
        match action {
            Action::Expr(expr) => nodes.push(Node::Print(expr)),
            Action::End => return Ok((nodes, Some(Terminator::End))),
            Action::Else => return Ok((nodes, Some(Terminator::Else))),
            Action::Range(expr) => match parse_nodes(tokens)? {
                (body, Some(Terminator::End)) => nodes.push(Node::Range(expr, body)),
                (_, Some(Terminator::Else)) => {
                    bail!("{{{{else}}}} in {{{{range}}}} is not supported")
                }
                (_, None) => bail!("{{{{range}}}} without {{{{end}}}} in the template"),
            },
            Action::If(expr) => {
                let (then, end) = parse_nodes(tokens)?;
                let otherwise = match end {
                    Some(Terminator::End) => Vec::new(),
                    Some(Terminator::Else) => match parse_nodes(tokens)? {
                        (otherwise, Some(Terminator::End)) => otherwise,
                        _ => bail!("{{{{if}}}} without {{{{end}}}} in the template"),
                    },
                    None => bail!("{{{{if}}}} without {{{{end}}}} in the template"),
                };
                nodes.push(Node::If(expr, then, otherwise));
            }
        }
    }
    Ok((nodes, None))
}

/// Splits the text into literal text and actions, applying the trim markers.
fn lex(text: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut literal = &rest[..open];
        if trim_next {
            literal = literal.trim_start();
        }
        let after = &rest[open + 2..];
        let trim_before = after.starts_with("- ") || after.starts_with("-\t");
        if trim_before {
            literal = literal.trim_end();
        }
        if !literal.is_empty() {
            tokens.push(Token::Text(literal.to_string()));
        }
        let inner_start = if trim_before { 1 } else { 0 };
        let close = find_close(after)
            .ok_or_else(|| anyhow!("unclosed action in the template: {{{{{after}"))?;
        let mut inner = &after[inner_start..close];
        trim_next = inner.ends_with(" -") || inner.ends_with("\t-");
        if trim_next {
            inner = &inner[..inner.len() - 1];
        }
        tokens.push(Token::Action(parse_action(inner.trim())?));
        rest = &after[close + 2..];
    }
    let literal = if trim_next { rest.trim_start() } else { rest };
    if !literal.is_empty() {
        tokens.push(Token::Text(literal.to_string()));
    }
    Ok(tokens)
}

/// Where the action's `}}` is, skipping string literals.
fn find_close(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'}' if !in_string && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn parse_action(inner: &str) -> Result<Action> {
    if inner.starts_with("/*") {
        bail!("unsupported template construct: comment {{{{{inner}}}}}");
    }
    let words = split_words(inner)?;
    let Some(first) = words.first() else {
        bail!("empty action {{{{}}}} in the template");
    };
    let unsupported =
        |what: &str| anyhow!("unsupported template construct: {what} in {{{{{inner}}}}}");
    if words.iter().any(|w| w == "|") {
        return Err(unsupported("a pipe '|'"));
    }
    if let Some(w) = words.iter().find(|w| w.starts_with('$')) {
        return Err(unsupported(&format!("the variable {w}")));
    }
    match first.as_str() {
        "end" | "else" if words.len() > 1 => Err(unsupported(&format!("{{{{{inner}}}}}"))),
        "end" => Ok(Action::End),
        "else" => Ok(Action::Else),
        "range" => Ok(Action::Range(parse_expr(&words[1..], inner)?)),
        "if" => Ok(Action::If(parse_expr(&words[1..], inner)?)),
        "with" | "define" | "template" | "block" | "break" | "continue" | "not" | "and" | "or"
        | "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "printf" | "print" | "println" | "slice"
        | "call" | "html" | "js" | "urlquery" | "split" | "title" | "pad" | "truncate" => {
            Err(unsupported(first))
        }
        _ => parse_expr(&words, inner).map(Action::Expr),
    }
}

fn parse_expr(words: &[String], inner: &str) -> Result<Expr> {
    let Some(first) = words.first() else {
        bail!("missing value in {{{{{inner}}}}}");
    };
    let func = match first.as_str() {
        "json" => Some(Func::Json),
        "index" => Some(Func::Index),
        "join" => Some(Func::Join),
        "upper" => Some(Func::Upper),
        "lower" => Some(Func::Lower),
        "len" => Some(Func::Len),
        _ => None,
    };
    match func {
        Some(func) => {
            let args = words[1..]
                .iter()
                .map(|w| parse_arg(w, inner))
                .collect::<Result<Vec<_>>>()?;
            Ok(Expr::Call(func, args))
        }
        None if words.len() == 1 => Ok(Expr::Arg(parse_arg(first, inner)?)),
        None => bail!("unsupported template construct: {first} in {{{{{inner}}}}}"),
    }
}

fn parse_arg(word: &str, inner: &str) -> Result<Arg> {
    if let Some(quoted) = word.strip_prefix('"') {
        let text = unquote(quoted.strip_suffix('"').unwrap_or(quoted))?;
        return Ok(Arg::Lit(Value::String(text)));
    }
    if word == "." {
        return Ok(Arg::Field(Vec::new()));
    }
    match word.strip_prefix('.') {
        Some(path) if path.split('.').all(is_identifier) => {
            Ok(Arg::Field(path.split('.').map(String::from).collect()))
        }
        _ => match word.parse::<u64>() {
            Ok(n) => Ok(Arg::Lit(Value::from(n))),
            Err(_) => bail!("unsupported template construct: {word} in {{{{{inner}}}}}"),
        },
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

fn unquote(text: &str) -> Result<String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some('\\') => '\\',
            Some('"') => '"',
            other => bail!(
                "unsupported escape \\{} in a template string",
                other.unwrap_or(' ')
            ),
        });
    }
    Ok(out)
}

/// Splits an action into words, keeping string literals (with their quotes) whole.
fn split_words(inner: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            word.push(chars.next().unwrap_or('"'));
            let mut closed = false;
            while let Some(c) = chars.next() {
                word.push(c);
                match c {
                    '\\' => word.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    _ => {}
                }
            }
            if !closed {
                bail!("unterminated string in the template: {inner}");
            }
        } else if c == '`' || c == '(' || c == ')' {
            bail!("unsupported template construct: {c:?} in {{{{{inner}}}}}");
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
