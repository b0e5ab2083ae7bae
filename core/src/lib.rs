//! sealgate core: the `SealedSecret` types, the sealed-value format, keys,
//! manifest parsing and Kubernetes naming rules. Pure functions over bytes and
//! types: no network, no Kubernetes client, no async runtime.
//!
//! Which API for which job:
//! - sealing a whole Secret: [`PlainSecret::from_manifest`] then [`seal_secret`];
//!   adding keys to an existing SealedSecret: [`merge_into`];
//! - one value for a hand-edited manifest: [`seal::Binding::new`] then [`seal::seal_value`];
//! - unsealing (controller, recovery): [`unseal_secret`], or [`seal::unseal_value`]
//!   for one value; both verify the binding before returning anything;
//! - reading YAML/JSON input under a budget: [`manifest::parse_documents`];
//! - is every Secret a workload needs provided? [`refs::extract`], an
//!   [`inventory::Inventory`] (e.g. [`inventory::MemoryInventory`]), then [`policy::evaluate`].
//!
//! ```
//! use sealgate_core::{Identity, Keyring, RecipientSet, seal::{self, Binding, Location, Scope}};
//!
//! let cluster = Identity::generate();
//! let recipients = RecipientSet::from(vec![cluster.recipient()]);
//! let at = Location { namespace: "prod", name: "db-creds", key: "password" };
//! let sealed = seal::seal_value(&recipients, &Binding::new(Scope::Strict, at).unwrap(), b"s3cr3t").unwrap();
//!
//! let keyring = Keyring::from(vec![cluster]);
//! assert_eq!(seal::unseal_value(&keyring, at, &sealed).unwrap().expose(), b"s3cr3t");
//! // The same ciphertext moved to another namespace does not unseal.
//! let moved = Location { namespace: "dev", ..at };
//! assert!(seal::unseal_value(&keyring, moved, &sealed).is_err());
//! ```
#![warn(missing_docs)]

pub mod crd;
pub mod inventory;
pub mod keys;
pub mod manifest;
pub mod names;
pub mod naming;
pub mod policy;
pub mod refs;
pub mod seal;
pub mod secret;
pub mod secret_bytes;
pub mod template;

pub use crd::{SealedSecret, SealedSecretSpec, SealedSecretStatus, SecretTemplate, TemplateMetadata};
pub use keys::{Identity, KeyError, Keyring, Recipient, RecipientSet};
pub use seal::{Scope, SealError, UnsealError};
pub use secret::{
    PlainSecret, SealOptions, SecretError, merge_into, plaintext_keys, seal_secret, sealed_from_manifest,
    template_problems, unseal_secret,
};
pub use secret_bytes::{SecretBytes, zeroize_json};
