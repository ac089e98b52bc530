//! The figures' print size (the study's `figures:` block and `report`'s flags): width in
//! inches, resolution, font scale and family. Text is set in points at the printed width
//! (no default text is under 7 pt), the PNG carries its resolution (a `pHYs` chunk) and
//! the SVG its size in inches.

use serde::{Deserialize, Serialize};

/// Single-column width of a two-column paper, in inches.
pub const SINGLE_COLUMN: f64 = 3.3;
/// Double-column (full text) width, in inches.
pub const DOUBLE_COLUMN: f64 = 6.9;
/// The smallest text size of the defaults, in points.
pub const MIN_TEXT_PT: f64 = 7.0;

/// A width: `single` (3.3 in), `double` (6.9 in) or inches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Width {
    Column(Column),
    Inches(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Single,
    Double,
}

impl Width {
    pub fn inches(self) -> f64 {
        match self {
            Width::Column(Column::Single) => SINGLE_COLUMN,
            Width::Column(Column::Double) => DOUBLE_COLUMN,
            Width::Inches(w) => w,
        }
    }
}

impl std::str::FromStr for Width {
    type Err = String;

    /// `single`, `double` or a number of inches (the command line's form).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "single" => Ok(Width::Column(Column::Single)),
            "double" => Ok(Width::Column(Column::Double)),
            _ => s
                .parse::<f64>()
                .map(Width::Inches)
                .map_err(|_| format!("`{s}` is not a width: single, double or inches")),
        }
    }
}

/// How the figures are sized for print.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureStyle {
    /// Every chart's width; absent, one-panel charts are single-column (3.3 in) and charts
    /// of several panels double-column (6.9 in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<Width>,
    /// Pixels per inch of the PNG (and of the SVG's pixel grid).
    #[serde(default = "default_dpi")]
    pub dpi: u32,
    /// Factor on every text size (1: the smallest text is 7 pt at the printed width).
    #[serde(default = "default_font_scale")]
    pub font_scale: f64,
    /// The font family the SVG names; the PNG's glyphs are DejaVu Sans (the one font the
    /// binary carries), at the same metrics.
    #[serde(default = "default_font_family")]
    pub font_family: String,
}

fn default_dpi() -> u32 {
    150
}
fn default_font_scale() -> f64 {
    1.0
}
fn default_font_family() -> String {
    "DejaVu Sans".into()
}

impl Default for FigureStyle {
    fn default() -> Self {
        FigureStyle {
            width: None,
            dpi: default_dpi(),
            font_scale: default_font_scale(),
            font_family: default_font_family(),
        }
    }
}

impl FigureStyle {
    /// Checks the values: (key, message) of the first out of range.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(w) = self.width {
            let w = w.inches();
            if !(1.0..=20.0).contains(&w) {
                return Err(("width", format!("must be between 1 and 20 inches, not {w}")));
            }
        }
        if !(50..=1200).contains(&self.dpi) {
            return Err((
                "dpi",
                format!("must be between 50 and 1200, not {}", self.dpi),
            ));
        }
        if !(0.5..=3.0).contains(&self.font_scale) {
            return Err((
                "font_scale",
                format!("must be between 0.5 and 3, not {}", self.font_scale),
            ));
        }
        let family = self.font_family.trim();
        if family.is_empty() || family.contains(['"', '\'', '<', '>', '&']) {
            return Err((
                "font_family",
                format!("`{}` is not a font family name", self.font_family),
            ));
        }
        Ok(())
    }

    /// The width of a chart of `panels` panels, in inches.
    pub fn width_for(&self, panels: usize) -> f64 {
        match self.width {
            Some(w) => w.inches(),
            None if panels > 1 => DOUBLE_COLUMN,
            None => SINGLE_COLUMN,
        }
    }

    /// The scale of a drawing at this resolution.
    pub fn scale(&self) -> Scale {
        Scale {
            dpi: self.dpi as f64,
            font_scale: self.font_scale,
        }
    }
}

/// Points to pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub dpi: f64,
    pub font_scale: f64,
}

impl Scale {
    /// The plotters font size of a text whose em is `pt` points (times the font scale):
    /// plotters' size is 1.24 em (its SVG backend writes `font-size` as size / 1.24).
    pub fn text(&self, pt: f64) -> f64 {
        pt * self.font_scale * self.dpi / 72.0 * 1.24
    }

    /// Pixels of a length of `pt` points that follows the text (label areas, legend rows).
    pub fn text_px(&self, pt: f64) -> u32 {
        self.text(pt).round().max(1.0) as u32
    }

    /// Pixels of a length of `pt` points (line widths, marks).
    pub fn px(&self, pt: f64) -> u32 {
        (pt * self.dpi / 72.0).round().max(1.0) as u32
    }

    /// Pixels of `inches`.
    pub fn inches(&self, inches: f64) -> u32 {
        (inches * self.dpi).round() as u32
    }

    /// The estimated width in pixels of `s` set at `pt` points (DejaVu Sans averages
    /// about 0.6 em per character).
    pub fn text_width(&self, s: &str, pt: f64) -> u32 {
        (s.chars().count() as f64 * 0.5 * self.text(pt)).ceil() as u32
    }
}

/// CRC-32 (ISO-HDLC, as PNG uses) of `bytes`.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `png` with a `pHYs` chunk saying `dpi` (pixels per metre, rounded), right after its
/// header chunk; an existing `pHYs` is replaced. `png` must be a PNG.
pub fn with_dpi(png: &[u8], dpi: u32) -> Vec<u8> {
    const SIGNATURE: usize = 8;
    // The signature, then the IHDR chunk: length (4), type (4), 13 bytes, CRC (4).
    let header_end = SIGNATURE + 4 + 4 + 13 + 4;
    let per_metre = (dpi as f64 / 0.0254).round() as u32;
    let mut chunk = Vec::with_capacity(21);
    chunk.extend_from_slice(&9u32.to_be_bytes());
    let mut body = b"pHYs".to_vec();
    body.extend_from_slice(&per_metre.to_be_bytes());
    body.extend_from_slice(&per_metre.to_be_bytes());
    body.push(1); // unit: the metre
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    let mut out = png[..header_end].to_vec();
    out.extend_from_slice(&chunk);
    // The remaining chunks, without an earlier pHYs.
    let mut at = header_end;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as usize;
        let end = (at + 12 + len).min(png.len());
        if &png[at + 4..at + 8] != b"pHYs" {
            out.extend_from_slice(&png[at..end]);
        }
        at = end;
    }
    out
}

/// `svg` with its size in inches (`width="3.3in"`) over its pixel grid (the `viewBox`
/// plotters writes), so that it prints at the figure's width.
pub fn with_inches(svg: &str, size: (u32, u32), dpi: u32) -> String {
    let (w, h) = size;
    let pixels = format!("width=\"{w}\" height=\"{h}\"");
    let inches = format!(
        "width=\"{:.3}in\" height=\"{:.3}in\"",
        w as f64 / dpi as f64,
        h as f64 / dpi as f64
    );
    svg.replacen(&pixels, &inches, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_the_check_string() {
        // The CRC-32 catalogue's check value for ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn widths_parse_and_validate() {
        assert_eq!("single".parse::<Width>().unwrap().inches(), 3.3);
        assert_eq!("double".parse::<Width>().unwrap().inches(), 6.9);
        assert_eq!("4.5".parse::<Width>().unwrap().inches(), 4.5);
        assert!("wide".parse::<Width>().is_err());
        let style = FigureStyle {
            dpi: 20,
            ..Default::default()
        };
        assert_eq!(style.validate().unwrap_err().0, "dpi");
        let style: FigureStyle =
            serde_json::from_str(r#"{"width": "single", "dpi": 300}"#).unwrap();
        assert_eq!(style.width_for(3), 3.3);
        assert_eq!(style.scale().text(7.0), 7.0 * 300.0 / 72.0 * 1.24);
        assert!(serde_json::from_str::<FigureStyle>(r#"{"colour": 1}"#).is_err());
    }
}
