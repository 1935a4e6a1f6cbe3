//! Parity with HF Python (`tokenizers` and `transformers.PreTrainedTokenizerFast`) on hard
//! text, against expectations committed by `tests/fixtures/gen_expectations.py`.
mod common;

use bertlab_tokenize::Tokenizer;
use serde_json::Value;

fn expectations() -> Value {
    let path = common::fixtures().join("expectations.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn as_u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn as_strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn as_word_ids(v: &Value) -> Vec<Option<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().map(|n| n as u32))
        .collect()
}

/// Compare every committed case; returns the number of cases checked.
fn check_cases(name: &str, tok: &Tokenizer, expected: &Value) -> usize {
    assert_eq!(
        tok.vocab_size() as u64,
        expected["vocab_size"].as_u64().unwrap(),
        "{name}: vocab size"
    );
    let cases = expected["cases"].as_array().unwrap();
    for case in cases {
        let kind = case["kind"].as_str().unwrap();
        let enc = match kind {
            "single" => tok.encode(case["text"].as_str().unwrap(), true).unwrap(),
            "single_no_specials" => tok.encode(case["text"].as_str().unwrap(), false).unwrap(),
            "pair" => tok
                .encode_pair(
                    case["a"].as_str().unwrap(),
                    Some(case["b"].as_str().unwrap()),
                )
                .unwrap(),
            "words" => tok.encode_words(&as_strings(&case["words"]), true).unwrap(),
            other => panic!("unknown case kind {other}"),
        };
        let what = format!("{name} {kind} {case}");
        assert_eq!(enc.ids(), as_u32s(&case["ids"]).as_slice(), "ids: {what}");
        assert_eq!(
            enc.type_ids(),
            as_u32s(&case["type_ids"]).as_slice(),
            "type ids: {what}"
        );
        assert_eq!(
            enc.tokens(),
            as_strings(&case["tokens"]).as_slice(),
            "tokens: {what}"
        );
        assert_eq!(
            enc.word_ids(),
            as_word_ids(&case["word_ids"]).as_slice(),
            "word ids: {what}"
        );
    }
    cases.len()
}

#[test]
fn trained_fixtures_match_python_ids() {
    let exp = expectations();
    for name in common::TRAINED {
        let path = common::fixtures().join(format!("{name}.json"));
        let tok = Tokenizer::from_file(&path).unwrap();
        let n = check_cases(name, &tok, &exp["tokenizers"][name]);
        assert!(n > 40, "{name}: only {n} cases");
    }
}

#[test]
fn trained_fixtures_batch_matches_single() {
    let exp = expectations();
    for name in common::TRAINED {
        let tok = Tokenizer::from_file(common::fixtures().join(format!("{name}.json"))).unwrap();
        let texts: Vec<String> = exp["tokenizers"][name]["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "single")
            .map(|c| c["text"].as_str().unwrap().to_string())
            .collect();
        let batch = tok.encode_batch(&texts, true).unwrap();
        let serial = tok.encode_batch_serial(&texts, true).unwrap();
        assert_eq!(batch.len(), texts.len());
        for ((t, b), s) in texts.iter().zip(&batch).zip(&serial) {
            assert_eq!(b.ids(), tok.encode(t, true).unwrap().ids(), "{name} {t:?}");
            assert_eq!(b.ids(), s.ids());
        }
    }
}

#[test]
fn minilm_matches_python_ids() {
    let Some(path) = common::minilm_tokenizer_json() else {
        return;
    };
    let exp = expectations();
    if exp["tokenizers"].get("minilm").is_none() {
        panic!("expectations.json has no MiniLM section; rerun gen_expectations.py with BERTLAB_MINILM_DIR");
    }
    let tok = Tokenizer::from_file(&path).unwrap();
    let n = check_cases("minilm", &tok, &exp["tokenizers"]["minilm"]);
    assert!(n > 40);
}
