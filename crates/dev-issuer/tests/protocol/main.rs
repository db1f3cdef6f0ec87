//! Protocol tests: the dev issuer over HTTP on a free loopback port, driven the way
//! auth0-spa-js drives Auth0 (its requests copied from the SDK's source, v2.28).

mod authorize;
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
