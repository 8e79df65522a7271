//! Zip bombs and lying archives are refused with `unzip_fail` and leave
//! nothing behind: an entry that unpacks past its declared size, an archive
//! whose total size or entry count passes the configured limits.

use std::io::Write as _;

use serde_json::json;
use updraft_core::crypto::sha256_hex;
use updraft_device::unzip::{extract, UnzipLimits};
use updraft_device::{Cycle, Device};
use updraft_test_support::fake::{Fake, Reply};

fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Rewrites the uncompressed size `name` declares, in its local header and
/// in the central directory (the CRC stays that of the real data).
fn declare_size(zip: &mut [u8], name: &str, size: u32) {
    let mut patched = 0;
    for o in 0..zip.len().saturating_sub(46) {
        let (size_at, name_len_at, name_at) = match &zip[o..o + 4] {
            b"PK\x03\x04" => (o + 22, o + 26, o + 30),
            b"PK\x01\x02" => (o + 24, o + 28, o + 46),
            _ => continue,
        };
        let len = u16::from_le_bytes([zip[name_len_at], zip[name_len_at + 1]]) as usize;
        if zip.get(name_at..name_at + len) == Some(name.as_bytes()) {
            zip[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "local and central header of {name}");
}

fn index() -> (&'static str, Vec<u8>) {
    ("index.html", b"<html>ok</html>".to_vec())
}

fn unzip(zip: &[u8], limits: UnzipLimits) -> (Result<(), String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.zip");
    std::fs::write(&file, zip).unwrap();
    let dest = dir.path().join("out");
    std::fs::create_dir(&dest).unwrap();
    let res = extract(&file, &dest, &limits).map_err(|e| {
        assert_eq!(e.action(), "unzip_fail", "{e}");
        e.to_string()
    });
    (res, dir)
}

#[test]
fn an_entry_larger_than_it_declares_is_refused() {
    let mut z = zip_of(&[index(), ("app.js", vec![b'a'; 200_000])]);
    assert!(unzip(&z, UnzipLimits::default()).0.is_ok(), "sound as made");
    declare_size(&mut z, "app.js", 1000);
    let (res, _dir) = unzip(&z, UnzipLimits::default());
    let e = res.unwrap_err();
    assert!(e.contains("app.js") && e.contains("declared 1000"), "{e}");
}

#[test]
fn archives_past_the_limits_are_refused() {
    let limits = UnzipLimits {
        max_total_bytes: 1 << 20,
        max_entries: 10,
    };
    // 8 MiB of zeros deflate to a few KiB.
    let bomb = zip_of(&[index(), ("zeros.bin", vec![0; 8 << 20])]);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let e = unzip(&bomb, limits).0.unwrap_err();
    assert!(e.contains("limit"), "{e}");
    // The same bomb declaring a harmless size is caught while it unpacks.
    let mut hidden = bomb.clone();
    declare_size(&mut hidden, "zeros.bin", 100);
    let e = unzip(&hidden, limits).0.unwrap_err();
    assert!(e.contains("declared 100"), "{e}");
    // Many entries each small, together past the limit.
    let many: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| (format!("f{i}"), vec![1; 200_000]))
        .collect();
    let mut files = vec![index()];
    files.extend(many.iter().map(|(n, d)| (n.as_str(), d.clone())));
    let e = unzip(&zip_of(&files), limits).0.unwrap_err();
    assert!(e.contains("limit"), "{e}");
    // Too many entries.
    let names: Vec<String> = (0..20).map(|i| format!("f{i}.js")).collect();
    let mut files = vec![index()];
    files.extend(names.iter().map(|n| (n.as_str(), b"x".to_vec())));
    let e = unzip(&zip_of(&files), limits).0.unwrap_err();
    assert!(e.contains("21 entries"), "{e}");
    // An absurd declared size is refused before anything is read or allocated.
    let mut absurd = zip_of(&[index(), ("a.js", b"x".to_vec())]);
    declare_size(&mut absurd, "a.js", u32::MAX - 1);
    let e = unzip(&absurd, UnzipLimits::default()).0.unwrap_err();
    assert!(e.contains("limit"), "{e}");
    // Within the limits the same kind of archive unpacks.
    let ok = zip_of(&[index(), ("zeros.bin", vec![0; 1 << 19])]);
    assert!(unzip(&ok, limits).0.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_reports_unzip_fail_and_keeps_nothing() {
    let fake = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fake.device_config(dir.path());
    cfg.unzip_limits = UnzipLimits {
        max_total_bytes: 1 << 20,
        max_entries: 100,
    };
    let mut d = Device::open(cfg).unwrap();
    let mut lying = zip_of(&[index(), ("app.js", vec![b'a'; 300_000])]);
    declare_size(&mut lying, "app.js", 10);
    let bomb = zip_of(&[index(), ("zeros.bin", vec![0; 8 << 20])]);
    for zip in [lying, bomb] {
        fake.serve(zip.clone());
        fake.set_updates(Reply::json(200, json!({"version": "2.0.0", "url": fake.bundle_url(), "checksum": sha256_hex(&zip), "session_key": ""}),
        ));
        assert_eq!(
            d.update_cycle().await.unwrap(),
            Cycle::Failed("unzip_fail".into())
        );
        let last = d.queued_stats().last().unwrap().clone();
        assert_eq!(last["action"], "unzip_fail");
        assert_eq!(d.current_version(), "1.0.0");
        assert!(d.list().is_empty());
        let left = |sub: &str| std::fs::read_dir(dir.path().join(sub)).unwrap().count();
        assert_eq!(left("bundles"), 0, "no partial bundle folder");
        assert_eq!(left("downloads"), 0, "no download or plaintext left");
    }
}
