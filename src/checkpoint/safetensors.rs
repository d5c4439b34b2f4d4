//! The safetensors file format, read and written without serde: an 8-byte little-endian
//! header length, a JSON header, then the tensors' bytes.
//!
//! The header maps each tensor's name to `{"dtype", "shape", "data_offsets"}` (offsets
//! relative to the end of the header) and may hold `"__metadata__"`, a map of strings to
//! strings (or `null`). The reader checks what the reference implementation checks, and
//! accepts what it accepts: a header of at most 100 MB that is a JSON object (whitespace
//! before it allowed), the known fields of the right types (fields it does not know
//! ignored, whatever JSON they hold), no name twice, each tensor's byte length equal to its
//! shape's product times its element size, and offsets that tile the data from its first
//! byte to its last without gaps or overlaps. Values nest at most 128 deep, serde_json's
//! limit. Python's `safetensors` 0.8 was checked to agree on every such case in the tests.
//! Anything else is an error, never a panic.
//!
//! The writer orders tensors by element size, largest first, then by name, as the reference
//! implementation does, so every tensor starts on a multiple of its element size, and pads
//! the header with spaces to a multiple of 8 bytes.

use std::collections::BTreeMap;

use crate::json::{Json, parse as parse_json, push_string};

/// The longest header the reader accepts, as in the reference implementation.
const MAX_HEADER: usize = 100_000_000;

/// How deeply JSON values may nest (the format needs 3; serde_json, which the reference
/// implementation reads headers with, allows 128).
const MAX_DEPTH: usize = 128;

/// One tensor of a file: its element type's name (`"F32"`, `"BF16"`, ...), shape and bytes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry<'a> {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub data: &'a [u8],
}

/// The bytes of an element of the named type, for the types the format defines.
fn element_size(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" => 8,
        _ => return None,
    })
}

/// Serializes tensors (name, element type, shape, little-endian bytes) and metadata.
pub(crate) fn serialize(
    tensors: &[(&str, &str, &[usize], &[u8])],
    metadata: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut order: Vec<_> = tensors.iter().collect();
    order.sort_by(|a, b| {
        let size = |dtype: &str| element_size(dtype).unwrap_or(1);
        size(b.1).cmp(&size(a.1)).then_with(|| a.0.cmp(b.0))
    });
    let mut header = String::from("{");
    let mut first = true;
    let mut separator = |header: &mut String| {
        if !first {
            header.push(',');
        }
        first = false;
    };
    if !metadata.is_empty() {
        separator(&mut header);
        header.push_str("\"__metadata__\":{");
        for (i, (key, value)) in metadata.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            push_string(&mut header, key);
            header.push(':');
            push_string(&mut header, value);
        }
        header.push('}');
    }
    let mut offset = 0;
    for (name, dtype, shape, data) in &order {
        separator(&mut header);
        push_string(&mut header, name);
        header.push_str(":{\"dtype\":");
        push_string(&mut header, dtype);
        header.push_str(",\"shape\":[");
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        header.push_str(&dims.join(","));
        header.push_str(&format!(
            "],\"data_offsets\":[{offset},{}]}}",
            offset + data.len()
        ));
        offset += data.len();
    }
    header.push('}');
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for (_, _, _, data) in &order {
        bytes.extend_from_slice(data);
    }
    bytes
}

/// Parses a file's bytes into its tensors, in file order, and its metadata. The error says
/// what is wrong.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Vec<Entry<'_>>, BTreeMap<String, String>), String> {
    let Some((length, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(format!("{} bytes, too short for a header", bytes.len()));
    };
    let length = u64::from_le_bytes(*length);
    let length = usize::try_from(length)
        .ok()
        .filter(|&n| n <= MAX_HEADER)
        .ok_or_else(|| format!("a header of {length} bytes (at most {MAX_HEADER})"))?;
    if length > rest.len() {
        return Err(format!(
            "a header of {length} bytes but only {} bytes after the length",
            rest.len()
        ));
    }
    let (header, data) = rest.split_at(length);
    let header = std::str::from_utf8(header).map_err(|_| "a header that is not UTF-8")?;
    let value = parse_json(header, MAX_DEPTH).map_err(|e| format!("header: {e}"))?;
    let Json::Object(fields) = value else {
        return Err("a header that is not a JSON object".into());
    };
    let mut metadata = BTreeMap::new();
    // Each tensor with its offsets, then in file order.
    let mut tensors = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (name, value) in fields {
        if !names.insert(name.clone()) {
            return Err(format!("`{name}` twice in the header"));
        }
        if name == "__metadata__" {
            // `null` is no metadata, as the reference implementation reads it.
            if !matches!(value, Json::Null) {
                metadata = metadata_of(value)?;
            }
            continue;
        }
        let (dtype, shape, (begin, end)) = tensor_of(&name, value)?;
        let count = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| format!("`{name}`'s shape {shape:?} overflows"))?;
        if let Some(size) = element_size(&dtype) {
            let bytes = count.checked_mul(size);
            if end < begin || bytes != Some(end - begin) {
                return Err(format!(
                    "`{name}` is {dtype} {shape:?} but its offsets [{begin}, {end}] hold another \
                     number of bytes"
                ));
            }
        }
        tensors.push(((begin, end), name, dtype, shape));
    }
    // The offsets must tile the data exactly.
    tensors.sort_unstable_by_key(|t| t.0);
    let mut next = 0;
    let mut entries = Vec::with_capacity(tensors.len());
    for ((begin, end), name, dtype, shape) in tensors {
        if begin != next || end < begin {
            return Err(format!(
                "`{name}`'s offsets [{begin}, {end}] leave a gap or overlap (expected it to start \
                 at {next})"
            ));
        }
        next = end;
        if let Some(data) = data.get(begin..end) {
            entries.push(Entry {
                name,
                dtype,
                shape,
                data,
            });
        }
    }
    if next != data.len() {
        return Err(format!(
            "the tensors hold {next} bytes but the file has {} after the header",
            data.len()
        ));
    }
    Ok((entries, metadata))
}

fn metadata_of(value: Json) -> Result<BTreeMap<String, String>, String> {
    let Json::Object(fields) = value else {
        return Err("`__metadata__` is not an object".into());
    };
    let mut metadata = BTreeMap::new();
    for (key, value) in fields {
        let Json::String(value) = value else {
            return Err(format!("metadata `{key}` is not a string"));
        };
        if metadata.insert(key.clone(), value).is_some() {
            return Err(format!("metadata `{key}` twice"));
        }
    }
    Ok(metadata)
}

type Tensor = (String, Vec<usize>, (usize, usize));

fn tensor_of(name: &str, value: Json) -> Result<Tensor, String> {
    let Json::Object(fields) = value else {
        return Err(format!("`{name}` is not an object"));
    };
    let (mut dtype, mut shape, mut offsets) = (None, None, None);
    for (key, value) in fields {
        let slot_taken = match key.as_str() {
            "dtype" => match value {
                Json::String(s) => dtype.replace(s).is_some(),
                _ => return Err(format!("`{name}`'s dtype is not a string")),
            },
            "shape" => shape.replace(integers(name, "shape", value)?).is_some(),
            "data_offsets" => match integers(name, "data_offsets", value)?[..] {
                [begin, end] => offsets.replace((begin, end)).is_some(),
                _ => return Err(format!("`{name}`'s data_offsets are not two integers")),
            },
            // Ignored, as the reference implementation ignores fields it does not know.
            _ => false,
        };
        if slot_taken {
            return Err(format!("`{name}` has `{key}` twice"));
        }
    }
    match (dtype, shape, offsets) {
        (Some(dtype), Some(shape), Some(offsets)) => Ok((dtype, shape, offsets)),
        _ => Err(format!(
            "`{name}` lacks one of dtype, shape and data_offsets"
        )),
    }
}

fn integers(name: &str, field: &str, value: Json) -> Result<Vec<usize>, String> {
    let bad = || format!("`{name}`'s {field} is not a list of non-negative integers");
    let Json::Array(items) = value else {
        return Err(bad());
    };
    items
        .into_iter()
        .map(|item| item.as_usize().ok_or_else(bad))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn a_written_file_reads_back_with_its_layout() {
        let a: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let b: Vec<u8> = 3.0f64.to_le_bytes().to_vec();
        let metadata = BTreeMap::from([("format".to_string(), "x \"q\" \u{1}\\".to_string())]);
        let bytes = serialize(
            &[("z.a", "F32", &[2], &a), ("y.b", "F64", &[1, 1], &b)],
            &metadata,
        );
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(header_len % 8, 0);
        let (entries, read) = parse(&bytes).unwrap();
        assert_eq!(read, metadata);
        // The F64 tensor first, so both are aligned to their element size.
        assert_eq!(entries[0].name, "y.b");
        assert_eq!(
            (entries[0].dtype.as_str(), &entries[0].shape[..]),
            ("F64", &[1, 1][..])
        );
        assert_eq!(entries[0].data, &b[..]);
        assert_eq!(entries[1].data, &a[..]);
    }

    #[test]
    fn the_reference_layout_parses() {
        // As Python's safetensors writes it: spaces, the metadata anywhere, escapes.
        let header = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}, "__metadata__" : {"k\u00e9\ud83d\ude00":"v\n"}}  "#;
        let bytes = file(header, &[0; 8]);
        let (entries, metadata) = parse(&bytes).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(metadata["k\u{e9}\u{1F600}"], "v\n");
        let bytes = file("{}", &[]);
        let (entries, metadata) = parse(&bytes).unwrap();
        assert!(entries.is_empty() && metadata.is_empty());
    }

    #[test]
    fn what_the_reference_implementation_accepts_is_accepted() {
        // An unknown field in a tensor entry (of any JSON value), `"__metadata__": null`, and
        // whitespace before the header's `{`: the `safetensors` crate reads all of these.
        let headers = [
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":{"y":[null,true,-1.5e3]}}}"#,
            r#"{"__metadata__":null,"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            "\n\t {\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"n":184467440737095516160}}"#,
        ];
        for header in headers {
            let bytes = file(header, &[0; 8]);
            let (entries, metadata) = parse(&bytes).unwrap();
            assert_eq!(
                (entries.len(), entries[0].shape.as_slice()),
                (1, &[2][..]),
                "{header}"
            );
            assert!(metadata.is_empty());
        }
    }

    #[test]
    fn malformed_headers_are_errors() {
        let ok = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        assert!(parse(&file(ok, &[0; 8])).is_ok());
        let bad = [
            (
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                7,
                "the file has 7",
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                8,
                "another number",
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                12,
                "gap",
            ),
            (r#"{"w":{"dtype":"F32","shape":[2]}}"#, 8, "lacks"),
            (
                r#"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#,
                8,
                "non-negative integers",
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#,
                8,
                "non-negative integers",
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":tru}}"#,
                8,
                "expected `true`",
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":01}}"#,
                8,
                "leading zero",
            ),
            (
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1.}}"#,
                8,
                "expected a digit",
            ),
            (r#"{"__metadata__":[]}"#, 0, "not an object"),
            (
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{}}"#,
                8,
                "twice",
            ),
            (r#"{"__metadata__":{"a":1}}"#, 0, "not a string"),
            (
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#,
                8,
                "expected `,`",
            ),
            (r#"{"w":"unterminated}"#, 0, "unterminated"),
            (r#"{"a":"\ud800"}"#, 0, "surrogate"),
            (r#"[1]"#, 0, "not a JSON object"),
            (r#"{} x"#, 0, "text after"),
            (
                r#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#,
                8,
                "overflows",
            ),
        ];
        for (header, data, message) in bad {
            let err = parse(&file(header, &vec![0; data])).unwrap_err();
            assert!(err.contains(message), "{header}: {err}");
        }
        // serde_json's limit, 128, not the format's need, 3: an ignored field may nest.
        let nested = |depth: usize| {
            let w = r#""w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":"#;
            format!("{{{w}{}{}}}}}", "[".repeat(depth), "]".repeat(depth))
        };
        assert!(parse(&file(&nested(120), &[0; 8])).is_ok());
        assert!(
            parse(&file(&nested(200), &[0; 8]))
                .unwrap_err()
                .contains("deeply")
        );
        assert!(parse(&[1, 2, 3]).unwrap_err().contains("too short"));
        assert!(
            parse(&u64::MAX.to_le_bytes())
                .unwrap_err()
                .contains("at most")
        );
        assert!(parse(&file("{}", &[])[..9]).unwrap_err().contains("only"));
    }

    #[test]
    fn every_cut_and_every_flipped_byte_of_a_file_is_an_error_or_a_file_never_a_panic() {
        let a: Vec<u8> = [1.0f32, -2.0, 0.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let metadata = BTreeMap::from([("format".to_string(), "constnet-1".to_string())]);
        let bytes = serialize(&[("fc1.weight", "F32", &[3, 1], &a)], &metadata);
        for cut in 0..bytes.len() {
            assert!(parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x20, 0x80, 0xff] {
                let mut copy = bytes.clone();
                copy[at] ^= flip;
                let _ = parse(&copy);
            }
        }
    }
}
