//! Integration tests: the real API on port 0 against a local test issuer (see `helpers`).

mod authentication;
mod binary;
mod cors;
mod dpop;
mod helpers;
mod hostile;
mod issuer;
mod issuers;
mod routes;
mod scopes;
