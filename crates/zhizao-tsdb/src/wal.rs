//! The write-ahead log: length- and CRC-framed postcard records appended to
//! one file. A group of records is written and then made durable with one
//! `fdatasync`; only then are the writes acknowledged. On open, replay reads
//! frames until the first torn or corrupt one and truncates the file there:
//! such a frame was never acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::TsdbError;
use crate::batch::Packed;
use crate::model::{SeriesKey, Value, ValueType};

/// Largest record accepted on replay; guards against a corrupt length.
const MAX_FRAME: u32 = 256 * 1024 * 1024;
const HEADER: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// A new series and its id (ids are dense, in creation order).
    Series {
        id: u32,
        key: SeriesKey,
        value_type: ValueType,
    },
    /// Points as (series id, timestamp ns, value).
    Points(Vec<(u32, i64, Value)>),
    /// Points packed line by line; what the writer logs now.
    Packed(Packed),
}

pub struct Wal {
    path: PathBuf,
    file: File,
    len: u64,
}

impl Wal {
    /// Opens (creating) the log, returns it with every intact record.
    pub fn open(path: &Path) -> Result<(Wal, Vec<Record>), TsdbError> {
        let io = |e| TsdbError::io(path, e);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut bytes).map_err(io)?;
        let (records, good) = decode_frames(&bytes);
        if good < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                dropped_bytes = bytes.len() - good,
                "write-ahead log ends in a torn record (never acknowledged); truncating"
            );
            file.set_len(good as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok((
            Wal {
                path: path.to_owned(),
                file,
                len: good as u64,
            },
            records,
        ))
    }

    /// Appends records without syncing; call [`Wal::sync`] before acknowledging.
    pub fn append(&mut self, records: &[Record]) -> Result<(), TsdbError> {
        let mut buf = Vec::new();
        for r in records {
            encode_frame(r, &mut buf)?;
        }
        self.file
            .write_all(&buf)
            .map_err(|e| TsdbError::io(&self.path, e))?;
        self.len += buf.len() as u64;
        Ok(())
    }

    pub fn sync(&mut self) -> Result<(), TsdbError> {
        self.file
            .sync_data()
            .map_err(|e| TsdbError::io(&self.path, e))
    }

    /// Bytes in the log.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Appends one frame; the record is serialized in place after its header.
fn encode_frame(r: &Record, out: &mut Vec<u8>) -> Result<(), TsdbError> {
    let at = out.len();
    out.extend_from_slice(&[0; HEADER]);
    let mut buf = postcard::to_extend(r, std::mem::take(out))
        .map_err(|e| TsdbError::Encode(e.to_string()))?;
    let payload_len = buf.len() - at - HEADER;
    let Some(len) = u32::try_from(payload_len).ok().filter(|l| *l <= MAX_FRAME) else {
        buf.truncate(at);
        *out = buf;
        return Err(TsdbError::Encode(format!(
            "record of {payload_len} bytes is too large"
        )));
    };
    let crc = crc32fast::hash(&buf[at + HEADER..]);
    buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    buf[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
    *out = buf;
    Ok(())
}

/// Decodes frames from the start; returns the records and the byte offset
/// after the last intact frame.
pub fn decode_frames(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut pos = 0;
    while bytes.len() - pos >= HEADER {
        let word = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&bytes[at..at + 4]);
            u32::from_le_bytes(b)
        };
        let len = word(pos);
        let crc = word(pos + 4);
        if len > MAX_FRAME {
            break;
        }
        let start = pos + HEADER;
        let end = start + len as usize;
        if end > bytes.len() {
            break;
        }
        let payload = &bytes[start..end];
        if crc32fast::hash(payload) != crc {
            break;
        }
        match postcard::from_bytes::<Record>(payload) {
            Ok(r) => records.push(r),
            Err(_) => break,
        }
        pos = end;
    }
    (records, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SeriesKey {
        SeriesKey {
            tenant: 1,
            measurement: "telemetry".into(),
            tags: vec![("device".into(), "m1".into())],
            field: "temp".into(),
        }
    }

    #[test]
    fn torn_tail_is_dropped_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, recs) = Wal::open(&path).unwrap();
        assert!(recs.is_empty());
        let a = Record::Series {
            id: 0,
            key: key(),
            value_type: ValueType::F64,
        };
        let b = Record::Points(vec![(0, 5, Value::F64(1.5))]);
        wal.append(&[a.clone(), b.clone()]).unwrap();
        wal.sync().unwrap();
        let good = wal.len();
        drop(wal);
        // A half-written third record.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
        drop(f);
        let (wal, recs) = Wal::open(&path).unwrap();
        assert_eq!(recs, vec![a, b]);
        assert_eq!(wal.len(), good);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    }

    #[test]
    fn a_flipped_bit_stops_replay_at_that_record() {
        let mut buf = Vec::new();
        encode_frame(&Record::Points(vec![(0, 1, Value::I64(1))]), &mut buf).unwrap();
        let first = buf.len();
        encode_frame(&Record::Points(vec![(0, 2, Value::I64(2))]), &mut buf).unwrap();
        let last = buf.len() - 1;
        buf[last] ^= 0x40;
        let (recs, good) = decode_frames(&buf);
        assert_eq!(recs.len(), 1);
        assert_eq!(good, first);
    }
}
