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
    /// Position in the `items` of the `List` it came from, if any.
    pub item: Option<usize>,
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
            Value::Object(_) => docs.push(Document {
                index,
                line,
                item: None,
                value,
            }),
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
            out.extend(
                items
                    .into_iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_object())
                    .map(|(i, value)| Document {
                        index: doc.index,
                        line: doc.line,
                        item: Some(i),
                        value,
                    }),
            );
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
            max_recorded_anchor_events: 100_000,
        },
        // Real manifests use few aliases (rendered charts none); a billion-laughs
        // document is refused after a bounded amount of work.
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_alias_expansions_per_anchor: 1_000,
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

/// A YAML node with the line it starts on, for pointing findings at lines.
///
/// Building this tree costs more than plain parsing, so [`parse_documents`]
/// does not; [`locate`] builds it only for inputs that have something to report.
#[derive(Debug)]
enum Node {
    Scalar(Option<String>),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(String, Spanned<Node>)>),
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any YAML node")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar(None))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                // Only short strings can be names used in paths; values are not kept.
                Ok(Node::Scalar((v.len() <= 253).then(|| v.to_owned())))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar(None))
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar(None))
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                serde::Deserialize::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<serde_json::Value>()? {
                    let key = match key {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    entries.push((key, map.next_value()?));
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// Splits a field path like `spec.containers[api].env[DB.PASS]` at dots outside brackets.
fn path_segments(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// Finds lines of field paths in one input, for findings. Parses the input once, keeping
/// positions; build it only for inputs that have something to report.
pub struct Locator {
    docs: Vec<Spanned<Node>>,
}

impl Locator {
    /// Parses `bytes` again with positions; `None` if it does not parse.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let docs: Vec<Spanned<Node>> = serde_saphyr::from_multiple_with_options(text, yaml_options()).ok()?;
        let docs = docs
            .into_iter()
            .filter(|d| !matches!(d.value, Node::Scalar(None)))
            .collect();
        Some(Locator { docs })
    }

    /// The 1-based line of `path` in `doc`. Path segments are keys, and `key[selector]`
    /// picks a list element by its `name` field, or by position when the selector is a
    /// number. Falls back to the deepest part of the path that exists.
    pub fn line(&self, doc: &Document, path: &str) -> Option<usize> {
        self.line_at(doc.index, doc.item, path)
    }

    /// [`Locator::line`] for the document numbered `index` (and `List` item `item`).
    pub fn line_at(&self, index: usize, item: Option<usize>, path: &str) -> Option<usize> {
        let mut node = self.docs.get(index.checked_sub(1)?)?;
        let mut line = node.referenced.line();
        let item = item.map(|i| format!("items[{i}]"));
        for segment in item.iter().map(String::as_str).chain(path_segments(path)) {
            let (key, selector) = match segment.split_once('[') {
                Some((k, rest)) => (k, Some(rest.strip_suffix(']').unwrap_or(rest))),
                None => (segment, None),
            };
            if !key.is_empty() {
                let Node::Map(entries) = &node.value else { break };
                let Some((_, child)) = entries.iter().find(|(k, _)| k == key) else {
                    break;
                };
                node = child;
                line = node.referenced.line();
            }
            if let Some(sel) = selector {
                let Node::Seq(items) = &node.value else { break };
                let by_name = items.iter().find(|item| match &item.value {
                    Node::Map(entries) => entries
                        .iter()
                        .any(|(k, v)| k == "name" && matches!(&v.value, Node::Scalar(Some(n)) if n == sel)),
                    _ => false,
                });
                let Some(item) = by_name.or_else(|| sel.parse::<usize>().ok().and_then(|i| items.get(i)))
                else {
                    break;
                };
                node = item;
                line = node.referenced.line();
            }
        }
        usize::try_from(line).ok().filter(|&l| l > 0)
    }
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
    fn locate_finds_lines_by_name_and_index() {
        let text = b"kind: ConfigMap\n---\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: x\n      - name: api\n        env:\n        - name: DB.PASS\n          valueFrom: {}\n";
        let docs = parse_documents(text).unwrap();
        let loc = Locator::new(text).unwrap();
        let d = &docs[1];
        assert_eq!(
            loc.line(d, "spec.template.spec.containers[api].env[DB.PASS]"),
            Some(12)
        );
        assert_eq!(loc.line(d, "spec.template.spec.containers[1]"), Some(10));
        assert_eq!(loc.line(d, "spec.template.spec.containers[nope].env"), Some(8));
        assert_eq!(loc.line(&docs[0], "kind"), Some(1));
        let missing = Document {
            index: 3,
            ..docs[0].clone()
        };
        assert_eq!(loc.line(&missing, "kind"), None);

        let json = b"{\"kind\": \"Pod\",\n \"spec\": {\"containers\": [\n {\"name\": \"a\"}]}}";
        let docs = parse_documents(json).unwrap();
        assert_eq!(
            Locator::new(json).unwrap().line(&docs[0], "spec.containers[a]"),
            Some(3)
        );

        let list = b"kind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n- kind: Pod\n  spec:\n    containers: []\n";
        let docs = expand_lists(parse_documents(list).unwrap());
        assert_eq!(
            Locator::new(list).unwrap().line(&docs[1], "spec.containers"),
            Some(7)
        );
    }

    #[test]
    fn ordinary_aliases_still_work() {
        let docs = parse_documents(b"kind: A\nlabels: &l {app: web, tier: front}\nselector: *l\n").unwrap();
        assert_eq!(docs[0].value["selector"]["tier"], "front");
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
