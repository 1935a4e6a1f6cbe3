//! Tab-separated classification data: `sentence\tlabel` or
//! `sentence1\tsentence2\tlabel`, with or without a header, quoted fields allowed
//! (`"a ""quoted"" field"`), CRLF line ends and a byte-order mark tolerated.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use bertlab_tokenize::Tokenizer;

use crate::batch::Example;
use crate::conll::strip_zero_width;
use crate::error::{DataError, Result};

/// Whether the first row is a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// A header if its label column reads `label` (or `labels`, `gold_label`,
    /// `class`, `target`) or its first column reads `sentence`, `sentence1`, `text`
    /// or `text_a`.
    #[default]
    Auto,
    /// The first row is a header.
    Present,
    /// There is no header.
    Absent,
}

/// Options for [`read_tsv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TsvOptions {
    /// Header handling.
    pub header: Header,
}

/// One labelled example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsvExample {
    /// First (or only) sentence.
    pub text_a: String,
    /// Second sentence of a pair.
    pub text_b: Option<String>,
    /// Label as written.
    pub label: String,
    /// 1-based line where the row starts.
    pub line: usize,
}

/// A parsed TSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsvFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Header fields, if there was a header.
    pub header: Option<Vec<String>>,
    /// Whether rows are sentence pairs.
    pub is_pair: bool,
    /// Rows in file order.
    pub examples: Vec<TsvExample>,
}

/// Read a classification TSV file.
pub fn read_tsv(path: impl AsRef<Path>, options: &TsvOptions) -> Result<TsvFile> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    parse_tsv(file, path, options)
}

fn looks_like_header(fields: &[String]) -> bool {
    let last = fields
        .last()
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let first = fields
        .first()
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_default();
    matches!(
        last.as_str(),
        "label" | "labels" | "gold_label" | "class" | "target"
    ) || matches!(first.as_str(), "sentence" | "sentence1" | "text" | "text_a")
}

/// Parse classification TSV from any reader; `path` is only used in messages.
pub fn parse_tsv<R: Read>(
    mut reader: R,
    path: impl AsRef<Path>,
    options: &TsvOptions,
) -> Result<TsvFile> {
    let path = path.as_ref();
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| DataError::io(path, e))?;
    let body: &[u8] = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    // 1-based line where a record starts. csv reports the offset where it began
    // scanning (before the previous line's terminator and any blank lines), and its
    // own line counter drifts with CRLF, so skip line ends and count newlines.
    let newlines: Vec<usize> = body
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let line_of = |byte: u64| {
        let mut b = byte as usize;
        while b < body.len() && matches!(body[b], b'\r' | b'\n') {
            b += 1;
        }
        newlines.partition_point(|&nl| nl < b) + 1
    };
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .has_headers(false)
        .flexible(true)
        .quoting(true)
        .double_quote(true)
        .from_reader(body);
    let mut header = None;
    let mut columns: Option<(usize, usize)> = None;
    let mut examples = Vec::new();
    for (row, record) in csv.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| line_of(p.byte())).unwrap_or(0);
            DataError::malformed(path, line, e.to_string())
        })?;
        let line = record
            .position()
            .map(|p| line_of(p.byte()))
            .unwrap_or(row + 1);
        let fields: Vec<String> = record
            .iter()
            .map(|f| strip_zero_width(f).into_owned())
            .collect();
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if row == 0 && header.is_none() {
            let is_header = match options.header {
                Header::Present => true,
                Header::Absent => false,
                Header::Auto => looks_like_header(&fields),
            };
            if is_header {
                columns = Some((fields.len(), line));
                header = Some(fields);
                continue;
            }
        }
        let (cols, first) = *columns.get_or_insert((fields.len(), line));
        if !(cols == 2 || cols == 3) {
            return Err(DataError::malformed(
                path,
                line,
                format!("expected 2 (sentence, label) or 3 (sentence1, sentence2, label) tab-separated fields, found {}", fields.len()),
            ));
        }
        if fields.len() != cols {
            return Err(DataError::malformed(
                path,
                line,
                format!(
                    "expected {cols} tab-separated fields (as on line {first}), found {}",
                    fields.len()
                ),
            ));
        }
        let label = fields[cols - 1].trim().to_string();
        if label.is_empty() {
            return Err(DataError::malformed(path, line, "empty label"));
        }
        let text_a = fields[0].trim().to_string();
        let text_b = (cols == 3).then(|| fields[1].trim().to_string());
        examples.push(TsvExample {
            text_a,
            text_b,
            label,
            line,
        });
    }
    let is_pair = columns.is_some_and(|(c, _)| c == 3);
    Ok(TsvFile {
        path: path.to_path_buf(),
        header,
        is_pair,
        examples,
    })
}

/// Class labels taken from the training split: numeric order when every label is
/// an integer, otherwise lexical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassLabels {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl ClassLabels {
    /// Labels of a training file.
    pub fn from_train(train: &TsvFile) -> Self {
        let set: BTreeSet<&str> = train.examples.iter().map(|e| e.label.as_str()).collect();
        let mut names: Vec<String> = set.into_iter().map(String::from).collect();
        if names.iter().all(|n| n.parse::<i64>().is_ok()) {
            names.sort_by_key(|n| n.parse::<i64>().unwrap_or(0));
        }
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Self { names, index }
    }
    /// Number of classes.
    pub fn len(&self) -> usize {
        self.names.len()
    }
    /// Whether there are no classes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    /// Class names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// Id of a label.
    pub fn id(&self, label: &str) -> Option<usize> {
        self.index.get(label).copied()
    }
    /// Label ids of every row, or an error naming the file and line of a label
    /// that training never saw.
    pub fn encode(&self, file: &TsvFile) -> Result<Vec<i64>> {
        file.examples
            .iter()
            .map(|e| {
                self.id(&e.label)
                    .map(|i| i as i64)
                    .ok_or_else(|| DataError::UnknownLabel {
                        path: file.path.clone(),
                        line: e.line,
                        label: e.label.clone(),
                        known: self.names.join(" "),
                    })
            })
            .collect()
    }
}

/// A tokenized classification example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassificationFeature {
    /// `[CLS] a [SEP] (b [SEP])`, cut longest-first to the maximum length.
    pub input_ids: Vec<u32>,
    /// 0 for the first segment, 1 for the second.
    pub token_type_ids: Vec<u32>,
    /// Class id.
    pub label: i64,
}

impl Example for ClassificationFeature {
    fn input_ids(&self) -> &[u32] {
        &self.input_ids
    }
    fn token_type_ids(&self) -> &[u32] {
        &self.token_type_ids
    }
    fn sequence_label(&self) -> Option<i64> {
        Some(self.label)
    }
}

/// Tokenize every row (in parallel) to at most `max_len` tokens.
pub fn build_classification_features(
    tokenizer: &Tokenizer,
    file: &TsvFile,
    labels: &ClassLabels,
    max_len: usize,
) -> Result<Vec<ClassificationFeature>> {
    let ids = labels.encode(file)?;
    file.examples
        .par_iter()
        .zip(ids)
        .map(|(e, label)| {
            let enc = tokenizer.encode_pair_truncated(&e.text_a, e.text_b.as_deref(), max_len)?;
            Ok(ClassificationFeature {
                input_ids: enc.ids().to_vec(),
                token_type_ids: enc.type_ids().to_vec(),
                label,
            })
        })
        .collect()
}
