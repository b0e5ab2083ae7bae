//! Round-trip and binding properties of sealing, over random keys, values and
//! recipient sets. Few cases: X25519 is slow in debug builds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use sealgate_core::seal::{self, Binding, BindingField, Location, Scope, UnsealError};
use sealgate_core::{Identity, Keyring, RecipientSet};

fn key_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_][-._a-zA-Z0-9]{0,40}".prop_filter("not . or ..", |k| k != "." && k != "..")
}

fn object_name() -> impl Strategy<Value = String> {
    "[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?"
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![Just(Scope::Strict), Just(Scope::Namespace), Just(Scope::Cluster)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_recipient_unseals_and_a_stranger_cannot(
        namespace in object_name(),
        name in object_name(),
        key in key_name(),
        value in proptest::collection::vec(any::<u8>(), 0..4096),
        recipients in 1usize..=4,
        scope in scope(),
    ) {
        let ids: Vec<Identity> = (0..recipients).map(|_| Identity::generate()).collect();
        let set = RecipientSet::from(ids.iter().map(Identity::recipient).collect::<Vec<_>>());
        let at = Location { namespace: &namespace, name: &name, key: &key };
        let sealed = seal::seal_value(&set, &Binding::new(scope, at).unwrap(), &value).unwrap();
        prop_assert!(seal::check_structure(&sealed).is_ok());
        for id in &ids {
            let ring = Keyring::from(vec![id.clone()]);
            let back = seal::unseal_value(&ring, at, &sealed).unwrap();
            prop_assert_eq!(back.expose(), &value[..]);
        }
        let stranger = Keyring::from(vec![Identity::generate()]);
        prop_assert_eq!(seal::unseal_value(&stranger, at, &sealed).unwrap_err(), UnsealError::NoMatchingKey);
    }

    #[test]
    fn a_moved_value_unseals_only_where_its_scope_allows(
        from in (object_name(), object_name(), key_name()),
        other in (object_name(), object_name(), key_name()),
        moves in (any::<bool>(), any::<bool>(), any::<bool>()),
        scope in scope(),
    ) {
        // Move each part or not, so that every combination of moves is exercised.
        let pick = |moved: bool, a: &String, b: &String| if moved { b.clone() } else { a.clone() };
        let to = (pick(moves.0, &from.0, &other.0), pick(moves.1, &from.1, &other.1), pick(moves.2, &from.2, &other.2));
        let id = Identity::generate();
        let set = RecipientSet::from(vec![id.recipient()]);
        let ring = Keyring::from(vec![id]);
        let sealed_at = Location { namespace: &from.0, name: &from.1, key: &from.2 };
        let sealed = seal::seal_value(&set, &Binding::new(scope, sealed_at).unwrap(), b"v").unwrap();
        let moved_to = Location { namespace: &to.0, name: &to.1, key: &to.2 };
        let allowed = match scope {
            Scope::Strict => from == to,
            Scope::Namespace => from.0 == to.0 && from.2 == to.2,
            Scope::Cluster => from.2 == to.2,
        };
        let result = seal::unseal_value(&ring, moved_to, &sealed);
        prop_assert_eq!(result.is_ok(), allowed, "{:?} {:?} -> {:?}: {:?}", scope, from, to, result.err());
        if let Err(e) = result {
            let is_binding_mismatch = matches!(e, UnsealError::BindingMismatch { .. });
            prop_assert!(is_binding_mismatch);
        }
    }

    #[test]
    fn two_values_of_one_object_cannot_be_swapped(
        at in (object_name(), object_name()),
        keys in (key_name(), key_name()).prop_filter("two keys", |(a, b)| a != b),
        scope in scope(),
    ) {
        let id = Identity::generate();
        let set = RecipientSet::from(vec![id.recipient()]);
        let ring = Keyring::from(vec![id]);
        let (first, second) = keys;
        let first_at = Location { namespace: &at.0, name: &at.1, key: &first };
        let second_at = Location { namespace: &at.0, name: &at.1, key: &second };
        let sealed_first = seal::seal_value(&set, &Binding::new(scope, first_at).unwrap(), b"first").unwrap();
        let sealed_second = seal::seal_value(&set, &Binding::new(scope, second_at).unwrap(), b"second").unwrap();
        // Each value sits under the other's key: both are refused, naming the key.
        for (sealed, sealed_for, found_at) in [(&sealed_first, &first, second_at), (&sealed_second, &second, first_at)] {
            let err = seal::unseal_value(&ring, found_at, sealed).unwrap_err();
            prop_assert_eq!(err, UnsealError::BindingMismatch {
                field: BindingField::Key,
                scope,
                sealed_for: sealed_for.clone(),
                found: found_at.key.to_owned(),
            });
        }
        let back = seal::unseal_value(&ring, first_at, &sealed_first).unwrap();
        prop_assert_eq!(back.expose(), b"first");
    }
}
