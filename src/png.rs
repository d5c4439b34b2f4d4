//! A PNG writer for 8-bit grayscale and RGB images: the signature, an `IHDR` chunk, one
//! `IDAT` chunk of the zlib-compressed rows (each with filter type 0, none) and `IEND`, each
//! chunk closed by its CRC-32. Enough for figures and weight grids, with flate2 (already a
//! dependency) for the compression instead of an image crate.

use std::io::Write;

use crate::crc::crc32;

/// The pixel layout of [`encode`]'s input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Color {
    /// One byte a pixel.
    Gray,
    /// Three bytes a pixel, red, green, blue.
    #[cfg_attr(not(feature = "plots"), allow(dead_code))]
    Rgb,
}

impl Color {
    fn channels(self) -> usize {
        match self {
            Color::Gray => 1,
            Color::Rgb => 3,
        }
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
}

/// The PNG file of a `width` x `height` image whose rows of pixels are `pixels`, top to
/// bottom.
pub(crate) fn encode(width: u32, height: u32, color: Color, pixels: &[u8]) -> Vec<u8> {
    let row = width as usize * color.channels();
    assert_eq!(
        pixels.len(),
        row * height as usize,
        "pixels for the image's size"
    );
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in pixels.chunks_exact(row.max(1)).take(height as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(line);
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&raw).expect("writing to memory");
    let compressed = zlib.finish().expect("writing to memory");
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    let color_type = match color {
        Color::Gray => 0,
        Color::Rgb => 2,
    };
    header.extend_from_slice(&[8, color_type, 0, 0, 0]); // depth 8, deflate, no filter set, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &compressed);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_is_length_kind_data_crc() {
        let png = encode(2, 1, Color::Gray, &[0, 255]);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[png.len() - 12..], b"\0\0\0\0IEND\xae\x42\x60\x82");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[16..29], &[0, 0, 0, 2, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
    }
}
