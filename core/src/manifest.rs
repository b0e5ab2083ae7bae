//! Reading Kubernetes manifests: YAML or JSON, several documents, `List` kinds,
//! all under a parser budget so hostile input is rejected, not obeyed.
//!
//! A key repeated in one mapping is read as kubectl and Helm read it: the last
//! value wins. [`parse_with_duplicates`] also says where each repeat is.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::secret_bytes::zeroize_json;

pub use locate::Locator;

mod locate;

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

/// A mapping key that appears more than once in one mapping of a document.
///
/// kubectl and Helm keep the last value; so does this parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateKey {
    /// 1-based position of the document in the input, as [`Document::index`].
    pub index: usize,
    /// Position in the `items` of a `List`, as [`Document::item`] after [`expand_lists`].
    pub item: Option<usize>,
    /// Path of the mapping inside the object (or the `List` item), e.g.
    /// `metadata.labels` or `spec.containers[0].env[1]`; empty for the top level.
    pub path: String,
    /// The repeated key.
    pub key: String,
    /// How many times it appears (at least 2).
    pub count: usize,
    /// 1-based line of each appearance, in order; empty if they could not be found.
    pub lines: Vec<usize>,
}

impl DuplicateKey {
    /// The line to point at: where the key appears the second time.
    pub fn line(&self) -> Option<usize> {
        self.lines.get(1).copied()
    }
}

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "top-level key {:?} appears ", self.key)?;
        } else {
            write!(f, "{}: key {:?} appears ", self.path, self.key)?;
        }
        match self.count {
            2 => f.write_str("twice")?,
            n => write!(f, "{n} times")?,
        }
        match self.lines.as_slice() {
            [] => {}
            [first, second] => write!(f, " (line {first} and line {second})")?,
            [init @ .., last] => {
                let init: Vec<String> = init.iter().map(usize::to_string).collect();
                write!(f, " (lines {} and {last})", init.join(", "))?;
            }
        }
        f.write_str("; the last value is used, as kubectl does")
    }
}

/// Documents of one input, and the keys repeated in them.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The documents, as [`parse_documents`] returns them.
    pub documents: Vec<Document>,
    /// Every key repeated within one mapping, one entry per mapping and key.
    pub duplicate_keys: Vec<DuplicateKey>,
}

/// Parses every document of `bytes`, YAML or JSON (chosen by the first non-blank character).
///
/// Empty documents are skipped; non-mapping documents are an error. A key
/// repeated in a mapping keeps its last value; [`parse_with_duplicates`] reports them.
pub fn parse_documents(bytes: &[u8]) -> Result<Vec<Document>, ManifestError> {
    parse_tracked(bytes).map(|(_, documents, _)| documents)
}

/// [`parse_documents`], and where each repeated key is.
///
/// Finding the lines of repeated keys takes a second, positioned parse, done only
/// for inputs that have any.
pub fn parse_with_duplicates(bytes: &[u8]) -> Result<Parsed, ManifestError> {
    let (text, documents, repeats) = parse_tracked(bytes)?;
    if repeats.is_empty() {
        return Ok(Parsed {
            documents,
            duplicate_keys: Vec::new(),
        });
    }
    let locator = Locator::from_text(text);
    let duplicate_keys = repeats
        .into_iter()
        .map(|(index, repeat)| describe_repeat(index, repeat, &documents, locator.as_ref()))
        .collect();
    Ok(Parsed {
        documents,
        duplicate_keys,
    })
}

type Repeats = Vec<(usize, Repeat)>;

fn parse_tracked(bytes: &[u8]) -> Result<(&str, Vec<Document>, Repeats), ManifestError> {
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
    let mut repeats = Vec::new();
    for (i, (line, tracked)) in raw.into_iter().enumerate() {
        let index = i + 1;
        match tracked.value {
            Value::Null => {}
            Value::Object(_) => docs.push(Document {
                index,
                line,
                item: None,
                value: tracked.value,
            }),
            _ => return Err(ManifestError::NotAnObject { line, index }),
        }
        repeats.extend(tracked.repeats.into_iter().map(|r| (index, r)));
    }
    Ok((text, docs, repeats))
}

/// Turns a repeat found while parsing into a [`DuplicateKey`] with lines and `List` item.
fn describe_repeat(
    index: usize,
    repeat: Repeat,
    docs: &[Document],
    locator: Option<&Locator>,
) -> DuplicateKey {
    let mut path = repeat.rev_path;
    path.reverse();
    let lines = locator
        .map(|l| l.key_lines(index, &path, &repeat.key))
        .unwrap_or_default();
    // Inside a `List` that `expand_lists` expands, the path is relative to the item.
    let list_items = docs
        .iter()
        .find(|d| d.index == index)
        .filter(|d| d.kind().ends_with("List"))
        .and_then(|d| d.value.get("items"))
        .and_then(Value::as_array);
    let (item, rest) = match (list_items, path.as_slice()) {
        (Some(items), [Segment::Key(k), Segment::Index(i), rest @ ..])
            if k == "items" && items.get(*i).is_some_and(Value::is_object) =>
        {
            (Some(*i), rest)
        }
        _ => (None, path.as_slice()),
    };
    let mut text = String::new();
    for segment in rest {
        match segment {
            Segment::Key(k) if text.is_empty() => text.push_str(k),
            Segment::Key(k) => {
                text.push('.');
                text.push_str(k);
            }
            Segment::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    DuplicateKey {
        index,
        item,
        path: text,
        key: repeat.key,
        count: repeat.count,
        lines,
    }
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
        // As kubectl and Helm: a repeated key keeps its last value. The entries reach
        // `Tracked` (which keeps the last and notes the repeat) and the locator's `Node`.
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::PassThrough,
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

fn parse_yaml(text: &str) -> Result<Vec<(usize, Tracked)>, ManifestError> {
    let docs: Vec<Spanned<Tracked>> = serde_saphyr::from_multiple_with_options(text, yaml_options())
        .map_err(|e| {
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

fn parse_json(text: &str) -> Result<Vec<(usize, Tracked)>, ManifestError> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Tracked>();
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

/// A parsed value, and the keys repeated in mappings inside it.
struct Tracked {
    value: Value,
    repeats: Vec<Repeat>,
}

/// A key repeated in one mapping, as found while parsing.
struct Repeat {
    /// Path from the value it was found in down to the mapping, innermost first.
    rev_path: Vec<Segment>,
    key: String,
    count: usize,
}

/// One step of a path: a mapping key or a sequence position.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl Tracked {
    fn plain(value: Value) -> Self {
        Tracked {
            value,
            repeats: Vec::new(),
        }
    }
}

/// Builds what `serde_json::Value` builds (same numbers, strings, last value for a
/// repeated key), noting each repeated key on the way.
impl<'de> Deserialize<'de> for Tracked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tracked;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML or JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Tracked, E> {
                Ok(Tracked::plain(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Tracked, E> {
                Ok(Tracked::plain(Value::Number(v.into())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Tracked, E> {
                Ok(Tracked::plain(Value::Number(v.into())))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Tracked, E> {
                let number = serde_json::Number::deserialize(de::value::I128Deserializer::<E>::new(v))?;
                Ok(Tracked::plain(Value::Number(number)))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Tracked, E> {
                let number = serde_json::Number::deserialize(de::value::U128Deserializer::<E>::new(v))?;
                Ok(Tracked::plain(Value::Number(number)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Tracked, E> {
                Ok(Tracked::plain(
                    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E>(self, v: &str) -> Result<Tracked, E> {
                Ok(Tracked::plain(Value::String(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Tracked, E> {
                Ok(Tracked::plain(Value::String(v)))
            }
            fn visit_none<E>(self) -> Result<Tracked, E> {
                Ok(Tracked::plain(Value::Null))
            }
            fn visit_unit<E>(self) -> Result<Tracked, E> {
                Ok(Tracked::plain(Value::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tracked, D::Error> {
                Tracked::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tracked, A::Error> {
                let mut items = Vec::new();
                let mut repeats = Vec::new();
                while let Some(item) = seq.next_element::<Tracked>()? {
                    let i = items.len();
                    repeats.extend(item.repeats.into_iter().map(|mut r| {
                        r.rev_path.push(Segment::Index(i));
                        r
                    }));
                    items.push(item.value);
                }
                Ok(Tracked {
                    value: Value::Array(items),
                    repeats,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Tracked, A::Error> {
                let mut map = Map::new();
                let mut repeats: Vec<Repeat> = Vec::new();
                let mut here: Vec<Repeat> = Vec::new();
                while let Some(key) = access.next_key::<String>()? {
                    let item: Tracked = access.next_value()?;
                    repeats.extend(item.repeats.into_iter().map(|mut r| {
                        r.rev_path.push(Segment::Key(key.clone()));
                        r
                    }));
                    match map.entry(key) {
                        serde_json::map::Entry::Vacant(e) => {
                            e.insert(item.value);
                        }
                        serde_json::map::Entry::Occupied(mut e) => {
                            // The earlier value is dropped; it may be plaintext.
                            let mut earlier = e.insert(item.value);
                            zeroize_json(&mut earlier);
                            match here.iter_mut().find(|r| r.key == *e.key()) {
                                Some(r) => r.count += 1,
                                None => here.push(Repeat {
                                    rev_path: Vec::new(),
                                    key: e.key().clone(),
                                    count: 2,
                                }),
                            }
                        }
                    }
                }
                here.append(&mut repeats);
                Ok(Tracked {
                    value: Value::Object(map),
                    repeats: here,
                })
            }
        }
        d.deserialize_any(V)
    }
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
    fn locate_finds_lines_by_name_and_index() {
        let text = include_bytes!("../tests/testdata/locate_lines.yaml");
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

    #[test]
    fn the_locator_keeps_no_secret_values() {
        let text = include_bytes!("../tests/testdata/locator_canaries.yaml");
        let locator = Locator::new(text).unwrap();
        // Only list items' names survive: what `containers[web]` and `env[DB_PASS]` match.
        assert_eq!(locator.kept_strings(), vec!["web", "DB_PASS"]);
        let docs = parse_documents(text).unwrap();
        assert_eq!(locator.line(&docs[0], "stringData.token"), Some(8));
        assert_eq!(
            locator.line(&docs[2], "spec.containers[web].env[DB_PASS]"),
            Some(24)
        );
        assert!(!format!("{locator:?}").contains("canary"));
    }

    const LABELS_TWICE: &[u8] = include_bytes!("../tests/testdata/labels_twice.yaml");

    #[test]
    fn repeated_keys_keep_the_last_value_as_kubectl_does() {
        let docs = parse_documents(LABELS_TWICE).unwrap();
        assert_eq!(docs[0].value["metadata"]["labels"]["app"], "aws-dranet");
        assert_eq!(docs[0].value["metadata"]["labels"]["tier"], "node");
        let parsed = parse_with_duplicates(LABELS_TWICE).unwrap();
        assert_eq!(parsed.documents, docs);
        assert_eq!(
            parsed.duplicate_keys,
            vec![
                DuplicateKey {
                    index: 1,
                    item: None,
                    path: "metadata.labels".into(),
                    key: "app".into(),
                    count: 2,
                    lines: vec![7, 9],
                },
                DuplicateKey {
                    index: 1,
                    item: None,
                    path: "spec.template.spec.containers[0].env[0]".into(),
                    key: "value".into(),
                    count: 2,
                    lines: vec![17, 18],
                },
            ]
        );
        assert_eq!(parsed.duplicate_keys[0].line(), Some(9));
        assert_eq!(
            parsed.duplicate_keys[0].to_string(),
            "metadata.labels: key \"app\" appears twice (line 7 and line 9); the last value is used, as kubectl does"
        );
        // Field paths point at the value in effect, the last one.
        let locator = Locator::new(LABELS_TWICE).unwrap();
        assert_eq!(locator.line(&docs[0], "metadata.labels.app"), Some(9));
    }

    #[test]
    fn repeated_keys_at_the_top_in_lists_and_many_times() {
        let text = include_bytes!("../tests/testdata/repeated_keys_list.yaml");
        let parsed = parse_with_duplicates(text).unwrap();
        let items = expand_lists(parsed.documents);
        assert_eq!(items[1].value["stringData"]["k"], "three");
        let mut dups = parsed.duplicate_keys;
        dups.sort_by_key(|d| d.lines.clone());
        assert_eq!(dups.len(), 2, "{dups:?}");
        assert_eq!(
            (dups[0].item, dups[0].path.as_str(), dups[0].count),
            (None, "", 2)
        );
        assert_eq!(
            dups[0].to_string(),
            "top-level key \"kind\" appears twice (line 1 and line 12); the last value is used, as kubectl does"
        );
        assert_eq!((dups[1].item, dups[1].path.as_str()), (Some(1), "stringData"));
        assert_eq!(
            dups[1].to_string(),
            "stringData: key \"k\" appears 3 times (lines 9, 10 and 11); the last value is used, as kubectl does"
        );
    }

    #[test]
    fn repeated_keys_in_json_are_reported_too() {
        let text = b"{\"kind\": \"Pod\",\n \"metadata\": {\"name\": \"a\",\n   \"name\": \"b\"}}\n";
        let parsed = parse_with_duplicates(text).unwrap();
        assert_eq!(parsed.documents[0].value["metadata"]["name"], "b");
        assert_eq!(
            parsed.duplicate_keys,
            vec![DuplicateKey {
                index: 1,
                item: None,
                path: "metadata".into(),
                key: "name".into(),
                count: 2,
                lines: vec![2, 3],
            }]
        );
        // A stream of JSON objects is no YAML, so the lines are not found; the repeat still is.
        let stream = b"{\"kind\": \"Pod\"}\n{\"kind\": \"Pod\", \"kind\": \"Job\"}\n";
        let parsed = parse_with_duplicates(stream).unwrap();
        assert_eq!(parsed.documents[1].value["kind"], "Job");
        let [dup] = parsed.duplicate_keys.as_slice() else {
            panic!("{:?}", parsed.duplicate_keys)
        };
        assert_eq!((dup.index, dup.line()), (2, None));
        assert_eq!(
            dup.to_string(),
            "top-level key \"kind\" appears twice; the last value is used, as kubectl does"
        );
    }

    #[test]
    fn merge_keys_and_distinct_keys_are_not_repeats() {
        let text = b"kind: A\nbase: &b {x: 1, y: 2}\nspec:\n  <<: *b\n  x: 3\n---\nkind: B\nlabels: {app: a, App: b}\n";
        let parsed = parse_with_duplicates(text).unwrap();
        assert_eq!(parsed.duplicate_keys, vec![]);
        assert_eq!(parsed.documents[0].value["spec"]["x"], 3);
        assert_eq!(parsed.documents[0].value["spec"]["y"], 2);
    }
}
