//! Parallel bzip2 decoding.
//!
//! bzip2 blocks are independent, so the input is cut at block boundaries (found by their
//! 48-bit magic at any bit offset), the blocks are decoded on worker threads, and a consumer
//! reassembles them in order. Memory stays bounded: a fixed number of chunks is in flight,
//! and a block whose final run-length stage would blow up (zero-filled disk areas grow
//! ~50x) is kept as its at most 900 kB inverse-BWT output and expanded as it is read.
//!
//! ```text
//! input ─▶ splitter thread ──jobs──▶ N decode workers
//!                │                        │ (one result channel per block)
//!                └──chunks, in order──▶ consumer (Read) ─▶ caller
//! ```
//!
//! Every block CRC and stream CRC is checked, several concatenated streams (pbzip2 output)
//! are read, and anything after the last stream (including zero padding) is an error, as is
//! an input that ends early. A false boundary (the magic occurring inside compressed data)
//! shows as a block that does not decode up to it; the consumer then merges the chunk with
//! the next one and decodes again, so it never produces wrong data.

mod bits;
mod block;
mod crc;
mod huffman;
mod pool;
mod rle;
mod scan;
mod stream;

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;

pub use scan::{split_blocks, Boundary, Kind};

use bits::Chunk;
use pool::Pool;
use stream::{BlockResult, Bz2Stream, Msg};

/// The block header magic (BCD of pi).
pub const BLOCK_MAGIC: u64 = 0x3141_5926_5359;
/// The end-of-stream magic (BCD of sqrt(pi)).
pub const EOS_MAGIC: u64 = 0x1772_4538_5090;
/// No compressed block is longer than this (900 000 symbols of at most 20 bits, plus
/// tables): a chunk that grows past it without a boundary is corrupt.
pub const MAX_CHUNK_BYTES: usize = 3 << 20;

struct Job {
    chunk: Arc<Chunk>,
    done: SyncSender<BlockResult>,
}

/// A reader yielding the decoded bytes of the bzip2 data read from `input` (one or more
/// concatenated streams), decoding blocks on `threads` threads (0 = one per core).
///
/// Errors (kind `InvalidData`, message starting with "bzip2:") on a bad header, a block or
/// stream CRC mismatch, input ending early, or anything after the last stream. Errors
/// reading `input` are passed on unchanged. Memory: about 4 MB per thread for decoding plus
/// up to ~2.5 MB per block in flight (3 blocks per thread + 2).
pub fn reader<R: Read + Send + 'static>(input: R, threads: usize) -> Box<dyn Read + Send> {
    reader_with_false_boundaries(input, threads, Vec::new())
}

/// `reader`, with `extra` reported as boundaries on top of the real ones: lets tests check
/// that false boundaries (the magic inside compressed data, which is too rare to craft)
/// never change the output. Not for production use.
#[doc(hidden)]
pub fn reader_with_false_boundaries<R: Read + Send + 'static>(
    input: R,
    threads: usize,
    extra: Vec<Boundary>,
) -> Box<dyn Read + Send> {
    let threads = decoder_threads(threads);
    let (job_tx, job_rx) = sync_channel::<Job>(threads);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let pool = Pool::default();
    let mut started = 0;
    for i in 0..threads {
        let job_rx = Arc::clone(&job_rx);
        let pool = pool.clone();
        let spawned = thread::Builder::new()
            .name(format!("bz2-decode-{i}"))
            .spawn(move || worker(&job_rx, pool));
        // Fewer threads than asked (out of memory or thread limit) only costs speed.
        if spawned.is_ok() {
            started += 1;
        }
    }
    // Bounds the blocks in flight between the splitter and the consumer.
    let (msg_tx, msg_rx) = sync_channel::<Msg>(threads * 2);
    let spawned = thread::Builder::new()
        .name("bz2-split".into())
        .spawn(move || {
            let mut splitter = scan::Splitter::new(input, MAX_CHUNK_BYTES);
            splitter.inject(extra);
            split(splitter, &job_tx, &msg_tx)
        });
    if let Err(e) = spawned.and_then(|_| {
        if started == 0 {
            Err(std::io::Error::other("no decoder thread could be started"))
        } else {
            Ok(())
        }
    }) {
        return Box::new(Failed(format!(
            "bzip2: cannot start decoder threads ({e}); try a lower threads setting"
        )));
    }
    Box::new(Bz2Stream::new(msg_rx, pool))
}

/// The `threads` setting as a count of decoder threads: 0 means one per core.
pub fn decoder_threads(threads: usize) -> usize {
    if threads == 0 {
        thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
}

/// A reader that only reports why decoding could not start.
struct Failed(String);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other(self.0.clone()))
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>, pool: Pool) {
    let mut scratch = Box::new(block::Scratch::with_pool(pool));
    loop {
        // The lock is held only while waiting for a job, not while decoding.
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let result = block::decode(&job.chunk, &mut scratch);
        drop(job.chunk);
        // The consumer may be gone (reader dropped early): nothing to do then.
        let _ = job.done.send(result);
    }
}

/// Splitter thread: cuts the input into chunks, queues block chunks for the workers and
/// every chunk, in order, for the consumer. Stops when the consumer goes away.
fn split<R: Read>(mut splitter: scan::Splitter<R>, jobs: &SyncSender<Job>, out: &SyncSender<Msg>) {
    loop {
        let msg = match splitter.next_chunk() {
            Ok(None) => return,
            Err(e) => Msg::Failed(e),
            Ok(Some((kind, chunk))) => {
                let chunk = Arc::new(chunk);
                let result = if kind == Kind::Block {
                    let (done, result) = sync_channel(1);
                    let job = Job {
                        chunk: Arc::clone(&chunk),
                        done,
                    };
                    if jobs.send(job).is_err() {
                        return;
                    }
                    Some(result)
                } else {
                    None
                };
                Msg::Chunk {
                    kind,
                    chunk,
                    result,
                }
            }
        };
        let failed = matches!(msg, Msg::Failed(_));
        if out.send(msg).is_err() || failed {
            return;
        }
    }
}
