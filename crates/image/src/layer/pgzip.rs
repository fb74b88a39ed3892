//! Parallel gzip whose bytes do not depend on the thread count.
//!
//! The input is cut into fixed 1 MiB blocks; each is deflated on its own (no
//! shared dictionary) and ended with a sync flush, the last one with the final
//! block; the pieces are concatenated in order into one gzip member whose CRC is
//! combined from the blocks' CRCs. Block boundaries depend only on the input, so
//! 1 thread and 8 threads write identical bytes — what reproducible layers need
//! — while a 2-core machine compresses almost twice as fast.

use flate2::{Compress, Crc, FlushCompress, Status};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::thread::JoinHandle;

const BLOCK: usize = 1 << 20;
const LEVEL: u32 = 6;
/// gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS "unknown".
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

type Pending = JoinHandle<io::Result<(Vec<u8>, Crc)>>;

/// A gzip encoder compressing blocks on up to `threads` threads.
pub struct ParallelGzip<W: Write> {
    out: W,
    threads: usize,
    block: Vec<u8>,
    pending: VecDeque<Pending>,
    crc: Crc,
    header_written: bool,
}

impl<W: Write> ParallelGzip<W> {
    /// A new encoder writing to `out`; `threads` 0 means one per CPU.
    pub fn new(out: W, threads: usize) -> ParallelGzip<W> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        ParallelGzip {
            out,
            threads,
            block: Vec::with_capacity(BLOCK),
            pending: VecDeque::new(),
            crc: Crc::new(),
            header_written: false,
        }
    }

    /// Compresses what is buffered, writes the gzip trailer and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let last = std::mem::take(&mut self.block);
        self.submit(last, true)?;
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        trailer[4..].copy_from_slice(&self.crc.amount().to_le_bytes());
        self.out.write_all(&trailer)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn submit(&mut self, data: Vec<u8>, last: bool) -> io::Result<()> {
        if !self.header_written {
            self.out.write_all(&HEADER)?;
            self.header_written = true;
        }
        while self.pending.len() >= self.threads {
            self.write_oldest()?;
        }
        self.pending
            .push_back(std::thread::spawn(move || deflate_block(&data, last)));
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(job) = self.pending.pop_front() else {
            return Ok(());
        };
        let (bytes, crc) = job
            .join()
            .map_err(|_| io::Error::other("a gzip compression thread panicked"))??;
        self.crc.combine(&crc);
        self.out.write_all(&bytes)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK {
            let full = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
            self.submit(full, false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(()) // blocks are fixed-size by design; finish() writes everything
    }
}

/// Raw deflate of one block: sync-flushed (byte-aligned, not final) or final.
fn deflate_block(data: &[u8], last: bool) -> io::Result<(Vec<u8>, Crc)> {
    let mut crc = Crc::new();
    crc.update(data);
    let mut c = Compress::new(flate2::Compression::new(LEVEL), false);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 4096);
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = c.total_in() as usize == data.len();
        // a flush is complete once output space was left over (zlib's contract)
        let done = if last {
            status == Status::StreamEnd
        } else {
            all_in && out.len() < out.capacity()
        };
        if done {
            return Ok((out, crc));
        }
    }
}
