//! The figures of a recorded run, as a user sees them: every PNG decodes to an image of the
//! size the file says with something drawn on it, every SVG is a whole SVG document, the
//! first-layer grid's pixels are the weights rescaled, the histograms count every
//! activation, `report.html` inlines every figure byte for byte, and headless Chromium
//! decodes every one of them. The decision regions of the spiral net put each training
//! point in its own class's color.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use constnet::datasets::{Labeled, spiral};
use constnet::prelude::*;
use constnet::record::Record;
use constnet::train::{Config, Progress, fit};

network! {
    /// A net over 4 x 4 "images", so that the first-layer grid is drawn.
    struct Tiles { fc1: Dense<16, 6>, relu: Relu, fc2: Dense<6, 8>, tanh: Tanh, fc3: Dense<8, 3> }
    /// The notes' spiral net.
    struct Spiral { fc1: Dense<2, 100>, relu: Relu, fc2: Dense<100, 3> }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("constnet-plots-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A decoded PNG: width, height, channels and the pixels, row after row.
struct Image {
    width: usize,
    height: usize,
    channels: usize,
    pixels: Vec<u8>,
}

/// Decodes the PNGs constnet writes (8-bit gray or RGB, not interlaced), checking every
/// chunk's length and the file's end; rows may use any of the five filters.
fn decode_png(bytes: &[u8]) -> Image {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let (mut at, mut header, mut data, mut ended) = (8, None, Vec::new(), false);
    while at + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let body = &bytes[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => header = Some(body.to_vec()),
            b"IDAT" => data.extend_from_slice(body),
            b"IEND" => ended = true,
            _ => {}
        }
        at += 12 + len;
    }
    assert!(ended && at == bytes.len(), "the file ends with IEND");
    let header = header.expect("an IHDR chunk");
    let width = u32::from_be_bytes(header[0..4].try_into().unwrap()) as usize;
    let height = u32::from_be_bytes(header[4..8].try_into().unwrap()) as usize;
    let channels = match header[9] {
        0 => 1,
        2 => 3,
        other => panic!("color type {other}"),
    };
    assert_eq!((header[8], header[12]), (8, 0), "8-bit, not interlaced");
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = width * channels;
    assert_eq!(
        raw.len(),
        height * (stride + 1),
        "one filter byte and a row per line"
    );
    let mut pixels = vec![0u8; height * stride];
    for y in 0..height {
        let filter = raw[y * (stride + 1)];
        for x in 0..stride {
            let v = raw[y * (stride + 1) + 1 + x];
            let a = if x >= channels {
                pixels[y * stride + x - channels]
            } else {
                0
            };
            let b = if y > 0 {
                pixels[(y - 1) * stride + x]
            } else {
                0
            };
            let c = if x >= channels && y > 0 {
                pixels[(y - 1) * stride + x - channels]
            } else {
                0
            };
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = (
                        (p - i16::from(a)).abs(),
                        (p - i16::from(b)).abs(),
                        (p - i16::from(c)).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("filter {f}"),
            };
            pixels[y * stride + x] = v.wrapping_add(predicted);
        }
    }
    Image {
        width,
        height,
        channels,
        pixels,
    }
}

/// A recorded run of `Tiles` on a 3-class problem over 4 x 4 inputs.
fn tiles_run(dir: &Path) -> (Tiles, Labeled<f32, 16>) {
    let x = Batch::<f32, 16>::from_fn(300, |i, j| {
        (((i * 7 + j * 13) % 17) as f32 / 17.0) - 0.5
            + 0.3 * ((j % 3) as f32 - 1.0) * ((i % 4) as f32)
    });
    let data = Labeled::new(x, (0..300).map(|j| j % 3).collect()).unwrap();
    let (train, val) = data.split(240);
    let mut net = Tiles::new(0);
    let mut adam = AdamConfig::new(1e-2).build().unwrap();
    let config = Config {
        record: Some(Record {
            histogram_epochs: vec![1, 2],
            ..Record::new(dir)
        }),
        progress: Progress::Silent,
        ..Config::new(3, 40)
    };
    fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &train,
        Some(&val),
        &config,
    )
    .unwrap();
    (net, val)
}

const FIGURES: [&str; 9] = [
    "loss",
    "loss_log",
    "accuracy",
    "update_ratios",
    "activations_epoch1",
    "activations_epoch2",
    "activations_epoch3",
    "gradients_epoch1",
    "gradients_epoch2",
];

#[test]
fn every_figure_decodes_and_shows_something() {
    let dir = scratch("figures");
    tiles_run(&dir);
    for name in FIGURES.iter().chain(&["gradients_epoch3"]) {
        let image = decode_png(&std::fs::read(dir.join(format!("{name}.png"))).unwrap());
        assert_eq!(image.channels, 3, "{name}");
        assert!(
            image.width >= 600 && image.height >= 300,
            "{name}: {}x{}",
            image.width,
            image.height
        );
        let drawn = image
            .pixels
            .chunks(3)
            .filter(|p| p != &[255, 255, 255])
            .count();
        let share = drawn as f64 / (image.width * image.height) as f64;
        assert!(
            (0.01..0.9).contains(&share),
            "{name}: {:.1}% of the pixels drawn",
            100.0 * share
        );
        let svg = std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name}.svg"
        );
        assert!(svg.contains("<text"), "{name}.svg has its labels as text");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_first_layer_grid_is_the_weights_rescaled() {
    let dir = scratch("grid");
    let (net, _) = tiles_run(&dir);
    let image = decode_png(&std::fs::read(dir.join("first_layer.png")).unwrap());
    assert_eq!(image.channels, 1);
    // 6 units on a 3 x 2 grid of 4 x 4 tiles, each pixel 2 x 2, 2-pixel gaps.
    let (scale, gap, tile) = (2, 2, 4 * 2 + 2);
    assert_eq!(
        (image.width, image.height),
        (3 * tile + gap, 2 * tile + gap)
    );
    let weights = net.param("fc1.weight").unwrap(); // [6, 16], row-major
    for unit in 0..6 {
        let row = &weights[unit * 16..(unit + 1) * 16];
        let (min, max) = row
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let (x0, y0) = (gap + (unit % 3) * tile, gap + (unit / 3) * tile);
        for (i, &w) in row.iter().enumerate() {
            let expected = (255.0 * (f64::from(w) - f64::from(min))
                / (f64::from(max) - f64::from(min)))
            .round() as u8;
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (x, y) = (x0 + (i % 4) * scale + dx, y0 + (i / 4) * scale + dy);
                assert_eq!(
                    image.pixels[y * image.width + x],
                    expected,
                    "unit {unit}, weight {i}"
                );
            }
        }
    }
    assert_eq!(image.pixels[0], 96, "the background between tiles");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_histograms_count_every_activation_and_gradient() {
    let dir = scratch("counts");
    tiles_run(&dir);
    let text = std::fs::read_to_string(dir.join("histograms.csv")).unwrap();
    let mut sums: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        *sums
            .entry((f[0].into(), f[2].into(), f[3].into()))
            .or_default() += f[6].parse::<f64>().unwrap();
    }
    // The probe batch is the 60 validation samples.
    let units = [
        ("fc1", 6.0),
        ("relu", 6.0),
        ("fc2", 8.0),
        ("tanh", 8.0),
        ("fc3", 3.0),
    ];
    for epoch in ["1", "2", "3"] {
        for (layer, width) in units {
            let key = (
                epoch.to_string(),
                "activations".to_string(),
                layer.to_string(),
            );
            assert_eq!(sums[&key], 60.0 * width, "{key:?}");
        }
        let key = (
            epoch.to_string(),
            "gradients".to_string(),
            "fc1.weight".to_string(),
        );
        assert_eq!(sums[&key], 96.0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The figures `report.html` inlines, as bytes, in order.
fn inlined_pngs(html: &str) -> Vec<Vec<u8>> {
    html.split("data:image/png;base64,")
        .skip(1)
        .map(|rest| {
            let text = &rest[..rest.find('"').unwrap()];
            let mut out = Vec::new();
            let value = |c: u8| match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                _ => 63,
            };
            for chunk in text.as_bytes().chunks(4) {
                let n = chunk
                    .iter()
                    .take_while(|&&c| c != b'=')
                    .fold(0u32, |n, &c| n << 6 | u32::from(value(c)));
                let kept = chunk.iter().take_while(|&&c| c != b'=').count();
                let n = n << (6 * (4 - kept));
                out.extend_from_slice(&n.to_be_bytes()[1..kept]);
            }
            out
        })
        .collect()
}

#[test]
fn the_report_inlines_every_figure_and_chromium_shows_them_all() {
    let dir = scratch("report");
    tiles_run(&dir);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let inlined = inlined_pngs(&html);
    let expected: Vec<String> = FIGURES
        .iter()
        .chain(&["gradients_epoch3", "first_layer"])
        .map(|n| format!("{n}.png"))
        .collect();
    assert_eq!(inlined.len(), expected.len());
    for name in &expected {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert!(inlined.contains(&bytes), "{name} is inlined byte for byte");
        assert!(
            html.contains(&format!("<code>{name}</code>")),
            "{name} is named"
        );
    }
    // Headless Chromium (Debian's `chromium`; .ci/run installs it) loads the report and
    // its script counts the figures it decoded into the page.
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("headless Chromium (`apt-get install chromium`; .ci/run does)");
    let profile = scratch("chromium-profile");
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", dir.join("report.html").display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    let shown = format!("figures: {n} of {n} shown", n = expected.len());
    assert!(
        dom.contains(&shown),
        "Chromium did not show every figure ({shown} expected):\n{}\n{}",
        dom.lines()
            .filter(|l| l.contains("figures:"))
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_spiral_s_decision_regions_hold_its_points() {
    let data = spiral::<f32>(100, 3, 0);
    let mut net = Spiral::new(0);
    let mut adam = AdamConfig::new(1e-2).build().unwrap();
    let config = Config {
        progress: Progress::Silent,
        ..Config::new(150, 300)
    };
    fit(
        &mut net,
        &mut adam,
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config,
    )
    .unwrap();
    let accuracy = net.accuracy(&data.inputs, &data.labels).unwrap();
    assert!(accuracy > 0.95, "{accuracy}");
    let dir = scratch("regions");
    std::fs::create_dir_all(&dir).unwrap();
    let png = constnet::plots::decision_regions(&net, &data, dir.join("spiral")).unwrap();
    let image = decode_png(&std::fs::read(&png).unwrap());
    assert_eq!((image.width, image.height), (640, 640));
    // Three light region colors and three point colors at least.
    let mut colors: BTreeMap<[u8; 3], usize> = BTreeMap::new();
    for p in image.pixels.chunks(3) {
        *colors.entry([p[0], p[1], p[2]]).or_default() += 1;
    }
    let large = colors.values().filter(|&&n| n > 20_000).count();
    assert!(large >= 3, "{large} large regions of one color");
    assert!(dir.join("spiral.svg").exists());
    let empty = data.select(&[]);
    assert!(matches!(
        constnet::plots::decision_regions(&net, &empty, dir.join("none")),
        Err(Error::EmptySet { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_declared_image_shape_shapes_the_grid_and_figures_can_be_left_off() {
    let x = Batch::<f32, 16>::from_fn(40, |i, j| ((i * 5 + j) % 7) as f32 / 7.0);
    let data = Labeled::new(x, (0..40).map(|j| j % 3).collect()).unwrap();
    let dir = scratch("shape");
    let run = |record: Record| {
        let config = Config {
            record: Some(record),
            progress: Progress::Silent,
            ..Config::new(1, 20)
        };
        fit(
            &mut Tiles::new(0),
            &mut Sgd::new(0.1).unwrap(),
            &SoftmaxCrossEntropy,
            &data,
            None,
            &config,
        )
    };
    // 2 rows of 8: tiles 16 x 4 screen pixels plus gaps, on a 3 x 2 grid.
    run(Record {
        input_image: Some((2, 8)),
        figures: false,
        ..Record::new(&dir)
    })
    .unwrap();
    let image = decode_png(&std::fs::read(dir.join("first_layer.png")).unwrap());
    assert_eq!(
        (image.width, image.height),
        (3 * (8 * 2 + 2) + 2, 2 * (2 * 2 + 2) + 2)
    );
    assert!(!dir.join("report.html").exists() && !dir.join("loss.png").exists());
    // A shape of another size is refused before anything is trained.
    let mut net = Tiles::new(0);
    let config = Config {
        record: Some(Record {
            input_image: Some((3, 5)),
            ..Record::new(&dir)
        }),
        progress: Progress::Silent,
        ..Config::new(1, 20)
    };
    let err = fit(
        &mut net,
        &mut Sgd::new(0.1).unwrap(),
        &SoftmaxCrossEntropy,
        &data,
        None,
        &config,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadHyperparameter {
                name: "record input_image",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(net.params(), Tiles::new(0).params());
    std::fs::remove_dir_all(&dir).unwrap();
}
