//! Entity-level (seqeval/conlleval) and token-level scoring of tagged sentences.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, SentenceError, Side};
use crate::scheme::{extract_into, tag_type, validate_strict, Entity, Mode, Scheme};
use crate::table;

/// Precision, recall, F1 (fractions in `[0, 1]`) and support (number of gold items).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Scores {
    /// Correct predictions over all predictions; 0 when nothing was predicted.
    pub precision: f64,
    /// Correct predictions over all gold items; 0 when there are none.
    pub recall: f64,
    /// Harmonic mean of precision and recall; 0 when both are 0.
    pub f1: f64,
    /// Number of gold items.
    pub support: u64,
}

/// Counts behind precision and recall for one entity type, tag or class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Predicted items that match a gold item exactly.
    pub true_positives: u64,
    /// All predicted items.
    pub predicted: u64,
    /// All gold items.
    pub gold: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.true_positives += other.true_positives;
        self.predicted += other.predicted;
        self.gold += other.gold;
    }

    /// Scores as seqeval computes them: F1 from the precision and recall.
    pub fn scores(&self) -> Scores {
        let precision = ratio(self.true_positives, self.predicted);
        let recall = ratio(self.true_positives, self.gold);
        Scores {
            precision,
            recall,
            f1: harmonic_mean(precision, recall),
            support: self.gold,
        }
    }

    /// Scores as scikit-learn computes them: F1 as `2·tp / (gold + predicted)`.
    pub fn sklearn_scores(&self) -> Scores {
        Scores {
            precision: ratio(self.true_positives, self.predicted),
            recall: ratio(self.true_positives, self.gold),
            f1: ratio(2 * self.true_positives, self.gold + self.predicted),
            support: self.gold,
        }
    }
}

/// `num / den`, or 0 when `den` is 0 (seqeval's and sklearn's `zero_division=0`).
pub(crate) fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

pub(crate) fn harmonic_mean(precision: f64, recall: f64) -> f64 {
    let denom = precision + recall;
    if denom == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / denom
    }
}

/// Unweighted and support-weighted means of per-item scores, as numpy's `average`.
pub(crate) fn macro_and_weighted<'a>(
    items: impl Iterator<Item = &'a Scores> + Clone,
) -> (Scores, Scores) {
    let support: u64 = items.clone().map(|s| s.support).sum();
    let n = items.clone().count();
    let mean = |f: fn(&Scores) -> f64| {
        if n == 0 {
            0.0
        } else {
            items.clone().map(f).sum::<f64>() / n as f64
        }
    };
    let weighted_mean = |f: fn(&Scores) -> f64| {
        if support == 0 {
            0.0
        } else {
            items.clone().map(|s| f(s) * s.support as f64).sum::<f64>() / support as f64
        }
    };
    let macro_avg = Scores {
        precision: mean(|s| s.precision),
        recall: mean(|s| s.recall),
        f1: mean(|s| s.f1),
        support,
    };
    let weighted = Scores {
        precision: weighted_mean(|s| s.precision),
        recall: weighted_mean(|s| s.recall),
        f1: weighted_mean(|s| s.f1),
        support,
    };
    (macro_avg, weighted)
}

/// Accumulates gold and predicted tag sequences, sentence by sentence, and scores them.
///
/// Entities are compared exactly: same type, same first and last token. Sentences
/// can be added in any order and in several batches; [`NerEvaluator::merge`] joins
/// evaluators filled separately.
///
/// ```
/// use bertlab_metrics::{Mode, NerEvaluator, Scheme};
///
/// let mut eval = NerEvaluator::new(Scheme::Iob2, Mode::Conlleval);
/// eval.add_sentence(&["B-PER", "I-PER", "O"], &["B-PER", "I-PER", "O"]).unwrap();
/// eval.add_sentence(&["B-LOC", "O"], &["O", "O"]).unwrap();
/// let scores = eval.entity_scores();
/// assert_eq!(scores.micro.precision, 1.0);
/// assert_eq!(scores.micro.recall, 0.5);
/// assert_eq!(scores.per_type["LOC"].recall, 0.0);
/// ```
#[derive(Debug, Clone)]
pub struct NerEvaluator {
    scheme: Scheme,
    mode: Mode,
    entities: BTreeMap<String, Counts>,
    tags: BTreeMap<String, Counts>,
    sentences: u64,
    tokens: u64,
    correct_tokens: u64,
}

impl NerEvaluator {
    /// An empty evaluator reading tags under `scheme` in `mode`.
    pub fn new(scheme: Scheme, mode: Mode) -> Self {
        NerEvaluator {
            scheme,
            mode,
            entities: BTreeMap::new(),
            tags: BTreeMap::new(),
            sentences: 0,
            tokens: 0,
            correct_tokens: 0,
        }
    }

    /// The scheme tags are read under.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The extraction mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Number of sentences added so far.
    pub fn sentences(&self) -> u64 {
        self.sentences
    }

    /// Number of tokens added so far.
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    /// Entity counts per type: every type seen in a gold or predicted tag.
    pub fn entity_counts(&self) -> &BTreeMap<String, Counts> {
        &self.entities
    }

    /// Token counts per tag (`O` included).
    pub fn tag_counts(&self) -> &BTreeMap<String, Counts> {
        &self.tags
    }

    /// Adds one sentence: its gold tags and the predicted tags, of equal length.
    ///
    /// On error nothing is added.
    pub fn add_sentence<S: AsRef<str>, T: AsRef<str>>(
        &mut self,
        gold: &[S],
        predicted: &[T],
    ) -> Result<(), SentenceError> {
        if gold.len() != predicted.len() {
            return Err(SentenceError::LengthMismatch {
                gold: gold.len(),
                predicted: predicted.len(),
            });
        }
        if self.mode == Mode::Strict {
            // Report the first bad tag in reading order (gold before predicted on one line).
            for (i, (g, p)) in gold.iter().zip(predicted).enumerate() {
                validate_strict(std::slice::from_ref(g), self.scheme).map_err(|mut source| {
                    source.index = i;
                    SentenceError::Tag {
                        side: Side::Gold,
                        source,
                    }
                })?;
                validate_strict(std::slice::from_ref(p), self.scheme).map_err(|mut source| {
                    source.index = i;
                    SentenceError::Tag {
                        side: Side::Predicted,
                        source,
                    }
                })?;
            }
        }
        let mut gold_entities = Vec::new();
        let mut predicted_entities = Vec::new();
        extract_into(gold, self.scheme, self.mode, &mut gold_entities)
            .and_then(|()| extract_into(predicted, self.scheme, self.mode, &mut predicted_entities))
            .expect("tags were validated above");
        self.count_entities(&gold_entities, &predicted_entities);
        self.count_tags(gold, predicted);
        self.sentences += 1;
        Ok(())
    }

    /// Applies `update` to the counts under `key`, inserting zero counts first if needed.
    fn bump(map: &mut BTreeMap<String, Counts>, key: &str, update: impl FnOnce(&mut Counts)) {
        match map.get_mut(key) {
            Some(counts) => update(counts),
            None => {
                let mut counts = Counts::default();
                update(&mut counts);
                map.insert(key.to_string(), counts);
            }
        }
    }

    fn count_entities(&mut self, gold: &[Entity<'_>], predicted: &[Entity<'_>]) {
        for e in gold {
            Self::bump(&mut self.entities, e.kind, |c| c.gold += 1);
        }
        for e in predicted {
            Self::bump(&mut self.entities, e.kind, |c| c.predicted += 1);
        }
        // Both lists are ordered by start and do not overlap: merge them.
        let (mut i, mut j) = (0, 0);
        while i < gold.len() && j < predicted.len() {
            let (g, p) = (&gold[i], &predicted[j]);
            if (g.start, g.end) == (p.start, p.end) {
                if g.kind == p.kind {
                    Self::bump(&mut self.entities, g.kind, |c| c.true_positives += 1);
                }
                i += 1;
                j += 1;
            } else if (g.start, g.end) < (p.start, p.end) {
                i += 1;
            } else {
                j += 1;
            }
        }
    }

    fn count_tags<S: AsRef<str>, T: AsRef<str>>(&mut self, gold: &[S], predicted: &[T]) {
        let mut last_type: Option<&str> = None;
        for (g, p) in gold.iter().zip(predicted) {
            let (g, p) = (g.as_ref(), p.as_ref());
            // Every type named by a tag is listed, even one that forms no entity.
            for tag in [g, p] {
                if let Some(kind) = tag_type(tag) {
                    if last_type != Some(kind) {
                        Self::bump(&mut self.entities, kind, |_| {});
                        last_type = Some(kind);
                    }
                }
            }
            self.tokens += 1;
            if g == p {
                self.correct_tokens += 1;
                Self::bump(&mut self.tags, g, |c| {
                    c.true_positives += 1;
                    c.gold += 1;
                    c.predicted += 1;
                });
            } else {
                Self::bump(&mut self.tags, g, |c| c.gold += 1);
                Self::bump(&mut self.tags, p, |c| c.predicted += 1);
            }
        }
    }

    /// Adds everything another evaluator has counted; both must use the same scheme and mode.
    ///
    /// # Panics
    /// If the schemes or modes differ (a programming error, not bad input).
    pub fn merge(&mut self, other: &NerEvaluator) {
        assert_eq!(
            (self.scheme, self.mode),
            (other.scheme, other.mode),
            "merging evaluators of different schemes or modes"
        );
        for (kind, c) in &other.entities {
            Self::bump(&mut self.entities, kind, |mine| mine.add(*c));
        }
        for (tag, c) in &other.tags {
            Self::bump(&mut self.tags, tag, |mine| mine.add(*c));
        }
        self.sentences += other.sentences;
        self.tokens += other.tokens;
        self.correct_tokens += other.correct_tokens;
    }

    /// Token accuracy: the fraction of tokens whose predicted tag equals the gold tag (0 with no tokens).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct_tokens, self.tokens)
    }

    /// Entity-level precision, recall and F1 per type and averaged, plus token accuracy.
    pub fn entity_scores(&self) -> EntityScores {
        let per_type: BTreeMap<String, Scores> = self
            .entities
            .iter()
            .map(|(kind, c)| (kind.clone(), c.scores()))
            .collect();
        let mut pooled = Counts::default();
        for c in self.entities.values() {
            pooled.add(*c);
        }
        // As seqeval: average over the types that have a gold or predicted entity.
        let (macro_avg, weighted) = macro_and_weighted(
            self.entities
                .iter()
                .filter(|(_, c)| c.gold + c.predicted > 0)
                .map(|(kind, _)| &per_type[kind]),
        );
        EntityScores {
            accuracy: self.accuracy(),
            micro: pooled.scores(),
            macro_avg,
            weighted,
            per_type,
        }
    }

    /// The token-level (per-tag) report that scikit-learn prints, `O` included.
    pub fn token_report(&self) -> TokenReport {
        let per_tag: BTreeMap<String, Scores> = self
            .tags
            .iter()
            .map(|(tag, c)| (tag.clone(), c.sklearn_scores()))
            .collect();
        let (macro_avg, weighted) = macro_and_weighted(per_tag.values());
        TokenReport {
            accuracy: self.accuracy(),
            macro_avg,
            weighted,
            support: self.tokens,
            per_tag,
        }
    }

    /// Everything: entity-level scores, the token-level report and the settings used.
    pub fn report(&self) -> NerReport {
        NerReport {
            scheme: self.scheme,
            mode: self.mode,
            sentences: self.sentences,
            tokens: self.tokens,
            entity: self.entity_scores(),
            token_level: self.token_report(),
        }
    }
}

/// Scores gold and predicted tag sequences, one per sentence, in one call.
///
/// ```
/// use bertlab_metrics::{score_ner, Mode, Scheme};
///
/// let gold = vec![vec!["B-PER", "I-PER", "O"], vec!["B-LOC", "O"]];
/// let predicted = vec![vec!["B-PER", "I-PER", "O"], vec!["B-ORG", "O"]];
/// let report = score_ner(&gold, &predicted, Scheme::Iob2, Mode::Conlleval).unwrap();
/// assert_eq!(report.entity.micro.f1, 0.5);
/// assert_eq!(report.entity.per_type.keys().collect::<Vec<_>>(), ["LOC", "ORG", "PER"]);
/// ```
pub fn score_ner<S: AsRef<str>, T: AsRef<str>>(
    gold: &[impl AsRef<[S]>],
    predicted: &[impl AsRef<[T]>],
    scheme: Scheme,
    mode: Mode,
) -> Result<NerReport, MetricsError> {
    if gold.len() != predicted.len() {
        return Err(MetricsError::SentenceCount {
            gold: gold.len(),
            predicted: predicted.len(),
        });
    }
    let mut eval = NerEvaluator::new(scheme, mode);
    for (sentence, (g, p)) in gold.iter().zip(predicted).enumerate() {
        eval.add_sentence(g.as_ref(), p.as_ref())
            .map_err(|source| MetricsError::Sentence { sentence, source })?;
    }
    Ok(eval.report())
}

/// Entity-level scores; its JSON form is the `bertlab score ner --format json` contract.
///
/// `per_type` lists every type found in a gold or predicted tag. The macro and
/// weighted averages, like seqeval's, run over the types that have at least one gold
/// or predicted entity, so a type seen only in tags that form no entity (a stray
/// `I-` in strict mode) is listed with zeros but does not lower the macro average.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityScores {
    /// Token accuracy (tags compared as whole strings), `O` included.
    pub accuracy: f64,
    /// Scores of the pooled counts over all types.
    pub micro: Scores,
    /// Unweighted mean of the per-type scores.
    #[serde(rename = "macro")]
    pub macro_avg: Scores,
    /// Mean of the per-type scores weighted by support.
    pub weighted: Scores,
    /// Scores per entity type, in sorted order.
    pub per_type: BTreeMap<String, Scores>,
}

impl EntityScores {
    /// The table of seqeval's `classification_report(y_true, y_pred, digits=digits)`.
    pub fn to_text(&self, digits: usize) -> String {
        let rows: Vec<(&str, &Scores)> =
            self.per_type.iter().map(|(k, s)| (k.as_str(), s)).collect();
        table::seqeval(
            &rows,
            [
                ("micro avg", &self.micro),
                ("macro avg", &self.macro_avg),
                ("weighted avg", &self.weighted),
            ],
            digits,
        )
    }

    /// The same table in Markdown, followed by the token accuracy.
    pub fn to_markdown(&self, digits: usize) -> String {
        let rows: Vec<(&str, &Scores)> =
            self.per_type.iter().map(|(k, s)| (k.as_str(), s)).collect();
        let mut out = table::markdown(
            "entity type",
            &rows,
            &[
                ("micro avg", self.micro),
                ("macro avg", self.macro_avg),
                ("weighted avg", self.weighted),
            ],
            digits,
        );
        writeln!(out, "\nToken accuracy: {:.digits$}", self.accuracy).unwrap();
        out
    }

    /// Pretty-printed JSON of the CLI contract's shape.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("scores serialise to JSON")
    }
}

/// Token-level scores per tag, `O` included, as scikit-learn's `classification_report`
/// prints them over flattened tags.
///
/// This is not entity-level F1: it rewards each correct token, and the frequent `O`
/// tag inflates its averages and accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenReport {
    /// Fraction of tokens tagged correctly.
    pub accuracy: f64,
    /// Unweighted mean over tags.
    #[serde(rename = "macro")]
    pub macro_avg: Scores,
    /// Mean over tags weighted by support.
    pub weighted: Scores,
    /// Number of tokens.
    pub support: u64,
    /// Scores per tag (F1 as `2·tp / (gold + predicted)`), in sorted order.
    pub per_tag: BTreeMap<String, Scores>,
}

/// The title printed over [`TokenReport`] tables so nobody takes them for entity F1.
pub const TOKEN_REPORT_TITLE: &str =
    "Token-level report (per tag, O included; NOT entity-level F1, inflated by the O tag)";

impl TokenReport {
    /// scikit-learn's `classification_report(flat_true, flat_pred, digits=digits)` table.
    pub fn to_text(&self, digits: usize) -> String {
        let rows: Vec<(&str, &Scores)> =
            self.per_tag.iter().map(|(k, s)| (k.as_str(), s)).collect();
        table::sklearn(
            &rows,
            self.accuracy,
            self.support,
            [
                ("macro avg", &self.macro_avg),
                ("weighted avg", &self.weighted),
            ],
            digits,
        )
    }

    /// The same table in Markdown, followed by the token accuracy.
    pub fn to_markdown(&self, digits: usize) -> String {
        let rows: Vec<(&str, &Scores)> =
            self.per_tag.iter().map(|(k, s)| (k.as_str(), s)).collect();
        let mut out = table::markdown(
            "tag",
            &rows,
            &[
                ("macro avg", self.macro_avg),
                ("weighted avg", self.weighted),
            ],
            digits,
        );
        writeln!(
            out,
            "\nToken accuracy: {:.digits$} ({} tokens)",
            self.accuracy, self.support
        )
        .unwrap();
        out
    }
}

/// A full NER evaluation: settings, entity-level scores and the token-level report.
///
/// Serialises to JSON for `metrics.json`; [`NerReport::to_text`] gives `report.txt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NerReport {
    /// Scheme the tags were read under.
    pub scheme: Scheme,
    /// Extraction mode.
    pub mode: Mode,
    /// Number of sentences scored.
    pub sentences: u64,
    /// Number of tokens scored.
    pub tokens: u64,
    /// Entity-level scores (the standard measure).
    pub entity: EntityScores,
    /// Token-level scores per tag, `O` included.
    pub token_level: TokenReport,
}

impl NerReport {
    /// Both reports as text, each under a heading that says what it measures (4 digits).
    pub fn to_text(&self) -> String {
        const DIGITS: usize = 4;
        format!(
            "Entity-level scores ({} scheme, {} mode; sentences: {}, tokens: {})\n\n{}\nToken accuracy: {:.DIGITS$}\n\n{TOKEN_REPORT_TITLE}\n\n{}",
            self.scheme,
            self.mode,
            self.sentences,
            self.tokens,
            self.entity.to_text(DIGITS),
            self.entity.accuracy,
            self.token_level.to_text(DIGITS),
        )
    }

    /// Both reports as Markdown sections (4 digits).
    pub fn to_markdown(&self) -> String {
        const DIGITS: usize = 4;
        format!(
            "## Entity-level scores\n\n{} scheme, {} mode; sentences: {}, tokens: {}.\n\n{}\n## {TOKEN_REPORT_TITLE}\n\n{}",
            self.scheme,
            self.mode,
            self.sentences,
            self.tokens,
            self.entity.to_markdown(DIGITS),
            self.token_level.to_markdown(DIGITS),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(scheme: Scheme, mode: Mode, pairs: &[(&[&str], &[&str])]) -> NerEvaluator {
        let mut e = NerEvaluator::new(scheme, mode);
        for (g, p) in pairs {
            e.add_sentence(g, p).unwrap();
        }
        e
    }

    #[test]
    fn seqeval_docstring_example() {
        // seqeval's own doc example: MISC is mispredicted, PER is right.
        let e = eval(
            Scheme::Iob2,
            Mode::Conlleval,
            &[
                (
                    &["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"],
                    &["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"],
                ),
                (&["B-PER", "I-PER", "O"], &["B-PER", "I-PER", "O"]),
            ],
        );
        let s = e.entity_scores();
        assert_eq!(s.accuracy, 0.8);
        assert_eq!(
            (
                s.micro.precision,
                s.micro.recall,
                s.micro.f1,
                s.micro.support
            ),
            (0.5, 0.5, 0.5, 2)
        );
        assert_eq!(s.macro_avg.f1, 0.5);
        assert_eq!(s.weighted.f1, 0.5);
        assert_eq!(
            s.to_text(2),
            "              precision    recall  f1-score   support\n\n        MISC       0.00      0.00      0.00         1\n         PER       1.00      1.00      1.00         1\n\n   micro avg       0.50      0.50      0.50         2\n   macro avg       0.50      0.50      0.50         2\nweighted avg       0.50      0.50      0.50         2\n"
        );
    }

    #[test]
    fn no_predicted_entities_gives_zero_precision_not_nan() {
        let e = eval(
            Scheme::Iob2,
            Mode::Conlleval,
            &[(&["B-PER", "O"], &["O", "O"])],
        );
        let s = e.entity_scores();
        assert_eq!(
            s.micro,
            Scores {
                precision: 0.0,
                recall: 0.0,
                f1: 0.0,
                support: 1
            }
        );
        assert_eq!(s.per_type["PER"].precision, 0.0);
        assert!(s.to_json().contains("\"precision\": 0.0"));
    }

    #[test]
    fn all_outside_input_scores_zero_entities_and_full_accuracy() {
        let e = eval(
            Scheme::Iob2,
            Mode::Strict,
            &[(&["O", "O"], &["O", "O"]), (&[], &[])],
        );
        let s = e.entity_scores();
        assert!(s.per_type.is_empty());
        assert_eq!(s.accuracy, 1.0);
        for avg in [s.micro, s.macro_avg, s.weighted] {
            assert_eq!(avg, Scores::default());
        }
        assert_eq!(e.sentences(), 2);
        assert_eq!(e.tokens(), 2);
    }

    #[test]
    fn an_empty_evaluator_scores_zero_everywhere() {
        let e = NerEvaluator::new(Scheme::Iob2, Mode::Conlleval);
        let report = e.report();
        assert_eq!(report.entity.accuracy, 0.0);
        assert_eq!(report.token_level.accuracy, 0.0);
        assert!(report.token_level.per_tag.is_empty());
    }

    #[test]
    fn stray_types_are_listed_but_left_out_of_the_macro_average() {
        // Strict IOB2: the predicted `I-ORG` forms no entity.
        let e = eval(
            Scheme::Iob2,
            Mode::Strict,
            &[(&["B-PER", "O"], &["B-PER", "I-ORG"])],
        );
        let s = e.entity_scores();
        assert_eq!(s.per_type.keys().collect::<Vec<_>>(), ["ORG", "PER"]);
        assert_eq!(s.per_type["ORG"], Scores::default());
        assert_eq!(s.macro_avg.f1, 1.0);
    }

    #[test]
    fn a_type_change_inside_an_entity_splits_it_in_conlleval_mode() {
        let e = eval(
            Scheme::Iob2,
            Mode::Conlleval,
            &[(&["B-ORG", "I-ORG", "I-ORG"], &["B-ORG", "I-LOC", "I-ORG"])],
        );
        let c = e.entity_counts();
        assert_eq!(
            c["ORG"],
            Counts {
                true_positives: 0,
                predicted: 2,
                gold: 1
            }
        );
        assert_eq!(
            c["LOC"],
            Counts {
                true_positives: 0,
                predicted: 1,
                gold: 0
            }
        );
    }

    #[test]
    fn a_wrong_type_on_the_right_span_is_not_a_match() {
        let e = eval(
            Scheme::Iob2,
            Mode::Conlleval,
            &[(&["B-PER", "I-PER"], &["B-LOC", "I-LOC"])],
        );
        assert_eq!(e.entity_counts()["PER"].true_positives, 0);
        assert_eq!(e.entity_scores().micro.f1, 0.0);
    }

    #[test]
    fn errors_leave_the_evaluator_unchanged() {
        let mut e = NerEvaluator::new(Scheme::Iob2, Mode::Strict);
        let err = e.add_sentence(&["B-PER", "O"], &["O"]).unwrap_err();
        assert_eq!(
            err,
            SentenceError::LengthMismatch {
                gold: 2,
                predicted: 1
            }
        );
        let err = e
            .add_sentence(&["B-PER", "S-PER"], &["E-PER", "O"])
            .unwrap_err();
        match &err {
            SentenceError::Tag { side, source } => {
                assert_eq!(
                    (*side, source.index, source.tag.as_str()),
                    (Side::Predicted, 0, "E-PER")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with("predicted tag \"E-PER\" at position 0"),
            "{err}"
        );
        assert_eq!((e.sentences(), e.tokens()), (0, 0));
        assert!(e.entity_counts().is_empty() && e.tag_counts().is_empty());
    }

    #[test]
    fn merging_equals_adding_everything_to_one_evaluator() {
        let a: (&[&str], &[&str]) = (&["B-PER", "I-PER", "O"], &["B-PER", "O", "O"]);
        let b: (&[&str], &[&str]) = (&["B-LOC", "O"], &["B-LOC", "B-ORG"]);
        let mut left = eval(Scheme::Iob2, Mode::Conlleval, &[a]);
        left.merge(&eval(Scheme::Iob2, Mode::Conlleval, &[b]));
        let both = eval(Scheme::Iob2, Mode::Conlleval, &[a, b]);
        assert_eq!(left.report(), both.report());
    }

    #[test]
    fn token_report_counts_o_and_uses_sklearn_f1() {
        let e = eval(
            Scheme::Iob2,
            Mode::Conlleval,
            &[(&["O", "O", "B-PER", "I-PER"], &["O", "B-PER", "B-PER", "O"])],
        );
        let t = e.token_report();
        assert_eq!(
            t.per_tag["O"],
            Scores {
                precision: 0.5,
                recall: 0.5,
                f1: 0.5,
                support: 2
            }
        );
        assert_eq!(t.per_tag["B-PER"].precision, 0.5);
        assert_eq!(t.per_tag["B-PER"].f1, 2.0 / 3.0);
        assert_eq!(
            t.per_tag["I-PER"],
            Scores {
                precision: 0.0,
                recall: 0.0,
                f1: 0.0,
                support: 1
            }
        );
        assert_eq!(t.accuracy, 0.5);
        assert_eq!(t.support, 4);
        let text = t.to_text(2);
        assert!(
            text.contains("    accuracy                           0.50         4\n"),
            "{text}"
        );
    }

    #[test]
    fn markdown_escapes_pipes_and_lists_averages() {
        let e = eval(Scheme::Iob2, Mode::Conlleval, &[(&["B-A|B"], &["B-A|B"])]);
        let md = e.entity_scores().to_markdown(2);
        assert!(md.contains("| A\\|B | 1.00 | 1.00 | 1.00 | 1 |"), "{md}");
        assert!(
            md.contains("| *weighted avg* | 1.00 | 1.00 | 1.00 | 1 |"),
            "{md}"
        );
        let report = e.report().to_markdown();
        assert!(report.contains("## Entity-level scores"));
        assert!(report.contains(TOKEN_REPORT_TITLE));
    }

    #[test]
    fn the_full_text_report_labels_both_tables() {
        let e = eval(
            Scheme::Iob1,
            Mode::Conlleval,
            &[(&["I-PER", "O"], &["I-PER", "O"])],
        );
        let text = e.report().to_text();
        assert!(
            text.starts_with(
                "Entity-level scores (iob1 scheme, conlleval mode; sentences: 1, tokens: 2)"
            ),
            "{text}"
        );
        let entity_at = text.find("micro avg").unwrap();
        let token_at = text.find(TOKEN_REPORT_TITLE).unwrap();
        assert!(entity_at < token_at);
        assert!(text[token_at..].contains("accuracy"));
    }
}
