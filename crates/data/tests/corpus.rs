//! Streaming corpus reader.
mod common;

use bertlab_data::{corpus_files, CorpusReader, DataError};

#[test]
fn documents_are_separated_by_blank_lines_across_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.txt"),
        "\n\nfirst para\nsecond para\n\n \n\u{200B}\nnext doc\r\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("b.txt"), "\u{FEFF}third file doc").unwrap();
    std::fs::write(dir.path().join("ignored.md"), "not read").unwrap();
    let files = corpus_files(dir.path(), "txt").unwrap();
    assert_eq!(files.len(), 2);
    let docs: Vec<_> = CorpusReader::from_dir(dir.path())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(docs.len(), 3);
    assert_eq!(docs[0].lines, ["first para", "second para"]);
    assert_eq!(docs[0].first_line, 3);
    assert_eq!(docs[1].lines, ["next doc"]);
    assert_eq!(docs[1].first_line, 8);
    assert_eq!(docs[2].lines, ["third file doc"]);
    assert!(docs[2].path.ends_with("b.txt"));
}

#[test]
fn errors_name_file_and_line_and_stop_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"ok\n\nbad \xff\n").unwrap();
    let mut r = CorpusReader::from_dir(dir.path()).unwrap();
    assert_eq!(r.next().unwrap().unwrap().lines, ["ok"]);
    let err = r.next().unwrap().unwrap_err();
    assert!(matches!(err, DataError::Malformed { line: 3, .. }));
    assert!(err.to_string().contains("a.txt:3"), "{err}");
    assert!(r.next().is_none());
    let mut r = CorpusReader::new(vec![dir.path().join("missing.txt")]);
    let err = r.next().unwrap().unwrap_err();
    assert!(err.to_string().contains("missing.txt"), "{err}");
}

#[test]
fn wikipedia_corpus_streams_every_document() {
    let Some(dir) = common::shared_data("corpus-enwiki") else {
        return;
    };
    let reader = CorpusReader::from_dir(&dir).unwrap();
    assert_eq!(reader.files().len(), 64);
    let mut docs = 0usize;
    let mut longest = 0usize;
    for d in reader {
        let d = d.unwrap();
        docs += 1;
        longest = longest.max(d.lines.len());
    }
    println!("{docs} documents, at most {longest} paragraphs each");
    assert_eq!(docs, 36_183);
}
