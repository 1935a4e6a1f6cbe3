//! Parity with Python seqeval 1.2.2, scikit-learn, scipy and the CoNLL `conlleval.pl`
//! script, against expectations committed under `tests/fixtures/expected/`
//! (regenerate them with `tests/fixtures/gen_expectations.py`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use bertlab_metrics::{
    classification_report, pearson, read_conll, score_conll_file, score_ner, spearman, LineError,
    MetricsError, Mode, NerEvaluator, NerReport, Scheme, SentenceError,
};
use serde_json::Value;

const TOLERANCE: f64 = 1e-12;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn close(actual: f64, expected: &Value, what: &str) {
    let expected = expected
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {expected}"));
    assert!(
        (actual - expected).abs() <= TOLERANCE,
        "{what}: got {actual}, expected {expected}"
    );
}

/// Compares a serialised score block (`precision`, `recall`, `f1`, `support`) with an expected one.
fn same_scores(actual: &Value, expected: &Value, what: &str) {
    for key in ["precision", "recall", "f1"] {
        close(
            actual[key].as_f64().unwrap(),
            &expected[key],
            &format!("{what}.{key}"),
        );
    }
    assert_eq!(actual["support"], expected["support"], "{what}.support");
}

fn same_score_map(actual: &Value, expected: &Value, what: &str) {
    let (a, e) = (actual.as_object().unwrap(), expected.as_object().unwrap());
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        e.keys().collect::<Vec<_>>(),
        "{what}: keys"
    );
    for (key, value) in e {
        same_scores(&a[key], value, &format!("{what}[{key}]"));
    }
}

fn strings(v: &Value) -> Vec<Vec<String>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s.as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

struct NerFixture {
    name: String,
    doc: Value,
}

fn ner_fixtures() -> Vec<NerFixture> {
    let mut out: Vec<NerFixture> = fs::read_dir(fixtures().join("expected/ner"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| NerFixture {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            doc: load(&path),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

impl NerFixture {
    fn source(&self) -> Option<PathBuf> {
        self.doc["source"].as_str().map(|s| fixtures().join(s))
    }

    fn score(&self, scheme: Scheme, mode: Mode) -> Result<NerReport, MetricsError> {
        match self.source() {
            Some(path) => score_conll_file(path, scheme, mode),
            None => score_ner(
                &strings(&self.doc["gold"]),
                &strings(&self.doc["predicted"]),
                scheme,
                mode,
            ),
        }
    }
}

#[test]
fn entity_scores_match_seqeval_for_every_scheme_and_mode() {
    let fixtures = ner_fixtures();
    assert!(
        fixtures.len() >= 18,
        "expected the committed fixtures, found {}",
        fixtures.len()
    );
    let (mut scored, mut errors, mut texts) = (0, 0, 0);
    for fixture in &fixtures {
        for case in fixture.doc["cases"].as_array().unwrap() {
            let scheme: Scheme = case["scheme"].as_str().unwrap().parse().unwrap();
            let mode: Mode = case["mode"].as_str().unwrap().parse().unwrap();
            let what = format!("{} {scheme} {mode}", fixture.name);
            let result = fixture.score(scheme, mode);
            if !case["error"].is_null() {
                check_error(result.expect_err(&what), &case["error"], &what);
                errors += 1;
                continue;
            }
            let report = result.unwrap_or_else(|e| panic!("{what}: {e}"));
            let actual = serde_json::to_value(&report.entity).unwrap();
            let expected = &case["entity"];
            close(
                report.entity.accuracy,
                &expected["accuracy"],
                &format!("{what} accuracy"),
            );
            for avg in ["micro", "macro", "weighted"] {
                same_scores(&actual[avg], &expected[avg], &format!("{what} {avg}"));
            }
            same_score_map(
                &actual["per_type"],
                &expected["per_type"],
                &format!("{what} per_type"),
            );
            for digits in [2, 4] {
                if let Some(text) = case[format!("seqeval_text_{digits}")].as_str() {
                    assert_eq!(
                        report.entity.to_text(digits),
                        text,
                        "{what}: text, {digits} digits"
                    );
                    texts += 1;
                }
            }
            scored += 1;
        }
    }
    // 18 inputs x 6 schemes x 2 modes, minus the strict cases seqeval rejects.
    assert_eq!(scored + errors, 18 * 12);
    assert!(
        scored >= 150 && errors >= 40 && texts >= 200,
        "{scored} {errors} {texts}"
    );
}

fn check_error(err: MetricsError, expected: &Value, what: &str) {
    let side = expected["side"].as_str().unwrap();
    let tag = expected["tag"].as_str().unwrap();
    match &err {
        MetricsError::Line {
            line,
            source: LineError::Tag {
                side: s, tag: t, ..
            },
            ..
        } => {
            assert_eq!(
                Some(*line as u64),
                expected["line"].as_u64(),
                "{what}: {err}"
            );
            assert_eq!((s.to_string().as_str(), t.as_str()), (side, tag), "{what}");
        }
        MetricsError::Sentence {
            sentence,
            source: SentenceError::Tag { side: s, source },
        } => {
            assert_eq!(
                Some(*sentence as u64),
                expected["sentence"].as_u64(),
                "{what}"
            );
            assert_eq!(
                Some(source.index as u64),
                expected["index"].as_u64(),
                "{what}"
            );
            assert_eq!(
                (s.to_string().as_str(), source.tag.as_str()),
                (side, tag),
                "{what}"
            );
        }
        other => panic!("{what}: unexpected error {other}"),
    }
}

#[test]
fn token_level_report_matches_sklearn() {
    let mut checked = 0;
    for fixture in ner_fixtures() {
        let expected = &fixture.doc["token_level"];
        // The token-level report does not depend on the scheme; conlleval mode never rejects a tag.
        let report = fixture
            .score(Scheme::Iob2, Mode::Conlleval)
            .unwrap()
            .token_level;
        let what = format!("{} token-level", fixture.name);
        let actual = serde_json::to_value(&report).unwrap();
        close(
            report.accuracy,
            &expected["accuracy"],
            &format!("{what} accuracy"),
        );
        assert_eq!(actual["support"], expected["support"], "{what} support");
        for avg in ["macro", "weighted"] {
            same_scores(&actual[avg], &expected[avg], &format!("{what} {avg}"));
        }
        same_score_map(
            &actual["per_tag"],
            &expected["per_tag"],
            &format!("{what} per_tag"),
        );
        assert!(report.per_tag.contains_key("O"), "{what}: O is reported");
        assert_eq!(
            report.to_text(2),
            expected["text_2"].as_str().unwrap(),
            "{what} text 2"
        );
        assert_eq!(
            report.to_text(4),
            expected["text_4"].as_str().unwrap(),
            "{what} text 4"
        );
        checked += 1;
    }
    assert_eq!(checked, 18);
}

/// Counts read from conlleval.pl's output.
#[derive(Debug, Default)]
struct PerlOutput {
    tokens: u64,
    phrases: u64,
    found: u64,
    correct: u64,
    accuracy: f64,
    overall: [f64; 3],
    /// Per type: precision, recall and FB1 in percent, and the number of phrases found.
    per_type: BTreeMap<String, ([f64; 3], u64)>,
}

fn numbers(line: &str) -> Vec<f64> {
    line.replace("FB1", "")
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|s| !s.is_empty() && *s != ".")
        .map(|s| s.trim_end_matches('.').parse().unwrap())
        .collect()
}

fn parse_perl(text: &str) -> PerlOutput {
    let mut lines = text.lines();
    let head = numbers(lines.next().unwrap());
    let mut out = PerlOutput {
        tokens: head[0] as u64,
        phrases: head[1] as u64,
        found: head[2] as u64,
        correct: head[3] as u64,
        ..Default::default()
    };
    if out.tokens == 0 {
        return out;
    }
    let overall = numbers(lines.next().unwrap());
    out.accuracy = overall[0];
    out.overall = [overall[1], overall[2], overall[3]];
    for line in lines {
        let (kind, rest) = line.split_once(": ").unwrap();
        let n = numbers(rest);
        out.per_type
            .insert(kind.trim().to_string(), ([n[0], n[1], n[2]], n[3] as u64));
    }
    out
}

fn percent_close(fraction: f64, printed: f64, what: &str) {
    assert!(
        (100.0 * fraction - printed).abs() <= 0.005 + 1e-9,
        "{what}: {} vs conlleval.pl {printed}",
        100.0 * fraction
    );
}

#[test]
fn conlleval_mode_matches_the_perl_script() {
    let mut checked = 0;
    for fixture in ner_fixtures() {
        let Some(text) = fixture.doc["conlleval_pl"].as_str() else {
            continue;
        };
        let perl = parse_perl(text);
        let path = fixture.source().unwrap();
        let file = fs::File::open(&path).unwrap();
        for scheme in [Scheme::Iob1, Scheme::Iob2, Scheme::Ioe1, Scheme::Ioe2] {
            let what = format!("{} {scheme}", fixture.name);
            let mut eval = NerEvaluator::new(scheme, Mode::Conlleval);
            for sentence in read_conll(std::io::BufReader::new(&file), "fixture") {
                let sentence = sentence.unwrap();
                eval.add_sentence(&sentence.gold, &sentence.predicted)
                    .unwrap();
            }
            // Re-read the file for the next scheme.
            std::io::Seek::rewind(&mut &file).unwrap();
            let counts = eval.entity_counts();
            let sum = |f: fn(&bertlab_metrics::Counts) -> u64| counts.values().map(f).sum::<u64>();
            assert_eq!(eval.tokens(), perl.tokens, "{what}: tokens");
            assert_eq!(sum(|c| c.gold), perl.phrases, "{what}: gold phrases");
            assert_eq!(sum(|c| c.predicted), perl.found, "{what}: found phrases");
            assert_eq!(
                sum(|c| c.true_positives),
                perl.correct,
                "{what}: correct phrases"
            );
            let scores = eval.entity_scores();
            if perl.tokens > 0 {
                percent_close(scores.accuracy, perl.accuracy, &what);
                percent_close(scores.micro.precision, perl.overall[0], &what);
                percent_close(scores.micro.recall, perl.overall[1], &what);
                percent_close(scores.micro.f1, perl.overall[2], &what);
            }
            for (kind, (figures, found)) in &perl.per_type {
                let s = &scores.per_type[kind];
                assert_eq!(counts[kind].predicted, *found, "{what} {kind}: found");
                percent_close(s.precision, figures[0], &format!("{what} {kind}"));
                percent_close(s.recall, figures[1], &format!("{what} {kind}"));
                percent_close(s.f1, figures[2], &format!("{what} {kind}"));
            }
            let with_entities: Vec<&String> = counts
                .iter()
                .filter(|(_, c)| c.gold + c.predicted > 0)
                .map(|(k, _)| k)
                .collect();
            assert_eq!(
                with_entities,
                perl.per_type.keys().collect::<Vec<_>>(),
                "{what}: types"
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} conlleval.pl outputs");
}

#[test]
fn classification_matches_sklearn() {
    let cases = load(&fixtures().join("expected/classification.json"));
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let what = case["name"].as_str().unwrap();
        let labels: Vec<&str> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let ints = |key: &str| -> Vec<usize> {
            case[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect()
        };
        let report = classification_report(&ints("gold"), &ints("predicted"), &labels).unwrap();
        let actual = serde_json::to_value(&report).unwrap();
        close(
            report.accuracy,
            &case["accuracy"],
            &format!("{what} accuracy"),
        );
        close(report.mcc, &case["mcc"], &format!("{what} mcc"));
        assert_eq!(
            actual["confusion_matrix"], case["confusion_matrix"],
            "{what}"
        );
        for avg in ["macro", "weighted"] {
            for key in ["precision", "recall", "f1"] {
                close(
                    actual[avg][key].as_f64().unwrap(),
                    &case[avg][key],
                    &format!("{what} {avg} {key}"),
                );
            }
        }
        match (&report.binary, case["binary"].is_null()) {
            (Some(b), false) => {
                close(b.precision, &case["binary"]["precision"], what);
                close(b.recall, &case["binary"]["recall"], what);
                close(b.f1, &case["binary"]["f1"], what);
            }
            (None, true) => {}
            _ => panic!("{what}: binary scores present iff two classes"),
        }
        for (i, expected) in case["per_class"].as_array().unwrap().iter().enumerate() {
            assert_eq!(report.per_class[i].label, labels[i]);
            same_scores(
                &actual["per_class"][i],
                expected,
                &format!("{what} class {i}"),
            );
        }
    }
}

#[test]
fn correlations_match_scipy() {
    let cases = load(&fixtures().join("expected/regression.json"));
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let what = case["name"].as_str().unwrap();
        let floats = |key: &str| -> Vec<f64> {
            case[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let (gold, predicted) = (floats("gold"), floats("predicted"));
        close(
            pearson(&gold, &predicted).unwrap(),
            &case["pearson"],
            &format!("{what} pearson"),
        );
        close(
            spearman(&gold, &predicted).unwrap(),
            &case["spearman"],
            &format!("{what} spearman"),
        );
    }
}
