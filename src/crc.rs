//! Table-driven CRC-32 of the two polynomials the files constnet writes need: PNG's
//! (ISO-HDLC, reflected `0xEDB88320`) and TFRecord's Castagnoli (CRC-32C, reflected
//! `0x82F63B78`).

/// The lookup table of the reflected polynomial `poly`, built at compile time.
const fn table(poly: u32) -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ poly
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

const ISO_HDLC: [u32; 256] = table(0xEDB8_8320);
const CASTAGNOLI: [u32; 256] = table(0x82F6_3B78);

fn crc(table: &[u32; 256], parts: &[&[u8]]) -> u32 {
    !parts.iter().flat_map(|p| p.iter()).fold(!0u32, |crc, &b| {
        table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// PNG's CRC-32 of `parts`, one after the other.
pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    crc(&ISO_HDLC, parts)
}

/// The CRC-32C of `bytes`.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    crc(&CASTAGNOLI, &[bytes])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_match_the_catalogue_s_check_values() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926); // in parts
        assert_eq!(crc32(&[b"IEND"]), 0xAE42_6082); // every PNG ends with these bytes
        // RFC 3720, B.4, and the catalogue's check value.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
        assert_eq!(crc32c(b""), 0);
    }
}
