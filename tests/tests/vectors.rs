//! Test vectors for the sealed-value format (docs/format.md): every file in
//! `tests/testdata/vectors/` must unseal, or fail, exactly as it says.
//!
//! Regenerate (new random ciphertexts, same cases) with
//! `cargo test -p sealgate-tests --test vectors -- --ignored regenerate`.
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
        let v = parse_vector(path);
        let at = Location {
            namespace: &v["namespace"],
            name: &v["name"],
            key: &v["key"],
        };
        let result = seal::unseal_value(&keyring, at, &v["sealed"]);
        let file = path.file_name().unwrap().to_string_lossy();
        match v["expect"].as_str() {
            "success" => {
                assert!(
                    !file.starts_with("fail_"),
                    "{file}: success vectors must not be named fail_"
                );
                let value = result.unwrap_or_else(|e| panic!("{file}: {e}"));
                assert_eq!(STANDARD.encode(value.expose()), v["value-base64"], "{file}");
                ok += 1;
            }
            "failure" => {
                assert!(
                    file.starts_with("fail_"),
                    "{file}: failure vectors are named fail_"
                );
                let err = result
                    .err()
                    .unwrap_or_else(|| panic!("{file}: unsealed, but must fail"));
                assert_eq!(error_name(&err), v["error"], "{file}: {err}");
                // Offline structure checks never pass what fails before decryption.
                if matches!(err, UnsealError::Base64 | UnsealError::NotAge(_)) {
                    assert!(seal::check_structure(&v["sealed"]).is_err(), "{file}");
                }
                failing += 1;
            }
            other => panic!("{file}: expect must be success or failure, not {other:?}"),
        }
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

#[test]
#[ignore = "rewrites tests/testdata; run by hand"]
fn regenerate() {
    let k1 = Identity::generate();
    let k2 = Identity::generate();
    let stranger = Identity::generate();
    let identity_file = format!(
        "# TEST ONLY: these keys are public in the sealgate repository.\n# They exist to unseal tests/testdata/vectors.\n{}{}",
        k1.to_identity_file("2026-11-22T00:00:00Z").as_str(),
        k2.to_identity_file("2026-11-22T00:00:00Z").as_str()
    );
    std::fs::write(testdata().join("identity.txt"), identity_file).unwrap();

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
            comment: "cluster scope: any namespace, name and key",
            sealed: seal_for(&[&k1, &k2], Scope::Cluster, ("", "", ""), b"cluster-wide"),
            at: ("other", "anything", "any-key"),
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
            file: "fail_strict_wrong_key.txt",
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
            file: "fail_namespace_wrong_key.txt",
            comment: "namespace scope still binds the key",
            sealed: seal_for(&[&k1], Scope::Namespace, ("prod", "x", "password"), b"v"),
            at: ("prod", "x", "user"),
            expect: Err("BindingMismatch(key)"),
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
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for c in cases {
        let (expect, tail) = match c.expect {
            Ok(value) => ("success", format!("value-base64: {}\n", STANDARD.encode(value))),
            Err(e) => ("failure", format!("error: {e}\n")),
        };
        let text = format!(
            "# {}\nexpect: {expect}\nnamespace: {}\nname: {}\nkey: {}\n{tail}sealed: {}\n",
            c.comment, c.at.0, c.at.1, c.at.2, c.sealed
        );
        std::fs::write(dir.join(c.file), text).unwrap();
    }
}
