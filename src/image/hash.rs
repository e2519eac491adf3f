//! Checksum of the bytes as served, computed while they stream past.

use crate::settings::{Checksum, ChecksumAlgo};
use sha2::{Digest, Sha256, Sha512};
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

/// The running digest, shared between the reader (in the decode thread) and the checker.
#[derive(Clone)]
pub struct Digesting {
    state: Arc<Mutex<Option<Hasher>>>,
    expected: Checksum,
}

impl Digesting {
    pub fn new(expected: &Checksum) -> Self {
        let h = match expected.algo {
            ChecksumAlgo::Sha256 => Hasher::Sha256(Sha256::new()),
            ChecksumAlgo::Sha512 => Hasher::Sha512(Sha512::new()),
        };
        Digesting {
            state: Arc::new(Mutex::new(Some(h))),
            expected: expected.clone(),
        }
    }

    fn update(&self, data: &[u8]) {
        if let Some(h) = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            match h {
                Hasher::Sha256(h) => h.update(data),
                Hasher::Sha512(h) => h.update(data),
            }
        }
    }

    /// Finish and compare. Call only after the source reached its end.
    pub fn verify(&self, what: &str) -> anyhow::Result<()> {
        let h = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| anyhow::anyhow!("checksum already taken"))?;
        let got = match h {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        if got != self.expected.digest {
            let algo = self.expected.to_string();
            let algo = algo.split(':').next().unwrap_or("");
            anyhow::bail!(
                "checksum mismatch for {what}: expected {}, got {algo}:{}; the image is corrupt or image_checksum is wrong",
                self.expected,
                hex::encode(got)
            );
        }
        Ok(())
    }

    pub fn reader<R: Read>(&self, inner: R) -> HashReader<R> {
        HashReader {
            inner,
            digest: self.clone(),
        }
    }
}

pub struct HashReader<R> {
    inner: R,
    digest: Digesting,
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

/// Counts bytes read (bytes as served, for progress and for "did we reach the end").
pub struct CountingReader<R> {
    pub inner: R,
    pub count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_sha256_while_reading() {
        let data = b"hello world";
        let good: Checksum =
            "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
                .parse()
                .unwrap();
        let d = Digesting::new(&good);
        io::copy(&mut d.reader(&data[..]), &mut io::sink()).unwrap();
        d.verify("t").unwrap();
        let bad: Checksum = format!("sha256:{}", "00".repeat(32)).parse().unwrap();
        let d = Digesting::new(&bad);
        io::copy(&mut d.reader(&data[..]), &mut io::sink()).unwrap();
        let e = d.verify("img").unwrap_err().to_string();
        assert!(e.contains("checksum mismatch for img"), "{e}");
    }
}
