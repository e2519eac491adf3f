//! Detached OpenPGP signatures over the image bytes as served, verified while they stream.
//!
//! The signature and keyring are parsed in preflight (a bad signature file, or one made by a
//! key that is not in the keyring, fails before anything is written). During the write, every
//! served chunk is copied over a bounded channel to a thread that runs rpgp's verifier on it,
//! so the image is never buffered. The held-back first MiB is written only after it passed.

use anyhow::{anyhow, bail, Context, Result};
use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey, SignedPublicSubKey};
use pgp::types::KeyDetails;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Largest signature file accepted.
pub const MAX_SIGNATURE: u64 = 64 << 10;

/// The key a signature names, found in the keyring.
#[derive(Clone)]
enum SigningKey {
    Primary(Box<SignedPublicKey>),
    Subkey(Box<SignedPublicSubKey>),
}

/// A parsed signature and the key that must have made it.
#[derive(Clone)]
pub struct Expected {
    sig: DetachedSignature,
    key: SigningKey,
    /// Fingerprint of the signing (sub)key, hex, for messages.
    pub signer: String,
}

pub fn load_keyring(path: &Path) -> Result<Vec<SignedPublicKey>> {
    let data = std::fs::read(path).with_context(|| {
        format!(
            "cannot read keyring {} (bake it into the initrd)",
            path.display()
        )
    })?;
    let keys: Vec<SignedPublicKey> = if data.starts_with(b"-----BEGIN") {
        let text = String::from_utf8_lossy(&data);
        let (iter, _) = SignedPublicKey::from_string_many(&text)
            .with_context(|| format!("keyring {} is not armored OpenPGP", path.display()))?;
        iter.collect::<Result<_, _>>()
    } else {
        SignedPublicKey::from_bytes_many(io::Cursor::new(&data))
            .with_context(|| format!("keyring {} is not OpenPGP", path.display()))?
            .collect::<Result<_, _>>()
    }
    .with_context(|| format!("keyring {} holds a key rpgp cannot parse", path.display()))?;
    if keys.is_empty() {
        bail!("keyring {} holds no public key", path.display());
    }
    Ok(keys)
}

pub fn parse_signature(data: &[u8], source: &str) -> Result<DetachedSignature> {
    let sig = if data.starts_with(b"-----BEGIN") {
        let text = String::from_utf8_lossy(data);
        DetachedSignature::from_string(&text).map(|(s, _)| s)
    } else {
        DetachedSignature::from_bytes(io::Cursor::new(data))
    };
    sig.map_err(|e| anyhow!("{source} is not an OpenPGP detached signature: {e}"))
}

/// Find the signing key in the keyring by the signature's issuer, and check its bindings.
pub fn expect(
    sig: DetachedSignature,
    keys: &[SignedPublicKey],
    keyring: &Path,
) -> Result<Expected> {
    let ids: Vec<String> = sig
        .signature
        .issuer_key_id()
        .iter()
        .map(|k| format!("{k:?}"))
        .collect();
    let fps: Vec<String> = sig
        .signature
        .issuer_fingerprint()
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    let matches = |k: &dyn KeyDetails| {
        ids.contains(&format!("{:?}", k.legacy_key_id()))
            || fps.contains(&format!("{:?}", k.fingerprint()))
    };
    for key in keys {
        if matches(&key.primary_key) {
            key.verify_bindings().map_err(|e| {
                anyhow!(
                    "key {:?} in {} has invalid self-signatures: {e}",
                    key.fingerprint(),
                    keyring.display()
                )
            })?;
            return Ok(Expected {
                signer: format!("{:?}", key.fingerprint()),
                key: SigningKey::Primary(Box::new(key.clone())),
                sig,
            });
        }
        for sub in &key.public_subkeys {
            if matches(&sub.key) {
                sub.verify_bindings(&key.primary_key).map_err(|e| {
                    anyhow!(
                        "subkey {:?} in {} is not validly bound to its primary key: {e}",
                        sub.key.fingerprint(),
                        keyring.display()
                    )
                })?;
                return Ok(Expected {
                    signer: format!("{:?}", sub.key.fingerprint()),
                    key: SigningKey::Subkey(Box::new(sub.clone())),
                    sig,
                });
            }
        }
    }
    let who = fps
        .first()
        .or(ids.first())
        .cloned()
        .unwrap_or_else(|| "an unnamed key".into());
    bail!(
        "the image signature was made by {who}, which is not in keyring {}; add the signer's public key",
        keyring.display()
    )
}

impl std::fmt::Debug for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "signature by {}", self.signer)
    }
}

/// Receives the served bytes and verifies them on its own thread.
pub struct Verifier {
    tx: Option<SyncSender<Vec<u8>>>,
    handle: Option<JoinHandle<Result<(), String>>>,
    signer: String,
}

impl Verifier {
    pub fn start(e: Expected) -> Verifier {
        let (tx, rx) = sync_channel::<Vec<u8>>(8);
        let signer = e.signer.clone();
        let handle = std::thread::Builder::new()
            .name("signature".into())
            .spawn(move || {
                let input = ChannelReader {
                    rx,
                    buf: Vec::new(),
                    pos: 0,
                };
                let r = match &e.key {
                    SigningKey::Primary(k) => e.sig.signature.verify(k.as_ref(), input),
                    SigningKey::Subkey(k) => e.sig.signature.verify(k.as_ref(), input),
                };
                r.map_err(|err| err.to_string())
            })
            .ok();
        Verifier {
            tx: Some(tx),
            handle,
            signer,
        }
    }

    pub fn reader<R: Read>(&self, inner: R) -> TeeReader<R> {
        TeeReader {
            inner,
            tx: self.tx.clone(),
        }
    }

    /// Call after the source reached its end.
    pub fn finish(mut self, what: &str) -> Result<String> {
        self.tx.take();
        let h = self
            .handle
            .take()
            .ok_or_else(|| anyhow!("the signature thread did not start"))?;
        match h.join() {
            Ok(Ok(())) => Ok(self.signer),
            Ok(Err(e)) => bail!(
                "the OpenPGP signature of {what} does not match (signer {}): {e}; the image was altered or the signature belongs to another file",
                self.signer
            ),
            Err(_) => bail!("the signature check of {what} crashed"),
        }
    }
}

struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(b) => {
                    self.buf = b;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Passes bytes through and copies them to the verifier.
pub struct TeeReader<R> {
    inner: R,
    tx: Option<SyncSender<Vec<u8>>>,
}

impl<R: Read> Read for TeeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(tx) = &self.tx {
                if tx.send(buf[..n].to_vec()).is_err() {
                    // The verifier stopped early (it failed): its error is reported by finish.
                    self.tx = None;
                }
            }
        }
        Ok(n)
    }
}
