//! IDX files (the MNIST format): big-endian magic 0x00000800 | type | rank, the
//! dimensions as u32, then the unsigned bytes; read gzip-compressed or raw.

use crate::TasksError;
use std::io::Read;

/// An IDX tensor of unsigned bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Decompresses `bytes` when they start with the gzip magic, else returns them.
pub fn maybe_gunzip(bytes: Vec<u8>, what: &str) -> Result<Vec<u8>, TasksError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| TasksError::data("data_dir", format!("{what}: not valid gzip: {e}")))?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Parses an IDX file of unsigned bytes (type 0x08).
pub fn parse(bytes: Vec<u8>, what: &str) -> Result<Idx, TasksError> {
    let bytes = maybe_gunzip(bytes, what)?;
    let bad = |m: String| TasksError::data("data_dir", format!("{what}: {m}"));
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("not an IDX file (bad magic)".into()));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!(
            "IDX element type 0x{:02x}, expected unsigned bytes (0x08)",
            bytes[2]
        )));
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(bad("truncated IDX header".into()));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            let b = &bytes[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let len: usize = dims.iter().product();
    if bytes.len() != header + len {
        return Err(bad(format!(
            "IDX dimensions {dims:?} need {len} bytes of data, the file has {}",
            bytes.len() - header
        )));
    }
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Encodes an IDX file of unsigned bytes (test fixtures and round trips).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend((*d as u32).to_be_bytes());
    }
    out.extend(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn raw_and_gzip_round_trip_and_errors() {
        let raw = encode(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let idx = parse(raw.clone(), "x").unwrap();
        assert_eq!(idx.dims, vec![2, 2, 3]);
        assert_eq!(idx.data[11], 12);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        assert_eq!(parse(gz.finish().unwrap(), "x").unwrap(), idx);
        let e = parse(raw[..raw.len() - 1].to_vec(), "f.idx").unwrap_err();
        assert!(
            e.message().contains("f.idx") && e.message().contains("11"),
            "{e}"
        );
        assert!(parse(vec![1, 2, 3, 4], "f").is_err());
    }
}
