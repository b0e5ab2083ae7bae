//! Reading Kubernetes manifests: YAML or JSON, several documents, `List` kinds,
//! all under a parser budget so hostile input is rejected, not obeyed.

use serde_json::Value;
use serde_saphyr::Spanned;

/// Largest manifest input accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
/// Deepest nesting accepted (CRD schemas are the deepest real manifests, at about 40).
pub const MAX_DEPTH: usize = 128;
/// Most documents accepted in one input (a large `helm template` output has a few thousand).
pub const MAX_DOCUMENTS: usize = 100_000;

/// One object read from an input.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// 1-based position of the document in the input (after `List` expansion, the list's own).
    pub index: usize,
    /// 1-based line where the object starts.
    pub line: usize,
    /// The object.
    pub value: Value,
}

impl Document {
    /// `apiVersion` of the object, or `""`.
    pub fn api_version(&self) -> &str {
        self.value.get("apiVersion").and_then(Value::as_str).unwrap_or("")
    }

    /// `kind` of the object, or `""`.
    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    /// `metadata.name`, or `""`.
    pub fn name(&self) -> &str {
        self.value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `metadata.namespace`, if set.
    pub fn namespace(&self) -> Option<&str> {
        self.value.pointer("/metadata/namespace").and_then(Value::as_str)
    }

    /// Whether this is a Kubernetes object at all (has `apiVersion` and `kind`).
    pub fn is_kubernetes_object(&self) -> bool {
        !self.api_version().is_empty() && !self.kind().is_empty()
    }
}

/// Why an input could not be read. Messages carry positions, never the input's text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// The input is larger than [`MAX_INPUT_BYTES`].
    #[error("input is {len} bytes; at most {MAX_INPUT_BYTES} are read")]
    TooLarge {
        /// Size of the input.
        len: usize,
    },
    /// The input is not UTF-8.
    #[error("input is not UTF-8 text")]
    NotUtf8,
    /// The YAML is invalid or over budget.
    #[error("{}invalid YAML: {message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Yaml {
        /// 1-based line, when the parser knows it.
        line: Option<usize>,
        /// What the parser said.
        message: String,
    },
    /// The JSON is invalid.
    #[error("line {line}: invalid JSON: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// A document is not a mapping.
    #[error("line {line}: document {index} is not a mapping (a Kubernetes object)")]
    NotAnObject {
        /// 1-based line.
        line: usize,
        /// 1-based document index.
        index: usize,
    },
}

impl ManifestError {
    /// 1-based line of the error, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ManifestError::Yaml { line, .. } => *line,
            ManifestError::Json { line, .. } | ManifestError::NotAnObject { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// Parses every document of `bytes`, YAML or JSON (chosen by the first non-blank character).
///
/// Empty documents are skipped; non-mapping documents are an error.
pub fn parse_documents(bytes: &[u8]) -> Result<Vec<Document>, ManifestError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(ManifestError::TooLarge { len: bytes.len() });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ManifestError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.trim_start().chars().next();
    let raw = if matches!(first, Some('{') | Some('[')) {
        parse_json(text)?
    } else {
        parse_yaml(text)?
    };
    let mut docs = Vec::with_capacity(raw.len());
    for (i, (line, value)) in raw.into_iter().enumerate() {
        let index = i + 1;
        match value {
            Value::Null => {}
            Value::Object(_) => docs.push(Document { index, line, value }),
            _ => return Err(ManifestError::NotAnObject { line, index }),
        }
    }
    Ok(docs)
}

/// Replaces every `kind: …List` document that has `items` by its items.
pub fn expand_lists(docs: Vec<Document>) -> Vec<Document> {
    let mut out = Vec::with_capacity(docs.len());
    for mut doc in docs {
        let is_list = doc.kind().ends_with("List") && doc.value.get("items").is_some_and(Value::is_array);
        if !is_list {
            out.push(doc);
            continue;
        }
        if let Some(Value::Array(items)) = doc.value.get_mut("items").map(Value::take) {
            out.extend(items.into_iter().filter(Value::is_object).map(|value| Document {
                index: doc.index,
                line: doc.line,
                value,
            }));
        }
    }
    out
}

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_documents: MAX_DOCUMENTS,
            max_nodes: 20_000_000,
            max_events: 50_000_000,
            max_reader_input_bytes: Some(MAX_INPUT_BYTES),
            max_total_scalar_bytes: MAX_INPUT_BYTES,
        },
        with_snippet: false,
    }
}

fn parse_yaml(text: &str) -> Result<Vec<(usize, Value)>, ManifestError> {
    let docs: Vec<Spanned<Value>> =
        serde_saphyr::from_multiple_with_options(text, yaml_options()).map_err(|e| {
            let e = e.without_snippet();
            ManifestError::Yaml {
                line: e.location().map(|l| l.line() as usize).filter(|&l| l > 0),
                message: first_line(&e.to_string()),
            }
        })?;
    Ok(docs
        .into_iter()
        .map(|d| (d.referenced.line().max(1) as usize, d.value))
        .collect())
}

fn parse_json(text: &str) -> Result<Vec<(usize, Value)>, ManifestError> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut offset = 0;
    loop {
        let start = offset + text[offset..].len() - text[offset..].trim_start().len();
        match stream.next() {
            None => break,
            Some(Ok(value)) => {
                out.push((line_of(text, start), value));
                offset = stream.byte_offset();
            }
            Some(Err(e)) => {
                return Err(ManifestError::Json {
                    line: e.line().max(1),
                    message: json_message(&e),
                });
            }
        }
        if out.len() > MAX_DOCUMENTS {
            return Err(ManifestError::Json {
                line: line_of(text, offset),
                message: format!("more than {MAX_DOCUMENTS} documents"),
            });
        }
    }
    Ok(out)
}

/// serde_json's messages for syntax errors do not quote input; strip its position suffix.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_owned()
}

/// Why an object could not be written as YAML or JSON.
#[derive(Debug, thiserror::Error)]
#[error("could not serialize: {0}")]
pub struct EmitError(String);

fn emit_options() -> serde_saphyr::SerializerOptions {
    // Base64 values stay on one line: no folded or literal block scalars.
    serde_saphyr::ser_options! { prefer_block_scalars: false }
}

/// Writes objects as YAML documents separated by `---`.
pub fn to_yaml<T: serde::Serialize>(objects: &[T]) -> Result<String, EmitError> {
    serde_saphyr::to_string_multiple_with_options(objects, emit_options())
        .map_err(|e| EmitError(e.to_string()))
}

/// Writes one object as pretty JSON, or several as a `v1` `List`, with a final newline.
pub fn to_json<T: serde::Serialize>(objects: &[T]) -> Result<String, EmitError> {
    let mut text = match objects {
        [one] => serde_json::to_string_pretty(one),
        many => serde_json::to_string_pretty(&serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": many,
        })),
    }
    .map_err(|e| EmitError(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_documents_with_lines() {
        let docs = parse_documents(
            b"# c\napiVersion: v1\nkind: Secret\n---\n---\nkind: ConfigMap\napiVersion: v1\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].line, docs[0].kind()), (1, 2, "Secret"));
        assert_eq!(docs[1].kind(), "ConfigMap");
        assert_eq!(docs[1].line, 6);
    }

    #[test]
    fn json_stream_with_lines() {
        let docs = parse_documents(b"{\"kind\":\"A\"}\n\n  {\"kind\":\"B\"}").unwrap();
        assert_eq!(docs.iter().map(|d| d.line).collect::<Vec<_>>(), vec![1, 3]);
        let err = parse_documents(b"{\"kind\":\n\"A\",}").unwrap_err();
        assert_eq!(err.line(), Some(2));
    }

    #[test]
    fn lists_expand() {
        let docs = parse_documents(b"kind: List\napiVersion: v1\nitems:\n- {kind: Secret}\n- {kind: Pod}\n")
            .unwrap();
        let docs = expand_lists(docs);
        assert_eq!(
            docs.iter().map(Document::kind).collect::<Vec<_>>(),
            vec!["Secret", "Pod"]
        );
    }

    #[test]
    fn scalars_and_bad_yaml_are_errors() {
        assert!(matches!(
            parse_documents(b"just a string\n"),
            Err(ManifestError::NotAnObject { .. })
        ));
        let err = parse_documents(b"a: b\n  c: [\n").unwrap_err();
        assert!(matches!(err, ManifestError::Yaml { .. }), "{err:?}");
    }

    #[test]
    fn yaml_output_keeps_long_strings_on_one_line() {
        let long = "QUJD".repeat(100);
        let text = to_yaml(&[
            serde_json::json!({"kind": "A", "v": long}),
            serde_json::json!({"kind": "B"}),
        ])
        .unwrap();
        assert!(text.lines().any(|l| l.trim() == format!("v: {long}")), "{text}");
        let back = parse_documents(text.as_bytes()).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].value["v"], long);
    }

    #[test]
    fn alias_bomb_is_rejected() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            bomb.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        assert!(matches!(
            parse_documents(bomb.as_bytes()),
            Err(ManifestError::Yaml { .. })
        ));
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let deep = format!("{}x{}", "[".repeat(10_000), "]".repeat(10_000));
        let doc = format!("a: {deep}\n");
        assert!(parse_documents(doc.as_bytes()).is_err());
        let deep_json = format!("{{\"a\": {deep}}}");
        assert!(parse_documents(deep_json.as_bytes()).is_err());
    }
}
