//! End-to-end tests live in `e2e/`; this package has no library code.
