//! age X25519 identities and recipients, keyrings, recipient sets and fingerprints.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length, in hex characters, of a recipient fingerprint.
pub const FINGERPRINT_LEN: usize = 16;

/// A private key. `Debug` shows only its recipient's fingerprint.
#[derive(Clone)]
pub struct Identity(age::x25519::Identity);

impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Self {
        Identity(age::x25519::Identity::generate())
    }

    /// The public recipient for this identity.
    pub fn recipient(&self) -> Recipient {
        Recipient(self.0.to_public())
    }

    /// The `AGE-SECRET-KEY-1…` string, in a zeroizing buffer.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.to_string().expose_secret().to_owned())
    }

    /// An age identity file: a creation comment, the public key, the private key.
    pub fn to_identity_file(&self, created: &str) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "# created: {created}\n# public key: {}\n{}\n",
            self.recipient(),
            self.to_secret_string().as_str()
        ))
    }

    pub(crate) fn as_age(&self) -> &age::x25519::Identity {
        &self.0
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Identity(recipient {}, private key redacted)",
            self.recipient().fingerprint()
        )
    }
}

impl FromStr for Identity {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        age::x25519::Identity::from_str(s.trim())
            .map(Identity)
            .map_err(|_| KeyError::BadIdentity)
    }
}

/// A public key: the `age1…` string.
#[derive(Clone, PartialEq, Eq)]
pub struct Recipient(age::x25519::Recipient);

impl Recipient {
    /// A short, stable fingerprint: the first 16 hex digits of SHA-256 over the `age1…` string.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.to_string().as_bytes());
        let mut hex = String::with_capacity(FINGERPRINT_LEN);
        for byte in &digest[..FINGERPRINT_LEN / 2] {
            hex.push_str(&format!("{byte:02x}"));
        }
        hex
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({})", self.0)
    }
}

impl FromStr for Recipient {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        age::x25519::Recipient::from_str(s)
            .map(Recipient)
            .map_err(|_| KeyError::BadRecipient(truncate_for_error(s)))
    }
}

fn truncate_for_error(s: &str) -> String {
    // A mistyped private key pasted as a recipient must not be echoed back.
    if s.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
        return "AGE-SECRET-KEY-… (a private key, not a recipient)".to_owned();
    }
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Why a key or key file could not be used. Never contains private key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not an `age1…` X25519 recipient.
    #[error("{0:?} is not an age X25519 recipient (age1…)")]
    BadRecipient(String),
    /// Not an `AGE-SECRET-KEY-1…` identity.
    #[error("not an age X25519 identity (AGE-SECRET-KEY-1…)")]
    BadIdentity,
    /// A line of a key file is neither a key, a comment nor blank.
    #[error("line {line}: {source}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong with it.
        source: Box<KeyError>,
    },
    /// A key file holds no key.
    #[error("no keys found")]
    Empty,
}

/// Every identity a party holds; decryption tries each.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    identities: Vec<Identity>,
}

impl Keyring {
    /// Parses an age identity file: one `AGE-SECRET-KEY-1…` per line, `#` comments, blank lines.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let identities = parse_lines(text, |line| line.parse::<Identity>())?;
        Ok(Keyring { identities })
    }

    /// Adds an identity.
    pub fn push(&mut self, identity: Identity) {
        self.identities.push(identity);
    }

    /// The identities, in the order given.
    pub fn identities(&self) -> &[Identity] {
        &self.identities
    }

    /// Whether the keyring is empty.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    pub(crate) fn iter_age(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.identities.iter().map(|i| i.as_age() as &dyn age::Identity)
    }
}

impl From<Vec<Identity>> for Keyring {
    fn from(identities: Vec<Identity>) -> Self {
        Keyring { identities }
    }
}

/// The recipients a value is sealed to, without duplicates, in the order first given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecipientSet {
    recipients: Vec<Recipient>,
}

impl RecipientSet {
    /// Parses a recipients file: one `age1…` per line; `#` starts a comment; blank lines are skipped.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut set = RecipientSet::default();
        for r in parse_lines(text, |line| line.parse::<Recipient>())? {
            set.push(r);
        }
        Ok(set)
    }

    /// Parses recipients separated by commas or whitespace (the `SEALGATE_RECIPIENTS` form).
    pub fn parse_list(text: &str) -> Result<Self, KeyError> {
        let mut set = RecipientSet::default();
        for item in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            set.push(item.parse()?);
        }
        Ok(set)
    }

    /// Adds a recipient unless already present.
    pub fn push(&mut self, recipient: Recipient) {
        if !self.recipients.contains(&recipient) {
            self.recipients.push(recipient);
        }
    }

    /// Adds every recipient of `other`.
    pub fn extend(&mut self, other: RecipientSet) {
        for r in other.recipients {
            self.push(r);
        }
    }

    /// The recipients.
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }

    /// Number of recipients.
    pub fn len(&self) -> usize {
        self.recipients.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.recipients.is_empty()
    }

    /// Sorted fingerprints, as recorded in the `sealgate.dev/recipients` annotation.
    pub fn fingerprints(&self) -> BTreeSet<String> {
        self.recipients.iter().map(Recipient::fingerprint).collect()
    }

    /// The annotation value: sorted fingerprints joined by commas.
    pub fn fingerprint_annotation(&self) -> String {
        self.fingerprints().into_iter().collect::<Vec<_>>().join(",")
    }

    pub(crate) fn iter_age(&self) -> impl Iterator<Item = &dyn age::Recipient> {
        self.recipients.iter().map(|r| &r.0 as &dyn age::Recipient)
    }
}

impl From<Vec<Recipient>> for RecipientSet {
    fn from(list: Vec<Recipient>) -> Self {
        let mut set = RecipientSet::default();
        list.into_iter().for_each(|r| set.push(r));
        set
    }
}

/// Parses the fingerprints of a `sealgate.dev/recipients` annotation.
pub fn parse_fingerprint_annotation(value: &str) -> BTreeSet<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_lines<T>(text: &str, parse: impl Fn(&str) -> Result<T, KeyError>) -> Result<Vec<T>, KeyError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split_once('#').map_or(raw, |(before, _)| before).trim();
        if line.is_empty() {
            continue;
        }
        out.push(parse(line).map_err(|e| KeyError::Line {
            line: i + 1,
            source: Box::new(e),
        })?);
    }
    if out.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_short_and_stable() {
        let r: Recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
            .parse()
            .unwrap();
        let fp = r.fingerprint();
        assert_eq!(fp.len(), FINGERPRINT_LEN);
        assert_eq!(fp, r.clone().fingerprint());
        assert!(fp.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn recipients_file_with_comments_and_line_errors() {
        let id = Identity::generate();
        let text = format!("# team\n{}  # cluster\n\n", id.recipient());
        let set = RecipientSet::parse(&text).unwrap();
        assert_eq!(set.recipients(), &[id.recipient()]);
        let err = RecipientSet::parse("# ok\nage1nope\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: \"age1nope\" is not an age X25519 recipient (age1…)"
        );
        assert_eq!(RecipientSet::parse("# nothing\n"), Err(KeyError::Empty));
    }

    #[test]
    fn private_key_is_not_echoed_as_a_bad_recipient() {
        let id = Identity::generate();
        let secret = id.to_secret_string();
        let err = secret.parse::<Recipient>().unwrap_err().to_string();
        assert!(!err.contains(&secret[20..]), "{err}");
    }

    #[test]
    fn identity_file_round_trip_and_debug_is_redacted() {
        let id = Identity::generate();
        let file = id.to_identity_file("2026-01-01T00:00:00Z");
        let ring = Keyring::parse(&file).unwrap();
        assert_eq!(ring.identities()[0].recipient(), id.recipient());
        let shown = format!("{id:?} {ring:?}");
        assert!(!shown.contains("AGE-SECRET-KEY"), "{shown}");
    }

    #[test]
    fn duplicates_are_dropped_and_list_form_parses() {
        let a = Identity::generate().recipient();
        let b = Identity::generate().recipient();
        let set = RecipientSet::parse_list(&format!("{a}, {b} {a}")).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.fingerprint_annotation().split(',').count(), 2);
    }
}
