//! TSV classification reading and features, with the real SST-2 files when present.
mod common;

use bertlab_data::{
    build_classification_features, read_tsv, ClassLabels, DataError, Header, TsvOptions,
};

#[test]
fn single_sentences_with_header() {
    let (_d, path) = common::temp_file(
        "train.tsv",
        b"sentence\tlabel\nhide new secretions \t0\ncontains wit\t1\n",
    );
    let f = read_tsv(&path, &TsvOptions::default()).unwrap();
    assert_eq!(
        f.header.as_deref(),
        Some(&["sentence".to_string(), "label".to_string()][..])
    );
    assert!(!f.is_pair);
    assert_eq!(f.examples.len(), 2);
    assert_eq!(f.examples[0].text_a, "hide new secretions");
    assert_eq!(f.examples[0].text_b, None);
    assert_eq!((f.examples[1].label.as_str(), f.examples[1].line), ("1", 3));
}

#[test]
fn pairs_without_header_quotes_crlf_and_bom() {
    let text = "\u{FEFF}\"A \"\"quoted\"\" first\"\tsecond one\tentailment\r\nplain\t\"tab\tinside\"\tneutral\r\n\r\nx\ty\tentailment\r\n";
    let (_d, path) = common::temp_file("pairs.tsv", text.as_bytes());
    let f = read_tsv(&path, &TsvOptions::default()).unwrap();
    assert!(f.header.is_none());
    assert!(f.is_pair);
    assert_eq!(f.examples.len(), 3);
    assert_eq!(f.examples[0].text_a, "A \"quoted\" first");
    assert_eq!(f.examples[0].text_b.as_deref(), Some("second one"));
    assert_eq!(f.examples[1].text_b.as_deref(), Some("tab\tinside"));
    assert_eq!(f.examples[2].line, 4);
    let labels = ClassLabels::from_train(&f);
    assert_eq!(labels.names(), ["entailment", "neutral"]);
    assert_eq!(labels.encode(&f).unwrap(), [0, 1, 0]);
}

#[test]
fn header_can_be_forced_either_way() {
    let (_d, path) = common::temp_file("t.tsv", b"good film\t1\nbad film\t0\n");
    let f = read_tsv(
        &path,
        &TsvOptions {
            header: Header::Present,
        },
    )
    .unwrap();
    assert_eq!(f.examples.len(), 1);
    let (_d2, path2) = common::temp_file("t.tsv", b"sentence\tlabel\nbad film\t0\n");
    let f = read_tsv(
        &path2,
        &TsvOptions {
            header: Header::Absent,
        },
    )
    .unwrap();
    assert_eq!(f.examples[0].text_a, "sentence");
}

#[test]
fn bad_rows_name_their_line() {
    let cases: [(&[u8], &str); 4] = [
        (
            b"sentence\tlabel\nok\t1\nno label here\n",
            "bad.tsv:3: expected 2 tab-separated fields",
        ),
        (
            b"a\tb\tc\td\n",
            "bad.tsv:1: expected 2 (sentence, label) or 3",
        ),
        (b"fine\t1\nempty label\t \n", "bad.tsv:2: empty label"),
        (b"fine\t1\nbad \xff utf8\t0\n", "bad.tsv:2:"),
    ];
    for (text, want) in cases {
        let (_d, path) = common::temp_file("bad.tsv", text);
        let err = read_tsv(&path, &TsvOptions::default()).unwrap_err();
        assert!(matches!(err, DataError::Malformed { .. }), "{err}");
        assert!(
            err.to_string().contains(want),
            "{err} should contain {want}"
        );
    }
}

#[test]
fn numeric_labels_sort_numerically_and_unknown_labels_fail() {
    let (_d, path) = common::temp_file("train.tsv", b"a\t10\nb\t2\nc\t1\n");
    let train = read_tsv(&path, &TsvOptions::default()).unwrap();
    let labels = ClassLabels::from_train(&train);
    assert_eq!(labels.names(), ["1", "2", "10"]);
    let (_d2, dev_path) = common::temp_file("dev.tsv", b"a\t1\nb\t3\n");
    let dev = read_tsv(&dev_path, &TsvOptions::default()).unwrap();
    let err = labels.encode(&dev).unwrap_err();
    assert!(
        err.to_string().contains("dev.tsv:2") && err.to_string().contains("\"3\""),
        "{err}"
    );
}

#[test]
fn features_are_truncated_pairs_with_segments() {
    let tok = common::tiny_tokenizer();
    let (_d, path) = common::temp_file(
        "p.tsv",
        b"the eu rejects the call\tpeter\t1\nlamb\tgerman lamb\t0\n",
    );
    let f = read_tsv(&path, &TsvOptions::default()).unwrap();
    let labels = ClassLabels::from_train(&f);
    let feats = build_classification_features(&tok, &f, &labels, 7).unwrap();
    assert_eq!(feats[0].input_ids.len(), 7);
    assert_eq!(feats[0].token_type_ids, [0, 0, 0, 0, 0, 1, 1]);
    assert_eq!(feats[0].label, 1);
    assert_eq!(feats[1].input_ids, [2, 13, 3, 8, 13, 3]);
    assert_eq!(feats[1].label, 0);
}

#[test]
fn sst2_files_read_completely() {
    let Some(dir) = common::shared_data("sst2") else {
        return;
    };
    let train = read_tsv(dir.join("train.tsv"), &TsvOptions::default()).unwrap();
    let dev = read_tsv(dir.join("dev.tsv"), &TsvOptions::default()).unwrap();
    assert_eq!((train.examples.len(), dev.examples.len()), (67_349, 872));
    assert!(train.header.is_some() && !train.is_pair);
    let labels = ClassLabels::from_train(&train);
    assert_eq!(labels.names(), ["0", "1"]);
    let ids = labels.encode(&dev).unwrap();
    assert_eq!(ids.len(), 872);
    let Some(tok) = common::minilm() else { return };
    let feats = build_classification_features(&tok, &dev, &labels, 64).unwrap();
    assert_eq!(feats.len(), 872);
    let sp = tok.special_tokens().unwrap();
    for (f, id) in feats.iter().zip(&ids) {
        assert!(f.input_ids.len() <= 64);
        assert_eq!(
            (f.input_ids[0], *f.input_ids.last().unwrap()),
            (sp.cls, sp.sep)
        );
        assert!(f.token_type_ids.iter().all(|&t| t == 0));
        assert_eq!(f.label, *id);
    }
}
