//! TensorBoard event files, so `tensorboard --logdir results/NAME` shows a
//! sweep's curves live, local or on a cluster.
//!
//! A trial's directory holds one `events.out.tfevents.*` file that mirrors
//! its `metrics.csv`: every row logged becomes a scalar `SPLIT/METRIC` at
//! its step, and the first event carries the trial's hyperparameters as an
//! HParams session (plugin `hparams`), so TensorBoard's HParams tab lists
//! the sweep's trials with their swept values. When a trial resumes, its
//! `metrics.csv` is cut back to the checkpoint and the event file is
//! rewritten from it, so the two never disagree.
//!
//! The format is TensorBoard's documented one, written by hand: TFRecord
//! framing (length, masked CRC-32C of the length, payload, masked CRC-32C
//! of the payload) around `Event` protocol buffers (`tensorflow/core/util/
//! event.proto`, `summary.proto`; `tensorboard/plugins/hparams/
//! plugin_data.proto`). `tests/tensorboard.rs` reads the files back with
//! TensorBoard's own reader.
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::metrics::Row;

/// What an event file's name starts with (TensorBoard finds files by it).
pub const PREFIX: &str = "events.out.tfevents.";

/// A hyperparameter's value in the HParams session.
#[derive(Debug, Clone, PartialEq)]
pub enum HParam {
    Number(f64),
    Text(String),
    Bool(bool),
}

impl HParam {
    /// A YAML value as TensorBoard shows it: numbers and booleans as such,
    /// anything else as its YAML text.
    pub fn of_yaml(v: &serde_yaml::Value) -> HParam {
        match v {
            serde_yaml::Value::Bool(b) => HParam::Bool(*b),
            serde_yaml::Value::Number(n) => {
                n.as_f64().map(HParam::Number).unwrap_or_else(|| HParam::Text(n.to_string()))
            }
            serde_yaml::Value::String(s) => HParam::Text(s.clone()),
            other => HParam::Text(serde_yaml::to_string(other).unwrap_or_default().trim().to_string()),
        }
    }
}

/// How a trial ended, for the HParams session's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Success,
    Failure,
}

/// One trial's event file, appended to as metrics are logged.
pub struct EventWriter {
    file: File,
    path: PathBuf,
}

impl EventWriter {
    /// Starts a new event file in `dir`, removing the trial's earlier ones,
    /// with the file-version event and the HParams session start; then
    /// replays `rows` (the trial's `metrics.csv` so far) into it.
    pub fn create(dir: &Path, hparams: &[(String, HParam)], group: &str, rows: &[Row]) -> Result<EventWriter> {
        remove_all(dir)?;
        let now = wall_time();
        let name = format!(
            "{PREFIX}{}.{}.{}",
            now as u64,
            crate::lock::hostname().replace(['/', '\\'], "_"),
            std::process::id()
        );
        let path = dir.join(name);
        let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = EventWriter { file, path };
        let mut version = Proto::default();
        version.double(1, now);
        version.bytes(3, b"brain.Event:2");
        w.record(&version.0)?;
        w.hparams(0, "_hparams_/session_start_info", &session_start(hparams, group, now))?;
        // `metrics.csv` is tidy (a row per metric); a logging step's rows are consecutive.
        for group in rows.chunk_by(|a, b| a.step == b.step && a.split == b.split) {
            w.scalars(group[0].step, &group[0].split, group.iter().map(|r| (r.metric.as_str(), r.value)))?;
        }
        Ok(w)
    }

    /// Logs `metrics` of `split` at `step` as scalars `SPLIT/NAME`.
    /// Non-finite values are skipped, as `metrics.csv` leaves them empty.
    pub fn scalars<'m>(
        &mut self,
        step: usize,
        split: &str,
        metrics: impl IntoIterator<Item = (&'m str, f64)>,
    ) -> Result<()> {
        let mut summary = Proto::default();
        for (name, v) in metrics {
            if !v.is_finite() {
                continue;
            }
            let mut value = Proto::default();
            value.bytes(1, format!("{split}/{name}").as_bytes());
            value.float(2, v as f32);
            summary.message(1, &value);
        }
        if summary.0.is_empty() {
            return Ok(());
        }
        self.event(step, &summary)
    }

    /// Ends the HParams session with the trial's outcome.
    pub fn end(&mut self, step: usize, end: End) -> Result<()> {
        let mut info = Proto::default();
        info.varint(1, if end == End::Success { 1 } else { 2 });
        info.double(2, wall_time());
        let mut data = Proto::default();
        data.message(4, &info);
        self.hparams(step, "_hparams_/session_end_info", &data)
    }

    /// A summary value with the `hparams` plugin's data (and no payload,
    /// as TensorBoard's own writer does).
    fn hparams(&mut self, step: usize, tag: &str, data: &Proto) -> Result<()> {
        let mut plugin = Proto::default();
        plugin.bytes(1, b"hparams");
        plugin.bytes(2, &data.0);
        let mut metadata = Proto::default();
        metadata.message(1, &plugin);
        let mut value = Proto::default();
        value.bytes(1, tag.as_bytes());
        value.message(9, &metadata);
        let mut summary = Proto::default();
        summary.message(1, &value);
        self.event(step, &summary)
    }

    fn event(&mut self, step: usize, summary: &Proto) -> Result<()> {
        let mut event = Proto::default();
        event.double(1, wall_time());
        event.varint(2, step as u64);
        event.message(5, summary);
        self.record(&event.0)
    }

    /// One TFRecord, flushed so a live TensorBoard sees it.
    fn record(&mut self, data: &[u8]) -> Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        let mut out = Vec::with_capacity(data.len() + 16);
        out.extend_from_slice(&len);
        out.extend_from_slice(&masked_crc(&len).to_le_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&masked_crc(data).to_le_bytes());
        self.file
            .write_all(&out)
            .and_then(|()| self.file.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Removes `dir`'s event files.
pub fn remove_all(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(PREFIX)) {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// `HParamsPluginData { version: 0, session_start_info: { hparams, group_name, start_time_secs } }`.
fn session_start(hparams: &[(String, HParam)], group: &str, now: f64) -> Proto {
    let mut info = Proto::default();
    for (name, v) in hparams {
        // google.protobuf.Value: number_value = 2, string_value = 3, bool_value = 4.
        let mut value = Proto::default();
        match v {
            HParam::Number(x) => value.double(2, *x),
            HParam::Text(s) => value.bytes(3, s.as_bytes()),
            HParam::Bool(b) => value.varint(4, u64::from(*b)),
        }
        // A map entry: key = 1, value = 2.
        let mut entry = Proto::default();
        entry.bytes(1, name.as_bytes());
        entry.message(2, &value);
        info.message(1, &entry);
    }
    info.bytes(4, group.as_bytes());
    info.double(5, now);
    let mut data = Proto::default();
    data.message(3, &info);
    data
}

fn wall_time() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// TFRecord's checksum: CRC-32C, rotated and offset.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// A protocol buffer message being encoded, fields in the order written.
#[derive(Default)]
struct Proto(Vec<u8>);

impl Proto {
    fn key(&mut self, field: u32, wire: u8) {
        self.raw_varint((u64::from(field) << 3) | u64::from(wire));
    }

    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn varint(&mut self, field: u32, v: u64) {
        self.key(field, 0);
        self.raw_varint(v);
    }

    fn double(&mut self, field: u32, v: f64) {
        self.key(field, 1);
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn float(&mut self, field: u32, v: f32) {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.raw_varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    fn message(&mut self, field: u32, m: &Proto) {
        self.bytes(field, &m.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_masked_crc_match_the_references() {
        // Protocol buffers' documented example: 150 is `96 01`.
        let mut p = Proto::default();
        p.varint(1, 150);
        assert_eq!(p.0, [0x08, 0x96, 0x01]);
        // CRC-32C of "123456789" is 0xE3069283 (RFC 3720's check value);
        // TensorFlow's crc32c::Mask rotates it right by 15 and adds
        // 0xa282ead8: ((c >> 15) | (c << 17)) + 0xa282ead8 mod 2^32,
        // computed by hand (in Python) as 0xc78ab0e5.
        assert_eq!(masked_crc(b"123456789"), 0xC78A_B0E5);
    }
}
