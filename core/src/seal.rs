//! The sealed-value format: a binding header and the value, age-encrypted, base64.
//!
//! ```text
//! plaintext := "sealgate" version:u8 scope:u8 ns:str name:str key:str value:bytes
//! str       := len:u16be utf8[len]
//! ```
//!
//! age authenticates the whole plaintext, so the binding cannot be changed
//! without the recipients' keys. `docs/format.md` is the normative description.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::keys::{Keyring, RecipientSet};
use crate::secret_bytes::SecretBytes;

/// Magic bytes opening every sealed plaintext.
pub const MAGIC: &[u8; 8] = b"sealgate";
/// The only format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Largest sealed value (base64 text) accepted: Kubernetes caps a Secret at 1 MiB.
pub const MAX_SEALED_LEN: usize = 2 * 1024 * 1024;
/// Largest plaintext value sealed: the Kubernetes Secret size limit.
pub const MAX_VALUE_LEN: usize = 1024 * 1024;

/// Where a sealed value may be unsealed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Only under the same namespace, Secret name and data key.
    #[default]
    Strict,
    /// Under any Secret name in the same namespace, same data key.
    Namespace,
    /// Under any namespace and Secret name, same data key.
    Cluster,
}

impl Scope {
    /// All scopes, in the order of their format byte.
    pub const ALL: [Scope; 3] = [Scope::Strict, Scope::Namespace, Scope::Cluster];

    /// Lowercase name, as on the command line and in annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::Namespace => "namespace",
            Scope::Cluster => "cluster",
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            Scope::Strict => 1,
            Scope::Namespace => 2,
            Scope::Cluster => 3,
        }
    }

    fn from_byte(b: u8) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.to_byte() == b)
    }

    fn binds_name(self) -> bool {
        self == Scope::Strict
    }

    fn binds_namespace(self) -> bool {
        self != Scope::Cluster
    }

    /// Whether the scope binds `field`. Every scope binds the data key, so two
    /// values of one object can never be swapped.
    pub fn binds(self, field: BindingField) -> bool {
        match field {
            BindingField::Namespace => self.binds_namespace(),
            BindingField::Name => self.binds_name(),
            BindingField::Key => true,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("unknown scope {s:?} (expected strict, namespace or cluster)"))
    }
}

/// The place a value sits in: a data key of a SealedSecret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    /// Namespace of the SealedSecret.
    pub namespace: &'a str,
    /// Name of the SealedSecret (and of the Secret it produces).
    pub name: &'a str,
    /// Data key.
    pub key: &'a str,
}

/// What a value was sealed for. Fields a scope does not bind are empty; the key never is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    scope: Scope,
    namespace: String,
    name: String,
    key: String,
}

/// The part of a binding that did not match where the value sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingField {
    /// The namespace differs.
    Namespace,
    /// The SealedSecret name differs.
    Name,
    /// The data key differs.
    Key,
}

impl fmt::Display for BindingField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BindingField::Namespace => "namespace",
            BindingField::Name => "name",
            BindingField::Key => "key",
        })
    }
}

impl Binding {
    /// The binding for a value sealed with `scope` at `at`; fields the scope does not bind are dropped.
    pub fn new(scope: Scope, at: Location<'_>) -> Result<Self, SealError> {
        let keep = |bound: bool, v: &str| if bound { v.to_owned() } else { String::new() };
        let binding = Binding {
            scope,
            namespace: keep(scope.binds(BindingField::Namespace), at.namespace),
            name: keep(scope.binds(BindingField::Name), at.name),
            key: keep(scope.binds(BindingField::Key), at.key),
        };
        for (field, value) in [
            (BindingField::Namespace, &binding.namespace),
            (BindingField::Name, &binding.name),
            (BindingField::Key, &binding.key),
        ] {
            if scope.binds(field) && value.is_empty() {
                return Err(SealError::MissingBinding { scope, field });
            }
            if value.len() > usize::from(u16::MAX) {
                return Err(SealError::BindingTooLong { field });
            }
        }
        Ok(binding)
    }

    /// The scope.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The bound namespace (empty for `cluster`).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The bound name (empty unless `strict`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bound data key (never empty).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether a value with this binding may be used at `at`; the first differing part otherwise.
    pub fn check(&self, at: Location<'_>) -> Result<(), UnsealError> {
        let mismatch = |field, sealed_for: &str, found: &str| UnsealError::BindingMismatch {
            field,
            scope: self.scope,
            sealed_for: sealed_for.to_owned(),
            found: found.to_owned(),
        };
        for (field, sealed_for, found) in [
            (BindingField::Namespace, &self.namespace, at.namespace),
            (BindingField::Name, &self.name, at.name),
            (BindingField::Key, &self.key, at.key),
        ] {
            if self.scope.binds(field) && sealed_for != found {
                return Err(mismatch(field, sealed_for, found));
            }
        }
        Ok(())
    }

    /// The plaintext to encrypt: header then value, in a zeroizing buffer.
    pub fn encode(&self, value: &[u8]) -> SecretBytes {
        let mut out = Zeroizing::new(Vec::with_capacity(
            MAGIC.len() + 2 + 6 + self.namespace.len() + self.name.len() + self.key.len() + value.len(),
        ));
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.push(self.scope.to_byte());
        for field in [&self.namespace, &self.name, &self.key] {
            // Lengths were checked in `new`.
            let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(value);
        SecretBytes::from(out)
    }

    /// Splits a decrypted plaintext into its binding and value.
    pub fn decode(plaintext: &[u8]) -> Result<(Binding, &[u8]), UnsealError> {
        let rest = plaintext
            .strip_prefix(MAGIC.as_slice())
            .ok_or(UnsealError::Malformed(
                "plaintext does not start with the sealgate magic",
            ))?;
        let (&version, rest) = rest
            .split_first()
            .ok_or(UnsealError::Malformed("header ends before the version byte"))?;
        if version != FORMAT_VERSION {
            return Err(UnsealError::UnknownVersion(version));
        }
        let (&scope_byte, mut rest) = rest
            .split_first()
            .ok_or(UnsealError::Malformed("header ends before the scope byte"))?;
        let scope = Scope::from_byte(scope_byte).ok_or(UnsealError::Malformed("unknown scope byte"))?;
        let mut fields: [String; 3] = Default::default();
        for field in &mut fields {
            let (text, tail) = read_str(rest)?;
            *field = text;
            rest = tail;
        }
        let [namespace, name, key] = fields;
        if scope == Scope::Cluster && namespace.is_empty() && name.is_empty() && key.is_empty() {
            // What builds before the key was bound in every scope wrote.
            return Err(UnsealError::UnboundClusterKey);
        }
        let fits = |field: BindingField, value: &str| scope.binds(field) != value.is_empty();
        if !(fits(BindingField::Namespace, &namespace)
            && fits(BindingField::Name, &name)
            && fits(BindingField::Key, &key))
        {
            return Err(UnsealError::Malformed("binding fields do not fit the scope"));
        }
        Ok((
            Binding {
                scope,
                namespace,
                name,
                key,
            },
            rest,
        ))
    }
}

fn read_str(input: &[u8]) -> Result<(String, &[u8]), UnsealError> {
    const TRUNCATED: UnsealError = UnsealError::Malformed("header is truncated");
    let (len, rest) = input.split_first_chunk::<2>().ok_or(TRUNCATED)?;
    let len = usize::from(u16::from_be_bytes(*len));
    if rest.len() < len {
        return Err(TRUNCATED);
    }
    let (text, rest) = rest.split_at(len);
    let text = std::str::from_utf8(text).map_err(|_| UnsealError::Malformed("binding field is not UTF-8"))?;
    Ok((text.to_owned(), rest))
}

/// Why a value could not be sealed. Never contains the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// No recipient was given.
    #[error("no recipients to seal to")]
    NoRecipients,
    /// A field the scope binds is empty.
    #[error("scope {scope} binds the {field}, but it is empty")]
    MissingBinding {
        /// The scope.
        scope: Scope,
        /// The empty field.
        field: BindingField,
    },
    /// A binding field is longer than the format allows.
    #[error("the {field} is longer than 65535 bytes")]
    BindingTooLong {
        /// The field.
        field: BindingField,
    },
    /// The value is larger than a Secret may be.
    #[error("value is {len} bytes; a Kubernetes Secret holds at most {MAX_VALUE_LEN}")]
    TooLarge {
        /// The value's length in bytes.
        len: usize,
    },
    /// age failed to encrypt (an I/O error on an in-memory buffer; not expected).
    #[error("age encryption failed: {0}")]
    Age(String),
}

/// Why a value could not be unsealed. Never contains the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnsealError {
    /// The text is not valid base64 (standard alphabet, padded).
    #[error("not valid base64 (standard alphabet, padded, one line)")]
    Base64,
    /// The text is longer than any sealed value can be.
    #[error("sealed value is {len} bytes of text; at most {MAX_SEALED_LEN} are accepted")]
    TooLarge {
        /// Length of the text.
        len: usize,
    },
    /// The bytes are not an age file this build understands.
    #[error("not an age-encryption.org/v1 file: {0}")]
    NotAge(&'static str),
    /// None of the keyring's identities is a recipient of the value.
    #[error("not sealed to any key in this keyring")]
    NoMatchingKey,
    /// The header MAC failed: the age header was altered or corrupted.
    #[error("age header MAC check failed (the value was altered or corrupted)")]
    BadMac,
    /// The payload failed authentication: truncated, altered or corrupted.
    #[error("age payload failed authentication (truncated, altered or corrupted)")]
    BadPayload,
    /// The plaintext header uses a version this build does not know.
    #[error("unknown sealed-value format version {0} (this build reads version {FORMAT_VERSION})")]
    UnknownVersion(u8),
    /// The plaintext header is malformed.
    #[error("malformed sealed value: {0}")]
    Malformed(&'static str),
    /// Sealed under cluster scope without its data key, as builds before the key
    /// was bound in every scope did. Such a value must be sealed again.
    #[error(
        "sealed under cluster scope without its data key (by a sealgate build from before every \
         scope bound the key); it no longer unseals: seal the value again"
    )]
    UnboundClusterKey,
    /// The value was sealed for another place.
    #[error("sealed for {field} {sealed_for:?} (scope {scope}), but it sits under {field} {found:?}")]
    BindingMismatch {
        /// Which part differs.
        field: BindingField,
        /// The scope the value was sealed with.
        scope: Scope,
        /// What the value was sealed for.
        sealed_for: String,
        /// Where it was found.
        found: String,
    },
}

impl UnsealError {
    /// A short stable reason, for metrics labels and condition reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            UnsealError::Base64 | UnsealError::TooLarge { .. } | UnsealError::NotAge(_) => "Malformed",
            UnsealError::NoMatchingKey => "NoMatchingKey",
            UnsealError::BadMac | UnsealError::BadPayload => "Tampered",
            UnsealError::UnknownVersion(_) | UnsealError::Malformed(_) | UnsealError::UnboundClusterKey => {
                "BadFormat"
            }
            UnsealError::BindingMismatch { .. } => "BindingMismatch",
        }
    }
}

/// Seals `value` for `binding` to every recipient, returning the base64 text for YAML.
pub fn seal_value(recipients: &RecipientSet, binding: &Binding, value: &[u8]) -> Result<String, SealError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(SealError::TooLarge { len: value.len() });
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter_age()).map_err(|_| SealError::NoRecipients)?;
    let plaintext = binding.encode(value);
    let mut sealed = Vec::with_capacity(plaintext.len() + 200 + 100 * recipients.len());
    let mut writer = encryptor
        .wrap_output(&mut sealed)
        .map_err(|e| SealError::Age(e.to_string()))?;
    writer
        .write_all(plaintext.expose())
        .and_then(|()| writer.finish().map(|_| ()))
        .map_err(|e| SealError::Age(e.kind().to_string()))?;
    Ok(STANDARD.encode(sealed))
}

/// Decodes, decrypts and checks a sealed value found at `at`; returns the value alone.
pub fn unseal_value(keyring: &Keyring, at: Location<'_>, sealed: &str) -> Result<SecretBytes, UnsealError> {
    let (binding, value) = open_value(keyring, sealed)?;
    binding.check(at)?;
    Ok(value)
}

/// Decodes and decrypts a sealed value without checking where it sits.
///
/// Only for tools that report the binding itself (e.g. `sealgate inspect`);
/// everything that uses the value must call [`unseal_value`].
pub fn open_value(keyring: &Keyring, sealed: &str) -> Result<(Binding, SecretBytes), UnsealError> {
    if sealed.len() > MAX_SEALED_LEN {
        return Err(UnsealError::TooLarge { len: sealed.len() });
    }
    let bytes = STANDARD
        .decode(sealed.as_bytes())
        .map_err(|_| UnsealError::Base64)?;
    let decryptor = age::Decryptor::new(&bytes[..]).map_err(map_header_error)?;
    let mut reader = decryptor.decrypt(keyring.iter_age()).map_err(map_age_error)?;
    let mut plaintext = Zeroizing::new(Vec::with_capacity(bytes.len()));
    reader
        .read_to_end(&mut plaintext)
        .map_err(|_| UnsealError::BadPayload)?;
    let (binding, value) = Binding::decode(&plaintext)?;
    Ok((binding, SecretBytes::copy_from(value)))
}

/// Checks that `sealed` is well-formed base64 holding an age file, without any key.
///
/// This is what CI can check offline: bad base64, data that is not age, a header
/// cut short or mangled, no X25519 recipient, a payload too short to hold a
/// chunk. Tampering inside the payload needs a key to detect.
///
/// The header grammar is checked here directly (age-encryption.org/v1: version
/// line, `-> ` stanzas with base64 bodies wrapped at 64 columns, `--- ` MAC line)
/// rather than through `age::Decryptor::new`, whose parser costs about 100 times
/// more per value; `validate` runs this on every value of a repository. A test
/// checks it never accepts what age's parser rejects.
pub fn check_structure(sealed: &str) -> Result<(), UnsealError> {
    const HEADER: UnsealError = UnsealError::NotAge("invalid or truncated header");
    if sealed.len() > MAX_SEALED_LEN {
        return Err(UnsealError::TooLarge { len: sealed.len() });
    }
    let bytes = STANDARD
        .decode(sealed.as_bytes())
        .map_err(|_| UnsealError::Base64)?;
    let mut rest = bytes
        .strip_prefix(b"age-encryption.org/v1\n".as_slice())
        .ok_or(UnsealError::NotAge(
            "does not start with the age-encryption.org/v1 header",
        ))?;
    let mut x25519 = 0;
    let payload = loop {
        if let Some(r) = rest.strip_prefix(b"--- ".as_slice()) {
            let (mac, payload) = split_line(r).ok_or(HEADER)?;
            if mac.len() != 43 || !is_b64_unpadded(mac) {
                return Err(HEADER);
            }
            break payload;
        }
        let r = rest.strip_prefix(b"-> ".as_slice()).ok_or(HEADER)?;
        let (args, mut r) = split_line(r).ok_or(HEADER)?;
        let args: Vec<&[u8]> = args.split(|&b| b == b' ').collect();
        if args
            .iter()
            .any(|a| a.is_empty() || !a.iter().all(|b| (33..=126).contains(b)))
        {
            return Err(HEADER);
        }
        let body_lines = loop {
            let (line, next) = split_line(r).ok_or(HEADER)?;
            if line.len() > 64 || !is_b64_unpadded(line) {
                return Err(HEADER);
            }
            r = next;
            if line.len() < 64 {
                break line.len();
            }
        };
        if args[0] == b"X25519" {
            // Ephemeral share (32 bytes) as the argument; the wrapped file key (32 bytes) as the body.
            if args.len() != 2 || args[1].len() != 43 || body_lines != 43 {
                return Err(HEADER);
            }
            x25519 += 1;
        }
        rest = r;
    };
    if x25519 == 0 {
        return Err(UnsealError::NotAge("no X25519 recipient"));
    }
    // A 16-byte nonce, then at least one chunk with its 16-byte tag.
    if payload.len() < 32 {
        return Err(UnsealError::BadPayload);
    }
    Ok(())
}

fn split_line(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = input.iter().position(|&b| b == b'\n')?;
    Some((&input[..i], &input[i + 1..]))
}

fn is_b64_unpadded(s: &[u8]) -> bool {
    s.iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// Errors while reading the header: an I/O error there means the header is cut short.
fn map_header_error(e: age::DecryptError) -> UnsealError {
    match e {
        age::DecryptError::Io(_) => UnsealError::NotAge("invalid or truncated header"),
        other => map_age_error(other),
    }
}

fn map_age_error(e: age::DecryptError) -> UnsealError {
    use age::DecryptError as E;
    match e {
        E::NoMatchingKeys => UnsealError::NoMatchingKey,
        E::InvalidMac => UnsealError::BadMac,
        E::InvalidHeader => UnsealError::NotAge("invalid or truncated header"),
        E::UnknownFormat => UnsealError::NotAge("unknown age format"),
        E::ExcessiveWork { .. } | E::KeyDecryptionFailed => UnsealError::NotAge("unsupported recipient type"),
        E::DecryptionFailed | E::Io(_) => UnsealError::BadPayload,
        #[allow(unreachable_patterns)]
        _ => UnsealError::NotAge("unsupported age file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Identity;

    fn at<'a>(namespace: &'a str, name: &'a str, key: &'a str) -> Location<'a> {
        Location { namespace, name, key }
    }

    #[test]
    fn header_round_trip_per_scope() {
        for scope in Scope::ALL {
            let b = Binding::new(scope, at("prod", "db", "password")).unwrap();
            let pt = b.encode(b"v");
            let (back, value) = Binding::decode(pt.expose()).unwrap();
            assert_eq!(back, b);
            assert_eq!(value, b"v");
        }
    }

    #[test]
    fn scope_drops_unbound_fields() {
        let b = Binding::new(Scope::Namespace, at("prod", "db", "k")).unwrap();
        assert_eq!((b.namespace(), b.name(), b.key()), ("prod", "", "k"));
        let b = Binding::new(Scope::Cluster, at("prod", "db", "k")).unwrap();
        assert_eq!((b.namespace(), b.name(), b.key()), ("", "", "k"));
    }

    #[test]
    fn every_scope_binds_the_key() {
        for scope in Scope::ALL {
            assert!(scope.binds(BindingField::Key), "{scope}");
            assert_eq!(
                Binding::new(scope, at("prod", "db", "")),
                Err(SealError::MissingBinding {
                    scope,
                    field: BindingField::Key
                })
            );
            let b = Binding::new(scope, at("prod", "db", "password")).unwrap();
            let err = b.check(at("prod", "db", "username")).unwrap_err();
            assert_eq!(
                err,
                UnsealError::BindingMismatch {
                    field: BindingField::Key,
                    scope,
                    sealed_for: "password".into(),
                    found: "username".into(),
                }
            );
            assert!(b.check(at("prod", "db", "password")).is_ok());
        }
        // Cluster scope still travels across namespaces and names with its key.
        let b = Binding::new(Scope::Cluster, at("prod", "db", "password")).unwrap();
        assert!(b.check(at("dev", "other", "password")).is_ok());
    }

    #[test]
    fn cluster_values_sealed_without_a_key_ask_to_be_resealed() {
        // The header builds before this format revision wrote for cluster scope.
        let mut legacy = MAGIC.to_vec();
        legacy.extend_from_slice(&[FORMAT_VERSION, 3, 0, 0, 0, 0, 0, 0]);
        legacy.extend_from_slice(b"value");
        let err = Binding::decode(&legacy).unwrap_err();
        assert_eq!(err, UnsealError::UnboundClusterKey);
        assert_eq!(err.reason(), "BadFormat");
        let text = err.to_string();
        assert!(
            text.contains("cluster scope") && text.contains("seal the value again"),
            "{text}"
        );
    }

    #[test]
    fn strict_needs_a_name() {
        assert_eq!(
            Binding::new(Scope::Strict, at("prod", "", "k")),
            Err(SealError::MissingBinding {
                scope: Scope::Strict,
                field: BindingField::Name
            })
        );
    }

    #[test]
    fn decode_rejects_bad_headers() {
        let good = Binding::new(Scope::Strict, at("a", "b", "c"))
            .unwrap()
            .encode(b"x");
        let mut v2 = good.expose().to_vec();
        v2[8] = 2;
        assert_eq!(Binding::decode(&v2), Err(UnsealError::UnknownVersion(2)));
        let mut bad_scope = good.expose().to_vec();
        bad_scope[9] = 9;
        assert!(matches!(
            Binding::decode(&bad_scope),
            Err(UnsealError::Malformed(_))
        ));
        assert!(matches!(
            Binding::decode(&good.expose()[..12]),
            Err(UnsealError::Malformed(_))
        ));
        assert!(matches!(
            Binding::decode(b"notsealg\x01\x01"),
            Err(UnsealError::Malformed(_))
        ));
    }

    #[test]
    fn mismatch_names_the_field_not_the_value() {
        let id = Identity::generate();
        let recipients = RecipientSet::from(vec![id.recipient()]);
        let keyring = Keyring::from(vec![id]);
        let b = Binding::new(Scope::Strict, at("prod", "db", "password")).unwrap();
        let sealed = seal_value(&recipients, &b, b"canary-value-xyz").unwrap();
        let err = unseal_value(&keyring, at("dev", "db", "password"), &sealed).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("namespace") && text.contains("\"prod\"") && text.contains("\"dev\""),
            "{text}"
        );
        assert!(!text.contains("canary"));
        let value = unseal_value(&keyring, at("prod", "db", "password"), &sealed).unwrap();
        assert_eq!(value.expose(), b"canary-value-xyz");
    }

    #[test]
    fn structure_check_without_keys() {
        let id = Identity::generate();
        let recipients = RecipientSet::from(vec![id.recipient()]);
        let b = Binding::new(Scope::Cluster, at("", "", "k")).unwrap();
        let sealed = seal_value(&recipients, &b, b"x").unwrap();
        assert_eq!(check_structure(&sealed), Ok(()));
        assert_eq!(check_structure("%%%"), Err(UnsealError::Base64));
        assert!(matches!(check_structure("aGVsbG8="), Err(UnsealError::NotAge(_))));
    }

    #[test]
    fn structure_check_is_never_more_lenient_than_age() {
        let recipients = RecipientSet::from(vec![
            Identity::generate().recipient(),
            Identity::generate().recipient(),
        ]);
        let b = Binding::new(Scope::Strict, at("ns", "n", "k")).unwrap();
        let sealed = seal_value(&recipients, &b, b"value").unwrap();
        let bytes = STANDARD.decode(&sealed).unwrap();
        let header_len = bytes.windows(4).position(|w| w == b"--- ").unwrap() + 48;
        let age_ok = |b: &[u8]| age::Decryptor::new(b).is_ok();
        let ours_ok = |b: &[u8]| check_structure(&STANDARD.encode(b)).is_ok();
        assert!(age_ok(&bytes) && ours_ok(&bytes));
        // Every truncation, and every single-byte change within the header.
        for len in 0..bytes.len() {
            if ours_ok(&bytes[..len]) {
                assert!(
                    age_ok(&bytes[..len]),
                    "accepted a truncation at {len} that age rejects"
                );
            }
        }
        for i in 0..header_len {
            for replacement in [b' ', b'\n', b'A', b'-', b'=', 0xff] {
                let mut changed = bytes.clone();
                changed[i] = replacement;
                if ours_ok(&changed) {
                    assert!(age_ok(&changed), "accepted a change at byte {i} that age rejects");
                }
            }
        }
        assert_eq!(
            check_structure(&STANDARD.encode(&bytes[..header_len + 10])),
            Err(UnsealError::BadPayload)
        );
    }
}
