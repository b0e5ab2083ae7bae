//! sealgate-webhook as a library: the admission decision, the watch caches,
//! the HTTPS server with certificate reload, the self-managed serving
//! certificate, and metrics. The binary (`main.rs`) wires them to flags; the
//! benchmark drives them directly.
//!
//! ```
//! use sealgate_webhook::admission::Mode;
//! assert_eq!("warn".parse::<Mode>(), Ok(Mode::Warn));
//! ```

pub mod admission;
pub mod cache;
pub mod certs;
pub mod flow;
pub mod http;
pub mod index;
pub mod metrics;
pub mod server;
pub mod tls;
