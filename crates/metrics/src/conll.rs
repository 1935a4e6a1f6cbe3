//! Reading the conlleval file layout: one token per line, whitespace-separated
//! columns ending in the gold tag and the predicted tag, a blank line between
//! sentences.
//!
//! A line whose first column is `-DOCSTART-` contributes no token and ends the
//! current sentence, as the blank line that follows it in CoNLL files would.
//! Every token line must have the same number of columns (at least two), as the
//! perl script requires: a missing column would otherwise shift the gold tag into
//! the predicted one without notice.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{LineError, MetricsError, SentenceError};
use crate::ner::{NerEvaluator, NerReport};
use crate::scheme::{Mode, Scheme};

/// The first column of a document separator line, which is skipped.
pub const DOCSTART: &str = "-DOCSTART-";

/// One sentence of a conlleval-format input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConllSentence {
    /// Line number (from 1) of the sentence's first token; token `i` is on line `first_line + i`.
    pub first_line: usize,
    /// Gold tags (second-to-last column).
    pub gold: Vec<String>,
    /// Predicted tags (last column).
    pub predicted: Vec<String>,
}

/// An iterator over the sentences of a conlleval-format input; see [`read_conll`].
#[derive(Debug)]
pub struct ConllReader<R> {
    reader: R,
    name: String,
    line: usize,
    columns: Option<(usize, usize)>,
    buf: Vec<u8>,
    failed: bool,
}

/// Reads sentences from `reader`; `name` (usually the path) prefixes error messages.
///
/// ```
/// use bertlab_metrics::read_conll;
///
/// let text = "-DOCSTART- O O\n\nJohn B-PER B-PER\nlives O O\n\nParis B-LOC B-ORG\n";
/// let sentences: Vec<_> = read_conll(text.as_bytes(), "example").collect::<Result<_, _>>().unwrap();
/// assert_eq!(sentences.len(), 2);
/// assert_eq!(sentences[1].first_line, 6);
/// assert_eq!(sentences[1].predicted, ["B-ORG"]);
///
/// let err = read_conll("John B-PER B-PER\nlives\n".as_bytes(), "bad.txt").nth(0).unwrap().unwrap_err();
/// assert!(err.to_string().starts_with("bad.txt:2: expected at least 2"));
/// ```
pub fn read_conll<R: BufRead>(reader: R, name: &str) -> ConllReader<R> {
    ConllReader {
        reader,
        name: name.to_string(),
        line: 0,
        columns: None,
        buf: Vec::new(),
        failed: false,
    }
}

impl<R: BufRead> ConllReader<R> {
    fn line_error(&self, source: LineError) -> MetricsError {
        MetricsError::Line {
            name: self.name.clone(),
            line: self.line,
            source,
        }
    }

    fn next_sentence(&mut self) -> Result<Option<ConllSentence>, MetricsError> {
        let mut sentence = ConllSentence {
            first_line: 0,
            gold: Vec::new(),
            predicted: Vec::new(),
        };
        loop {
            self.buf.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| MetricsError::Io {
                    name: self.name.clone(),
                    source,
                })?;
            if read == 0 {
                return Ok((!sentence.gold.is_empty()).then_some(sentence));
            }
            self.line += 1;
            let text =
                std::str::from_utf8(&self.buf).map_err(|_| self.line_error(LineError::NotUtf8))?;
            let mut found = 0;
            let mut first = "";
            let (mut gold, mut predicted) = ("", "");
            for column in text.split_whitespace() {
                if found == 0 {
                    first = column;
                }
                found += 1;
                gold = predicted;
                predicted = column;
            }
            if found == 0 || first == DOCSTART {
                if sentence.gold.is_empty() {
                    continue;
                }
                return Ok(Some(sentence));
            }
            if found < 2 {
                return Err(self.line_error(LineError::TooFewColumns { found }));
            }
            match self.columns {
                None => self.columns = Some((found, self.line)),
                Some((expected, first_line)) if expected != found => {
                    return Err(self.line_error(LineError::ColumnCount {
                        found,
                        expected,
                        first_line,
                    }));
                }
                Some(_) => {}
            }
            if sentence.gold.is_empty() {
                sentence.first_line = self.line;
            }
            sentence.gold.push(gold.to_string());
            sentence.predicted.push(predicted.to_string());
        }
    }
}

impl<R: BufRead> Iterator for ConllReader<R> {
    type Item = Result<ConllSentence, MetricsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_sentence().transpose();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

/// Scores a conlleval-format input; `name` (usually the path) prefixes error messages.
///
/// In strict mode, a tag the scheme does not allow is reported with its line number.
pub fn score_conll<R: BufRead>(
    reader: R,
    name: &str,
    scheme: Scheme,
    mode: Mode,
) -> Result<NerReport, MetricsError> {
    let mut eval = NerEvaluator::new(scheme, mode);
    for sentence in read_conll(reader, name) {
        let sentence = sentence?;
        eval.add_sentence(&sentence.gold, &sentence.predicted)
            .map_err(|err| match err {
                SentenceError::Tag { side, source } => MetricsError::Line {
                    name: name.to_string(),
                    line: sentence.first_line + source.index,
                    source: LineError::Tag {
                        side,
                        tag: source.tag,
                        scheme: source.scheme,
                    },
                },
                SentenceError::LengthMismatch { .. } => {
                    unreachable!("the reader yields one gold and one predicted tag per line")
                }
            })?;
    }
    Ok(eval.report())
}

/// Scores the conlleval-format file at `path`.
pub fn score_conll_file(
    path: impl AsRef<Path>,
    scheme: Scheme,
    mode: Mode,
) -> Result<NerReport, MetricsError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| MetricsError::Io {
        name: name.clone(),
        source,
    })?;
    score_conll(BufReader::new(file), &name, scheme, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<ConllSentence>, MetricsError> {
        read_conll(text.as_bytes(), "in.txt").collect()
    }

    #[test]
    fn takes_the_last_two_columns_and_splits_on_blank_lines() {
        let s =
            read("EU NNP B-ORG B-ORG\nrejects VBZ O O\n\n\n\nPeter NNP B-PER I-PER\r\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].gold, ["B-ORG", "O"]);
        assert_eq!(s[0].first_line, 1);
        assert_eq!(s[1].predicted, ["I-PER"]);
        assert_eq!(s[1].first_line, 6);
    }

    #[test]
    fn docstart_lines_are_skipped_and_end_a_sentence() {
        let s = read("-DOCSTART- -X- O O\na O B-X B-X\n-DOCSTART- -X- O O\nb O O O\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].gold, ["B-X"]);
        assert_eq!((s[1].first_line, s[1].gold.len()), (4, 1));
    }

    #[test]
    fn one_column_is_an_error_naming_the_line() {
        let err = read("a B-PER B-PER\n\nb\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.txt:3: expected at least 2 whitespace-separated columns (… gold predicted), found 1"
        );
    }

    #[test]
    fn a_changed_column_count_is_an_error_naming_both_lines() {
        let err = read("a NN O O\nb O O\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.txt:2: found 3 columns, but line 1 has 4"
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_naming_the_line() {
        let bytes = b"a O O\n\xff O O\n";
        let err = read_conll(&bytes[..], "in.txt")
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err();
        assert_eq!(err.to_string(), "in.txt:2: line is not valid UTF-8");
    }

    #[test]
    fn strict_mode_names_the_line_of_a_disallowed_prefix() {
        let text = "a B-PER B-PER\nb I-PER I-PER\n\nc O O\nd O E-LOC\n";
        let err = score_conll(text.as_bytes(), "in.txt", Scheme::Iob2, Mode::Strict).unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.txt:5: predicted tag \"E-LOC\" has a prefix that iob2 does not allow in strict mode (allowed: B, I, O)"
        );
        // The same input is fine leniently.
        let report = score_conll(text.as_bytes(), "in.txt", Scheme::Iob2, Mode::Conlleval).unwrap();
        assert_eq!(report.sentences, 2);
        assert_eq!(report.entity.per_type["LOC"].support, 0);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err =
            score_conll_file("/nonexistent/dev.txt", Scheme::Iob2, Mode::Conlleval).unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/dev.txt: "),
            "{err}"
        );
    }

    #[test]
    fn an_empty_input_has_no_sentences() {
        assert!(read("").unwrap().is_empty());
        assert!(read("\n\n-DOCSTART- O O\n\n").unwrap().is_empty());
    }
}
