//! Shared helpers for the cross-crate tests (the tests live in `tests/tests/`).
