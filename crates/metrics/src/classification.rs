//! Sequence classification: accuracy, precision/recall/F1, Matthews correlation
//! and the confusion matrix, computed as scikit-learn does.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Side};
use crate::ner::{macro_and_weighted, ratio, Counts, Scores};
use crate::table;

/// Counts of (gold, predicted) label pairs: `counts[gold][predicted]`, as sklearn's `confusion_matrix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConfusionMatrix {
    counts: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// An all-zero matrix for `num_classes` classes.
    pub fn new(num_classes: usize) -> Self {
        ConfusionMatrix {
            counts: vec![vec![0; num_classes]; num_classes],
        }
    }

    /// Counts the pairs of `gold` and `predicted`, which must be of equal length with labels below `num_classes`.
    pub fn from_labels(
        gold: &[usize],
        predicted: &[usize],
        num_classes: usize,
    ) -> Result<Self, MetricsError> {
        if gold.len() != predicted.len() {
            return Err(MetricsError::LengthMismatch {
                gold: gold.len(),
                predicted: predicted.len(),
            });
        }
        let check = |side, labels: &[usize]| {
            labels.iter().enumerate().try_for_each(|(index, &label)| {
                if label < num_classes {
                    Ok(())
                } else {
                    Err(MetricsError::LabelOutOfRange {
                        side,
                        index,
                        label,
                        num_classes,
                    })
                }
            })
        };
        check(Side::Gold, gold)?;
        check(Side::Predicted, predicted)?;
        let mut matrix = ConfusionMatrix::new(num_classes);
        for (&g, &p) in gold.iter().zip(predicted) {
            matrix.counts[g][p] += 1;
        }
        Ok(matrix)
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.counts.len()
    }

    /// How often gold class `gold` was predicted as `predicted`.
    pub fn get(&self, gold: usize, predicted: usize) -> u64 {
        self.counts[gold][predicted]
    }

    /// The rows (gold classes) of counts over predicted classes.
    pub fn rows(&self) -> &[Vec<u64>] {
        &self.counts
    }

    /// Number of items counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Number of items on the diagonal (predicted correctly).
    pub fn correct(&self) -> u64 {
        (0..self.num_classes()).map(|i| self.counts[i][i]).sum()
    }

    /// Items per gold class (row sums).
    pub fn gold_totals(&self) -> Vec<u64> {
        self.counts.iter().map(|row| row.iter().sum()).collect()
    }

    /// Items per predicted class (column sums).
    pub fn predicted_totals(&self) -> Vec<u64> {
        (0..self.num_classes())
            .map(|j| self.counts.iter().map(|row| row[j]).sum())
            .collect()
    }

    /// Counts of class `class` treated as the positive class.
    pub fn class_counts(&self, class: usize) -> Counts {
        Counts {
            true_positives: self.counts[class][class],
            predicted: self.counts.iter().map(|row| row[class]).sum(),
            gold: self.counts[class].iter().sum(),
        }
    }

    /// Fraction of items predicted correctly (0 when empty).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Matthews correlation coefficient, multi-class (Gorodkin's R_K) as sklearn's
    /// `matthews_corrcoef`; 0 when undefined (a constant gold or predicted column).
    pub fn mcc(&self) -> f64 {
        let t: Vec<i128> = self.gold_totals().into_iter().map(i128::from).collect();
        let p: Vec<i128> = self
            .predicted_totals()
            .into_iter()
            .map(i128::from)
            .collect();
        let n = i128::from(self.total());
        let correct = i128::from(self.correct());
        let dot = |a: &[i128], b: &[i128]| a.iter().zip(b).map(|(x, y)| x * y).sum::<i128>();
        let cov_tp = correct * n - dot(&t, &p);
        let cov_pp = n * n - dot(&p, &p);
        let cov_tt = n * n - dot(&t, &t);
        if cov_pp == 0 || cov_tt == 0 {
            return 0.0;
        }
        cov_tp as f64 / ((cov_tt as f64) * (cov_pp as f64)).sqrt()
    }
}

/// One class's label and scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// The class's name.
    pub label: String,
    /// Its precision, recall, F1 and support.
    #[serde(flatten)]
    pub scores: Scores,
}

/// Sequence-classification metrics (e.g. for SST-2), as scikit-learn computes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Fraction of items predicted correctly.
    pub accuracy: f64,
    /// Precision, recall and F1 of class 1 as the positive class; present only with two classes.
    pub binary: Option<Scores>,
    /// Unweighted mean over the classes that occur in the gold or predicted labels
    /// (sklearn's `average="macro"`).
    #[serde(rename = "macro")]
    pub macro_avg: Scores,
    /// Mean over the same classes weighted by support.
    pub weighted: Scores,
    /// Matthews correlation coefficient.
    pub mcc: f64,
    /// Number of items.
    pub support: u64,
    /// Scores per class, in label order.
    pub per_class: Vec<ClassScores>,
    /// `confusion_matrix[gold][predicted]`.
    pub confusion_matrix: ConfusionMatrix,
}

/// Scores predicted class indices against gold ones; `labels` names the classes (index `i` is `labels[i]`).
///
/// ```
/// use bertlab_metrics::classification_report;
///
/// let gold = [1, 0, 1, 1, 0];
/// let predicted = [1, 0, 0, 1, 1];
/// let report = classification_report(&gold, &predicted, &["negative", "positive"]).unwrap();
/// assert_eq!(report.accuracy, 0.6);
/// let positive = report.binary.unwrap();
/// assert_eq!((positive.precision, positive.recall), (2.0 / 3.0, 2.0 / 3.0));
/// assert_eq!(report.confusion_matrix.get(1, 0), 1);
/// ```
pub fn classification_report<L: AsRef<str>>(
    gold: &[usize],
    predicted: &[usize],
    labels: &[L],
) -> Result<ClassificationReport, MetricsError> {
    let matrix = ConfusionMatrix::from_labels(gold, predicted, labels.len())?;
    Ok(ClassificationReport::from_confusion_matrix(matrix, labels))
}

impl ClassificationReport {
    /// Builds the report from a filled confusion matrix with one label per class.
    ///
    /// # Panics
    /// If `labels` does not have one entry per class of `matrix`.
    pub fn from_confusion_matrix<L: AsRef<str>>(matrix: ConfusionMatrix, labels: &[L]) -> Self {
        assert_eq!(labels.len(), matrix.num_classes(), "one label per class");
        let counts: Vec<Counts> = (0..matrix.num_classes())
            .map(|c| matrix.class_counts(c))
            .collect();
        let per_class: Vec<ClassScores> = labels
            .iter()
            .zip(&counts)
            .map(|(label, c)| ClassScores {
                label: label.as_ref().to_string(),
                scores: c.sklearn_scores(),
            })
            .collect();
        let (macro_avg, weighted) = macro_and_weighted(
            per_class
                .iter()
                .zip(&counts)
                .filter(|(_, c)| c.gold + c.predicted > 0)
                .map(|(s, _)| &s.scores),
        );
        ClassificationReport {
            accuracy: matrix.accuracy(),
            binary: (matrix.num_classes() == 2).then(|| counts[1].sklearn_scores()),
            macro_avg,
            weighted,
            mcc: matrix.mcc(),
            support: matrix.total(),
            per_class,
            confusion_matrix: matrix,
        }
    }

    /// sklearn's `classification_report` table, then MCC and the confusion matrix.
    pub fn to_text(&self, digits: usize) -> String {
        let rows: Vec<(&str, &Scores)> = self
            .per_class
            .iter()
            .map(|c| (c.label.as_str(), &c.scores))
            .collect();
        let mut out = table::sklearn(
            &rows,
            self.accuracy,
            self.support,
            [
                ("macro avg", &self.macro_avg),
                ("weighted avg", &self.weighted),
            ],
            digits,
        );
        writeln!(out, "\nMatthews correlation: {:.digits$}", self.mcc).unwrap();
        if let Some(b) = &self.binary {
            writeln!(
                out,
                "Binary ({} positive): precision {:.digits$}, recall {:.digits$}, f1 {:.digits$}",
                self.per_class[1].label, b.precision, b.recall, b.f1
            )
            .unwrap();
        }
        out.push_str("\nConfusion matrix (rows: gold, columns: predicted)\n");
        let labels: Vec<&str> = self.per_class.iter().map(|c| c.label.as_str()).collect();
        let width = labels
            .iter()
            .map(|l| l.chars().count())
            .chain(
                self.confusion_matrix
                    .rows()
                    .iter()
                    .flatten()
                    .map(|n| n.to_string().len()),
            )
            .max()
            .unwrap_or(1);
        write!(out, "{:>width$}", "").unwrap();
        for label in &labels {
            write!(out, "  {label:>width$}").unwrap();
        }
        out.push('\n');
        for (label, row) in labels.iter().zip(self.confusion_matrix.rows()) {
            write!(out, "{label:>width$}").unwrap();
            for n in row {
                write!(out, "  {n:>width$}").unwrap();
            }
            out.push('\n');
        }
        out
    }

    /// The per-class table and the summary figures in Markdown.
    pub fn to_markdown(&self, digits: usize) -> String {
        let rows: Vec<(&str, &Scores)> = self
            .per_class
            .iter()
            .map(|c| (c.label.as_str(), &c.scores))
            .collect();
        let mut out = table::markdown(
            "class",
            &rows,
            &[
                ("macro avg", self.macro_avg),
                ("weighted avg", self.weighted),
            ],
            digits,
        );
        writeln!(
            out,
            "\nAccuracy: {:.digits$} ({} items); Matthews correlation: {:.digits$}",
            self.accuracy, self.support, self.mcc
        )
        .unwrap();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_binary_predictions_score_one() {
        let r = classification_report(&[0, 1, 1, 0], &[0, 1, 1, 0], &["neg", "pos"]).unwrap();
        assert_eq!((r.accuracy, r.mcc), (1.0, 1.0));
        assert_eq!(
            r.binary.unwrap(),
            Scores {
                precision: 1.0,
                recall: 1.0,
                f1: 1.0,
                support: 2
            }
        );
        assert_eq!(r.confusion_matrix.rows(), [vec![2, 0], vec![0, 2]]);
    }

    #[test]
    fn inverted_binary_predictions_have_mcc_minus_one() {
        let r = classification_report(&[0, 1, 1, 0], &[1, 0, 0, 1], &["neg", "pos"]).unwrap();
        assert_eq!(r.mcc, -1.0);
        assert_eq!(r.accuracy, 0.0);
    }

    #[test]
    fn a_constant_prediction_has_mcc_zero_not_nan() {
        let r = classification_report(&[0, 1, 1, 0], &[1, 1, 1, 1], &["neg", "pos"]).unwrap();
        assert_eq!(r.mcc, 0.0);
        assert_eq!(r.per_class[0].scores.precision, 0.0);
    }

    #[test]
    fn multiclass_has_no_binary_scores_and_macro_skips_absent_classes() {
        let r = classification_report(&[0, 1, 2, 2], &[0, 2, 2, 1], &["a", "b", "c", "d"]).unwrap();
        assert!(r.binary.is_none());
        // Class "d" occurs nowhere: the macro mean runs over a, b, c.
        let expected = (1.0 + 0.0 + 0.5) / 3.0;
        assert!((r.macro_avg.f1 - expected).abs() < 1e-15);
        assert_eq!(r.per_class[3].scores, Scores::default());
    }

    #[test]
    fn bad_input_is_an_error() {
        let err = classification_report(&[0, 1], &[0], &["a", "b"]).unwrap_err();
        assert_eq!(err.to_string(), "gold has 2 items but predicted has 1");
        let err = classification_report(&[0, 1], &[0, 2], &["a", "b"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "predicted label 2 at index 1 is out of range for 2 classes"
        );
    }

    #[test]
    fn the_text_report_shows_the_confusion_matrix() {
        let r = classification_report(&[0, 1, 1], &[0, 0, 1], &["negative", "positive"]).unwrap();
        let text = r.to_text(2);
        assert!(text.contains("negative         1         0\n"), "{text}");
        assert!(text.contains("positive         1         1\n"), "{text}");
        assert!(text.contains("Matthews correlation: 0.50"), "{text}");
        let md = r.to_markdown(2);
        assert!(md.contains("| negative | 0.50 | 1.00 | 0.67 | 1 |"), "{md}");
    }
}
