//! Test vectors for the sealed-value format (docs/format.md): every file in
//! `tests/testdata/vectors/` must unseal, or fail, exactly as it says.
//!
//! Regenerate with `cargo test -p sealgate-tests --test vectors -- --ignored regenerate`:
//! it writes the vectors whose case is new or changed (or that no longer pass) and
//! leaves the others byte for byte, keeping the keys in `identity.txt`. Delete
//! `identity.txt` to start over with new keys and every vector fresh.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sealgate_core::seal::{self, Binding, BindingField, Location, Scope, UnsealError};
use sealgate_core::{Identity, Keyring, RecipientSet};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn keyring() -> Keyring {
    Keyring::parse(&std::fs::read_to_string(testdata().join("identity.txt")).unwrap()).unwrap()
}

/// The error a `fail_` vector expects, as written in its `error:` line.
fn error_name(e: &UnsealError) -> String {
    match e {
        UnsealError::Base64 => "Base64".into(),
        UnsealError::TooLarge { .. } => "TooLarge".into(),
        UnsealError::NotAge(_) => "NotAge".into(),
        UnsealError::NoMatchingKey => "NoMatchingKey".into(),
        UnsealError::BadMac => "BadMac".into(),
        UnsealError::BadPayload => "BadPayload".into(),
        UnsealError::UnknownVersion(v) => format!("UnknownVersion({v})"),
        UnsealError::Malformed(_) => "Malformed".into(),
        UnsealError::UnboundClusterKey => "UnboundClusterKey".into(),
        UnsealError::BindingMismatch {
            field: BindingField::Namespace,
            ..
        } => "BindingMismatch(namespace)".into(),
        UnsealError::BindingMismatch {
            field: BindingField::Name,
            ..
        } => "BindingMismatch(name)".into(),
        UnsealError::BindingMismatch {
            field: BindingField::Key,
            ..
        } => "BindingMismatch(key)".into(),
    }
}

fn parse_vector(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut fields = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{}:{}: expected `field: value`", path.display(), i + 1));
        fields.insert(k.to_owned(), v.to_owned());
    }
    for required in ["expect", "namespace", "name", "key", "sealed"] {
        assert!(
            fields.contains_key(required),
            "{}: no {required:?} line",
            path.display()
        );
    }
    fields
}

/// Whether the vector in `file` unseals, or fails, as it says; `Ok(true)` for a failing one.
fn check_vector(keyring: &Keyring, file: &str, v: &BTreeMap<String, String>) -> Result<bool, String> {
    let at = Location {
        namespace: &v["namespace"],
        name: &v["name"],
        key: &v["key"],
    };
    let result = seal::unseal_value(keyring, at, &v["sealed"]);
    match v["expect"].as_str() {
        "success" => {
            if file.starts_with("fail_") {
                return Err(format!("{file}: success vectors must not be named fail_"));
            }
            let value = result.map_err(|e| format!("{file}: {e}"))?;
            let got = STANDARD.encode(value.expose());
            if got != v["value-base64"] {
                return Err(format!("{file}: unsealed to {got}, not {}", v["value-base64"]));
            }
            Ok(false)
        }
        "failure" => {
            if !file.starts_with("fail_") {
                return Err(format!("{file}: failure vectors are named fail_"));
            }
            let err = match result {
                Ok(_) => return Err(format!("{file}: unsealed, but must fail")),
                Err(e) => e,
            };
            if error_name(&err) != v["error"] {
                return Err(format!(
                    "{file}: failed with {} ({err}), not {}",
                    error_name(&err),
                    v["error"]
                ));
            }
            // Offline structure checks never pass what fails before decryption.
            if matches!(err, UnsealError::Base64 | UnsealError::NotAge(_))
                && seal::check_structure(&v["sealed"]).is_ok()
            {
                return Err(format!("{file}: check_structure passes what fails with {err}"));
            }
            Ok(true)
        }
        other => Err(format!(
            "{file}: expect must be success or failure, not {other:?}"
        )),
    }
}

#[test]
fn every_vector_unseals_or_fails_as_it_says() {
    let keyring = keyring();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(testdata().join("vectors"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let (mut ok, mut failing) = (0, 0);
    for path in &paths {
        let file = path.file_name().unwrap().to_string_lossy();
        match check_vector(&keyring, &file, &parse_vector(path)) {
            Ok(false) => ok += 1,
            Ok(true) => failing += 1,
            Err(problem) => panic!("{problem}"),
        }
    }
    // Every scope refuses a value moved to another key of the same object.
    for scope in Scope::ALL {
        let file = format!("fail_{scope}_swapped_key.txt");
        assert!(paths.iter().any(|p| p.ends_with(&file)), "no vector {file}");
    }
    assert!(
        ok >= 4 && failing >= 12,
        "too few vectors: {ok} valid, {failing} failing"
    );
}

// ---- generation ---------------------------------------------------------------

struct Case<'a> {
    file: &'a str,
    comment: &'a str,
    sealed: String,
    at: (&'a str, &'a str, &'a str),
    expect: Result<&'a [u8], &'a str>,
}

fn age_encrypt(recipients: &[&Identity], plaintext: &[u8]) -> Vec<u8> {
    let rs: Vec<age::x25519::Recipient> = recipients
        .iter()
        .map(|i| i.recipient().to_string().parse().unwrap())
        .collect();
    let enc = age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plaintext).unwrap();
    w.finish().unwrap();
    out
}

fn header(version: u8, scope: u8, fields: [&str; 3], value: &[u8]) -> Vec<u8> {
    let mut p = b"sealgate".to_vec();
    p.push(version);
    p.push(scope);
    for f in fields {
        p.extend_from_slice(&(f.len() as u16).to_be_bytes());
        p.extend_from_slice(f.as_bytes());
    }
    p.extend_from_slice(value);
    p
}

/// The two test keys of `identity.txt`, made (and written) when the file is absent.
fn test_keys() -> (Identity, Identity, bool) {
    if testdata().join("identity.txt").exists() {
        let ring = keyring();
        let [k1, k2] = ring.identities() else {
            panic!("identity.txt must hold exactly two identities");
        };
        return (k1.clone(), k2.clone(), false);
    }
    let k1 = Identity::generate();
    let k2 = Identity::generate();
    let identity_file = format!(
        "# TEST ONLY: these keys are public in the sealgate repository.\n# They exist to unseal tests/testdata/vectors.\n{}{}",
        k1.to_identity_file("2026-11-22T00:00:00Z").as_str(),
        k2.to_identity_file("2026-11-22T00:00:00Z").as_str()
    );
    std::fs::write(testdata().join("identity.txt"), identity_file).unwrap();
    (k1, k2, true)
}

#[test]
#[ignore = "rewrites tests/testdata; run by hand"]
fn regenerate() {
    let (k1, k2, new_keys) = test_keys();
    let stranger = Identity::generate();

    let seal_for = |ids: &[&Identity], scope: Scope, at: (&str, &str, &str), value: &[u8]| {
        let set = RecipientSet::from(ids.iter().map(|i| i.recipient()).collect::<Vec<_>>());
        let b = Binding::new(
            scope,
            Location {
                namespace: at.0,
                name: at.1,
                key: at.2,
            },
        )
        .unwrap();
        seal::seal_value(&set, &b, value).unwrap()
    };
    let strict = seal_for(&[&k1], Scope::Strict, ("prod", "db-creds", "password"), b"s3cr3t");
    let bytes = STANDARD.decode(&strict).unwrap();
    let mac_at = bytes.windows(4).position(|w| w == b"--- ").unwrap() + 4;
    let mut bad_mac = bytes.clone();
    bad_mac[mac_at] = if bad_mac[mac_at] == b'A' { b'B' } else { b'A' };
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0x01;
    let b64 = |b: &[u8]| STANDARD.encode(b);

    let cases = vec![
        Case {
            file: "strict.txt",
            comment: "strict scope, one recipient, where it was sealed for",
            sealed: strict.clone(),
            at: ("prod", "db-creds", "password"),
            expect: Ok(b"s3cr3t"),
        },
        Case {
            file: "strict_two_recipients.txt",
            comment: "strict scope, sealed to both test keys",
            sealed: seal_for(
                &[&k1, &k2],
                Scope::Strict,
                ("prod", "api", "token"),
                b"\x00binary\xffvalue",
            ),
            at: ("prod", "api", "token"),
            expect: Ok(b"\x00binary\xffvalue"),
        },
        Case {
            file: "strict_second_key.txt",
            comment: "sealed to the second test key only",
            sealed: seal_for(&[&k2], Scope::Strict, ("prod", "api", "token"), b""),
            at: ("prod", "api", "token"),
            expect: Ok(b""),
        },
        Case {
            file: "namespace_renamed.txt",
            comment: "namespace scope: any Secret name in the namespace",
            sealed: seal_for(
                &[&k1],
                Scope::Namespace,
                ("prod", "old-name", "password"),
                b"ns-wide",
            ),
            at: ("prod", "new-name", "password"),
            expect: Ok(b"ns-wide"),
        },
        Case {
            file: "cluster_anywhere.txt",
            comment: "cluster scope: any namespace and name, the same key",
            sealed: seal_for(
                &[&k1, &k2],
                Scope::Cluster,
                ("prod", "db-creds", "api-key"),
                b"cluster-wide",
            ),
            at: ("other", "anything", "api-key"),
            expect: Ok(b"cluster-wide"),
        },
        Case {
            file: "fail_strict_wrong_namespace.txt",
            comment: "moved to another namespace",
            sealed: strict.clone(),
            at: ("dev", "db-creds", "password"),
            expect: Err("BindingMismatch(namespace)"),
        },
        Case {
            file: "fail_strict_wrong_name.txt",
            comment: "moved to another SealedSecret name",
            sealed: strict.clone(),
            at: ("prod", "other", "password"),
            expect: Err("BindingMismatch(name)"),
        },
        Case {
            file: "fail_strict_swapped_key.txt",
            comment: "moved to another data key",
            sealed: strict.clone(),
            at: ("prod", "db-creds", "username"),
            expect: Err("BindingMismatch(key)"),
        },
        Case {
            file: "fail_namespace_wrong_namespace.txt",
            comment: "namespace scope still binds the namespace",
            sealed: seal_for(&[&k1], Scope::Namespace, ("prod", "x", "password"), b"v"),
            at: ("dev", "x", "password"),
            expect: Err("BindingMismatch(namespace)"),
        },
        Case {
            file: "fail_namespace_swapped_key.txt",
            comment: "namespace scope still binds the key",
            sealed: seal_for(&[&k1], Scope::Namespace, ("prod", "x", "password"), b"v"),
            at: ("prod", "x", "username"),
            expect: Err("BindingMismatch(key)"),
        },
        Case {
            file: "fail_cluster_swapped_key.txt",
            comment: "cluster scope binds the key: password placed under username of the same object",
            sealed: seal_for(&[&k1], Scope::Cluster, ("prod", "db-creds", "password"), b"v"),
            at: ("prod", "db-creds", "username"),
            expect: Err("BindingMismatch(key)"),
        },
        Case {
            file: "fail_cluster_unbound_key.txt",
            comment: "cluster scope with no key bound, as builds before every scope bound the key wrote",
            sealed: b64(&age_encrypt(
                &[&k1, &k2],
                &header(1, 3, ["", "", ""], b"cluster-wide"),
            )),
            at: ("other", "anything", "any-key"),
            expect: Err("UnboundClusterKey"),
        },
        Case {
            file: "fail_truncated_payload.txt",
            comment: "the last 20 bytes cut off",
            sealed: b64(&bytes[..bytes.len() - 20]),
            at: ("prod", "db-creds", "password"),
            expect: Err("BadPayload"),
        },
        Case {
            file: "fail_truncated_header.txt",
            comment: "cut inside the age header",
            sealed: b64(&bytes[..40]),
            at: ("prod", "db-creds", "password"),
            expect: Err("NotAge"),
        },
        Case {
            file: "fail_bad_mac.txt",
            comment: "one character of the header MAC changed",
            sealed: b64(&bad_mac),
            at: ("prod", "db-creds", "password"),
            expect: Err("BadMac"),
        },
        Case {
            file: "fail_payload_flipped.txt",
            comment: "one bit of the payload flipped",
            sealed: b64(&flipped),
            at: ("prod", "db-creds", "password"),
            expect: Err("BadPayload"),
        },
        Case {
            file: "fail_unknown_version.txt",
            comment: "a well-encrypted plaintext with format version 2",
            sealed: b64(&age_encrypt(
                &[&k1],
                &header(2, 1, ["prod", "db-creds", "password"], b"v"),
            )),
            at: ("prod", "db-creds", "password"),
            expect: Err("UnknownVersion(2)"),
        },
        Case {
            file: "fail_unknown_scope.txt",
            comment: "scope byte 9",
            sealed: b64(&age_encrypt(
                &[&k1],
                &header(1, 9, ["prod", "db-creds", "password"], b"v"),
            )),
            at: ("prod", "db-creds", "password"),
            expect: Err("Malformed"),
        },
        Case {
            file: "fail_fields_do_not_fit_scope.txt",
            comment: "strict scope with an empty name",
            sealed: b64(&age_encrypt(
                &[&k1],
                &header(1, 1, ["prod", "", "password"], b"v"),
            )),
            at: ("prod", "", "password"),
            expect: Err("Malformed"),
        },
        Case {
            file: "fail_bad_magic.txt",
            comment: "an age file that is not a sealgate value",
            sealed: b64(&age_encrypt(&[&k1], b"just some bytes")),
            at: ("prod", "db-creds", "password"),
            expect: Err("Malformed"),
        },
        Case {
            file: "fail_bad_base64.txt",
            comment: "not base64",
            sealed: format!("{}!!", &strict[..40]),
            at: ("prod", "db-creds", "password"),
            expect: Err("Base64"),
        },
        Case {
            file: "fail_not_sealed_to_us.txt",
            comment: "sealed to a key that is not in identity.txt",
            sealed: seal_for(
                &[&stranger],
                Scope::Strict,
                ("prod", "db-creds", "password"),
                b"v",
            ),
            at: ("prod", "db-creds", "password"),
            expect: Err("NoMatchingKey"),
        },
    ];

    let dir = testdata().join("vectors");
    std::fs::create_dir_all(&dir).unwrap();
    let keyring = keyring();
    let mut wanted = Vec::new();
    for c in cases {
        let (expect, tail) = match c.expect {
            Ok(value) => ("success", format!("value-base64: {}\n", STANDARD.encode(value))),
            Err(e) => ("failure", format!("error: {e}\n")),
        };
        let case = format!(
            "# {}\nexpect: {expect}\nnamespace: {}\nname: {}\nkey: {}\n{tail}",
            c.comment, c.at.0, c.at.1, c.at.2
        );
        let path = dir.join(c.file);
        wanted.push(path.clone());
        // A vector whose case is unchanged and that still passes is left alone.
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        let unchanged = !new_keys
            && current
                .strip_prefix(&case)
                .is_some_and(|rest| rest.starts_with("sealed: "))
            && check_vector(&keyring, c.file, &parse_vector(&path)).is_ok();
        if !unchanged {
            std::fs::write(&path, format!("{case}sealed: {}\n", c.sealed)).unwrap();
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !wanted.contains(&path) {
            std::fs::remove_file(path).unwrap();
        }
    }
}
