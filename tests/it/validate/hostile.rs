//! Input that is not a plan at all: each gets one clear error, quickly,
//! and nothing panics.

use std::path::Path;
use std::time::{Duration, Instant};

use recplan::plan::{
    Diagnostic, MAX_PLAN_BYTES, MissingEnv, PlanError, Source, Validated, discover, load, validate,
};

use crate::support::{full_env, invalid, options};

/// How long rejecting any hostile input may take, even in a debug build on
/// a loaded machine. A guard against blow-ups (an alias bomb expanded
/// would take hours), not a performance claim: those are in benches/.
const BOUND: Duration = Duration::from_secs(10);

/// How long a document just under the size limit may take. One with the
/// 100,000 nodes the parser allows is parsed twice (the plan, then the
/// positions for the error): ~1.5 s in a debug build with the other tests
/// running, a tenth of that in release; the bound leaves room for a
/// loaded machine.
const LARGE_BOUND: Duration = Duration::from_secs(20);

/// One line per item of `range`, each ended by a newline.
fn lines(range: impl Iterator<Item = usize>, line: impl Fn(usize) -> String) -> String {
    range.map(|i| line(i) + "\n").collect()
}

fn load_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Result<Validated, PlanError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    load(&path, &options(full_env(), MissingEnv::Warn))
}

fn validate_text(name: &str, text: String) -> Result<Validated, PlanError> {
    validate(
        Source::from_text(name, text),
        &options(full_env(), MissingEnv::Warn),
    )
}

/// The single error a rejected document yields, and how long it took.
fn rejected(name: &str, text: String) -> (Diagnostic, Duration) {
    let started = Instant::now();
    let diagnostics = invalid(validate_text(name, text));
    let elapsed = started.elapsed();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    (diagnostics.into_iter().next().unwrap(), elapsed)
}

#[test]
fn an_empty_file_says_it_is_empty() {
    for text in [
        "",
        "\n\n",
        "# only a comment\n",
        "---\n",
        "  \n# a\n---\n...\n",
    ] {
        let (error, _) = rejected("empty.yaml", text.to_owned());
        assert_eq!(error.message, "the plan is empty", "{text:?}");
        assert_eq!((error.line, error.column), (1, 1), "{text:?}");
        assert!(error.hint.is_some(), "{text:?}");
    }
}

#[test]
fn a_document_that_is_not_a_mapping_says_what_a_plan_is() {
    for (text, line) in [("- a\n- b\n", 1), ("hello\n", 1), ("# c\n42\n", 2)] {
        let (error, _) = rejected("scalar.yaml", text.to_owned());
        assert_eq!(error.line, line, "{text:?}");
        let hint = error.hint.unwrap_or_default();
        assert!(hint.contains("a plan is a mapping"), "{text:?}: {hint}");
    }
}

#[test]
fn binary_files_are_not_text() {
    let dir = tempfile::tempdir().unwrap();
    // Deterministic noise that is certainly not UTF-8.
    let mut state: u32 = 0x9e37_79b9;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0] | 0x80
        })
        .collect();
    let error = load_bytes(dir.path(), "noise.yaml", &noise).unwrap_err();
    assert!(matches!(error, PlanError::NotText { .. }), "{error:?}");
    let diagnostics = error.diagnostics();
    assert_eq!(
        diagnostics[0].message,
        "not a text file (plans are UTF-8 YAML)"
    );
    assert_eq!(diagnostics[0].file, dir.path().join("noise.yaml"));
}

#[test]
fn latin1_text_is_not_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let error = load_bytes(
        dir.path(),
        "latin1.yaml",
        b"mode: composite\nname: caf\xe9\n",
    )
    .unwrap_err();
    assert!(matches!(error, PlanError::NotText { .. }), "{error:?}");
}

#[test]
fn nul_characters_are_a_syntax_error_at_their_position() {
    let (error, _) = rejected("nul.yaml", "mode: composite\nname: a\0b\n".to_owned());
    assert_eq!((error.line, error.column), (2, 8));
    assert!(error.message.contains("unexpected character"), "{error}");
}

#[test]
fn files_over_the_size_limit_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let ten_mb = vec![b'a'; 10 * 1024 * 1024];
    let error = load_bytes(dir.path(), "huge.yaml", &ten_mb).unwrap_err();
    let PlanError::TooLarge { size, limit, .. } = error else {
        panic!("expected TooLarge, got {error:?}");
    };
    assert_eq!((size, limit), (10_485_760, 1_048_576));
    assert_eq!(MAX_PLAN_BYTES, 1_048_576);
}

#[test]
fn text_over_the_size_limit_is_refused_too() {
    let text = format!("mode: composite\nname: {}\n", "a".repeat(10 * 1024 * 1024));
    let started = Instant::now();
    let error = validate_text("long-scalar.yaml", text).unwrap_err();
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    let PlanError::TooLarge { size, limit, .. } = error else {
        panic!("expected TooLarge, got {error:?}");
    };
    assert_eq!((size, limit), (10_485_783, 1_048_576));
}

#[test]
fn large_documents_under_the_limit_are_rejected_quickly() {
    let long_scalar = format!("mode: composite\nname: {}\n", "a".repeat(1_000_000));
    let (error, elapsed) = rejected("long-scalar.yaml", long_scalar);
    assert!(elapsed < LARGE_BOUND, "took {elapsed:?}");
    assert_eq!(error.line, 2);
    let many_keys = lines(0..20_000, |i| format!("k{i}: v"));
    let (error, elapsed) = rejected("many-keys.yaml", many_keys);
    assert!(elapsed < LARGE_BOUND, "took {elapsed:?}");
    assert_eq!(error.line, 1);
    // 21,000 channels of five nodes each are past the budget of 100,000 nodes.
    let (error, elapsed) = rejected("many-channels.yaml", channels(21_000));
    assert!(elapsed < LARGE_BOUND, "took {elapsed:?}");
    assert_eq!(
        error.message, "the plan has more than 100,000 YAML nodes (limit)",
        "{error}"
    );
}

/// A plan recording `n` channels, each named once.
fn channels(n: usize) -> String {
    let channels = lines(1..=n, |i| format!("  - {{cname: c{i}, uid: \"{i}\"}}"));
    crate::support::fixture_text("valid/composite.yaml").replacen(
        "  - cname: room\n    uid: \"1001\"\n",
        &channels,
        1,
    )
}

/// Thousands of channels reach every rule once per channel.
#[test]
fn many_channels_are_checked_quickly() {
    let started = Instant::now();
    let validated = validate_text("channels.yaml", channels(5_000)).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(validated.plan.channel_count(), 5_000);
    assert!(elapsed < LARGE_BOUND, "took {elapsed:?}");
}

/// Rejects `text`, quickly, with an error at a real position that does not
/// echo kilobytes of the offending line.
fn too_deep(name: &str, text: String) -> Diagnostic {
    let (error, elapsed) = rejected(name, text);
    assert!(elapsed < BOUND, "{name} took {elapsed:?}");
    assert!(error.line >= 1, "{name}: {error}");
    let shown = error.to_string();
    assert!(shown.len() < 2_000, "{name}: {} bytes shown", shown.len());
    error
}

#[test]
fn deeply_nested_sequences_are_cut_off() {
    let error = too_deep("flow.yaml", "[".repeat(10_000));
    assert_eq!(error.message, "recursion limit exceeded");
    assert!(error.hint.unwrap_or_default().contains("deep nesting"));
}

#[test]
fn deeply_nested_mappings_are_cut_off() {
    too_deep("map.yaml", format!("vars: {}", "{a: ".repeat(10_000)));
    too_deep(
        "start.yaml",
        format!("mode: composite\nstart: {}", "{a: ".repeat(10_000)),
    );
}

/// Regression: about 50 levels of block nesting overflowed the 2 MB stack of
/// a test (or tokio worker) thread in a debug build before the depth
/// budget of 64 was reached.
#[test]
fn deeply_indented_mappings_are_cut_off() {
    let text = lines(0..1_000, |depth| format!("{}k{depth}:", " ".repeat(depth)));
    too_deep("block.yaml", text);
    let text = lines(0..500, |depth| format!("{}- ", " ".repeat(depth * 2)));
    too_deep(
        "block-seq.yaml",
        format!("mode: composite\nchannels:\n{text}"),
    );
}

/// Regression: the message was the parser's "budget breached: Depth {
/// depth: 33 }". (`vars` takes any value, so nesting there reaches the
/// limit before any field is found unknown.)
#[test]
fn too_deep_nesting_is_told_in_words_where_it_crosses_the_limit() {
    let text = lines(0..100, |depth| {
        format!("{}k{depth}:", " ".repeat(depth + 2))
    });
    let error = too_deep("vars.yaml", format!("mode: composite\nvars:\n{text}"));
    assert_eq!(error.message, "the plan nests deeper than 32 levels");
    assert_eq!((error.line, error.column), (34, 34));
    let hint = error.hint.as_deref().unwrap_or_default();
    assert!(hint.contains("indentation that keeps growing"), "{hint}");
}

/// "Billion laughs": ten levels of nine aliases each, 9^10 strings if
/// expanded, put where the plan's own parse and the position index would
/// both walk it.
#[test]
fn alias_bombs_are_rejected_within_bounded_time() {
    let mut levels = vec![
        r#"a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]"#.to_owned(),
    ];
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        levels.push(format!("a{i}: &a{i} [{refs}]"));
    }
    let bomb = levels.join("\n");
    let indented = lines(0..levels.len(), |i| format!("  {}", levels[i]));
    let documents = [
        ("top.yaml", format!("{bomb}\n")),
        ("vars.yaml", format!("mode: composite\nvars:\n{indented}")),
        (
            "channels.yaml",
            format!("x: &x\n{indented}mode: composite\nchannels: *a9\n"),
        ),
    ];
    for (name, text) in documents {
        let started = Instant::now();
        let result = validate_text(name, text);
        let elapsed = started.elapsed();
        assert!(result.is_err(), "{name} validated");
        assert!(elapsed < BOUND, "{name} took {elapsed:?}");
    }
}

#[test]
fn a_directory_without_plans_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a plan").unwrap();
    let error = discover(&[dir.path().to_owned()]).unwrap_err();
    assert!(matches!(error, PlanError::NoPlans { .. }), "{error:?}");
    let diagnostics = error.diagnostics();
    assert_eq!(
        diagnostics[0].message,
        "no plan files (*.yaml, *.yml) in this directory"
    );
}

#[test]
fn a_missing_file_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = load(
        &dir.path().join("absent.yaml"),
        &options(full_env(), MissingEnv::Warn),
    )
    .unwrap_err();
    assert!(matches!(error, PlanError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("cannot read"), "{error}");
}

#[test]
fn yaml_syntax_errors_keep_their_line_and_column() {
    let cases = [
        (
            "mode: composite\nschedule:\n  duration: 30m\n   cron: x\n",
            (4, 8),
            "mapping values are not allowed in this context",
        ),
        (
            "mode: composite\nchannels:\n  - {cname: a, uid: \"1\"\n",
            (3, 5),
            "unclosed bracket",
        ),
        (
            "mode: composite\nmode: web\n",
            (2, 1),
            "duplicate mapping key",
        ),
        ("mode: composite\nname: \"unterminated\n", (2, 7), ""),
        // The tab continues the plain scalar `composite`, which is where
        // the parser places the error.
        ("mode: composite\n\tname: x\n", (1, 7), "found a tab"),
    ];
    for (text, position, message) in cases {
        let (error, _) = rejected("syntax.yaml", text.to_owned());
        assert_eq!((error.line, error.column), position, "{text:?}: {error}");
        assert!(error.message.contains(message), "{text:?}: {error}");
        assert!(error.source_line.is_some(), "{text:?}");
    }
}
