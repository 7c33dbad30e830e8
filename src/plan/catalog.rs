//! The plans a command loads from files and directories: what `validate`
//! checks and what the daemon runs. A file is read again only when its
//! size, modification time or inode changed, so that one edit among
//! 10,000 plans costs one validation, not 10,000. Plan names must be
//! unique among everything loaded: the first file keeps a name.

use std::collections::{BTreeMap, HashMap};
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

/// A file as last seen: its stamp, and the scan that saw it.
#[derive(Debug)]
struct Seen {
    stamp: Stamp,
    scan: u64,
}

/// Files under a set of paths, each with the stamp it was last loaded at.
#[derive(Debug, Default)]
pub struct Catalog {
    paths: Vec<PathBuf>,
    /// Hashed rather than ordered: with 10,000 files, comparing paths
    /// component by component costs more than the scan's system calls.
    files: HashMap<PathBuf, Seen>,
    /// How many scans were made: files not seen by the latest are gone.
    scans: u64,
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

impl Catalog {
    pub fn new(paths: Vec<PathBuf>) -> Catalog {
        Catalog {
            paths,
            files: HashMap::new(),
            scans: 0,
        }
    }

    /// Lists the paths again and loads every file that is new or changed,
    /// in the order the paths were given, each file once.
    pub fn scan(&mut self, options: &Options) -> Scan {
        self.scans += 1;
        let mut scan = Scan::default();
        // Files under a path that cannot be listed now are kept as they were.
        let mut unlisted: Vec<PathBuf> = Vec::new();
        for path in &self.paths {
            let files = match list(path) {
                Ok(files) => files,
                Err(error) => {
                    unlisted.push(path.clone());
                    scan.unreadable.push((path.clone(), error));
                    continue;
                }
            };
            if files.is_empty() {
                scan.empty.push(path.clone());
            }
            for (file, metadata) in files {
                let stamp = Stamp::of(&metadata);
                match self.files.get_mut(&file) {
                    // Listed twice (a file and its directory): once is enough.
                    Some(seen) if seen.scan == self.scans => {}
                    Some(seen) if seen.stamp == stamp => {
                        seen.scan = self.scans;
                        scan.unchanged += 1;
                    }
                    _ => {
                        let seen = Seen {
                            stamp,
                            scan: self.scans,
                        };
                        self.files.insert(file.clone(), seen);
                        let loaded = load_checked(&file, options);
                        scan.loaded.push((file, loaded));
                    }
                }
            }
        }
        let mut gone: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(_, seen)| seen.scan != self.scans)
            .map(|(file, _)| file)
            .filter(|file| !unlisted.iter().any(|path| file.starts_with(path)))
            .cloned()
            .collect();
        gone.sort();
        for file in gone {
            self.files.remove(&file);
            scan.removed.push(file);
        }
        // Kept as they were: seen, for the next scan's purposes.
        if !unlisted.is_empty() {
            for seen in self.files.values_mut() {
                seen.scan = self.scans;
            }
        }
        scan
    }
}

impl Catalog {
    /// Has `file` loaded again by the next look at it, changed or not:
    /// for a plan whose calendar changed.
    pub fn forget(&mut self, file: &Path) {
        self.files.remove(file);
    }

    /// Looks again at `changed` files only (a watcher's report), and loads
    /// those that are new or changed. None if one of them is not known to
    /// be under the paths, or is a directory: then only a [`scan`](Catalog::scan)
    /// can tell what changed.
    pub fn rescan(&mut self, changed: &[PathBuf], options: &Options) -> Option<Scan> {
        let mut files: Vec<PathBuf> = changed
            .iter()
            .map(|file| self.under_paths(file))
            .collect::<Option<_>>()?;
        files.sort();
        files.dedup();
        let mut scan = Scan::default();
        for file in files {
            if !is_plan_file(&file) && !self.paths.contains(&file) {
                continue;
            }
            match std::fs::metadata(&file) {
                Ok(metadata) if metadata.is_dir() => return None,
                Ok(metadata) => {
                    let stamp = Stamp::of(&metadata);
                    match self.files.get_mut(&file) {
                        Some(seen) if seen.stamp == stamp => scan.unchanged += 1,
                        _ => {
                            let seen = Seen {
                                stamp,
                                scan: self.scans,
                            };
                            self.files.insert(file.clone(), seen);
                            let loaded = load_checked(&file, options);
                            scan.loaded.push((file, loaded));
                        }
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    if self.files.remove(&file).is_some() {
                        scan.removed.push(file);
                    }
                }
                Err(error) => scan.unreadable.push((file, error)),
            }
        }
        Some(scan)
    }

    /// `file` as the paths name it: a path itself, or in a directory among
    /// them (given relative or absolute).
    fn under_paths(&self, file: &Path) -> Option<PathBuf> {
        let parent = file.parent()?;
        let name = file.file_name()?;
        self.paths.iter().find_map(|path| {
            if path == file {
                return Some(path.clone());
            }
            let absolute = std::path::absolute(path).ok();
            if path == parent || absolute.as_deref() == Some(parent) {
                return Some(path.join(name));
            }
            (absolute.as_deref() == Some(file)).then(|| path.clone())
        })
    }
}

/// The plan files at `path` with their metadata: the file itself, or a
/// directory's `*.yaml` and `*.yml` files (not recursively), in name order.
fn list(path: &Path) -> io::Result<Vec<(PathBuf, std::fs::Metadata)>> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_dir() {
        return Ok(vec![(path.to_owned(), metadata)]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        if !is_plan_file(Path::new(&entry.file_name())) {
            continue;
        }
        // Relative to the open directory (cheaper than by full path);
        // through a symlink, as reading the file will.
        let metadata = match entry.file_type() {
            Ok(kind) if kind.is_symlink() => std::fs::metadata(entry.path()),
            _ => entry.metadata(),
        };
        if let Ok(metadata) = metadata
            && metadata.is_file()
        {
            files.push((entry.path(), metadata));
        }
    }
    // One directory's paths differ only in their last component, so
    // comparing bytes gives name order.
    files.sort_unstable_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
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
