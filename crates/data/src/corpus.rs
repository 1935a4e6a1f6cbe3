//! Streaming corpus reader: one paragraph or sentence per line, a blank line
//! between documents, across many files. Only one line and the current
//! document are held in memory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::conll::strip_zero_width;
use crate::error::{DataError, Result};

/// One document: its non-blank lines in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Paragraphs or sentences (trimmed, never empty).
    pub lines: Vec<String>,
    /// File the document came from.
    pub path: PathBuf,
    /// 1-based line of its first paragraph.
    pub first_line: usize,
}

/// The `*.{extension}` files of a folder, sorted by name.
pub fn corpus_files(dir: impl AsRef<Path>, extension: &str) -> Result<Vec<PathBuf>> {
    let dir = dir.as_ref();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == extension))
        .collect();
    files.sort();
    Ok(files)
}

/// An iterator over the documents of many files, read lazily one line at a time.
/// A file's end also ends a document.
pub struct CorpusReader {
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<(BufReader<std::fs::File>, PathBuf, usize)>,
    buf: Vec<u8>,
    failed: bool,
}

impl CorpusReader {
    /// Read the given files in order.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            next_file: 0,
            current: None,
            buf: Vec::new(),
            failed: false,
        }
    }

    /// Read every `*.txt` file of a folder in name order.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(corpus_files(dir, "txt")?))
    }

    /// The files this reader goes through.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn open_next(&mut self) -> Option<Result<()>> {
        let path = self.files.get(self.next_file)?.clone();
        self.next_file += 1;
        match std::fs::File::open(&path) {
            Ok(f) => {
                self.current = Some((BufReader::new(f), path, 0));
                Some(Ok(()))
            }
            Err(e) => Some(Err(DataError::io(path, e))),
        }
    }

    fn next_document(&mut self) -> Option<Result<Document>> {
        loop {
            if self.current.is_none() {
                match self.open_next()? {
                    Ok(()) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
            let (reader, path, line_no) = self.current.as_mut()?;
            let mut doc: Option<Document> = None;
            loop {
                self.buf.clear();
                let n = match reader.read_until(b'\n', &mut self.buf) {
                    Ok(n) => n,
                    Err(e) => return Some(Err(DataError::io(path.clone(), e))),
                };
                if n == 0 {
                    self.current = None;
                    break;
                }
                *line_no += 1;
                let text = match std::str::from_utf8(&self.buf) {
                    Ok(t) => t,
                    Err(e) => {
                        return Some(Err(DataError::malformed(
                            path.clone(),
                            *line_no,
                            format!("invalid UTF-8: {e}"),
                        )))
                    }
                };
                let cleaned = strip_zero_width(text);
                let line = cleaned.trim();
                if line.is_empty() {
                    if doc.is_some() {
                        return doc.map(Ok);
                    }
                    continue;
                }
                doc.get_or_insert_with(|| Document {
                    lines: Vec::new(),
                    path: path.clone(),
                    first_line: *line_no,
                })
                .lines
                .push(line.to_string());
            }
            if doc.is_some() {
                return doc.map(Ok);
            }
        }
    }
}

impl Iterator for CorpusReader {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_document();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}
