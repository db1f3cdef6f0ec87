//! The dev issuer's tests: its protocol over HTTP on a free loopback port, driven the way
//! auth0-spa-js drives Auth0 (its requests copied from the SDK's source, v2.28), and the
//! binary's start-up rules (`cli`).

mod authorize;
mod cli;
mod cors;
mod dev_hooks;
mod discovery;
mod domains;
mod dpop;
mod helpers;
mod logout;
mod refresh;
mod tenant;
mod token;
mod userinfo;
