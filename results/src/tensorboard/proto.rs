//! The few protocol-buffer messages of a TensorBoard event file, encoded by hand, and the
//! TFRecord framing around each: a little-endian u64 length, the masked CRC-32C of those
//! 8 bytes, the data, the masked CRC-32C of the data.
//!
//! Messages and field numbers (tensorflow/core/util/event.proto, summary.proto,
//! tensor.proto, tensor_shape.proto):
//! `Event { double wall_time = 1; int64 step = 2; oneof { string file_version = 3;
//! Summary summary = 5; } }`, `Summary { repeated Value value = 1; }`,
//! `Summary.Value { string tag = 1; float simple_value = 2; TensorProto tensor = 8;
//! SummaryMetadata metadata = 9; }`, `SummaryMetadata { PluginData plugin_data = 1; }`,
//! `PluginData { string plugin_name = 1; }`, `TensorProto { DataType dtype = 1;
//! TensorShapeProto tensor_shape = 2; repeated bytes string_val = 8; }`.

use super::crc32c::masked_crc32c;

/// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const BYTES: u8 = 2;
const FIXED32: u8 = 5;

/// `DataType.DT_STRING`.
const DT_STRING: u64 = 7;

/// A message under construction.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8 & 0x7F) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint(((field as u64) << 3) | wire as u64);
    }
    fn uint(&mut self, field: u32, v: u64) {
        self.key(field, VARINT);
        self.varint(v);
    }
    fn double(&mut self, field: u32, v: f64) {
        self.key(field, FIXED64);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn float(&mut self, field: u32, v: f32) {
        self.key(field, FIXED32);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, field: u32, v: &[u8]) {
        self.key(field, BYTES);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
    }
    fn message(&mut self, field: u32, m: Message) {
        self.bytes(field, &m.0);
    }
}

/// One value of a summary.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar curve's point (`simple_value`).
    Scalar { tag: String, value: f32 },
    /// A Markdown text for the text plugin (a scalar string tensor).
    Text { tag: String, text: String },
}

fn encode_value(v: &Value) -> Message {
    let mut m = Message::default();
    match v {
        Value::Scalar { tag, value } => {
            m.bytes(1, tag.as_bytes());
            m.float(2, *value);
        }
        Value::Text { tag, text } => {
            m.bytes(1, tag.as_bytes());
            let mut tensor = Message::default();
            tensor.uint(1, DT_STRING);
            // A scalar: a shape with no dimensions.
            tensor.message(2, Message::default());
            tensor.bytes(8, text.as_bytes());
            m.message(8, tensor);
            let mut plugin = Message::default();
            plugin.bytes(1, b"text");
            let mut metadata = Message::default();
            metadata.message(1, plugin);
            m.message(9, metadata);
        }
    }
    m
}

/// The first event of every file: `file_version = "brain.Event:2"`.
pub fn file_version_event(wall_time: f64) -> Vec<u8> {
    let mut e = Message::default();
    e.double(1, wall_time);
    e.bytes(3, b"brain.Event:2");
    e.0
}

/// An event holding a summary of `values` at `step`.
pub fn summary_event(wall_time: f64, step: u64, values: &[Value]) -> Vec<u8> {
    let mut summary = Message::default();
    for v in values {
        summary.message(1, encode_value(v));
    }
    let mut e = Message::default();
    e.double(1, wall_time);
    e.uint(2, step);
    e.message(5, summary);
    e.0
}

/// Appends `data` to `out` as one TFRecord.
pub fn frame(out: &mut Vec<u8>, data: &[u8]) {
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes worked out by hand from the protobuf encoding rules.
    #[test]
    fn scalar_event_bytes() {
        let bytes = summary_event(
            0.5,
            300,
            &[Value::Scalar {
                tag: "a".into(),
                value: 1.0,
            }],
        );
        let mut expected = vec![0x09];
        expected.extend_from_slice(&0.5f64.to_le_bytes());
        // step 300 = 0b1_0010_1100: varint AC 02.
        expected.extend_from_slice(&[0x10, 0xAC, 0x02]);
        // summary (field 5, length 10) → value (field 1, length 8) → tag "a", float 1.0.
        expected.extend_from_slice(&[0x2A, 10, 0x0A, 8, 0x0A, 1, b'a', 0x15]);
        expected.extend_from_slice(&1.0f32.to_le_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    #[allow(clippy::manual_rotate)] // the mask in its definition's form, not the code's
    fn record_framing() {
        let mut out = Vec::new();
        frame(&mut out, b"xyz");
        assert_eq!(out.len(), 8 + 4 + 3 + 4);
        assert_eq!(&out[..8], &3u64.to_le_bytes());
        assert_eq!(&out[12..15], b"xyz");
        let crc = |b: &[u8]| {
            let c = super::super::crc32c::crc32c(b);
            ((c >> 15) | (c << 17)).wrapping_add(0xa282_ead8)
        };
        assert_eq!(&out[8..12], &crc(&3u64.to_le_bytes()).to_le_bytes());
        assert_eq!(&out[15..], &crc(b"xyz").to_le_bytes());
    }
}
