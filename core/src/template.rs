//! Template data: values of the produced Secret built from the unsealed keys,
//! written in the Go-template forms Bitnami sealed-secrets and External Secrets
//! users know: `{{ .key }}` and `{{ index . "key" }}`, with plain text around
//! them, trim markers (`{{-`, `-}}`) and comments (`{{/* … */}}`). Anything else
//! is refused with the line and column of the action, never guessed at.
//!
//! ```
//! use std::collections::BTreeMap;
//! use sealgate_core::{SecretBytes, template::Template};
//!
//! let t = Template::parse("password: {{ .password }}\nuser: {{ index . \"user-name\" }}\n").unwrap();
//! assert_eq!(t.keys().collect::<Vec<_>>(), ["password", "user-name"]);
//! let values = BTreeMap::from([
//!     ("password".to_owned(), SecretBytes::copy_from(b"s3cr3t")),
//!     ("user-name".to_owned(), SecretBytes::copy_from(b"app")),
//! ]);
//! assert_eq!(t.render(&values).unwrap().expose(), b"password: s3cr3t\nuser: app\n");
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use crate::secret_bytes::SecretBytes;

/// Why a template cannot be used. Names the place and the key, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Text that is not one of the supported forms.
    #[error("line {line}, column {column}: {problem}")]
    Syntax {
        /// 1-based line of the action in the template.
        line: usize,
        /// 1-based column (in characters) of the action.
        column: usize,
        /// What is wrong.
        problem: String,
    },
    /// The template reads a key the SealedSecret does not seal.
    #[error("line {line}, column {column}: key {key:?} is not sealed in this SealedSecret")]
    NotSealed {
        /// The key read.
        key: String,
        /// 1-based line of the action.
        line: usize,
        /// 1-based column of the action.
        column: usize,
    },
}

/// A parsed template: text and the keys it inserts, in order.
#[derive(Clone, PartialEq, Eq)]
pub struct Template<'t> {
    parts: Vec<Part<'t>>,
}

#[derive(Clone, PartialEq, Eq)]
enum Part<'t> {
    Text(&'t str),
    Key {
        key: Cow<'t, str>,
        line: usize,
        column: usize,
    },
}

impl fmt::Debug for Template<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("keys", &self.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<'t> Template<'t> {
    /// Parses `text`; the first unsupported or malformed action is an error.
    pub fn parse(text: &'t str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut trim_next = false;
        while let Some(open) = rest.find("{{") {
            let action_start = text.len() - rest.len() + open;
            let (line, column) = position(text, action_start);
            let syntax = |problem: &str| TemplateError::Syntax {
                line,
                column,
                problem: problem.to_owned(),
            };
            let mut before = &rest[..open];
            let mut inner = &rest[open + 2..];
            if trim_next {
                before = before.trim_start();
            }
            // `{{- ` trims the text before; the dash must be followed by a space
            // (Go reads `{{-3}}` as the number -3).
            if let Some(after) = inner.strip_prefix('-').filter(|a| a.starts_with(is_space)) {
                before = before.trim_end();
                inner = after;
            }
            if !before.is_empty() {
                parts.push(Part::Text(before));
            }
            let (body, after, trims) = if let Some(comment) = inner.trim_start().strip_prefix("/*") {
                let end = comment
                    .find("*/")
                    .ok_or_else(|| syntax("unclosed comment: `/*` without `*/`"))?;
                let tail = &comment[end + 2..];
                let (trims, tail) =
                    close_marker(tail).ok_or_else(|| syntax("a comment must end with `*/}}`"))?;
                ("", tail, trims)
            } else {
                let close = inner
                    .find("}}")
                    .ok_or_else(|| syntax("unclosed action: `{{` without `}}`"))?;
                let mut body = &inner[..close];
                let mut trims = false;
                if let Some(b) = body.strip_suffix('-').filter(|b| b.ends_with(is_space)) {
                    body = b;
                    trims = true;
                }
                (body, &inner[close + 2..], trims)
            };
            if let Some(key) = action(body.trim_matches(is_space)).map_err(|p| syntax(&p))? {
                parts.push(Part::Key { key, line, column });
            }
            trim_next = trims;
            rest = after;
        }
        // As in Go, a `}}` outside an action is plain text.
        let tail = if trim_next { rest.trim_start() } else { rest };
        if !tail.is_empty() {
            parts.push(Part::Text(tail));
        }
        Ok(Template { parts })
    }

    /// The keys the template reads, in order of use (repeats included).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Key { key, .. } => Some(key.as_ref()),
            Part::Text(_) => None,
        })
    }

    /// Checks that every key read is in `sealed` (the names only; no value needed).
    pub fn check_keys(&self, mut sealed: impl FnMut(&str) -> bool) -> Result<(), TemplateError> {
        for part in &self.parts {
            if let Part::Key { key, line, column } = part
                && !sealed(key)
            {
                return Err(TemplateError::NotSealed {
                    key: key.to_string(),
                    line: *line,
                    column: *column,
                });
            }
        }
        Ok(())
    }

    /// The value the template builds from `values`, in one zeroizing buffer sized
    /// up front (no reallocation leaves a copy behind).
    pub fn render(&self, values: &BTreeMap<String, SecretBytes>) -> Result<SecretBytes, TemplateError> {
        self.check_keys(|k| values.contains_key(k))?;
        fn piece<'a>(part: &'a Part<'_>, values: &'a BTreeMap<String, SecretBytes>) -> &'a [u8] {
            match part {
                Part::Text(text) => text.as_bytes(),
                Part::Key { key, .. } => values.get(key.as_ref()).map_or(&[][..], SecretBytes::expose),
            }
        }
        let len = self.parts.iter().map(|p| piece(p, values).len()).sum();
        let mut out = Vec::with_capacity(len);
        for part in &self.parts {
            out.extend_from_slice(piece(part, values));
        }
        Ok(SecretBytes::new(out))
    }
}

/// Renders every entry of `spec.template.data` from the unsealed `values`.
/// Errors name the template key.
pub fn render_all(
    templates: &BTreeMap<String, String>,
    values: &BTreeMap<String, SecretBytes>,
) -> Result<BTreeMap<String, SecretBytes>, (String, TemplateError)> {
    templates
        .iter()
        .map(|(key, text)| {
            Template::parse(text)
                .and_then(|t| t.render(values))
                .map(|v| (key.clone(), v))
                .map_err(|e| (key.clone(), e))
        })
        .collect()
}

/// After the body of an action: `}}` or ` -}}`. Returns whether it trims, and the rest.
fn close_marker(tail: &str) -> Option<(bool, &str)> {
    if let Some(rest) = tail.strip_prefix("}}") {
        return Some((false, rest));
    }
    let rest = tail.trim_start_matches(is_space);
    (rest.len() < tail.len())
        .then(|| rest.strip_prefix("-}}"))
        .flatten()
        .map(|rest| (true, rest))
}

/// The key an action reads, `None` for an empty one (a comment), or what is wrong.
fn action(body: &str) -> Result<Option<Cow<'_, str>>, String> {
    if body.is_empty() {
        return Ok(None);
    }
    let single_word = !body.contains(|c: char| is_space(c) || "|()$".contains(c));
    if let Some(field) = body.strip_prefix('.').filter(|_| single_word) {
        if is_identifier(field) {
            return Ok(Some(Cow::Borrowed(field)));
        }
        return Err(format!(
            "`.{field}` is not a plain key: keys with other characters than letters, digits and `_` are read \
             with {{{{ index . \"key\" }}}}"
        ));
    }
    let mut words = body.splitn(2, is_space);
    if words.next() == Some("index") {
        let args = words.next().unwrap_or("").trim_start_matches(is_space);
        if let Some(literal) = args.strip_prefix('.').filter(|a| a.starts_with(is_space)) {
            let literal = literal.trim_matches(is_space);
            return string_literal(literal).map(Some);
        }
        return Err("only `index . \"key\"` is supported".to_owned());
    }
    Err(
        "unsupported template syntax: only {{ .key }}, {{ index . \"key\" }} and comments are supported"
            .to_owned(),
    )
}

/// A Go string literal: `"…"` with escapes, or a raw `` `…` ``.
fn string_literal(s: &str) -> Result<Cow<'_, str>, String> {
    let bad = || format!("`index . {s}`: the key must be one quoted string");
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return if raw.contains('`') {
            Err(bad())
        } else {
            Ok(Cow::Borrowed(raw))
        };
    }
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|r| !r.is_empty() || s.len() == 2)
        .ok_or_else(bad)?;
    if !inner.contains('\\') {
        return if inner.contains('"') {
            Err(bad())
        } else {
            Ok(Cow::Borrowed(inner))
        };
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Err(bad()),
            '\\' => out.push(match chars.next() {
                Some('\\') => '\\',
                Some('"') => '"',
                Some('n') => '\n',
                Some('t') => '\t',
                Some('r') => '\r',
                _ => return Err(format!("`index . {s}`: unsupported escape in the key")),
            }),
            c => out.push(c),
        }
    }
    Ok(Cow::Owned(out))
}

/// Go's identifier rule, which `{{ .key }}` needs.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// 1-based line and column (in characters) of byte offset `at`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<String, SecretBytes> {
        [
            ("username", "app-demo"),
            ("password", "p@ss-Ω"),
            ("api-key", "k-1"),
            ("empty", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), SecretBytes::copy_from(v.as_bytes())))
        .collect()
    }

    fn render(text: &str) -> Result<String, TemplateError> {
        let t = Template::parse(text)?;
        let out = t.render(&values())?;
        Ok(String::from_utf8(out.expose().to_vec()).unwrap())
    }

    #[test]
    fn the_forms_users_write() {
        let cases = [
            ("{{ .password }}", "p@ss-Ω"),
            ("{{.password}}", "p@ss-Ω"),
            ("{{ index . \"api-key\" }}", "k-1"),
            ("{{index . `api-key`}}", "k-1"),
            ("{{ index  .   \"username\" }}", "app-demo"),
            (
                "db:\n  user: {{ index . \"username\" }}\n  password: {{ .password }}\n",
                "db:\n  user: app-demo\n  password: p@ss-Ω\n",
            ),
            ("{{ .username }}:{{ .password }}@host", "app-demo:p@ss-Ω@host"),
            ("[{{ .empty }}]", "[]"),
            ("no actions at all", "no actions at all"),
            ("", ""),
            ("a  {{- .username -}}  b", "aapp-demob"),
            ("a\n\n{{- .username }}\n", "aapp-demo\n"),
            ("x {{/* a note */}}y", "x y"),
            ("x {{- /* trimmed */ -}} y", "xy"),
            ("a }} b", "a }} b"),
        ];
        for (text, want) in cases {
            assert_eq!(render(text).as_deref(), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn keys_are_listed_without_values() {
        let t = Template::parse("{{ .password }} {{ index . \"api-key\" }} {{ .password }}").unwrap();
        assert_eq!(t.keys().collect::<Vec<_>>(), ["password", "api-key", "password"]);
        assert!(!format!("{t:?}").contains("p@ss"));
        let escaped = Template::parse(r#"{{ index . "a\"b" }}"#).unwrap();
        assert_eq!(escaped.keys().collect::<Vec<_>>(), ["a\"b"]);
    }

    #[test]
    fn other_syntax_is_refused_with_its_place() {
        let refused = [
            ("{{ .password | b64enc }}", 1, 1),
            ("x\n  {{ range . }}{{ end }}", 2, 3),
            ("{{ .Values.x }}", 1, 1),
            ("{{ .api-key }}", 1, 1),
            ("{{ index .data \"x\" }}", 1, 1),
            ("{{ index . \"a\" \"b\" }}", 1, 1),
            ("{{ index . password }}", 1, 1),
            ("{{ $x := .password }}", 1, 1),
            ("{{ printf \"%s\" .password }}", 1, 1),
            ("{{ . }}", 1, 1),
            ("{{-3}}", 1, 1),
            ("ok {{ .password", 1, 4),
            ("{{/* no end }}", 1, 1),
            ("{{ index . \"bad\\q\" }}", 1, 1),
        ];
        for (text, line, column) in refused {
            match Template::parse(text) {
                Err(TemplateError::Syntax {
                    line: l, column: c, ..
                }) => {
                    assert_eq!((l, c), (line, column), "{text:?}");
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn a_key_that_is_not_sealed_is_named() {
        let err = render("a\nb {{ .missing }}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2, column 3: key \"missing\" is not sealed in this SealedSecret"
        );
    }

    #[test]
    fn render_all_names_the_failing_template_key() {
        let templates = BTreeMap::from([
            ("config.yaml".to_owned(), "user: {{ .username }}".to_owned()),
            ("dsn".to_owned(), "{{ .nope }}".to_owned()),
        ]);
        let (key, err) = render_all(&templates, &values()).unwrap_err();
        assert_eq!(key, "dsn");
        assert!(matches!(err, TemplateError::NotSealed { .. }));
        let ok = render_all(
            &BTreeMap::from([("c".to_owned(), "{{.username}}".to_owned())]),
            &values(),
        )
        .unwrap();
        assert_eq!(ok["c"].expose(), b"app-demo");
    }
}
