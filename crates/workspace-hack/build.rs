//! Empty: it exists so that the build-dependencies above are part of every build.

fn main() {}
