//! Tagging schemes, scoring modes and entity extraction.
//!
//! Two extraction modes exist, as in seqeval:
//!
//! * [`Mode::Conlleval`] follows the lenient chunking of the CoNLL `conlleval`
//!   perl script as ported by seqeval's default mode (`get_entities`): any
//!   non-`O` tag starts or continues an entity, so `I-PER` after `O` starts a
//!   `PER` entity and a change of type ends one. The same rules serve IOB1,
//!   IOB2, IOE1, IOE2 and IOBES; for BILOU, `U-` is read as `S-` and `L-` as
//!   `E-` first. Unknown prefixes are tolerated, as the perl script does.
//! * [`Mode::Strict`] ports seqeval's strict mode (`mode="strict"`, scheme
//!   classes in `seqeval.scheme`): an entity counts only if it starts, continues
//!   and ends by the transition rules of the chosen scheme, and a tag whose
//!   prefix the scheme does not allow is an error. seqeval's rules are kept as
//!   they are, quirks included: its IOE1 has no rule for an `E-` right after `O`,
//!   so a one-token IOE1 entity followed by one of the same type is not found.
//!
//! A tag is split at its first `-` into a prefix and a type (`B-ORG-X` has type
//! `ORG-X`); a tag without `-`, such as `O` or a bare `B`, has the type `_`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Type name given to tags that carry none (`O`, or a bare `B`), as in seqeval.
pub const UNTYPED: &str = "_";

/// A tagging scheme: which prefixes mark the start, inside and end of an entity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `I-` inside, `B-` only to separate adjacent entities of one type (CoNLL-2003 as shipped).
    Iob1,
    /// `B-` begins every entity, `I-` continues it (the default).
    #[default]
    Iob2,
    /// `I-` inside, `E-` only to end an entity followed by one of the same type.
    Ioe1,
    /// `E-` ends every entity, `I-` precedes it.
    Ioe2,
    /// `B-` begin, `I-` inside, `E-` end, `S-` single-token entity.
    Iobes,
    /// `B-` begin, `I-` inside, `L-` last, `U-` unit-length entity.
    Bilou,
}

impl Scheme {
    /// All schemes, in the order of the CLI's `--scheme` choices.
    pub const ALL: [Scheme; 6] = [
        Scheme::Iob1,
        Scheme::Iob2,
        Scheme::Ioe1,
        Scheme::Ioe2,
        Scheme::Iobes,
        Scheme::Bilou,
    ];

    /// The lowercase name used on the command line and in JSON (`iob2`, `bilou`, …).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Iob1 => "iob1",
            Scheme::Iob2 => "iob2",
            Scheme::Ioe1 => "ioe1",
            Scheme::Ioe2 => "ioe2",
            Scheme::Iobes => "iobes",
            Scheme::Bilou => "bilou",
        }
    }

    /// The prefixes strict mode accepts for this scheme, `O` included (e.g. `"B, I, O"`).
    pub fn allowed_prefixes(self) -> &'static str {
        match self {
            Scheme::Iob1 | Scheme::Iob2 => "B, I, O",
            Scheme::Ioe1 | Scheme::Ioe2 => "E, I, O",
            Scheme::Iobes => "B, I, E, S, O",
            Scheme::Bilou => "B, I, L, U, O",
        }
    }

    fn allowed_mask(self) -> u8 {
        match self {
            Scheme::Iob1 | Scheme::Iob2 => P_B | P_I | P_O,
            Scheme::Ioe1 | Scheme::Ioe2 => P_E | P_I | P_O,
            Scheme::Iobes => P_B | P_I | P_E | P_S | P_O,
            Scheme::Bilou => P_B | P_I | P_L | P_U | P_O,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheme {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scheme::ALL
            .into_iter()
            .find(|scheme| scheme.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownName {
                what: "scheme",
                name: s.to_string(),
                choices: "iob1, iob2, ioe1, ioe2, iobes, bilou",
            })
    }
}

/// How entities are read from tags: leniently like conlleval, or strictly by the scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The lenient chunking of the conlleval perl script (seqeval's default).
    #[default]
    Conlleval,
    /// seqeval's strict mode: entities must follow the scheme's transitions exactly.
    Strict,
}

impl Mode {
    /// The lowercase name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Conlleval => "conlleval",
            Mode::Strict => "strict",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Mode::Conlleval, Mode::Strict]
            .into_iter()
            .find(|mode| mode.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownName {
                what: "mode",
                name: s.to_string(),
                choices: "conlleval, strict",
            })
    }
}

/// A scheme or mode name that is not one of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {what} {name:?} (expected one of: {choices})")]
pub struct UnknownName {
    what: &'static str,
    name: String,
    choices: &'static str,
}

/// A tag that strict mode cannot read under the chosen scheme.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("tag {tag:?} at position {index} has a prefix that {scheme} does not allow in strict mode (allowed: {allowed})", allowed = scheme.allowed_prefixes())]
pub struct TagError {
    /// Position of the tag in its sentence, from 0.
    pub index: usize,
    /// The offending tag.
    pub tag: String,
    /// The scheme it was read under.
    pub scheme: Scheme,
}

/// One entity: a type and a half-open token span `[start, end)` within its sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entity<'a> {
    /// Entity type, e.g. `PER` (borrowed from the tag).
    pub kind: &'a str,
    /// Index of the first token.
    pub start: usize,
    /// Index one past the last token.
    pub end: usize,
}

// Prefix bits for the strict-mode pattern tables.
const P_I: u8 = 1;
const P_O: u8 = 2;
const P_B: u8 = 4;
const P_E: u8 = 8;
const P_S: u8 = 16;
const P_U: u8 = 32;
const P_L: u8 = 64;
const P_ANY: u8 = P_I | P_O | P_B | P_E | P_S | P_U | P_L;

/// A tag's prefix in conlleval mode; every unknown prefix behaves the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lenient {
    B,
    I,
    E,
    S,
    O,
    Dot,
    Other,
}

/// Splits a tag at its first `-` into prefix and type (`_` when there is no type).
pub(crate) fn split_tag(tag: &str) -> (&str, &str) {
    match tag.split_once('-') {
        Some((prefix, kind)) if !kind.is_empty() => (prefix, kind),
        Some((prefix, _)) => (prefix, UNTYPED),
        None => (tag, UNTYPED),
    }
}

/// The entity type a tag names, or `None` for `O` (and for `.`, the perl script's no-chunk tag).
pub fn tag_type(tag: &str) -> Option<&str> {
    let (prefix, kind) = split_tag(tag);
    match prefix {
        "O" | "." => None,
        _ => Some(kind),
    }
}

fn lenient(tag: &str, scheme: Scheme) -> (Lenient, &str) {
    let (prefix, kind) = split_tag(tag);
    let prefix = match (prefix, scheme) {
        ("B", _) => Lenient::B,
        ("I", _) => Lenient::I,
        ("E", _) => Lenient::E,
        ("S", _) => Lenient::S,
        ("O", _) => Lenient::O,
        (".", _) => Lenient::Dot,
        ("U", Scheme::Bilou) => Lenient::S,
        ("L", Scheme::Bilou) => Lenient::E,
        _ => Lenient::Other,
    };
    (prefix, kind)
}

/// Did an entity end between `prev` and `cur`? (seqeval `end_of_chunk`.)
fn end_of_chunk(prev: (Lenient, &str), cur: (Lenient, &str)) -> bool {
    use Lenient::*;
    let (p, t) = (prev.0, cur.0);
    matches!(p, E | S)
        || (matches!(p, B | I) && matches!(t, B | S | O))
        || (!matches!(p, O | Dot) && prev.1 != cur.1)
}

/// Did an entity start between `prev` and `cur`? (seqeval `start_of_chunk`.)
fn start_of_chunk(prev: (Lenient, &str), cur: (Lenient, &str)) -> bool {
    use Lenient::*;
    let (p, t) = (prev.0, cur.0);
    matches!(t, B | S)
        || (matches!(p, E | S | O) && matches!(t, E | I))
        || (!matches!(t, O | Dot) && prev.1 != cur.1)
}

fn conlleval_entities<'a, S: AsRef<str>>(tags: &'a [S], scheme: Scheme, out: &mut Vec<Entity<'a>>) {
    let outside = (Lenient::O, UNTYPED);
    let mut prev = outside;
    let mut begin = 0;
    for i in 0..=tags.len() {
        let cur = match tags.get(i) {
            Some(tag) => lenient(tag.as_ref(), scheme),
            None => outside,
        };
        if end_of_chunk(prev, cur) {
            out.push(Entity {
                kind: prev.1,
                start: begin,
                end: i,
            });
        }
        if start_of_chunk(prev, cur) {
            begin = i;
        }
        prev = cur;
    }
}

/// Whether the type of the current token must equal the previous one's.
#[derive(Debug, Clone, Copy)]
enum TypeRule {
    Same,
    Diff,
    Any,
}

type Pattern = (u8, u8, TypeRule);

struct StrictRules {
    start: &'static [Pattern],
    inside: &'static [Pattern],
    end: &'static [Pattern],
}

use TypeRule::{Any, Diff, Same};

// The pattern tables of `seqeval.scheme`, one per scheme: (previous prefix, current prefix, type rule).
const IOB1: StrictRules = StrictRules {
    start: &[
        (P_O, P_I, Any),
        (P_I, P_I, Diff),
        (P_B, P_I, Any),
        (P_I, P_B, Same),
        (P_B, P_B, Same),
    ],
    inside: &[(P_B, P_I, Same), (P_I, P_I, Same)],
    end: &[
        (P_I, P_I, Diff),
        (P_I, P_O, Any),
        (P_I, P_B, Any),
        (P_B, P_O, Any),
        (P_B, P_I, Diff),
        (P_B, P_B, Same),
    ],
};

const IOE1: StrictRules = StrictRules {
    start: &[
        (P_O, P_I, Any),
        (P_I, P_I, Diff),
        (P_E, P_I, Any),
        (P_E, P_E, Same),
    ],
    inside: &[(P_I, P_I, Same), (P_I, P_E, Same)],
    end: &[
        (P_I, P_I, Diff),
        (P_I, P_O, Any),
        (P_I, P_E, Diff),
        (P_E, P_I, Same),
        (P_E, P_E, Same),
    ],
};

const IOB2: StrictRules = StrictRules {
    start: &[(P_ANY, P_B, Any)],
    inside: &[(P_B, P_I, Same), (P_I, P_I, Same)],
    end: &[
        (P_I, P_O, Any),
        (P_I, P_I, Diff),
        (P_I, P_B, Any),
        (P_B, P_O, Any),
        (P_B, P_I, Diff),
        (P_B, P_B, Any),
    ],
};

const IOE2: StrictRules = StrictRules {
    start: &[
        (P_O, P_I, Any),
        (P_O, P_E, Any),
        (P_E, P_I, Any),
        (P_E, P_E, Any),
        (P_I, P_I, Diff),
        (P_I, P_E, Diff),
    ],
    inside: &[(P_I, P_E, Same), (P_I, P_I, Same)],
    end: &[(P_E, P_ANY, Any)],
};

const IOBES: StrictRules = StrictRules {
    start: &[(P_ANY, P_B, Any), (P_ANY, P_S, Any)],
    inside: &[
        (P_B, P_I, Same),
        (P_B, P_E, Same),
        (P_I, P_I, Same),
        (P_I, P_E, Same),
    ],
    end: &[(P_S, P_ANY, Any), (P_E, P_ANY, Any)],
};

const BILOU: StrictRules = StrictRules {
    start: &[(P_ANY, P_B, Any), (P_ANY, P_U, Any)],
    inside: &[
        (P_B, P_I, Same),
        (P_B, P_L, Same),
        (P_I, P_I, Same),
        (P_I, P_L, Same),
    ],
    end: &[(P_U, P_ANY, Any), (P_L, P_ANY, Any)],
};

fn strict_rules(scheme: Scheme) -> &'static StrictRules {
    match scheme {
        Scheme::Iob1 => &IOB1,
        Scheme::Iob2 => &IOB2,
        Scheme::Ioe1 => &IOE1,
        Scheme::Ioe2 => &IOE2,
        Scheme::Iobes => &IOBES,
        Scheme::Bilou => &BILOU,
    }
}

#[derive(Debug, Clone, Copy)]
struct StrictToken<'a> {
    prefix: u8,
    kind: &'a str,
}

const OUTSIDE: StrictToken<'static> = StrictToken {
    prefix: P_O,
    kind: UNTYPED,
};

fn matches(patterns: &[Pattern], prev: StrictToken<'_>, cur: StrictToken<'_>) -> bool {
    patterns.iter().any(|&(p, c, rule)| {
        prev.prefix & p != 0
            && cur.prefix & c != 0
            && match rule {
                Same => prev.kind == cur.kind,
                Diff => prev.kind != cur.kind,
                Any => true,
            }
    })
}

/// Reads one tag for strict mode, rejecting prefixes the scheme does not allow.
fn strict_token(tag: &str, index: usize, scheme: Scheme) -> Result<StrictToken<'_>, TagError> {
    let (prefix, kind) = split_tag(tag);
    let bit = match prefix {
        "I" => P_I,
        "O" => P_O,
        "B" => P_B,
        "E" => P_E,
        "S" => P_S,
        "U" => P_U,
        "L" => P_L,
        _ => 0,
    };
    if bit & scheme.allowed_mask() == 0 {
        return Err(TagError {
            index,
            tag: tag.to_string(),
            scheme,
        });
    }
    Ok(StrictToken { prefix: bit, kind })
}

/// Checks that every tag's prefix is allowed by `scheme` in strict mode.
pub fn validate_strict<S: AsRef<str>>(tags: &[S], scheme: Scheme) -> Result<(), TagError> {
    for (index, tag) in tags.iter().enumerate() {
        strict_token(tag.as_ref(), index, scheme)?;
    }
    Ok(())
}

/// A port of `seqeval.scheme.Tokens.entities`, including its quirks (see seqeval's IOE1 note).
fn strict_entities<'a, S: AsRef<str>>(
    tags: &'a [S],
    scheme: Scheme,
    out: &mut Vec<Entity<'a>>,
) -> Result<(), TagError> {
    let rules = strict_rules(scheme);
    let tokens = tags
        .iter()
        .enumerate()
        .map(|(i, tag)| strict_token(tag.as_ref(), i, scheme))
        .collect::<Result<Vec<_>, _>>()?;
    let n = tokens.len();
    // The sentence followed by one extra `O`, as seqeval's `extended_tokens`.
    let at = |i: usize| tokens.get(i).copied().unwrap_or(OUTSIDE);
    let mut i = 0;
    let mut prev = OUTSIDE;
    while i <= n {
        let token = at(i);
        if matches(rules.start, prev, token) {
            let end = forward(rules, &at, i + 1, token, n);
            if matches(rules.end, at(end - 1), at(end)) {
                out.push(Entity {
                    kind: token.kind,
                    start: i,
                    end,
                });
            }
            i = end;
        } else {
            i += 1;
        }
        prev = at(i - 1);
    }
    Ok(())
}

/// The first index from `start` that does not continue the entity (seqeval `_forward`).
fn forward<'a>(
    rules: &StrictRules,
    at: &impl Fn(usize) -> StrictToken<'a>,
    start: usize,
    mut prev: StrictToken<'a>,
    n: usize,
) -> usize {
    for j in start..=n {
        let token = at(j);
        if matches(rules.inside, prev, token) {
            prev = token;
        } else {
            return j;
        }
    }
    // Unreachable in practice: the trailing `O` never continues an entity.
    n
}

/// Extracts the entities of one sentence's tags, in order of their start.
///
/// In [`Mode::Strict`] a tag whose prefix the scheme does not allow is an error;
/// [`Mode::Conlleval`] accepts any tag.
///
/// ```
/// use bertlab_metrics::{extract_entities, Entity, Mode, Scheme};
///
/// let tags = ["O", "I-PER", "I-PER", "B-PER", "O"];
/// // IOB1 as CoNLL-2003 ships it: `I-` starts an entity, `B-` separates two of one type.
/// let lenient = extract_entities(&tags, Scheme::Iob1, Mode::Conlleval).unwrap();
/// assert_eq!(
///     lenient,
///     vec![
///         Entity { kind: "PER", start: 1, end: 3 },
///         Entity { kind: "PER", start: 3, end: 4 },
///     ]
/// );
/// // Under strict IOB2, an entity must open with `B-`.
/// let strict = extract_entities(&tags, Scheme::Iob2, Mode::Strict).unwrap();
/// assert_eq!(strict, vec![Entity { kind: "PER", start: 3, end: 4 }]);
/// ```
pub fn extract_entities<S: AsRef<str>>(
    tags: &[S],
    scheme: Scheme,
    mode: Mode,
) -> Result<Vec<Entity<'_>>, TagError> {
    let mut out = Vec::new();
    extract_into(tags, scheme, mode, &mut out)?;
    Ok(out)
}

/// Like [`extract_entities`], appending to `out`; on error `out` is left as it was.
pub(crate) fn extract_into<'a, S: AsRef<str>>(
    tags: &'a [S],
    scheme: Scheme,
    mode: Mode,
    out: &mut Vec<Entity<'a>>,
) -> Result<(), TagError> {
    match mode {
        Mode::Conlleval => {
            conlleval_entities(tags, scheme, out);
            Ok(())
        }
        Mode::Strict => strict_entities(tags, scheme, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(tags: &[&str], scheme: Scheme, mode: Mode) -> Vec<(String, usize, usize)> {
        extract_entities(tags, scheme, mode)
            .unwrap()
            .into_iter()
            .map(|e| (e.kind.to_string(), e.start, e.end))
            .collect()
    }

    fn e(kind: &str, start: usize, end: usize) -> (String, usize, usize) {
        (kind.to_string(), start, end)
    }

    #[test]
    fn splits_tags_at_the_first_hyphen() {
        assert_eq!(split_tag("B-PER"), ("B", "PER"));
        assert_eq!(split_tag("I-ORG-X"), ("I", "ORG-X"));
        assert_eq!(split_tag("O"), ("O", UNTYPED));
        assert_eq!(split_tag("B-"), ("B", UNTYPED));
        assert_eq!(tag_type("O"), None);
        assert_eq!(tag_type("S-LOC"), Some("LOC"));
    }

    #[test]
    fn conlleval_mode_starts_entities_at_stray_inside_tags_and_type_changes() {
        let tags = ["O", "I-PER", "I-LOC", "B-LOC", "I-LOC", "O", "I-MISC"];
        assert_eq!(
            spans(&tags, Scheme::Iob2, Mode::Conlleval),
            vec![
                e("PER", 1, 2),
                e("LOC", 2, 3),
                e("LOC", 3, 5),
                e("MISC", 6, 7)
            ]
        );
    }

    #[test]
    fn conlleval_mode_reads_iobes_and_bilou() {
        let iobes = ["S-PER", "B-LOC", "I-LOC", "E-LOC", "E-LOC"];
        assert_eq!(
            spans(&iobes, Scheme::Iobes, Mode::Conlleval),
            vec![e("PER", 0, 1), e("LOC", 1, 4), e("LOC", 4, 5)]
        );
        let bilou = ["U-PER", "B-LOC", "I-LOC", "L-LOC", "L-LOC"];
        assert_eq!(
            spans(&bilou, Scheme::Bilou, Mode::Conlleval),
            vec![e("PER", 0, 1), e("LOC", 1, 4), e("LOC", 4, 5)]
        );
    }

    #[test]
    fn strict_iob2_drops_entities_without_a_begin_tag() {
        let tags = ["I-PER", "I-PER", "B-LOC", "I-PER", "B-ORG", "I-ORG"];
        assert_eq!(
            spans(&tags, Scheme::Iob2, Mode::Strict),
            vec![e("LOC", 2, 3), e("ORG", 4, 6)]
        );
    }

    #[test]
    fn strict_iobes_requires_an_end_tag() {
        let tags = ["B-PER", "I-PER", "O", "B-LOC", "E-LOC", "S-ORG"];
        assert_eq!(
            spans(&tags, Scheme::Iobes, Mode::Strict),
            vec![e("LOC", 3, 5), e("ORG", 5, 6)]
        );
    }

    #[test]
    fn strict_iob1_splits_on_a_begin_tag_of_the_same_type() {
        let tags = ["I-PER", "I-PER", "B-PER", "I-PER", "I-LOC"];
        assert_eq!(
            spans(&tags, Scheme::Iob1, Mode::Strict),
            vec![e("PER", 0, 2), e("PER", 2, 4), e("LOC", 4, 5)]
        );
    }

    #[test]
    fn strict_ioe1_keeps_seqevals_quirk_with_a_leading_end_tag() {
        // seqeval 1.2.2 has no IOE1 start pattern for `E-` after `O`, so a one-token
        // entity tagged `E-` (because one of the same type follows) is not found.
        let tags = ["O", "E-LOC", "I-LOC", "O"];
        assert_eq!(
            spans(&tags, Scheme::Ioe1, Mode::Strict),
            vec![e("LOC", 2, 3)]
        );
        assert_eq!(
            spans(&tags, Scheme::Ioe1, Mode::Conlleval),
            vec![e("LOC", 1, 2), e("LOC", 2, 3)]
        );
    }

    #[test]
    fn strict_mode_rejects_prefixes_outside_the_scheme() {
        let err =
            extract_entities(&["O", "B-PER", "E-PER"], Scheme::Iob2, Mode::Strict).unwrap_err();
        assert_eq!(err.index, 2);
        assert_eq!(err.tag, "E-PER");
        assert!(err.to_string().contains("allowed: B, I, O"), "{err}");
        // Conlleval mode tolerates the same tags.
        assert!(extract_entities(&["O", "B-PER", "E-PER"], Scheme::Iob2, Mode::Conlleval).is_ok());
    }

    #[test]
    fn empty_and_all_outside_sentences_have_no_entities() {
        let empty: [&str; 0] = [];
        for scheme in Scheme::ALL {
            for mode in [Mode::Conlleval, Mode::Strict] {
                assert!(spans(&empty, scheme, mode).is_empty());
                assert!(spans(&["O", "O"], scheme, mode).is_empty());
            }
        }
    }

    #[test]
    fn names_parse_case_insensitively_and_round_trip() {
        for scheme in Scheme::ALL {
            assert_eq!(scheme.name().parse::<Scheme>().unwrap(), scheme);
            assert_eq!(
                scheme.name().to_uppercase().parse::<Scheme>().unwrap(),
                scheme
            );
        }
        assert_eq!("strict".parse::<Mode>().unwrap(), Mode::Strict);
        let err = "bio".parse::<Scheme>().unwrap_err();
        assert!(err.to_string().contains("unknown scheme \"bio\""), "{err}");
        assert!("lenient".parse::<Mode>().is_err());
    }
}
