//! `validate` never panics: not on arbitrary bytes, not on YAML-shaped text
//! built from plan keys and awkward values, not on a valid plan with
//! random damage.

use proptest::prelude::*;
use recplan::plan::{MissingEnv, PlanError, Source, validate};

use crate::support::{full_env, options};

/// Validates `text` under both env policies. A panic fails the property;
/// any `Ok` or `Err` is fine, but an error must say something.
fn check(text: &str) -> Result<(), TestCaseError> {
    for missing_env in [MissingEnv::Warn, MissingEnv::Refuse] {
        let source = Source::from_text("prop.yaml", text);
        if let Err(error) = validate(source, &options(full_env(), missing_env)) {
            let diagnostics = error.diagnostics();
            prop_assert!(!diagnostics.is_empty());
            prop_assert!(diagnostics.iter().all(|d| !d.message.is_empty()));
            if let PlanError::Invalid { diagnostics } = &error {
                prop_assert!(diagnostics.iter().any(recplan::plan::Diagnostic::is_error));
            }
        }
    }
    Ok(())
}

const KEYS: &[&str] = &[
    "name",
    "app_id",
    "mode",
    "vars",
    "schedule",
    "cron",
    "timezone",
    "duration",
    "starting_deadline",
    "overlap",
    "skip_dates",
    "paused",
    "on_failure",
    "channels",
    "cname",
    "uid",
    "backup_uid",
    "acquire",
    "resourceExpiredHour",
    "scene",
    "start",
    "token",
    "storageConfig",
    "vendor",
    "region",
    "bucket",
    "accessKey",
    "secretKey",
    "fileNamePrefix",
    "extensionParams",
    "recordingConfig",
    "channelType",
    "streamTypes",
    "maxIdleTime",
    "subscribeUidGroup",
    "subscribeAudioUids",
    "unSubscribeVideoUids",
    "transcodingConfig",
    "width",
    "height",
    "fps",
    "bitrate",
    "mixedVideoLayout",
    "layoutConfig",
    "x_axis",
    "backgroundColor",
    "recordingFileConfig",
    "avFileType",
    "snapshotConfig",
    "fileType",
    "extensionServiceConfig",
    "extensionServices",
    "serviceName",
    "serviceParam",
    "steps",
    "at",
    "update",
    "updateLayout",
    "streamSubscribe",
    "webRecordingConfig",
    "stop",
    "<<",
    "? complex",
    "\"quoted key\"",
    "k: v",
    "-",
    "&anchor key",
    "",
    "ü",
];

const VALUES: &[&str] = &[
    "composite",
    "individual",
    "web",
    "mix",
    "30m",
    "0s",
    "1h30m",
    "30",
    "-5s",
    "99999999999999999999h",
    "\"0 9 * * MON-FRI\"",
    "\"* * * * * * *\"",
    "Europe/Berlin",
    "Mars/Olympus",
    "\"1001\"",
    "\"0\"",
    "\"4294967296\"",
    "0",
    "-1",
    "4294967296",
    "18446744073709551616",
    "1.5",
    "1e999",
    ".nan",
    "-.inf",
    "0x1F",
    "0o17",
    "true",
    "~",
    "null",
    "[]",
    "{}",
    "[hls, mp4]",
    "[mp4]",
    "\"{{vars.team}}\"",
    "\"{{env.NOPE}}\"",
    "\"{{#if}}\"",
    "\"{{\"",
    "\"}}{{\"",
    "\"{{occurrence.date}}\"",
    "\"{{channel.cname}}\"",
    "aws_s3",
    "eu-central-1",
    "\"#allstream#\"",
    "2026-12-24",
    "2026-02-30",
    "\"#1E1E1E\"",
    "*anchor",
    "&anchor value",
    "!!binary aGVsbG8=",
    "!custom tag",
    "|",
    ">-",
    "'single'",
    "\"esc \\u0000 \\x41\"",
    "\"\\ud800\"",
    "#comment",
    ": colon",
    "- dash",
    "@at",
    "`tick`",
    "\"ü\u{200b}\u{feff}\"",
    "",
];

/// A YAML-ish tree: scalars from [`VALUES`], mappings keyed by [`KEYS`].
#[derive(Clone, Debug)]
enum Node {
    Scalar(&'static str),
    Map(Vec<(&'static str, Node)>),
    Seq(Vec<Node>),
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = proptest::sample::select(VALUES).prop_map(Node::Scalar);
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec((proptest::sample::select(KEYS), inner.clone()), 0..6)
                .prop_map(Node::Map),
            proptest::collection::vec(inner, 0..6).prop_map(Node::Seq),
        ]
    })
}

/// Writes a tree as block YAML (or flow, for `flow`), indenting by `indent`.
fn write(node: &Node, indent: usize, flow: bool, out: &mut String) {
    let pad = " ".repeat(indent);
    match (node, flow) {
        (Node::Scalar(value), _) => out.push_str(value),
        (Node::Map(entries), true) => {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push_str(": ");
                write(value, indent, true, out);
            }
            out.push('}');
        }
        (Node::Seq(items), true) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(item, indent, true, out);
            }
            out.push(']');
        }
        (Node::Map(entries), false) => {
            for (key, value) in entries {
                out.push('\n');
                out.push_str(&pad);
                out.push_str(key);
                out.push(':');
                if let Node::Scalar(_) = value {
                    out.push(' ');
                }
                write(value, indent + 2, false, out);
            }
        }
        (Node::Seq(items), false) => {
            for item in items {
                out.push('\n');
                out.push_str(&pad);
                out.push_str("- ");
                write(item, indent + 2, true, out);
            }
        }
    }
}

/// A whole document: block YAML at the top, some subtrees in flow style,
/// then a few lines shifted to break (or not) the indentation.
fn document() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(
            (proptest::sample::select(KEYS), node(), any::<bool>()),
            0..8,
        ),
        proptest::collection::vec(
            (any::<prop::sample::Index>(), 0..4usize, any::<bool>()),
            0..4,
        ),
    )
        .prop_map(|(entries, shifts)| {
            let mut text = String::new();
            for (key, value, flow) in &entries {
                text.push_str(key);
                text.push(':');
                if *flow || matches!(value, Node::Scalar(_)) {
                    text.push(' ');
                    write(value, 2, true, &mut text);
                } else {
                    write(value, 2, false, &mut text);
                }
                text.push('\n');
            }
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            for (index, by, tab) in shifts {
                if lines.is_empty() {
                    break;
                }
                let at = index.index(lines.len());
                let line = &mut lines[at];
                let prefix = if tab { "\t".to_owned() } else { " ".repeat(by) };
                line.insert_str(0, &prefix);
            }
            lines.join("\n")
        })
}

/// Damage to a valid plan: a line removed, replaced, duplicated or cut.
#[derive(Clone, Debug)]
enum Damage {
    Remove(prop::sample::Index),
    Replace(prop::sample::Index, String),
    Duplicate(prop::sample::Index),
    Truncate(prop::sample::Index, prop::sample::Index),
    Value(prop::sample::Index, &'static str),
}

fn damage() -> impl Strategy<Value = Damage> {
    let index = any::<prop::sample::Index>;
    prop_oneof![
        index().prop_map(Damage::Remove),
        (index(), "[ -~]{0,40}").prop_map(|(i, s)| Damage::Replace(i, s)),
        index().prop_map(Damage::Duplicate),
        (index(), index()).prop_map(|(i, j)| Damage::Truncate(i, j)),
        (index(), proptest::sample::select(VALUES)).prop_map(|(i, v)| Damage::Value(i, v)),
    ]
}

fn apply(text: &str, damages: &[Damage]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for damage in damages {
        if lines.is_empty() {
            break;
        }
        let len = lines.len();
        match damage {
            Damage::Remove(i) => {
                lines.remove(i.index(len));
            }
            Damage::Replace(i, with) => lines[i.index(len)].clone_from(with),
            Damage::Duplicate(i) => {
                let line = lines[i.index(len)].clone();
                lines.insert(i.index(len), line);
            }
            Damage::Truncate(i, at) => {
                let line = &mut lines[i.index(len)];
                let cut = at.index(line.len() + 1);
                if line.is_char_boundary(cut) {
                    line.truncate(cut);
                }
            }
            Damage::Value(i, value) => {
                let line = &mut lines[i.index(len)];
                if let Some(colon) = line.find(": ") {
                    line.truncate(colon + 2);
                    line.push_str(value);
                }
            }
        }
    }
    lines.join("\n")
}

const PLANS: &[&str] = &[
    include_str!("../../../plans/weekly-standup.yaml"),
    include_str!("../../../plans/classrooms.yaml"),
    include_str!("../../../plans/dashboard-web.yaml"),
    include_str!("../../../plans/demo.yaml"),
];

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text)?;
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in document()) {
        check(&text)?;
    }

    #[test]
    fn damaged_plans_never_panic(
        plan in proptest::sample::select(PLANS),
        damages in proptest::collection::vec(damage(), 1..4),
    ) {
        check(&apply(plan, &damages))?;
    }
}
