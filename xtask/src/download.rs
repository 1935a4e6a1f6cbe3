//! `cargo xtask download`: the datasets of `data/datasets.json` and, through hf-hub, checkpoints.
//!
//! Every dataset file is pinned by sha256 in the committed manifest. A download goes to
//! `FILE.part`, resumes from there with an HTTP range request after an interruption, and is
//! renamed into place only once its size and checksum match. A checksum mismatch removes the
//! partial file, so nothing half-written or corrupt is ever left under the final name.
//!
//! Offline, `--mirror DIR` (or `BERTLAB_DATA_MIRROR`) takes the same files from a local folder
//! laid out like `shared/data`, checked against the same checksums.

use crate::{with_suffix, write_atomic};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The committed list of dataset files.
#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub datasets: Vec<Dataset>,
}

/// One dataset folder (`conll2003`, `sst2`, `corpus-enwiki`).
#[derive(Debug, Deserialize)]
pub struct Dataset {
    pub name: String,
    pub description: String,
    pub files: Vec<DatasetFile>,
}

/// One file: where it comes from, how it is turned into the file we use, and its checksums.
#[derive(Debug, Deserialize)]
pub struct DatasetFile {
    /// Name inside the dataset folder.
    pub path: String,
    pub url: String,
    /// sha256 and size of the file as served.
    pub source_sha256: String,
    pub source_bytes: u64,
    pub transform: Transform,
    /// sha256 and size of the file as stored (after the transform).
    pub sha256: String,
    pub bytes: u64,
}

/// How a downloaded file becomes the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Stored as served.
    None,
    /// CRLF line ends become LF.
    CrlfToLf,
    /// WikiExtractor `<doc>` files become one paragraph per line, a blank line between
    /// documents; title-only documents are dropped.
    Wikiextractor,
}

/// The manifest committed at `data/datasets.json`.
pub fn manifest_path() -> PathBuf {
    crate::workspace_root().join("data/datasets.json")
}

pub fn load_manifest(path: &Path) -> Result<Manifest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let m: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a dataset manifest", path.display()))?;
    if m.version != 1 {
        bail!(
            "{}: manifest version {} is not 1",
            path.display(),
            m.version
        );
    }
    Ok(m)
}

/// The hex sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// True when `path` exists with the pinned size and checksum.
fn verified(path: &Path, bytes: u64, sha256: &str) -> Result<bool> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() == bytes => Ok(sha256_file(path)? == sha256),
        Ok(_) => Ok(false),
        Err(_) => Ok(false),
    }
}

fn bar(len: u64, msg: String) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(msg);
    pb
}

/// Downloads `url` to `dest`, resuming `dest.part` if an earlier try was interrupted, and
/// renames it into place once its size and sha256 match.
pub fn fetch(url: &str, dest: &Path, bytes: u64, sha256: &str) -> Result<()> {
    if verified(dest, bytes, sha256)? {
        return Ok(());
    }
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let part = with_suffix(dest, ".part");
    let mut have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    if have > bytes {
        std::fs::remove_file(&part)?;
        have = 0;
    }
    if have < bytes {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(std::time::Duration::from_secs(30))
            .timeout_read(std::time::Duration::from_secs(60))
            .build();
        let mut req = agent.get(url);
        if have > 0 {
            req = req.set("Range", &format!("bytes={have}-"));
        }
        let resp = req.call().map_err(|e| match e {
            ureq::Error::Status(code, _) => anyhow::anyhow!("GET {url}: HTTP status {code}"),
            other => anyhow::anyhow!("GET {url}: {other}"),
        })?;
        let mut out = if resp.status() == 206 {
            OpenOptions::new().append(true).open(&part)
        } else {
            // The server ignored the range: start over.
            have = 0;
            File::create(&part)
        }
        .with_context(|| format!("opening {}", part.display()))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pb = bar(bytes, name);
        pb.set_position(have);
        let mut reader = resp.into_reader();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    pb.abandon();
                    bail!(
                        "download of {url} interrupted after {} of {bytes} bytes ({e}); run the \
                         command again to resume from {}",
                        pb.position(),
                        part.display()
                    );
                }
            };
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .with_context(|| format!("writing {}", part.display()))?;
            pb.inc(n as u64);
        }
        out.sync_all()?;
        pb.finish();
    }
    let got = std::fs::metadata(&part)?.len();
    if got != bytes {
        if got > bytes {
            std::fs::remove_file(&part)?;
        }
        bail!(
            "partial download of {url}: {got} of {bytes} bytes in {}; run the command again to resume",
            part.display()
        );
    }
    let actual = sha256_file(&part)?;
    if actual != sha256 {
        std::fs::remove_file(&part)?;
        bail!(
            "checksum mismatch for {url}: expected sha256 {sha256}, got {actual}; the download \
             was removed"
        );
    }
    std::fs::rename(&part, dest)
        .with_context(|| format!("moving {} into place", dest.display()))?;
    Ok(())
}

/// Applies `t` to the downloaded bytes.
pub fn transform(t: Transform, data: &[u8]) -> Result<Vec<u8>> {
    Ok(match t {
        Transform::None => data.to_vec(),
        Transform::CrlfToLf => {
            let mut out = Vec::with_capacity(data.len());
            let mut i = 0;
            while i < data.len() {
                if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                    continue;
                }
                out.push(data[i]);
                i += 1;
            }
            out
        }
        Transform::Wikiextractor => {
            let text = std::str::from_utf8(data).context("WikiExtractor file is not UTF-8")?;
            let mut docs: Vec<String> = Vec::new();
            let mut doc: Option<Vec<&str>> = None;
            for line in text.split('\n') {
                let s = line.trim();
                if s.starts_with("<doc ") || s == "<doc>" {
                    doc = Some(Vec::new());
                } else if s == "</doc>" {
                    // A title with no body line is dropped.
                    if let Some(d) = doc.take().filter(|d| d.len() > 1) {
                        docs.push(d.join("\n") + "\n");
                    }
                } else if let Some(d) = doc.as_mut() {
                    if !s.is_empty() {
                        d.push(s);
                    }
                }
            }
            docs.join("\n").into_bytes()
        }
    })
}

/// The manifest's URL, with `https://raw.githubusercontent.com` replaced by
/// `BERTLAB_GITHUB_RAW` when set (a proxy or a local mirror of the same paths).
fn source_url(url: &str) -> String {
    const RAW: &str = "https://raw.githubusercontent.com";
    match std::env::var("BERTLAB_GITHUB_RAW") {
        Ok(base) if url.starts_with(RAW) => {
            format!("{}{}", base.trim_end_matches('/'), &url[RAW.len()..])
        }
        _ => url.to_string(),
    }
}

/// Downloads one dataset file into `dir`, transforming and verifying it.
pub fn download_file(f: &DatasetFile, dir: &Path) -> Result<()> {
    let dest = dir.join(&f.path);
    if verified(&dest, f.bytes, &f.sha256)? {
        return Ok(());
    }
    let url = source_url(&f.url);
    if f.transform == Transform::None {
        return fetch(&url, &dest, f.bytes, &f.sha256);
    }
    let source = dir.join(".source").join(&f.path);
    fetch(&url, &source, f.source_bytes, &f.source_sha256)?;
    let raw = std::fs::read(&source).with_context(|| format!("reading {}", source.display()))?;
    let data =
        transform(f.transform, &raw).with_context(|| format!("converting {}", source.display()))?;
    let actual = hex(&Sha256::digest(&data));
    if actual != f.sha256 || data.len() as u64 != f.bytes {
        bail!(
            "{}: converted file does not match the manifest (sha256 {actual}, expected {})",
            dest.display(),
            f.sha256
        );
    }
    write_atomic(&dest, &data)?;
    std::fs::remove_file(&source)?;
    Ok(())
}

/// Copies one dataset file from a local mirror, verifying it against the manifest.
pub fn copy_from_mirror(f: &DatasetFile, src_dir: &Path, dir: &Path) -> Result<()> {
    let src = src_dir.join(&f.path);
    let dest = dir.join(&f.path);
    if !src.is_file() {
        bail!("mirror file {} is missing", src.display());
    }
    if !verified(&src, f.bytes, &f.sha256)? {
        bail!(
            "mirror file {} does not match the manifest (expected {} bytes, sha256 {})",
            src.display(),
            f.bytes,
            f.sha256
        );
    }
    if std::path::absolute(&src)? == std::path::absolute(&dest)? {
        return Ok(());
    }
    if verified(&dest, f.bytes, &f.sha256)? {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let tmp = with_suffix(&dest, ".tmp");
    std::fs::copy(&src, &tmp).with_context(|| format!("copying {}", src.display()))?;
    std::fs::rename(&tmp, &dest)?;
    Ok(())
}

/// Downloads (or copies from `mirror`) the chosen datasets (all when `only` is empty) into
/// `out/<dataset>/`.
pub fn download_datasets(
    manifest: &Manifest,
    out: &Path,
    mirror: Option<&Path>,
    only: &[String],
) -> Result<()> {
    for name in only {
        if !manifest.datasets.iter().any(|d| &d.name == name) {
            bail!(
                "unknown dataset {name:?}: the manifest lists {}",
                manifest
                    .datasets
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    for ds in &manifest.datasets {
        if !only.is_empty() && !only.contains(&ds.name) {
            continue;
        }
        let dir = out.join(&ds.name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for f in &ds.files {
            match mirror {
                Some(m) => copy_from_mirror(f, &m.join(&ds.name), &dir)?,
                None => download_file(f, &dir)?,
            }
        }
        let _ = std::fs::remove_dir(dir.join(".source"));
        eprintln!(
            "xtask: {}: {} ({} files, verified) -> {}",
            ds.name,
            ds.description,
            ds.files.len(),
            dir.display()
        );
    }
    Ok(())
}

/// Downloads an HF hub model (`bert-base-cased`, `albert-base-v2`, …) through hf-hub and copies
/// the files bertlab reads into `out/<id>/`. Set `HF_ENDPOINT` to use a mirror.
pub fn download_model(id: &str, out: &Path) -> Result<PathBuf> {
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(true)
        .build()
        .context("starting the hf-hub client")?;
    download_model_with(&api, id, out)
}

/// [`download_model`] through a given hf-hub client.
pub fn download_model_with(api: &hf_hub::api::sync::Api, id: &str, out: &Path) -> Result<PathBuf> {
    let repo = api.model(id.to_string());
    let dir = out.join(id.replace('/', "--"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let copy = |name: &str, src: &Path| -> Result<()> {
        let dest = dir.join(name);
        let tmp = with_suffix(&dest, ".tmp");
        std::fs::copy(src, &tmp).with_context(|| format!("copying {}", src.display()))?;
        std::fs::rename(&tmp, &dest)?;
        Ok(())
    };
    for name in ["config.json", "tokenizer.json"] {
        let p = repo
            .get(name)
            .with_context(|| format!("{id}: fetching {name}"))?;
        copy(name, &p)?;
    }
    for name in [
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "spiece.model",
    ] {
        if let Ok(p) = repo.get(name) {
            copy(name, &p)?;
        }
    }
    // Weights: one safetensors file, sharded safetensors, or the legacy PyTorch pickle.
    if let Ok(p) = repo.get("model.safetensors") {
        copy("model.safetensors", &p)?;
    } else if let Ok(index) = repo.get("model.safetensors.index.json") {
        copy("model.safetensors.index.json", &index)?;
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&index)?)
            .with_context(|| format!("{id}: parsing model.safetensors.index.json"))?;
        let mut shards: Vec<&str> = v["weight_map"]
            .as_object()
            .context("model.safetensors.index.json has no weight_map")?
            .values()
            .filter_map(|s| s.as_str())
            .collect();
        shards.sort();
        shards.dedup();
        for s in shards {
            let p = repo.get(s).with_context(|| format!("{id}: fetching {s}"))?;
            copy(s, &p)?;
        }
    } else {
        let p = repo.get("pytorch_model.bin").with_context(|| {
            format!("{id}: no model.safetensors, sharded safetensors or pytorch_model.bin")
        })?;
        copy("pytorch_model.bin", &p)?;
    }
    eprintln!("xtask: {id} -> {}", dir.display());
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// A small HTTP server: serves `files` (path → body) with range support and the headers
    /// the HF hub sends (ETag, X-Repo-Commit, Content-Range); the first response stops after
    /// `cut_first` bytes (a dropped connection). Records each request's Range header.
    struct Server {
        base: String,
        url: String,
        ranges: Arc<Mutex<Vec<Option<String>>>>,
    }

    fn serve_files(files: Vec<(String, Vec<u8>)>, cut_first: Option<usize>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let url = format!("{base}{}", files[0].0);
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let seen = ranges.clone();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).unwrap();
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut range = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                        range = Some(v.trim().to_string());
                    }
                }
                seen.lock().unwrap().push(range.clone());
                let Some((_, body)) = files.iter().find(|(p, _)| *p == path) else {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    continue;
                };
                let (start, end) = match range.as_deref().and_then(|r| r.split_once('-')) {
                    Some((a, b)) => (
                        a.parse::<usize>().unwrap(),
                        b.parse::<usize>()
                            .map_or(body.len() - 1, |e| e.min(body.len() - 1)),
                    ),
                    None => (0, body.len() - 1),
                };
                let status = if range.is_some() {
                    "206 Partial Content"
                } else {
                    "200 OK"
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{end}/{}\r\nETag: \"e{}\"\r\nX-Repo-Commit: {}\r\nConnection: close\r\n\r\n",
                    end + 1 - start,
                    body.len(),
                    sha(body),
                    "0".repeat(40),
                );
                stream.write_all(head.as_bytes()).unwrap();
                let rest = &body[start..=end];
                let n = match cut_first {
                    Some(cut) if i == 0 => cut.min(rest.len()),
                    _ => rest.len(),
                };
                let _ = stream.write_all(&rest[..n]);
            }
        });
        Server { base, url, ranges }
    }

    fn serve(body: Vec<u8>, cut_first: Option<usize>) -> Server {
        serve_files(vec![("/file.txt".to_string(), body)], cut_first)
    }

    fn sha(data: &[u8]) -> String {
        hex(&Sha256::digest(data))
    }

    fn body() -> Vec<u8> {
        (0..200_000u32).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn downloads_and_verifies() {
        let data = body();
        let s = serve(data.clone(), None);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.txt");
        fetch(&s.url, &dest, data.len() as u64, &sha(&data)).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert!(!with_suffix(&dest, ".part").exists());
        // Already there and verified: no second request.
        fetch(&s.url, &dest, data.len() as u64, &sha(&data)).unwrap();
        assert_eq!(s.ranges.lock().unwrap().len(), 1);
    }

    #[test]
    fn an_interrupted_download_resumes_with_a_range_request() {
        let data = body();
        let s = serve(data.clone(), Some(70_000));
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.txt");
        let err = fetch(&s.url, &dest, data.len() as u64, &sha(&data)).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("interrupted") || msg.contains("partial"),
            "{msg}"
        );
        assert!(!dest.exists(), "nothing half-written under the final name");
        let part = with_suffix(&dest, ".part");
        assert_eq!(std::fs::metadata(&part).unwrap().len(), 70_000);
        fetch(&s.url, &dest, data.len() as u64, &sha(&data)).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert!(!part.exists());
        assert_eq!(
            *s.ranges.lock().unwrap(),
            vec![None, Some("70000-".to_string())]
        );
    }

    #[test]
    fn a_checksum_mismatch_is_an_error_and_leaves_nothing() {
        let data = body();
        let s = serve(data.clone(), None);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.txt");
        let err = fetch(&s.url, &dest, data.len() as u64, &sha(b"other")).unwrap_err();
        assert!(format!("{err:#}").contains("checksum mismatch"), "{err:#}");
        assert!(!dest.exists());
        assert!(!with_suffix(&dest, ".part").exists());
    }

    #[test]
    fn transformed_files_are_converted_and_verified() {
        let raw = b"<doc id=\"1\" url=\"u\" title=\"A\">\nA\n\n  Body one.  \n\nBody two.\n</doc>\n<doc id=\"2\" url=\"u\" title=\"B\">\nB\n\n</doc>\n<doc id=\"3\" url=\"u\" title=\"C\">\nC\nText.\n</doc>\n".to_vec();
        let want = b"A\nBody one.\nBody two.\n\nC\nText.\n".to_vec();
        assert_eq!(transform(Transform::Wikiextractor, &raw).unwrap(), want);
        assert_eq!(
            transform(Transform::CrlfToLf, b"a\tb\r\nc\rd\r\n").unwrap(),
            b"a\tb\nc\rd\n"
        );
        let s = serve(raw.clone(), None);
        let dir = tempfile::tempdir().unwrap();
        let f = DatasetFile {
            path: "wiki_00.txt".into(),
            url: s.url.clone(),
            source_sha256: sha(&raw),
            source_bytes: raw.len() as u64,
            transform: Transform::Wikiextractor,
            sha256: sha(&want),
            bytes: want.len() as u64,
        };
        download_file(&f, dir.path()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("wiki_00.txt")).unwrap(), want);
        assert!(!dir.path().join(".source/wiki_00.txt").exists());
    }

    #[test]
    fn a_mirror_file_that_does_not_match_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("mirror");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("train.txt"), b"tampered").unwrap();
        let f = DatasetFile {
            path: "train.txt".into(),
            url: String::new(),
            source_sha256: sha(b"good"),
            source_bytes: 4,
            transform: Transform::None,
            sha256: sha(b"good"),
            bytes: 4,
        };
        let err = copy_from_mirror(&f, &src, &dir.path().join("out")).unwrap_err();
        assert!(format!("{err:#}").contains("mirror/train.txt"), "{err:#}");
        std::fs::write(src.join("train.txt"), b"good").unwrap();
        copy_from_mirror(&f, &src, &dir.path().join("out")).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("out/train.txt")).unwrap(),
            b"good"
        );
    }

    #[test]
    fn the_committed_manifest_matches_the_shared_data() {
        let m = load_manifest(&manifest_path()).unwrap();
        let names: Vec<&str> = m.datasets.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["conll2003", "sst2", "corpus-enwiki"]);
        assert_eq!(m.datasets[2].files.len(), 64);
        for ds in &m.datasets {
            for f in &ds.files {
                assert_eq!(f.sha256.len(), 64, "{}", f.path);
                assert!(f.url.starts_with("https://"), "{}", f.url);
                if f.transform == Transform::None {
                    assert_eq!(f.sha256, f.source_sha256, "{}", f.path);
                }
            }
        }
        // Where the shared datasets sit beside the checkout (here and in CI), they must be
        // exactly what the manifest pins.
        let shared = crate::workspace_root().join("../shared/data");
        if shared.join("conll2003").is_dir() {
            let out = tempfile::tempdir().unwrap();
            download_datasets(
                &m,
                out.path(),
                Some(&shared),
                &["conll2003".into(), "sst2".into()],
            )
            .unwrap();
            assert!(out.path().join("conll2003/train.txt").is_file());
        }
    }

    #[test]
    fn a_hub_model_is_fetched_through_hf_hub() {
        let files = vec![
            (
                "/org/tiny-bert/resolve/main/config.json".to_string(),
                b"{\"model_type\":\"bert\"}".to_vec(),
            ),
            (
                "/org/tiny-bert/resolve/main/tokenizer.json".to_string(),
                b"{}".to_vec(),
            ),
            (
                "/org/tiny-bert/resolve/main/pytorch_model.bin".to_string(),
                body(),
            ),
        ];
        let s = serve_files(files, None);
        let cache = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let api = hf_hub::api::sync::ApiBuilder::new()
            .with_endpoint(s.base.clone())
            .with_cache_dir(cache.path().to_path_buf())
            .with_progress(false)
            .build()
            .unwrap();
        let dir = download_model_with(&api, "org/tiny-bert", out.path()).unwrap();
        assert_eq!(dir, out.path().join("org--tiny-bert"));
        assert_eq!(
            std::fs::read(dir.join("pytorch_model.bin")).unwrap(),
            body()
        );
        assert_eq!(std::fs::read(dir.join("tokenizer.json")).unwrap(), b"{}");
        assert!(!dir.join("model.safetensors").exists());
        // A repository without config.json is an error naming the file.
        let err = download_model_with(&api, "org/missing", out.path()).unwrap_err();
        assert!(format!("{err:#}").contains("config.json"), "{err:#}");
    }
}
