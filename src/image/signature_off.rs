//! Stand-in for `signature.rs` in builds without the `openpgp` feature: the same interface,
//! and a clear preflight error whenever a signature check is asked for.

use anyhow::{bail, Result};
use std::io::Read;
use std::path::Path;

pub const MAX_SIGNATURE: u64 = 64 << 10;

#[derive(Clone, Debug)]
pub struct Expected {
    pub signer: String,
}

pub struct Key;

pub fn load_keyring(path: &Path) -> Result<Vec<Key>> {
    bail!(
        "this rdinstall was built without OpenPGP support, so it cannot check signatures with {}; use a build with the default features, or signature=off",
        path.display()
    )
}

pub struct Signature;

pub fn parse_signature(_data: &[u8], source: &str) -> Result<Signature> {
    bail!("this rdinstall was built without OpenPGP support ({source})")
}

pub fn expect(_sig: Signature, _keys: &[Key], _keyring: &Path) -> Result<Expected> {
    bail!("this rdinstall was built without OpenPGP support")
}

pub struct Verifier;

impl Verifier {
    pub fn start(_e: Expected) -> Verifier {
        Verifier
    }
    pub fn reader<R: Read>(&self, inner: R) -> R {
        inner
    }
    pub fn finish(self, what: &str) -> Result<String> {
        bail!("this rdinstall was built without OpenPGP support; cannot verify {what}")
    }
}
