//! Invariant 1: a distinctive plaintext never shows in errors or Debug output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sealgate_core::seal::{self, Binding, Location, Scope};
use sealgate_core::{
    Identity, Keyring, PlainSecret, RecipientSet, SealOptions, SecretBytes, seal_secret, unseal_secret,
};

const CANARY: &str = "CANARY-7f3a9c-do-not-leak";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "{what} leaks the plaintext: {text}");
    assert!(
        !text.contains("AGE-SECRET-KEY"),
        "{what} leaks a private key: {text}"
    );
}

#[test]
fn the_canary_never_leaks() {
    let id = Identity::generate();
    let recipients = RecipientSet::from(vec![id.recipient()]);
    let keyring = Keyring::from(vec![id.clone()]);
    let manifest = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "prod"},
        "stringData": {"password": CANARY},
    });
    let secret = PlainSecret::from_manifest(&manifest).unwrap();
    assert_clean("PlainSecret Debug", &format!("{secret:?} {secret:#?}"));
    assert_clean(
        "SecretBytes Debug",
        &format!("{:?}", SecretBytes::copy_from(CANARY.as_bytes())),
    );
    assert_clean(
        "Keyring/Identity Debug",
        &format!("{keyring:?} {id:?} {:?}", id.recipient()),
    );

    let opts = SealOptions {
        recipients: &recipients,
        scope: Scope::Strict,
    };
    let sealed = seal_secret(&secret, &opts).unwrap();
    let yaml = sealgate_core::manifest::to_yaml(&[&sealed]).unwrap();
    assert_clean("sealed YAML", &yaml);
    assert_clean("SealedSecret Debug", &format!("{sealed:?}"));

    // Round trip works...
    let back = unseal_secret(&sealed, &keyring, "default").unwrap();
    assert_eq!(back.data["password"].expose(), CANARY.as_bytes());
    assert_clean("unsealed PlainSecret Debug", &format!("{back:?}"));

    // ...and every failure says what is wrong without the value.
    let mut moved = sealed.clone();
    moved.metadata.namespace = Some("dev".into());
    let err = unseal_secret(&moved, &keyring, "default").unwrap_err();
    assert_clean("binding mismatch", &format!("{err} {err:?}"));
    let err = unseal_secret(&sealed, &Keyring::from(vec![Identity::generate()]), "default").unwrap_err();
    assert_clean("no matching key", &format!("{err} {err:?}"));

    let at = Location {
        namespace: "prod",
        name: "db",
        key: "password",
    };
    let value = sealed.spec.encrypted_data["password"].clone();
    let mut tampered = value.clone().into_bytes();
    let n = tampered.len();
    tampered[n - 6] = if tampered[n - 6] == b'A' { b'B' } else { b'A' };
    let err = seal::unseal_value(&keyring, at, std::str::from_utf8(&tampered).unwrap()).unwrap_err();
    assert_clean("tampered", &format!("{err} {err:?}"));

    let mut bad = manifest.clone();
    bad["data"] = serde_json::json!({"other": format!("{CANARY}!")});
    let err = PlainSecret::from_manifest(&bad).unwrap_err();
    assert_clean("bad base64 field", &format!("{err} {err:?}"));
    bad["stringData"]["n"] = serde_json::json!(12345);
    let err = PlainSecret::from_manifest(&bad).unwrap_err();
    assert_clean("non-string field", &format!("{err} {err:?}"));

    let binding = Binding::new(Scope::Strict, at).unwrap();
    assert_clean("Binding Debug", &format!("{binding:?}"));
    let err = seal::seal_value(&RecipientSet::default(), &binding, CANARY.as_bytes()).unwrap_err();
    assert_clean("no recipients", &format!("{err} {err:?}"));
}
