fn main() {
    println!("rdinstall {}", env!("CARGO_PKG_VERSION"));
}
