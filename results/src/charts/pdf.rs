//! Charts as PDF, for LaTeX's `\includegraphics`: each chart's SVG converted by `svg2pdf`
//! (vector paths, the text as text with the embedded DejaVu Sans, the page the SVG's size
//! in inches). plotters has no PDF backend; the SVG it writes is the one source of both.

use std::sync::{Arc, OnceLock};
use svg2pdf::usvg::{fontdb, Options, Tree};

/// The font database the conversion reads: the one font the binary carries, which every
/// family name the SVG may give falls back to (the PNG draws with the same font).
fn fonts() -> Arc<fontdb::Database> {
    static FONTS: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = fontdb::Database::new();
            db.load_font_data(super::FONT.to_vec());
            // usvg falls back to the serif family for a name the database lacks.
            db.set_sans_serif_family("DejaVu Sans");
            db.set_serif_family("DejaVu Sans");
            Arc::new(db)
        })
        .clone()
}

/// `svg` (a chart as `write_drawing` writes it) as a one-page PDF.
pub fn from_svg(svg: &str) -> Result<Vec<u8>, String> {
    let options = Options {
        fontdb: fonts(),
        ..Options::default()
    };
    let tree = Tree::from_str(svg, &options).map_err(|e| format!("reading the SVG: {e}"))?;
    // usvg reads lengths in inches at 96 px per inch: the page keeps the SVG's inches.
    let pdf = svg2pdf::to_pdf(
        &tree,
        svg2pdf::ConversionOptions::default(),
        svg2pdf::PageOptions { dpi: 96.0 },
    )
    .map_err(|e| format!("converting to PDF: {e}"))?;
    Ok(sorted_references(pdf))
}

/// `pdf` with the entries of each dictionary of references (`/name N 0 R`, one per line,
/// as svg2pdf writes a page's resources) in sorted order. svg2pdf lists them in a hash
/// map's order, which changes from process to process; the entries of one dictionary only
/// trade places, so no byte offset moves and the file stays valid, now the same bytes
/// for the same chart. Stream contents are left as they are.
fn sorted_references(pdf: Vec<u8>) -> Vec<u8> {
    let is_reference = |line: &[u8]| {
        let t = line.trim_ascii();
        t.starts_with(b"/") && t.ends_with(b" 0 R") && !t.contains(&b'<')
    };
    let mut out = Vec::with_capacity(pdf.len());
    let mut lines = pdf.split_inclusive(|&b| b == b'\n').peekable();
    let mut run: Vec<&[u8]> = Vec::new();
    let mut in_stream = false;
    while let Some(line) = lines.next() {
        if in_stream {
            out.extend_from_slice(line);
            in_stream = !line.starts_with(b"endstream");
            continue;
        }
        if is_reference(line) && line.ends_with(b"\n") {
            run.push(line);
            if lines.peek().is_some_and(|next| is_reference(next)) {
                continue;
            }
            run.sort_unstable();
            for l in run.drain(..) {
                out.extend_from_slice(l);
            }
            continue;
        }
        out.extend_from_slice(line);
        in_stream = line.trim_ascii_end() == b"stream";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chart-like SVG in inches becomes a PDF whose page has that size (1 in = 72 pt)
    /// and whose text is text in the embedded font, not paths or pixels.
    #[test]
    fn a_chart_svg_becomes_a_vector_pdf_of_its_size() {
        let svg = r##"<svg width="3.300in" height="2.000in" viewBox="0 0 495 300" xmlns="http://www.w3.org/2000/svg">
<rect x="0" y="0" width="495" height="300" fill="#FFFFFF"/>
<polyline fill="none" stroke="#0072B2" stroke-width="2" points="10,290 250,10 485,200"/>
<text x="40" y="40" font-family="Times" font-size="20">n = 3 replicates</text>
</svg>"##;
        let pdf = from_svg(svg).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(pdf.starts_with(b"%PDF-"), "a PDF");
        // The page: 3.3 in × 2 in = 237.6 pt × 144 pt (written to f32 precision).
        let media = text
            .split("/MediaBox [")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .expect("a MediaBox");
        let size: Vec<f64> = media
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(
            size.len() == 4 && (size[2] - 237.6).abs() < 1e-3 && (size[3] - 144.0).abs() < 1e-3,
            "{media}"
        );
        assert!(text.contains("DejaVu"), "the embedded font");
        assert!(
            text.contains("/FontFile2"),
            "a TrueType font program embedded"
        );
        assert!(from_svg("<svg").is_err());
    }

    /// The same chart gives the same bytes: the reference dictionaries are sorted, and
    /// sorting only permutes whole lines of one dictionary (the length and every offset
    /// stay).
    #[test]
    fn reference_dictionaries_are_sorted_in_place() {
        let pdf = b"1 0 obj\n<<\n  /XObject <<\n    /xo9 26 0 R\n    /xo10 28 0 R\n  >>\n>>\nstream\n/b 2 0 R\n/a 1 0 R\nendstream\n".to_vec();
        let sorted = sorted_references(pdf.clone());
        assert_eq!(sorted.len(), pdf.len());
        let text = String::from_utf8(sorted).unwrap();
        assert!(
            text.contains("    /xo10 28 0 R\n    /xo9 26 0 R\n"),
            "{text}"
        );
        // Inside a stream nothing moves.
        assert!(
            text.contains("stream\n/b 2 0 R\n/a 1 0 R\nendstream"),
            "{text}"
        );
        let svg = r##"<svg width="2in" height="1in" viewBox="0 0 192 96" xmlns="http://www.w3.org/2000/svg"><circle cx="10" cy="10" r="5" fill="#FF0000" fill-opacity="0.5"/><circle cx="30" cy="10" r="5" fill="#00FF00" fill-opacity="0.3"/><text x="40" y="40" font-size="12">a</text></svg>"##;
        assert_eq!(from_svg(svg).unwrap(), from_svg(svg).unwrap());
    }
}
