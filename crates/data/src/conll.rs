//! CoNLL NER files: reading, tag schemes (IOB1, IOB2, IOBES), label sets,
//! statistics and conlleval-layout prediction files.
//!
//! A file has one token per line with any number of whitespace-separated
//! columns (the word first, the tag in the last or a chosen column), a blank
//! line after each sentence and optional `-DOCSTART-` lines between documents.
//! CRLF line ends, a byte-order mark and zero-width characters are tolerated.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// Characters removed from every line: zero-width space/joiners, word joiner, BOM.
pub const ZERO_WIDTH: [char; 5] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'];

/// Remove zero-width characters (and so a leading byte-order mark).
pub fn strip_zero_width(s: &str) -> std::borrow::Cow<'_, str> {
    // All five encode in UTF-8 with a lead byte 0xE2 or 0xEF: a fast byte scan
    // rules most lines out.
    let bytes = s.as_bytes();
    if (bytes.contains(&0xE2) || bytes.contains(&0xEF)) && s.contains(ZERO_WIDTH) {
        std::borrow::Cow::Owned(s.replace(ZERO_WIDTH, ""))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// An NER tagging scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagScheme {
    /// `I-X` starts an entity; `B-X` only between two adjacent entities of type X
    /// (CoNLL-2003 as shipped).
    Iob1,
    /// Every entity starts with `B-X`.
    Iob2,
    /// `B-`, `I-`, `E-` for multi-token entities and `S-` for single tokens.
    Iobes,
}

impl std::fmt::Display for TagScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TagScheme::Iob1 => "IOB1",
            TagScheme::Iob2 => "IOB2",
            TagScheme::Iobes => "IOBES",
        })
    }
}

impl std::str::FromStr for TagScheme {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "iob1" | "iob" => Ok(TagScheme::Iob1),
            "iob2" | "bio" => Ok(TagScheme::Iob2),
            "iobes" | "bioes" => Ok(TagScheme::Iobes),
            _ => Err(DataError::config(
                "tag_scheme",
                format!("{s:?} is not one of iob1, iob2, iobes"),
            )),
        }
    }
}

/// Which column holds the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagColumn {
    /// The last column (CoNLL-2003: `word POS chunk NER`).
    #[default]
    Last,
    /// A 0-based column index (must not be 0, the word).
    Index(usize),
}

/// Options for [`read_conll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConllOptions {
    /// Column of the tag.
    pub tag_column: TagColumn,
}

/// One sentence: words and their tags, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// The words (first column).
    pub words: Vec<String>,
    /// The tags, one per word.
    pub tags: Vec<String>,
    /// 0-based document index (documents are separated by `-DOCSTART-`).
    pub document: usize,
    /// 1-based line number of each word in the file.
    pub lines: Vec<usize>,
}

impl Sentence {
    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }
    /// Whether the sentence has no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// A parsed CoNLL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConllFile {
    /// Where it was read from (used in error messages).
    pub path: PathBuf,
    /// Sentences in file order.
    pub sentences: Vec<Sentence>,
    /// Number of columns of every token line.
    pub num_columns: usize,
    /// Number of `-DOCSTART-` lines.
    pub docstarts: usize,
}

/// A typed entity span `[start, end)` over word positions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Entity type, e.g. `PER`.
    pub label: String,
    /// First word.
    pub start: usize,
    /// One past the last word.
    pub end: usize,
}

/// Statistics of a CoNLL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConllStats {
    /// Number of sentences.
    pub sentences: usize,
    /// Number of tokens.
    pub tokens: usize,
    /// Number of `-DOCSTART-` lines.
    pub documents: usize,
    /// Entities per type.
    pub entities: BTreeMap<String, usize>,
}

/// Read a CoNLL file.
pub fn read_conll(path: impl AsRef<Path>, options: &ConllOptions) -> Result<ConllFile> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    parse_conll(std::io::BufReader::new(file), path, options)
}

/// Split a tag into prefix and type; `O` gives `None`.
fn split_tag(tag: &str) -> Option<Option<(char, &str)>> {
    if tag == "O" {
        return Some(None);
    }
    let mut chars = tag.chars();
    let p = chars.next()?;
    if !matches!(p, 'B' | 'I' | 'E' | 'S') || chars.next() != Some('-') {
        return None;
    }
    let ty = &tag[2..];
    if ty.is_empty() {
        return None;
    }
    Some(Some((p, ty)))
}

/// Whether `tag` is `O` or `B-X`, `I-X`, `E-X`, `S-X`.
pub fn is_valid_tag(tag: &str) -> bool {
    split_tag(tag).is_some()
}

/// Parse CoNLL text from any reader; `path` is only used in messages.
pub fn parse_conll<R: BufRead>(
    mut reader: R,
    path: impl AsRef<Path>,
    options: &ConllOptions,
) -> Result<ConllFile> {
    let path = path.as_ref();
    let mut sentences = Vec::new();
    let mut num_columns: Option<(usize, usize)> = None; // (columns, first line)
    let mut docstarts = 0usize;
    let mut document = 0usize;
    let mut doc_has_sentences = false;
    let mut current = Sentence {
        words: vec![],
        tags: vec![],
        document: 0,
        lines: vec![],
    };
    let mut buf = Vec::new();
    let mut line_no = 0usize;

    let flush = |current: &mut Sentence, sentences: &mut Vec<Sentence>, document: usize| {
        if !current.words.is_empty() {
            current.document = document;
            sentences.push(std::mem::replace(
                current,
                Sentence {
                    words: vec![],
                    tags: vec![],
                    document,
                    lines: vec![],
                },
            ));
            true
        } else {
            false
        }
    };

    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let raw = std::str::from_utf8(&buf)
            .map_err(|e| DataError::malformed(path, line_no, format!("invalid UTF-8: {e}")))?;
        let cleaned = strip_zero_width(raw);
        let line = cleaned.trim_end_matches(['\n', '\r']);
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            if flush(&mut current, &mut sentences, document) {
                doc_has_sentences = true;
            }
            continue;
        }
        if fields[0] == "-DOCSTART-" {
            if flush(&mut current, &mut sentences, document) {
                doc_has_sentences = true;
            }
            docstarts += 1;
            if doc_has_sentences {
                document += 1;
                doc_has_sentences = false;
            }
            continue;
        }
        let (cols, first) = *num_columns.get_or_insert((fields.len(), line_no));
        if fields.len() != cols {
            return Err(DataError::malformed(
                path,
                line_no,
                format!(
                    "expected {cols} whitespace-separated columns (as on line {first}), found {}: {line:?}",
                    fields.len()
                ),
            ));
        }
        let tag_index = match options.tag_column {
            TagColumn::Last => cols - 1,
            TagColumn::Index(i) => i,
        };
        if cols < 2 || tag_index == 0 || tag_index >= cols {
            return Err(DataError::malformed(
                path,
                line_no,
                format!(
                    "need a word column and a tag column, but the line has {cols} column(s) \
                     and the tag column is {tag_index}: {line:?}"
                ),
            ));
        }
        let tag = fields[tag_index];
        if !is_valid_tag(tag) {
            return Err(DataError::malformed(
                path,
                line_no,
                format!("tag {tag:?} is not O or B-/I-/E-/S- followed by a type"),
            ));
        }
        current.words.push(fields[0].to_string());
        current.tags.push(tag.to_string());
        current.lines.push(line_no);
    }
    flush(&mut current, &mut sentences, document);
    Ok(ConllFile {
        path: path.to_path_buf(),
        sentences,
        num_columns: num_columns.map(|c| c.0).unwrap_or(0),
        docstarts,
    })
}

/// Guess the scheme of tag sequences: IOBES if any `E-`/`S-` tag occurs, IOB1 if
/// any entity starts with `I-`, otherwise IOB2 (the choice when both fit).
pub fn detect_scheme<'a, I, S>(sequences: I) -> TagScheme
where
    I: IntoIterator<Item = &'a [S]>,
    S: AsRef<str> + 'a,
{
    let mut iob1 = false;
    for tags in sequences {
        let mut prev: Option<&str> = None;
        for tag in tags {
            match split_tag(tag.as_ref()).flatten() {
                Some(('E' | 'S', _)) => return TagScheme::Iobes,
                Some(('I', ty)) => {
                    if prev != Some(ty) {
                        iob1 = true;
                    }
                    prev = Some(ty);
                }
                Some((_, ty)) => prev = Some(ty),
                None => prev = None,
            }
        }
    }
    if iob1 {
        TagScheme::Iob1
    } else {
        TagScheme::Iob2
    }
}

/// Entity spans of a tag sequence read under `scheme`.
///
/// Reading is lenient in the conlleval way: an `I-X` that cannot continue an
/// entity starts one, and an `E-X` without a matching start is a single-token
/// entity. Returns the index of the first tag that is not a valid tag.
pub fn entity_spans<S: AsRef<str>>(
    tags: &[S],
    scheme: TagScheme,
) -> std::result::Result<Vec<Span>, usize> {
    let mut spans: Vec<Span> = Vec::new();
    let mut open: Option<(String, usize)> = None;
    let close = |open: &mut Option<(String, usize)>, spans: &mut Vec<Span>, end: usize| {
        if let Some((label, start)) = open.take() {
            spans.push(Span { label, start, end });
        }
    };
    for (i, tag) in tags.iter().enumerate() {
        let parsed = split_tag(tag.as_ref()).ok_or(i)?;
        let Some((prefix, ty)) = parsed else {
            close(&mut open, &mut spans, i);
            continue;
        };
        let continues = open.as_ref().is_some_and(|(t, _)| t == ty);
        match (scheme, prefix) {
            (_, 'B') => {
                close(&mut open, &mut spans, i);
                open = Some((ty.to_string(), i));
            }
            (_, 'I') => {
                if !continues {
                    close(&mut open, &mut spans, i);
                    open = Some((ty.to_string(), i));
                }
            }
            (_, 'E') => {
                if !continues {
                    close(&mut open, &mut spans, i);
                    open = Some((ty.to_string(), i));
                }
                close(&mut open, &mut spans, i + 1);
            }
            _ => {
                // 'S'
                close(&mut open, &mut spans, i);
                spans.push(Span {
                    label: ty.to_string(),
                    start: i,
                    end: i + 1,
                });
            }
        }
    }
    close(&mut open, &mut spans, tags.len());
    Ok(spans)
}

/// Tags for `len` words with the given (non-overlapping, sorted) spans in `scheme`.
pub fn spans_to_tags(spans: &[Span], len: usize, scheme: TagScheme) -> Vec<String> {
    let mut tags = vec!["O".to_string(); len];
    let mut prev_end_type: Option<(usize, &str)> = None;
    for span in spans {
        let n = span.end - span.start;
        for (k, tag) in tags[span.start..span.end].iter_mut().enumerate() {
            let prefix = match scheme {
                TagScheme::Iob2 => {
                    if k == 0 {
                        "B"
                    } else {
                        "I"
                    }
                }
                TagScheme::Iob1 => {
                    let adjacent_same = prev_end_type
                        .is_some_and(|(end, ty)| end == span.start && ty == span.label);
                    if k == 0 && adjacent_same {
                        "B"
                    } else {
                        "I"
                    }
                }
                TagScheme::Iobes => match (n, k) {
                    (1, _) => "S",
                    (_, 0) => "B",
                    (n, k) if k == n - 1 => "E",
                    _ => "I",
                },
            };
            *tag = format!("{prefix}-{}", span.label);
        }
        prev_end_type = Some((span.end, span.label.as_str()));
    }
    tags
}

/// Convert one tag sequence between schemes. Errors give the index of a bad tag.
pub fn convert_tags<S: AsRef<str>>(
    tags: &[S],
    from: TagScheme,
    to: TagScheme,
) -> std::result::Result<Vec<String>, usize> {
    let spans = entity_spans(tags, from)?;
    Ok(spans_to_tags(&spans, tags.len(), to))
}

impl ConllFile {
    /// The scheme the tags of this file are in (see [`detect_scheme`]).
    pub fn detect_scheme(&self) -> TagScheme {
        detect_scheme(self.sentences.iter().map(|s| s.tags.as_slice()))
    }

    /// Rewrite every tag from `from` to `to`.
    pub fn convert(&mut self, from: TagScheme, to: TagScheme) -> Result<()> {
        for s in &mut self.sentences {
            s.tags = convert_tags(&s.tags, from, to).map_err(|i| {
                DataError::malformed(&self.path, s.lines[i], format!("bad tag {:?}", s.tags[i]))
            })?;
        }
        Ok(())
    }

    /// Sentence, token, document and entity counts, reading tags under `scheme`.
    pub fn stats(&self, scheme: TagScheme) -> Result<ConllStats> {
        let mut entities = BTreeMap::new();
        for s in &self.sentences {
            let spans = entity_spans(&s.tags, scheme).map_err(|i| {
                DataError::malformed(&self.path, s.lines[i], format!("bad tag {:?}", s.tags[i]))
            })?;
            for span in spans {
                *entities.entry(span.label).or_insert(0) += 1;
            }
        }
        Ok(ConllStats {
            sentences: self.sentences.len(),
            tokens: self.sentences.iter().map(Sentence::len).sum(),
            documents: self.docstarts,
            entities,
        })
    }

    /// Words of every sentence, for feature building.
    pub fn words(&self) -> Vec<&[String]> {
        self.sentences.iter().map(|s| s.words.as_slice()).collect()
    }
}

/// The label vocabulary, taken from the training split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSet {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl LabelSet {
    /// Labels in the given order (duplicates are an error).
    pub fn new(names: Vec<String>) -> Result<Self> {
        let mut index = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            if index.insert(n.clone(), i).is_some() {
                return Err(DataError::config(
                    "labels",
                    format!("duplicate label {n:?}"),
                ));
            }
        }
        Ok(Self { names, index })
    }

    /// All tags of a training file: `O` first (when present), then the rest sorted
    /// by entity type and prefix.
    pub fn from_train(train: &ConllFile) -> Self {
        let mut seen: Vec<String> = train
            .sentences
            .iter()
            .flat_map(|s| s.tags.iter().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        seen.sort_by(|a, b| {
            let key = |t: &String| match split_tag(t).flatten() {
                None => (0, String::new(), ' '),
                Some((p, ty)) => (1, ty.to_string(), p),
            };
            key(a).cmp(&key(b))
        });
        Self::new(seen).expect("set has no duplicates")
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.names.len()
    }
    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    /// Id of a label.
    pub fn id(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
    /// Name of an id.
    pub fn name(&self, id: usize) -> Option<&str> {
        self.names.get(id).map(String::as_str)
    }
    /// All names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// Names of predicted ids (e.g. merged window predictions), or an error for an
    /// id outside the set.
    pub fn decode(&self, ids: &[i64]) -> Result<Vec<&str>> {
        ids.iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.name(i))
                    .ok_or_else(|| {
                        DataError::Shape(format!("label id {i} is outside 0..{}", self.len()))
                    })
            })
            .collect()
    }

    /// Label ids of every word of `file`, or an error naming the file and line of
    /// the first tag that training never saw.
    pub fn encode(&self, file: &ConllFile) -> Result<Vec<Vec<i64>>> {
        file.sentences
            .iter()
            .map(|s| {
                s.tags
                    .iter()
                    .zip(&s.lines)
                    .map(|(t, &line)| {
                        self.id(t)
                            .map(|i| i as i64)
                            .ok_or_else(|| DataError::UnknownLabel {
                                path: file.path.clone(),
                                line,
                                label: t.clone(),
                                known: self.names.join(" "),
                            })
                    })
                    .collect()
            })
            .collect()
    }
}

/// Train, dev and test splits read together: one scheme, one label set from train.
#[derive(Debug, Clone)]
pub struct NerSplits {
    /// Training split.
    pub train: ConllFile,
    /// Development split.
    pub dev: ConllFile,
    /// Test split.
    pub test: ConllFile,
    /// Scheme of the files as read.
    pub source_scheme: TagScheme,
    /// Scheme of the tags now (after any conversion).
    pub scheme: TagScheme,
    /// Labels of the training split (in `scheme`).
    pub labels: LabelSet,
    /// Label ids per word of train, dev and test.
    pub train_ids: Vec<Vec<i64>>,
    /// Dev label ids.
    pub dev_ids: Vec<Vec<i64>>,
    /// Test label ids.
    pub test_ids: Vec<Vec<i64>>,
}

impl NerSplits {
    /// Read `{train,dev,test}.txt` from `dir`, detect the scheme on train, convert
    /// all three to `target` (if given), and take the labels from train.
    pub fn load(
        dir: impl AsRef<Path>,
        options: &ConllOptions,
        target: Option<TagScheme>,
    ) -> Result<Self> {
        let dir = dir.as_ref();
        Self::load_files(
            dir.join("train.txt"),
            dir.join("dev.txt"),
            dir.join("test.txt"),
            options,
            target,
        )
    }

    /// Like [`load`](Self::load) with explicit file paths.
    pub fn load_files(
        train: impl AsRef<Path>,
        dev: impl AsRef<Path>,
        test: impl AsRef<Path>,
        options: &ConllOptions,
        target: Option<TagScheme>,
    ) -> Result<Self> {
        let mut train = read_conll(train, options)?;
        let mut dev = read_conll(dev, options)?;
        let mut test = read_conll(test, options)?;
        let source_scheme = train.detect_scheme();
        let scheme = target.unwrap_or(source_scheme);
        if scheme != source_scheme {
            for f in [&mut train, &mut dev, &mut test] {
                f.convert(source_scheme, scheme)?;
            }
        }
        let labels = LabelSet::from_train(&train);
        let train_ids = labels.encode(&train)?;
        let dev_ids = labels.encode(&dev)?;
        let test_ids = labels.encode(&test)?;
        Ok(Self {
            train,
            dev,
            test,
            source_scheme,
            scheme,
            labels,
            train_ids,
            dev_ids,
            test_ids,
        })
    }
}

/// Write predictions in conlleval layout (`word gold predicted`, a blank line
/// after each sentence), atomically. Every word must have exactly one prediction.
pub fn write_conlleval<S: AsRef<str>>(
    path: impl AsRef<Path>,
    sentences: &[Sentence],
    predictions: &[Vec<S>],
) -> Result<()> {
    let path = path.as_ref();
    let out = format_conlleval(sentences, predictions)?;
    bertlab_tokenize::write_atomic(path, out.as_bytes()).map_err(|e| DataError::io(path, e))
}

/// Predictions in conlleval layout, as written by [`write_conlleval`].
pub fn format_conlleval<S: AsRef<str>>(
    sentences: &[Sentence],
    predictions: &[Vec<S>],
) -> Result<String> {
    if sentences.len() != predictions.len() {
        return Err(DataError::Shape(format!(
            "{} sentences but {} prediction lists",
            sentences.len(),
            predictions.len()
        )));
    }
    let mut out = String::new();
    for (i, (s, p)) in sentences.iter().zip(predictions).enumerate() {
        if s.len() != p.len() {
            return Err(DataError::Shape(format!(
                "sentence {i} has {} words but {} predictions",
                s.len(),
                p.len()
            )));
        }
        for ((w, g), p) in s.words.iter().zip(&s.tags).zip(p) {
            out.push_str(w);
            out.push(' ');
            out.push_str(g);
            out.push(' ');
            out.push_str(p.as_ref());
            out.push('\n');
        }
        out.push('\n');
    }
    Ok(out)
}
