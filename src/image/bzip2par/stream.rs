//! The in-order consumer: takes chunks (and their decode results from the workers) in input
//! order, checks the bzip2 stream structure around them (headers, end-of-stream markers,
//! stream CRCs, nothing after the last stream), repairs false boundaries by merging a chunk
//! with the next one, and hands out the decoded bytes through `Read`.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, RecvError};
use std::sync::Arc;

use super::bits::Chunk;
use super::block::{self, BlockError, Decoded, Output, Scratch};
use super::crc;
use super::pool::Pool;
use super::scan::{is_stream_header, Kind};
use super::{EOS_MAGIC, MAX_CHUNK_BYTES};

pub type BlockResult = Result<Decoded, BlockError>;

/// What the splitter thread sends, in input order.
pub enum Msg {
    Chunk {
        kind: Kind,
        chunk: Arc<Chunk>,
        /// The worker's result, for block chunks.
        result: Option<Receiver<BlockResult>>,
    },
    Failed(io::Error),
}

enum State {
    Start,
    InStream { level: usize, crc: u32 },
    Ended,
}

pub struct Bz2Stream {
    rx: Receiver<Msg>,
    /// One message of lookahead: `Some(None)` = the splitter is done.
    peeked: Option<Option<Msg>>,
    state: State,
    out: Option<(Output, usize)>,
    failed: Option<(io::ErrorKind, String)>,
    /// For chunks merged here after a false boundary.
    scratch: Option<Box<Scratch>>,
    /// Where consumed output buffers go back to the workers.
    pool: Pool,
    stream_no: usize,
    block_no: usize,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bzip2: {msg}"))
}

const WHAT_TO_DO: &str = "the image is corrupt or incomplete; re-download it or check the source";

impl Bz2Stream {
    pub fn new(rx: Receiver<Msg>, pool: Pool) -> Self {
        Bz2Stream {
            rx,
            peeked: None,
            state: State::Start,
            out: None,
            failed: None,
            scratch: None,
            pool,
            stream_no: 0,
            block_no: 0,
        }
    }

    fn next_msg(&mut self) -> Option<Msg> {
        match self.peeked.take() {
            Some(m) => m,
            None => self.rx.recv().ok(),
        }
    }

    fn peek_msg(&mut self) -> Option<&Msg> {
        if self.peeked.is_none() {
            self.peeked = Some(self.rx.recv().ok());
        }
        self.peeked.as_ref().unwrap().as_ref()
    }

    /// Takes the next chunk to merge onto `chunk`, if there is one and the result stays
    /// within the largest possible block. Errors from the splitter are passed on.
    fn take_merge(&mut self, chunk: &Chunk) -> io::Result<Option<Arc<Chunk>>> {
        match self.peek_msg() {
            None => Ok(None),
            Some(Msg::Failed(_)) => match self.next_msg() {
                Some(Msg::Failed(e)) => Err(e),
                _ => unreachable!(),
            },
            Some(Msg::Chunk { chunk: next, .. }) => {
                if chunk.len_bits() + next.len_bits() > MAX_CHUNK_BYTES * 8 {
                    return Ok(None);
                }
                match self.next_msg() {
                    // The worker's result for `next` (decoded from a false start) is dropped.
                    Some(Msg::Chunk { chunk: next, .. }) => Ok(Some(next)),
                    _ => unreachable!(),
                }
            }
        }
    }

    fn where_(&self, chunk: &Chunk) -> String {
        format!(
            "block {} of stream {} (input byte {})",
            self.block_no + 1,
            self.stream_no + 1,
            chunk.input_bit / 8
        )
    }

    /// Moves to the next piece of output. `Ok(false)` at the end of the input.
    fn advance(&mut self) -> io::Result<bool> {
        loop {
            let msg = match self.next_msg() {
                Some(m) => m,
                None => {
                    return match self.state {
                        State::Ended => Ok(false),
                        State::Start => Err(invalid("empty input, not a bzip2 stream".into())),
                        State::InStream { .. } => Err(invalid(format!(
                            "the stream is truncated: input ended before the end-of-stream \
                             marker of stream {}: {}",
                            self.stream_no + 1,
                            WHAT_TO_DO
                        ))),
                    };
                }
            };
            let (kind, chunk, result) = match msg {
                Msg::Failed(e) => return Err(e),
                Msg::Chunk {
                    kind,
                    chunk,
                    result,
                } => (kind, chunk, result),
            };
            match (&self.state, kind) {
                (State::Start, Kind::Start) => self.header(chunk)?,
                (State::InStream { .. }, Kind::Block) => {
                    self.block(chunk, result)?;
                    return Ok(true);
                }
                (State::InStream { .. }, Kind::EndOfStream) => self.end_of_stream(chunk)?,
                (State::Ended, _) => return Err(self.trailing(chunk.input_bit)),
                _ => {
                    return Err(invalid(format!(
                        "unexpected data at input byte {}: {}",
                        chunk.input_bit / 8,
                        WHAT_TO_DO
                    )))
                }
            }
        }
    }

    fn trailing(&self, input_bit: u64) -> io::Error {
        invalid(format!(
            "unexpected data after the end of bzip2 stream {} at input byte {} (trailing \
             garbage or padding); the image file is damaged or not a plain .bz2 file",
            self.stream_no + 1,
            input_bit.div_ceil(8)
        ))
    }

    fn header(&mut self, mut chunk: Arc<Chunk>) -> io::Result<()> {
        while chunk.len_bits() < 32 {
            match self.take_merge(&chunk)? {
                Some(next) => chunk = Arc::new(chunk.concat(&next)),
                None => break,
            }
        }
        let mut r = chunk.reader();
        let head = r.bits(32).to_be_bytes();
        if chunk.len_bits() < 32 || !is_stream_header(&head) {
            return Err(invalid(
                "not a bzip2 stream (bad magic); check the image URL and format".into(),
            ));
        }
        if chunk.len_bits() != 32 {
            return Err(invalid(format!(
                "no block after the stream header: {WHAT_TO_DO}"
            )));
        }
        self.state = State::InStream {
            level: (head[3] - b'0') as usize,
            crc: 0,
        };
        Ok(())
    }

    fn block(
        &mut self,
        mut chunk: Arc<Chunk>,
        result: Option<Receiver<BlockResult>>,
    ) -> io::Result<()> {
        let mut res = match result {
            Some(rx) => rx
                .recv()
                .map_err(|RecvError| invalid("a decoder thread failed".into()))?,
            None => self.decode_here(&chunk),
        };
        // The first real error, reported if merging does not help.
        let mut first_error: Option<String> = None;
        loop {
            match res {
                Ok(decoded) => {
                    let State::InStream { level, crc } = &mut self.state else {
                        unreachable!()
                    };
                    if decoded.bwt_len > *level * 100_000 {
                        return Err(invalid(format!(
                            "{} is larger than the stream's block size: {WHAT_TO_DO}",
                            self.where_(&chunk)
                        )));
                    }
                    *crc = crc::combine(*crc, decoded.crc);
                    self.block_no += 1;
                    self.out = Some((decoded.data, 0));
                    return Ok(());
                }
                Err(e) => {
                    if let BlockError::Corrupt(msg) = e {
                        first_error.get_or_insert(msg);
                    }
                    match self.take_merge(&chunk)? {
                        Some(next) => {
                            chunk = Arc::new(chunk.concat(&next));
                            res = self.decode_here(&chunk);
                        }
                        None => {
                            let why = match (&first_error, self.peek_msg()) {
                                (Some(msg), _) => msg.clone(),
                                (None, None) => {
                                    "the stream is truncated: the input ends inside it".to_string()
                                }
                                (None, Some(_)) => "no valid block end found".to_string(),
                            };
                            return Err(invalid(format!(
                                "{}: {why}: {WHAT_TO_DO}",
                                self.where_(&chunk)
                            )));
                        }
                    }
                }
            }
        }
    }

    fn decode_here(&mut self, chunk: &Chunk) -> BlockResult {
        let pool = &self.pool;
        let s = self
            .scratch
            .get_or_insert_with(|| Box::new(Scratch::with_pool(pool.clone())));
        block::decode(chunk, s)
    }

    fn end_of_stream(&mut self, mut chunk: Arc<Chunk>) -> io::Result<()> {
        loop {
            let pad = (8 - (chunk.input_bit + 80) % 8) % 8;
            let rest = chunk.len_bits() as i64 - 80 - pad as i64;
            // Too short to hold what follows the marker (or the next stream's header):
            // a false boundary cut it; merge with the next chunk.
            if rest < 0 || (rest > 0 && rest < 32) {
                if let Some(next) = self.take_merge(&chunk)? {
                    chunk = Arc::new(chunk.concat(&next));
                    continue;
                }
                if rest < 0 {
                    return Err(invalid(format!(
                        "the stream is truncated: input ends inside the end-of-stream marker \
                         of stream {}: {WHAT_TO_DO}",
                        self.stream_no + 1
                    )));
                }
            }
            let mut r = chunk.reader();
            let magic = ((r.bits(24) as u64) << 24) | r.bits(24) as u64;
            debug_assert_eq!(magic, EOS_MAGIC);
            let stored = r.bits(32);
            let State::InStream { crc, .. } = self.state else {
                unreachable!()
            };
            if stored != crc {
                return Err(invalid(format!(
                    "stream CRC mismatch in stream {} (stored {stored:08x}, computed {crc:08x}): \
                     {WHAT_TO_DO}",
                    self.stream_no + 1
                )));
            }
            if rest == 0 {
                // Either the end of the input, or a candidate boundary right here where a
                // stream header should be: garbage.
                if self.peek_msg().is_some() {
                    return Err(self.trailing(chunk.input_bit + 80 + pad));
                }
                self.state = State::Ended;
                return Ok(());
            }
            r.consume(pad as u32);
            let head = r.bits(32).to_be_bytes();
            if rest != 32 || !is_stream_header(&head) {
                return Err(self.trailing(chunk.input_bit + 80 + pad));
            }
            self.stream_no += 1;
            self.block_no = 0;
            self.state = State::InStream {
                level: (head[3] - b'0') as usize,
                crc: 0,
            };
            return Ok(());
        }
    }
}

impl Read for Bz2Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some((out, pos)) = &mut self.out {
                let n = match out {
                    Output::Plain(v) => {
                        let n = (v.len() - *pos).min(buf.len());
                        buf[..n].copy_from_slice(&v[*pos..*pos + n]);
                        *pos += n;
                        n
                    }
                    Output::Runs(rle) => rle.fill(buf),
                };
                if n > 0 {
                    return Ok(n);
                }
                match self.out.take() {
                    Some((Output::Plain(v), _)) => self.pool.give(v),
                    Some((Output::Runs(rle), _)) => self.pool.give(rle.into_inner()),
                    None => {}
                }
            }
            if let Some((kind, msg)) = &self.failed {
                return Err(io::Error::new(*kind, msg.clone()));
            }
            match self.advance() {
                Ok(true) => continue,
                Ok(false) => return Ok(0),
                Err(e) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
            }
        }
    }
}
