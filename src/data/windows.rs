//! A split read as parallel streams, and the BPTT windows cut from them
//! one step at a time (never laid out whole).
use tch::{Device, Tensor};

use super::Split;

/// A split read as `batch` contiguous rows of equal length, the
/// remainder dropped, as char-rnn does: row b continues where row b's
/// previous window ended, so hidden state can be carried across windows.
/// Windows are cut from the split when asked for, never laid out whole.
#[derive(Debug, Clone)]
pub struct Streams {
    split: Split,
    batch: usize,
    len: usize,
}

impl Streams {
    pub fn new(split: &Split, batch: usize) -> Streams {
        let batch = batch.clamp(1, split.len().max(1));
        Streams { split: split.clone(), batch, len: split.len() / batch }
    }

    /// Rows (the batch).
    pub fn rows(&self) -> usize {
        self.batch
    }

    /// Tokens per row.
    pub fn columns(&self) -> usize {
        self.len
    }

    fn cut(&self, from: usize, n: usize, targets: bool) -> Tensor {
        let mut out = Vec::with_capacity(self.batch * n);
        for row in 0..self.batch {
            let at = row * self.len + from;
            if targets {
                self.split.read_targets(at, n, &mut out);
            } else {
                self.split.read(at, n, &mut out);
            }
        }
        Tensor::from_slice(&out).view([self.batch as i64, n as i64])
    }

    /// Columns `from..from + n` of every row: `[batch, n]` int64 ids.
    pub fn inputs(&self, from: usize, n: usize) -> Tensor {
        self.cut(from, n, false)
    }

    /// The same window of the targets.
    pub fn targets(&self, from: usize, n: usize) -> Tensor {
        self.cut(from, n, true)
    }
}

/// Iterates over `[batch, ≤bptt]` input/target windows of a split laid out
/// as streams, wrapping around at the end of an epoch.
#[derive(Debug)]
pub struct Windows {
    streams: Streams,
    device: Device,
    bptt: i64,
    pos: i64,
    pub epoch: usize,
}

/// One training window: inputs, next-token targets, and whether it
/// starts a new pass over the data (so carried state must be reset).
pub struct Window {
    pub input: Tensor,
    pub target: Tensor,
    pub starts_epoch: bool,
}

impl Windows {
    /// Windows of `streams`, each put on `device` as it is cut.
    pub fn new(streams: Streams, bptt: usize, device: Device) -> Windows {
        Windows { streams, device, bptt: bptt as i64, pos: 0, epoch: 0 }
    }

    fn usable(&self) -> i64 {
        self.streams.columns() as i64 - 1
    }

    /// Number of windows in one pass over the data.
    pub fn per_epoch(&self) -> usize {
        ((self.usable() + self.bptt - 1) / self.bptt) as usize
    }

    /// Offset of the next window and the number of completed passes.
    pub fn position(&self) -> (i64, usize) {
        (self.pos, self.epoch)
    }

    /// Continues from a [`Windows::position`] (of the same streams and bptt).
    pub fn seek(&mut self, offset: i64, epoch: usize) {
        self.pos = offset.clamp(0, self.usable().max(0));
        self.epoch = epoch;
    }

    pub fn next_window(&mut self) -> Window {
        let usable = self.usable();
        let starts_epoch = self.pos == 0;
        let len = self.bptt.min(usable - self.pos);
        let input = self.streams.inputs(self.pos as usize, len as usize).to_device(self.device);
        let target = self.streams.targets(self.pos as usize + 1, len as usize).to_device(self.device);
        self.pos += len;
        if self.pos >= usable {
            self.pos = 0;
            self.epoch += 1;
        }
        Window { input, target, starts_epoch }
    }
}
