//! CoNLL reading, tag schemes, label sets and the real CoNLL-2003 statistics.
mod common;

use std::collections::BTreeMap;

use bertlab_data::conll::is_valid_tag;
use bertlab_data::{
    convert_tags, detect_scheme, entity_spans, read_conll, spans_to_tags, write_conlleval,
    ConllOptions, DataError, LabelSet, NerSplits, Span, TagColumn, TagScheme,
};
use proptest::prelude::*;

const SAMPLE: &str = "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n\nPeter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n\n-DOCSTART- -X- O O\n\nBRUSSELS NNP I-NP I-LOC\n";

#[test]
fn reads_docstart_blank_lines_and_columns() {
    let (_d, path) = common::temp_file("train.txt", SAMPLE.as_bytes());
    let f = read_conll(&path, &ConllOptions::default()).unwrap();
    assert_eq!(f.num_columns, 4);
    assert_eq!(f.docstarts, 2);
    assert_eq!(f.sentences.len(), 3);
    assert_eq!(f.sentences[0].words, ["EU", "rejects", "German"]);
    assert_eq!(f.sentences[0].tags, ["I-ORG", "O", "I-MISC"]);
    assert_eq!(f.sentences[0].lines, [3, 4, 5]);
    assert_eq!(f.sentences[1].document, 0);
    assert_eq!(f.sentences[2].document, 1);
    assert_eq!(f.detect_scheme(), TagScheme::Iob1);
}

#[test]
fn crlf_bom_and_zero_width_are_tolerated() {
    let text = "\u{FEFF}EU\u{200B} I-ORG\r\nrejects O\r\n\r\n\u{200D}\r\nPeter B-PER\r\n";
    let (_d, path) = common::temp_file("x.txt", text.as_bytes());
    let f = read_conll(&path, &ConllOptions::default()).unwrap();
    assert_eq!(f.num_columns, 2);
    assert_eq!(f.sentences.len(), 2);
    assert_eq!(f.sentences[0].words, ["EU", "rejects"]);
    assert_eq!(f.sentences[0].tags, ["I-ORG", "O"]);
    assert_eq!(f.sentences[1].words, ["Peter"]);
    assert_eq!(f.sentences[1].tags, ["B-PER"]);
}

#[test]
fn chosen_tag_column_and_many_columns() {
    let text = "EU NNP I-ORG x y z\nrejects VBZ O x y z\n";
    let (_d, path) = common::temp_file("x.txt", text.as_bytes());
    let opts = ConllOptions {
        tag_column: TagColumn::Index(2),
    };
    let f = read_conll(&path, &opts).unwrap();
    assert_eq!(f.num_columns, 6);
    assert_eq!(f.sentences[0].tags, ["I-ORG", "O"]);
    // Tag in the last column: "z" is not a tag, so the error names the line.
    let err = read_conll(&path, &ConllOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("x.txt:1: tag \"z\" is not O or B-/I-/E-/S- followed by a type"),
        "{err}"
    );
}

#[test]
fn malformed_lines_name_file_and_line() {
    let cases: [(&[u8], &str); 5] = [
        (
            b"EU NNP I-ORG\nrejects O\n",
            "bad.txt:2: expected 3 whitespace-separated columns",
        ),
        (b"EU I-ORG\n\nPeter X-PER\n", "bad.txt:3: tag \"X-PER\""),
        (b"EU\n", "bad.txt:1: need a word column and a tag column"),
        (b"EU O\nb\xffd O\n", "bad.txt:2: invalid UTF-8"),
        (b"EU B-\n", "bad.txt:1: tag \"B-\""),
    ];
    for (text, want) in cases {
        let (_d, path) = common::temp_file("bad.txt", text);
        let err = read_conll(&path, &ConllOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::Malformed { .. }));
        assert!(
            err.to_string().contains(want),
            "{err} should contain {want}"
        );
    }
    let opts = ConllOptions {
        tag_column: TagColumn::Index(5),
    };
    let (_d, path) = common::temp_file("bad.txt", b"EU NNP O\n");
    let err = read_conll(&path, &opts).unwrap_err();
    assert!(err.to_string().contains("bad.txt:1:"), "{err}");
    let err = read_conll(_d.path().join("missing.txt"), &ConllOptions::default()).unwrap_err();
    assert!(err.to_string().contains("missing.txt"), "{err}");
}

#[test]
fn unknown_dev_label_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("train.txt"),
        "EU B-ORG\nx O\n\nPeter B-PER\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("dev.txt"), "EU B-ORG\n\nParis B-LOC\n").unwrap();
    std::fs::write(dir.path().join("test.txt"), "EU B-ORG\n").unwrap();
    let err = NerSplits::load(dir.path(), &ConllOptions::default(), None).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, DataError::UnknownLabel { line: 3, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("dev.txt:3") && msg.contains("\"B-LOC\"") && msg.contains("B-ORG"),
        "{msg}"
    );
}

#[test]
fn label_set_comes_from_train_with_o_first() {
    let (_d, path) = common::temp_file("t.txt", b"a I-PER\nb O\nc B-LOC\nd I-LOC\n");
    let f = read_conll(&path, &ConllOptions::default()).unwrap();
    let labels = LabelSet::from_train(&f);
    assert_eq!(labels.names(), ["O", "B-LOC", "I-LOC", "I-PER"]);
    assert_eq!(labels.encode(&f).unwrap(), vec![vec![3, 0, 1, 2]]);
    assert_eq!(labels.id("I-LOC"), Some(2));
    assert_eq!(labels.name(3), Some("I-PER"));
    assert_eq!(labels.decode(&[3, 0]).unwrap(), ["I-PER", "O"]);
    assert!(matches!(labels.decode(&[4]), Err(DataError::Shape(_))));
    assert!(labels.decode(&[-100]).is_err());
}

#[test]
fn scheme_detection_and_conversion_examples() {
    let iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG"];
    assert_eq!(detect_scheme([&iob1[..]]), TagScheme::Iob1);
    let iob2 = convert_tags(&iob1, TagScheme::Iob1, TagScheme::Iob2).unwrap();
    assert_eq!(
        iob2,
        ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG"]
    );
    assert_eq!(detect_scheme([&iob2[..]]), TagScheme::Iob2);
    let iobes = convert_tags(&iob2, TagScheme::Iob2, TagScheme::Iobes).unwrap();
    assert_eq!(
        iobes,
        ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "E-ORG"]
    );
    assert_eq!(detect_scheme([&iobes[..]]), TagScheme::Iobes);
    assert_eq!(
        convert_tags(&iobes, TagScheme::Iobes, TagScheme::Iob1).unwrap(),
        iob1
    );
    assert_eq!(
        entity_spans(&iob1, TagScheme::Iob1).unwrap(),
        vec![
            Span {
                label: "PER".into(),
                start: 0,
                end: 2
            },
            Span {
                label: "PER".into(),
                start: 2,
                end: 3
            },
            Span {
                label: "LOC".into(),
                start: 4,
                end: 5
            },
            Span {
                label: "ORG".into(),
                start: 5,
                end: 7
            },
        ]
    );
    assert_eq!(
        convert_tags(&["O", "Q-X"], TagScheme::Iob2, TagScheme::Iob1),
        Err(1)
    );
    assert_eq!("bio".parse::<TagScheme>().unwrap(), TagScheme::Iob2);
    assert!("bilou".parse::<TagScheme>().is_err());
}

fn spans_strategy() -> impl Strategy<Value = (Vec<Span>, usize)> {
    // Up to 12 slots, each either O (gap) or an entity of length 1..=3 and type A/B.
    proptest::collection::vec(
        (0usize..3, 0usize..4, prop_oneof![Just("A"), Just("B")]),
        0..12,
    )
    .prop_map(|items| {
        let mut spans = Vec::new();
        let mut pos = 0;
        for (gap, len, ty) in items {
            pos += gap;
            if len > 0 {
                spans.push(Span {
                    label: ty.to_string(),
                    start: pos,
                    end: pos + len,
                });
                pos += len;
            }
        }
        (spans, pos + 1)
    })
}

proptest! {
    #[test]
    fn conversions_keep_entities((spans, len) in spans_strategy()) {
        for scheme in [TagScheme::Iob1, TagScheme::Iob2, TagScheme::Iobes] {
            let tags = spans_to_tags(&spans, len, scheme);
            prop_assert!(tags.iter().all(|t| is_valid_tag(t)));
            prop_assert_eq!(entity_spans(&tags, scheme).unwrap(), spans.clone());
            for to in [TagScheme::Iob1, TagScheme::Iob2, TagScheme::Iobes] {
                let converted = convert_tags(&tags, scheme, to).unwrap();
                prop_assert_eq!(&converted, &spans_to_tags(&spans, len, to));
                prop_assert_eq!(convert_tags(&converted, to, scheme).unwrap(), tags.clone());
            }
        }
        // IOB2 output never starts an entity with I-.
        let iob2 = spans_to_tags(&spans, len, TagScheme::Iob2);
        prop_assert_ne!(detect_scheme([&iob2[..]]), TagScheme::Iob1);
    }
}

#[test]
fn conlleval_file_is_written_atomically() {
    let (_d, path) = common::temp_file("train.txt", SAMPLE.as_bytes());
    let f = read_conll(&path, &ConllOptions::default()).unwrap();
    let preds: Vec<Vec<String>> = f
        .sentences
        .iter()
        .map(|s| vec!["O".to_string(); s.len()])
        .collect();
    let out = _d.path().join("pred.txt");
    write_conlleval(&out, &f.sentences, &preds).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("EU I-ORG O\nrejects O O\nGerman I-MISC O\n\nPeter I-PER O\n"),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.is_empty()).count(), 3);
    let short = vec![vec!["O".to_string()]; 3];
    let err = write_conlleval(&out, &f.sentences, &short).unwrap_err();
    assert!(matches!(err, DataError::Shape(_)));
    // The failed write left the earlier file intact.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
}

#[test]
fn conll2003_statistics() {
    let Some(dir) = common::shared_data("conll2003") else {
        return;
    };
    let splits = NerSplits::load(&dir, &ConllOptions::default(), None).unwrap();
    assert_eq!(
        splits.source_scheme,
        TagScheme::Iob1,
        "CoNLL-2003 as shipped is IOB1"
    );
    let stats: Vec<_> = [&splits.train, &splits.dev, &splits.test]
        .iter()
        .map(|f| f.stats(TagScheme::Iob1).unwrap())
        .collect();
    for (name, s) in ["train", "dev", "test"].iter().zip(&stats) {
        println!(
            "{name}: {} sentences, {} tokens, {} documents, entities {:?}",
            s.sentences, s.tokens, s.documents, s.entities
        );
    }
    assert_eq!(
        [stats[0].sentences, stats[1].sentences, stats[2].sentences],
        [14_041, 3_250, 3_453]
    );
    assert_eq!(
        [stats[0].tokens, stats[1].tokens, stats[2].tokens],
        [203_621, 51_362, 46_435]
    );
    let want: BTreeMap<String, usize> =
        [("LOC", 1668), ("MISC", 702), ("ORG", 1661), ("PER", 1617)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
    assert_eq!(stats[2].entities, want);
    assert_eq!(splits.labels.len(), 8, "{:?}", splits.labels.names());
    assert_eq!(splits.test_ids.iter().map(Vec::len).sum::<usize>(), 46_435);

    // Converting to IOB2 keeps every entity and gives the 9-label BIO set.
    let bio = NerSplits::load(&dir, &ConllOptions::default(), Some(TagScheme::Iob2)).unwrap();
    assert_eq!(bio.test.detect_scheme(), TagScheme::Iob2);
    assert_eq!(bio.test.stats(TagScheme::Iob2).unwrap().entities, want);
    assert_eq!(bio.labels.len(), 9, "{:?}", bio.labels.names());
}
