//! `bz2-backend < in.bz2 > out`: decodes every stream with the backend picked by the cargo
//! feature (`rust` or `c`), on one thread.

use std::io::{self, Read, Write};

fn main() {
    let mut dec = bzip2::read::MultiBzDecoder::new(io::stdin().lock());
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match dec.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.write_all(&buf[..n]).expect("writing stdout"),
            Err(e) => {
                eprintln!("bz2-backend: {e}");
                std::process::exit(1);
            }
        }
    }
}
