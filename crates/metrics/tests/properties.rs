//! Properties that hold for any input: perfect predictions score 1, scores lie in
//! `[0, 1]`, sentence order does not matter, micro averages are the pooled counts.

use bertlab_metrics::{
    classification_report, extract_entities, pearson, score_ner, spearman, Counts, Mode, NerReport,
    Scheme, Scores,
};
use proptest::prelude::*;

const TYPES: [&str; 3] = ["PER", "LOC", "ORG"];
const MODES: [Mode; 2] = [Mode::Conlleval, Mode::Strict];

fn prefixes(scheme: Scheme) -> &'static [&'static str] {
    match scheme {
        Scheme::Iob1 | Scheme::Iob2 => &["B", "I", "O"],
        Scheme::Ioe1 | Scheme::Ioe2 => &["I", "E", "O"],
        Scheme::Iobes => &["B", "I", "E", "S", "O"],
        Scheme::Bilou => &["B", "I", "L", "U", "O"],
    }
}

/// Any tag with a prefix the scheme allows, so strict mode accepts it.
fn tag(scheme: Scheme) -> impl Strategy<Value = String> {
    (
        prop::sample::select(prefixes(scheme)),
        prop::sample::select(&TYPES[..]),
    )
        .prop_map(|(prefix, kind)| {
            if prefix == "O" {
                "O".to_string()
            } else {
                format!("{prefix}-{kind}")
            }
        })
}

/// Sentences as (gold tags, predicted tags).
type Corpus = Vec<(Vec<String>, Vec<String>)>;

/// Sentences of arbitrary (often invalid) gold and predicted tags, empty sentences included.
fn corpus(scheme: Scheme) -> impl Strategy<Value = Corpus> {
    prop::collection::vec(
        prop::collection::vec((tag(scheme), tag(scheme)), 0..12)
            .prop_map(|pairs| pairs.into_iter().unzip()),
        0..10,
    )
}

fn scheme_and_corpus() -> impl Strategy<Value = (Scheme, Corpus)> {
    prop::sample::select(&Scheme::ALL[..]).prop_flat_map(|scheme| (Just(scheme), corpus(scheme)))
}

/// Entities as `(start, end, type)` with `end` exclusive.
type Spans = Vec<(usize, usize, usize)>;

/// Encodes entity spans in a scheme's well-formed tags.
fn encode(spans: &Spans, len: usize, scheme: Scheme) -> Vec<String> {
    let mut tags = vec!["O".to_string(); len];
    for (k, &(start, end, kind)) in spans.iter().enumerate() {
        let name = TYPES[kind];
        let joined_before = k > 0 && spans[k - 1].1 == start && spans[k - 1].2 == kind;
        let joined_after = k + 1 < spans.len() && spans[k + 1].0 == end && spans[k + 1].2 == kind;
        let set =
            |tags: &mut Vec<String>, i: usize, prefix: &str| tags[i] = format!("{prefix}-{name}");
        for i in start..end {
            set(&mut tags, i, "I");
        }
        match scheme {
            Scheme::Iob2 => set(&mut tags, start, "B"),
            Scheme::Iob1 if joined_before => set(&mut tags, start, "B"),
            Scheme::Ioe2 => set(&mut tags, end - 1, "E"),
            Scheme::Ioe1 if joined_after => set(&mut tags, end - 1, "E"),
            Scheme::Iobes | Scheme::Bilou => {
                let (single, begin, last) = if scheme == Scheme::Iobes {
                    ("S", "B", "E")
                } else {
                    ("U", "B", "L")
                };
                if end - start == 1 {
                    set(&mut tags, start, single);
                } else {
                    set(&mut tags, start, begin);
                    set(&mut tags, end - 1, last);
                }
            }
            _ => {}
        }
    }
    tags
}

/// Random non-overlapping spans over a sentence of random length (adjacent ones included).
fn spans() -> impl Strategy<Value = (Spans, usize)> {
    prop::collection::vec((0..3usize, 1..4usize, 0..3usize), 0..6).prop_map(|pieces| {
        let mut spans = Vec::new();
        let mut at = 0;
        for (gap, len, kind) in pieces {
            at += gap;
            spans.push((at, at + len, kind));
            at += len;
        }
        (spans, at + 1)
    })
}

fn all_scores(report: &NerReport) -> Vec<(String, Scores)> {
    let e = &report.entity;
    let t = &report.token_level;
    let mut out = vec![
        ("micro".to_string(), e.micro),
        ("macro".to_string(), e.macro_avg),
        ("weighted".to_string(), e.weighted),
        ("token macro".to_string(), t.macro_avg),
        ("token weighted".to_string(), t.weighted),
    ];
    out.extend(e.per_type.iter().map(|(k, s)| (k.clone(), *s)));
    out.extend(t.per_tag.iter().map(|(k, s)| (format!("tag {k}"), *s)));
    out
}

fn split(corpus: &[(Vec<String>, Vec<String>)]) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    corpus.iter().cloned().unzip()
}

proptest! {
    #[test]
    fn a_perfect_prediction_of_well_formed_tags_scores_one(
        scheme in prop::sample::select(&Scheme::ALL[..]),
        sentences in prop::collection::vec(spans(), 1..6),
    ) {
        let gold: Vec<Vec<String>> = sentences.iter().map(|(s, len)| encode(s, *len, scheme)).collect();
        let entities: usize = sentences.iter().map(|(s, _)| s.len()).sum();
        for mode in MODES {
            let report = score_ner(&gold, &gold, scheme, mode).unwrap();
            let e = &report.entity;
            prop_assert_eq!(e.accuracy, 1.0);
            // seqeval's strict IOE1 misses a one-token entity tagged `E-` (see the scheme tests);
            // it misses it on both sides alike, so the scores stay perfect.
            let quirk = (scheme, mode) == (Scheme::Ioe1, Mode::Strict);
            if !quirk {
                prop_assert_eq!(e.micro.support as usize, entities);
            }
            if e.micro.support > 0 {
                for s in [e.micro, e.macro_avg, e.weighted] {
                    prop_assert_eq!((s.precision, s.recall, s.f1), (1.0, 1.0, 1.0));
                }
                for s in e.per_type.values().filter(|s| !quirk || s.support > 0) {
                    prop_assert_eq!(s.f1, 1.0);
                }
            }
            prop_assert_eq!(report.token_level.macro_avg.f1, 1.0);
        }
    }

    #[test]
    fn a_perfect_prediction_of_any_tags_scores_one(
        (scheme, corpus) in scheme_and_corpus(),
    ) {
        let (gold, _) = split(&corpus);
        for mode in MODES {
            let report = score_ner(&gold, &gold, scheme, mode).unwrap();
            let micro = report.entity.micro;
            if micro.support > 0 {
                prop_assert_eq!((micro.precision, micro.recall, micro.f1), (1.0, 1.0, 1.0));
            }
            if report.tokens > 0 {
                prop_assert_eq!(report.entity.accuracy, 1.0);
            }
        }
    }

    #[test]
    fn every_score_lies_in_the_unit_interval((scheme, corpus) in scheme_and_corpus()) {
        let (gold, predicted) = split(&corpus);
        for mode in MODES {
            let report = score_ner(&gold, &predicted, scheme, mode).unwrap();
            prop_assert!((0.0..=1.0).contains(&report.entity.accuracy));
            prop_assert!((0.0..=1.0).contains(&report.token_level.accuracy));
            for (name, s) in all_scores(&report) {
                for x in [s.precision, s.recall, s.f1] {
                    prop_assert!((0.0..=1.0).contains(&x), "{} {} {}: {}", scheme, mode, name, x);
                }
            }
        }
    }

    #[test]
    fn reordering_the_sentences_changes_nothing(
        (scheme, corpus) in scheme_and_corpus(),
        seed in any::<u64>(),
    ) {
        let mut shuffled = corpus.clone();
        // A seeded Fisher-Yates shuffle.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let (gold, predicted) = split(&corpus);
        let (gold2, predicted2) = split(&shuffled);
        for mode in MODES {
            prop_assert_eq!(
                score_ner(&gold, &predicted, scheme, mode).unwrap(),
                score_ner(&gold2, &predicted2, scheme, mode).unwrap()
            );
        }
    }

    #[test]
    fn micro_averages_equal_the_pooled_counts((scheme, corpus) in scheme_and_corpus()) {
        for mode in MODES {
            // Pool the counts directly from the extracted entities.
            let mut pooled = Counts::default();
            for (g, p) in &corpus {
                let ge = extract_entities(g, scheme, mode).unwrap();
                let pe = extract_entities(p, scheme, mode).unwrap();
                pooled.gold += ge.len() as u64;
                pooled.predicted += pe.len() as u64;
                pooled.true_positives += ge.iter().filter(|e| pe.contains(e)).count() as u64;
            }
            let (gold, predicted) = split(&corpus);
            let micro = score_ner(&gold, &predicted, scheme, mode).unwrap().entity.micro;
            let ratio = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
            prop_assert_eq!(micro.support, pooled.gold);
            prop_assert_eq!(micro.precision, ratio(pooled.true_positives, pooled.predicted));
            prop_assert_eq!(micro.recall, ratio(pooled.true_positives, pooled.gold));
            let (p, r) = (micro.precision, micro.recall);
            let f1 = if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
            prop_assert_eq!(micro.f1, f1);
        }
    }

    #[test]
    fn in_conlleval_mode_the_scheme_matters_only_for_bilou(
        corpus in corpus(Scheme::Iobes),
    ) {
        // IOB1 files such as CoNLL-2003 thus score the same under the default `iob2`.
        let (gold, predicted) = split(&corpus);
        let reference = score_ner(&gold, &predicted, Scheme::Iobes, Mode::Conlleval).unwrap().entity;
        for scheme in [Scheme::Iob1, Scheme::Iob2, Scheme::Ioe1, Scheme::Ioe2] {
            let other = score_ner(&gold, &predicted, scheme, Mode::Conlleval).unwrap().entity;
            prop_assert_eq!(&other, &reference);
        }
    }

    #[test]
    fn classification_scores_stay_in_range(
        pairs in prop::collection::vec((0..3usize, 0..3usize), 1..60),
    ) {
        let (gold, predicted): (Vec<usize>, Vec<usize>) = pairs.into_iter().unzip();
        let report = classification_report(&gold, &predicted, &["a", "b", "c"]).unwrap();
        prop_assert!((-1.0..=1.0).contains(&report.mcc));
        prop_assert_eq!(report.confusion_matrix.total(), gold.len() as u64);
        for s in report.per_class.iter().map(|c| c.scores).chain([report.macro_avg, report.weighted]) {
            for x in [s.precision, s.recall, s.f1] {
                prop_assert!((0.0..=1.0).contains(&x));
            }
        }
        let perfect = classification_report(&gold, &gold, &["a", "b", "c"]).unwrap();
        prop_assert_eq!(perfect.accuracy, 1.0);
        prop_assert_eq!(perfect.macro_avg.f1, 1.0);
    }

    #[test]
    fn correlations_are_symmetric_and_bounded(
        pairs in prop::collection::vec((-1e3..1e3f64, -1e3..1e3f64), 2..40),
    ) {
        let (x, y): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        for f in [pearson, spearman] {
            if let Ok(r) = f(&x, &y) {
                prop_assert!((-1.0..=1.0).contains(&r));
                prop_assert!((r - f(&y, &x).unwrap()).abs() < 1e-12);
            }
        }
    }
}
