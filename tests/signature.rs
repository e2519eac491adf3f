#![cfg(feature = "openpgp")]
//! Detached OpenPGP signatures made by real gpg: good, bad, truncated, unknown key, subkey.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

const MIB: usize = 1 << 20;

fn gpg(home: &Path, args: &[&str]) -> String {
    let out = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args([
            "--batch",
            "--yes",
            "--passphrase",
            "",
            "--pinentry-mode",
            "loopback",
        ])
        .args(args)
        .output()
        .expect("gpg (gnupg) is needed for this test");
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fingerprints of the primary key and its signing subkey.
fn fingerprints(home: &Path, uid: &str) -> (String, String) {
    let out = gpg(home, &["--with-colons", "--list-keys", uid]);
    let fprs: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("fpr:"))
        .map(|l| l.split(':').nth(9).unwrap().to_string())
        .collect();
    (fprs[0].clone(), fprs.get(1).cloned().unwrap_or_default())
}

#[test]
fn detached_signatures() {
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let h = home.path();
    gpg(
        h,
        &[
            "--quick-gen-key",
            "Signer <signer@example.org>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    let (primary, _) = fingerprints(h, "signer@example.org");
    gpg(
        h,
        &["--quick-add-key", &primary, "ed25519", "sign", "never"],
    );
    let (_, sub) = fingerprints(h, "signer@example.org");
    gpg(
        h,
        &[
            "--quick-gen-key",
            "Stranger <stranger@example.org>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    let (stranger, _) = fingerprints(h, "stranger@example.org");
    let keyring = h.join("keyring.asc");
    std::fs::write(&keyring, gpg(h, &["--armor", "--export", &primary])).unwrap();

    let img = sample_disk_image(4 * MIB);
    let data = compress(&["bzip2", "-c"], &img);
    let file = h.join("img.bz2");
    std::fs::write(&file, &data).unwrap();
    let sign = |key: &str, armor: bool| -> Vec<u8> {
        let out = h.join("sig");
        // `KEY!` makes gpg use exactly that (sub)key.
        let key_excl = format!("{key}!");
        let mut a = vec![
            "--detach-sign",
            "--local-user",
            &key_excl,
            "-o",
            out.to_str().unwrap(),
        ];
        if armor {
            a.insert(0, "--armor");
        }
        a.push(file.to_str().unwrap());
        gpg(h, &a);
        std::fs::read(&out).unwrap()
    };
    let srv = Server::start();
    let url = srv.file("/img.bz2", data.clone());
    let k = keyring.to_str().unwrap();
    let install_signed = |sig_url: &str, policy: &str, disk: &Disk| {
        install(
            &url,
            disk,
            &[
                "--json",
                "--signature",
                policy,
                "--keyring",
                k,
                "--image-signature",
                sig_url,
            ],
        )
    };

    // Good: by the primary key (armored) and by the signing subkey (binary).
    for (name, sig) in [
        ("primary", sign(&primary, true)),
        ("subkey", sign(&sub, false)),
    ] {
        let sig_url = srv.file(&format!("/{name}.sig"), sig);
        let disk = Disk::new(16 * MIB as u64);
        let out = install_signed(&sig_url, "required", &disk);
        assert_eq!(code(&out), 0, "{name}: {}", text(&out));
        assert!(
            text(&out).contains("signature of"),
            "{name}: {}",
            text(&out)
        );
        assert!(disk.bytes()[..img.len()] == img[..]);
    }

    // Default location `<image>.sig`.
    srv.file("/img.bz2.sig", sign(&primary, false));
    let disk = Disk::new(16 * MIB as u64);
    let out = install(&url, &disk, &["--signature", "required", "--keyring", k]);
    assert_eq!(code(&out), 0, "default .sig: {}", text(&out));

    // Bad: the served bytes differ from what was signed (a raw image, so only the signature can
    // notice) → fails after the write, and the head is never written.
    let raw = h.join("img.raw");
    std::fs::write(&raw, &img).unwrap();
    let raw_sig = h.join("raw.sig");
    gpg(
        h,
        &[
            "--detach-sign",
            "--local-user",
            &format!("{primary}!"),
            "-o",
            raw_sig.to_str().unwrap(),
            raw.to_str().unwrap(),
        ],
    );
    let raw_sig_url = srv.file("/raw.sig", std::fs::read(&raw_sig).unwrap());
    let mut altered = img.clone();
    altered[3 * MIB + 17] ^= 1;
    let altered_url = srv.file("/altered.raw", altered);
    let disk = Disk::filled(16 * MIB as u64, Some(0x77));
    let out = install(
        &altered_url,
        &disk,
        &[
            "--signature",
            "required",
            "--keyring",
            k,
            "--image-signature",
            &raw_sig_url,
        ],
    );
    assert_eq!(code(&out), 4, "altered: {}", text(&out));
    assert!(text(&out).contains("signature"), "altered: {}", text(&out));
    assert!(
        disk.bytes()[..MIB].iter().all(|b| *b == 0),
        "altered: head must not be written"
    );
    // The same signature passes on the true bytes.
    let true_url = srv.file("/true.raw", img.clone());
    let disk = Disk::new(16 * MIB as u64);
    let out = install(
        &true_url,
        &disk,
        &[
            "--signature",
            "required",
            "--keyring",
            k,
            "--image-signature",
            &raw_sig_url,
        ],
    );
    assert_eq!(code(&out), 0, "true raw: {}", text(&out));

    // Preflight failures leave the disk as it was.
    let mut cases = vec![];
    let s = sign(&primary, true);
    cases.push((
        "truncated",
        srv.file("/trunc.sig", s[..s.len() / 2].to_vec()),
        "required",
        "not an OpenPGP",
    ));
    cases.push((
        "unknown key",
        srv.file("/stranger.sig", sign(&stranger, true)),
        "required",
        "not in keyring",
    ));
    cases.push((
        "missing, required",
        srv.url("/absent.sig"),
        "required",
        "absent.sig",
    ));
    for (name, sig_url, policy, needle) in cases {
        let disk = Disk::filled(16 * MIB as u64, Some(0x66));
        let before = disk.sha256();
        let out = install_signed(&sig_url, policy, &disk);
        assert_eq!(code(&out), 3, "{name}: {}", text(&out));
        assert!(text(&out).contains(needle), "{name}: {}", text(&out));
        assert_eq!(disk.sha256(), before, "{name}: disk changed");
    }

    // if-present: a missing signature is not an error.
    let disk = Disk::new(16 * MIB as u64);
    let out = install_signed(&srv.url("/absent.sig"), "if-present", &disk);
    assert_eq!(code(&out), 0, "if-present: {}", text(&out));
}
