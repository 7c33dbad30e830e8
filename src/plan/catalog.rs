//! The plans a command loads from files and directories: what `validate`
//! checks and what the daemon runs. A file is read again only when its
//! size, modification time or inode changed, so that one edit among
//! 10,000 plans costs one validation, not 10,000. Plan names must be
//! unique among everything loaded: the first file keeps a name.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::overlap::self_overlap_diagnostic;
use super::{Diagnostic, Options, PlanError, Validated, is_plan_file, load};

/// What identifies one version of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(metadata: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt as _;
        Stamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode: metadata.ino(),
        }
    }
}

/// Files under a set of paths, each with the stamp it was last loaded at.
#[derive(Debug, Default)]
pub struct Catalog {
    paths: Vec<PathBuf>,
    stamps: BTreeMap<PathBuf, Stamp>,
}

/// What one scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Files new or changed since the last scan, with what loading them gave.
    pub loaded: Vec<(PathBuf, Result<Validated, PlanError>)>,
    /// Files gone since the last scan.
    pub removed: Vec<PathBuf>,
    /// Files that did not change.
    pub unchanged: usize,
    /// Paths that could not be read or listed: their files are neither
    /// loaded nor removed.
    pub unreadable: Vec<(PathBuf, io::Error)>,
    /// Directories with no plan file in them.
    pub empty: Vec<PathBuf>,
}

impl Scan {
    /// Whether the scan found nothing new, changed or gone.
    pub fn is_quiet(&self) -> bool {
        self.loaded.is_empty() && self.removed.is_empty()
    }
}

impl Catalog {
    pub fn new(paths: Vec<PathBuf>) -> Catalog {
        Catalog {
            paths,
            stamps: BTreeMap::new(),
        }
    }

    /// Lists the paths again and loads every file that is new or changed.
    pub fn scan(&mut self, options: &Options) -> Scan {
        let mut scan = Scan::default();
        let mut seen: BTreeMap<PathBuf, std::fs::Metadata> = BTreeMap::new();
        // Files under a path that cannot be listed now are kept as they were.
        let mut unlisted: Vec<PathBuf> = Vec::new();
        for path in &self.paths {
            match list(path) {
                Ok(files) => {
                    if files.is_empty() {
                        scan.empty.push(path.clone());
                    }
                    seen.extend(files);
                }
                Err(error) => {
                    unlisted.push(path.clone());
                    scan.unreadable.push((path.clone(), error));
                }
            }
        }
        for (file, metadata) in &seen {
            let stamp = Stamp::of(metadata);
            if self.stamps.get(file) == Some(&stamp) {
                scan.unchanged += 1;
                continue;
            }
            self.stamps.insert(file.clone(), stamp);
            scan.loaded
                .push((file.clone(), load_checked(file, options)));
        }
        let gone: Vec<PathBuf> = self
            .stamps
            .keys()
            .filter(|file| !seen.contains_key(*file))
            .filter(|file| !unlisted.iter().any(|path| file.starts_with(path)))
            .cloned()
            .collect();
        for file in gone {
            self.stamps.remove(&file);
            scan.removed.push(file);
        }
        scan
    }

    /// Forgets `file`'s stamp, so that the next scan loads it again even if
    /// it did not change (a plan refused for a name another file held).
    pub fn forget(&mut self, file: &Path) {
        self.stamps.remove(file);
    }
}

/// The plan files at `path` with their metadata: the file itself, or a
/// directory's `*.yaml` and `*.yml` files (not recursively).
fn list(path: &Path) -> io::Result<BTreeMap<PathBuf, std::fs::Metadata>> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_dir() {
        return Ok(BTreeMap::from([(path.to_owned(), metadata)]));
    }
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let file = entry.path();
        if !is_plan_file(&file) {
            continue;
        }
        // Through symlinks, as reading the file will.
        match std::fs::metadata(&file) {
            Ok(metadata) if metadata.is_file() => {
                files.insert(file, metadata);
            }
            _ => {}
        }
    }
    Ok(files)
}

/// Loads a plan and adds what only a whole plan shows: a schedule that
/// overlaps itself.
fn load_checked(file: &Path, options: &Options) -> Result<Validated, PlanError> {
    let mut validated = load(file, options)?;
    if let Some(diagnostic) = self_overlap_diagnostic(&validated.plan, options.now) {
        if diagnostic.is_error() {
            let mut diagnostics = validated.warnings;
            diagnostics.push(diagnostic);
            return Err(PlanError::Invalid { diagnostics });
        }
        validated.warnings.push(diagnostic);
    }
    Ok(validated)
}

/// Two files that give their plan the same name: the first keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameClash {
    pub name: String,
    pub kept: PathBuf,
    pub refused: PathBuf,
}

impl NameClash {
    /// The error reported at the refused file.
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic::error(
            &self.refused,
            "name",
            format!(
                "plan name `{}` is already used by {}: one of the two would never record",
                self.name,
                self.kept.display()
            ),
        )
        .with_hint(Some(
            "give each plan a `name:` of its own (it defaults to the file stem)".to_owned(),
        ))
    }
}

/// The files among `plans` (file and plan name, in load order) whose name
/// an earlier file already has.
pub fn name_clashes<'a>(plans: impl IntoIterator<Item = (&'a Path, &'a str)>) -> Vec<NameClash> {
    let mut first: BTreeMap<&str, &Path> = BTreeMap::new();
    let mut clashes = Vec::new();
    for (file, name) in plans {
        match first.get(name) {
            Some(kept) => clashes.push(NameClash {
                name: name.to_owned(),
                kept: (*kept).to_owned(),
                refused: file.to_owned(),
            }),
            None => {
                first.insert(name, file);
            }
        }
    }
    clashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_file_keeps_a_name() {
        let plans = [
            (Path::new("a.yaml"), "standup"),
            (Path::new("b.yaml"), "review"),
            (Path::new("c.yaml"), "standup"),
            (Path::new("d.yaml"), "standup"),
        ];
        let clashes = name_clashes(plans);
        assert_eq!(
            clashes,
            vec![
                NameClash {
                    name: "standup".into(),
                    kept: "a.yaml".into(),
                    refused: "c.yaml".into()
                },
                NameClash {
                    name: "standup".into(),
                    kept: "a.yaml".into(),
                    refused: "d.yaml".into()
                },
            ]
        );
    }

    #[test]
    fn distinct_names_do_not_clash() {
        let plans = [(Path::new("a.yaml"), "a"), (Path::new("b.yaml"), "b")];
        assert!(name_clashes(plans).is_empty());
    }
}
