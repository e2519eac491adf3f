//! `bz2cat [THREADS] < in.bz2 > out`: the parallel bzip2 decoder alone, for timing it
//! against `bzip2 -dc` and `lbzip2 -dc` (bench/run.sh uses it when asked to).

use std::io::{self, Read, Write};

fn main() {
    let threads = std::env::args()
        .nth(1)
        .map(|t| t.parse().expect("THREADS must be a number"))
        .unwrap_or(0);
    let mut r = rdinstall::image::bzip2par::reader(io::stdin(), threads);
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.write_all(&buf[..n]).expect("writing stdout"),
            Err(e) => {
                eprintln!("bz2cat: {e}");
                std::process::exit(1);
            }
        }
    }
}
