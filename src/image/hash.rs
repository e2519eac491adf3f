//! Checksum of the bytes as served, computed while they stream past.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgo {
    Sha256,
    Sha512,
}

/// `sha256:HEX` or `sha512:HEX`: the digest of the image bytes as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algo: ChecksumAlgo,
    pub digest: Vec<u8>,
}

impl FromStr for Checksum {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (algo, hex_part) = s
            .split_once(':')
            .ok_or_else(|| format!("expected sha256:HEX or sha512:HEX, got {s:?}"))?;
        let (algo, len) = match algo.to_ascii_lowercase().as_str() {
            "sha256" => (ChecksumAlgo::Sha256, 32),
            "sha512" => (ChecksumAlgo::Sha512, 64),
            other => {
                return Err(format!(
                    "unknown checksum algorithm {other:?} (use sha256 or sha512)"
                ))
            }
        };
        let digest = hex::decode(hex_part.trim())
            .map_err(|e| format!("checksum {hex_part:?} is not hexadecimal: {e}"))?;
        if digest.len() != len {
            return Err(format!(
                "a {} checksum has {} hex digits, got {}",
                algo_name(algo),
                len * 2,
                hex_part.len()
            ));
        }
        Ok(Checksum { algo, digest })
    }
}

fn algo_name(a: ChecksumAlgo) -> &'static str {
    match a {
        ChecksumAlgo::Sha256 => "sha256",
        ChecksumAlgo::Sha512 => "sha512",
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", algo_name(self.algo), hex::encode(&self.digest))
    }
}

impl Serialize for Checksum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Checksum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// SHA-256 of `data` in lowercase hex: how the plan records a config or a config drive.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

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
    fn checksums() {
        let c: Checksum = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        assert_eq!(c.algo, ChecksumAlgo::Sha256);
        assert_eq!(c.digest.len(), 32);
        let c: Checksum = format!("SHA512:{}", "0f".repeat(64)).parse().unwrap();
        assert_eq!(c.algo, ChecksumAlgo::Sha512);
        assert!("md5:abcd".parse::<Checksum>().is_err());
        assert!("sha256:abcd".parse::<Checksum>().is_err());
        assert!(format!("sha256:{}", "zz".repeat(32))
            .parse::<Checksum>()
            .is_err());
        assert!("deadbeef".parse::<Checksum>().is_err());
        assert_eq!(c.to_string(), format!("sha512:{}", "0f".repeat(64)));
    }

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
