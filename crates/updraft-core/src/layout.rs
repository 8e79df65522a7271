//! Rules for the entry names of a bundle zip, as the plugin unzips it
//! (plugin-protocol.md §1.7): `index.html` at the root or under exactly one
//! top-level folder; no absolute, backslash or `..` paths. `__MACOSX/` and
//! dotfiles are ignored when looking for the layout.

/// Why a zip's layout is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// An absolute, backslash or `..` path (the name is given).
    UnsafePath(String),
    /// No `index.html` at the root or under exactly one top-level folder.
    NoIndexHtml,
    /// The zip has no files.
    Empty,
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnsafePath(p) => write!(
                f,
                "zip entry {p:?} is unsafe: absolute paths, backslashes and '..' are not allowed"
            ),
            Self::NoIndexHtml => write!(
                f,
                "the zip has no index.html at its root or inside a single top-level folder"
            ),
            Self::Empty => write!(f, "the zip has no entries"),
        }
    }
}

impl std::error::Error for LayoutError {}

/// Where the web root sits inside an accepted zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// `index.html` at the root.
    Root,
    /// Everything under one folder, with `index.html` directly inside it.
    Folder(String),
}

/// Checks one entry name for traversal.
pub fn check_entry_name(name: &str) -> Result<(), LayoutError> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name.split('/').any(|seg| seg == "..")
        || (name.len() >= 2 && name.as_bytes()[1] == b':');
    if bad {
        Err(LayoutError::UnsafePath(name.to_string()))
    } else {
        Ok(())
    }
}

fn ignored(name: &str) -> bool {
    name.starts_with("__MACOSX/")
        || name
            .split('/')
            .any(|seg| seg.starts_with('.') && !seg.is_empty())
}

/// Checks every entry and finds the web root.
pub fn check_layout<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Layout, LayoutError> {
    let mut relevant = Vec::new();
    let mut any = false;
    for n in names {
        any = true;
        check_entry_name(n)?;
        if !ignored(n) {
            relevant.push(n);
        }
    }
    if !any {
        return Err(LayoutError::Empty);
    }
    if relevant.contains(&"index.html") {
        return Ok(Layout::Root);
    }
    let mut tops = relevant
        .iter()
        .map(|n| n.split('/').next().unwrap_or(""))
        .collect::<Vec<_>>();
    tops.sort_unstable();
    tops.dedup();
    if let [top] = tops.as_slice() {
        let index = format!("{top}/index.html");
        if relevant.iter().any(|n| *n == index) {
            return Ok(Layout::Folder((*top).to_string()));
        }
    }
    Err(LayoutError::NoIndexHtml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_root_and_single_folder() {
        assert_eq!(check_layout(["index.html", "js/app.js"]), Ok(Layout::Root));
        assert_eq!(
            check_layout([
                "dist/",
                "dist/index.html",
                "dist/a.js",
                "__MACOSX/x",
                ".DS_Store"
            ]),
            Ok(Layout::Folder("dist".into()))
        );
    }

    #[test]
    fn refuses_unsafe_and_missing_index() {
        for bad in ["../x", "/etc/passwd", "a\\b", "a/../../b", "C:/x"] {
            assert!(
                matches!(
                    check_layout(["index.html", bad]),
                    Err(LayoutError::UnsafePath(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(check_layout(["a.js"]), Err(LayoutError::NoIndexHtml));
        assert_eq!(
            check_layout(["a/index.html", "b/x.js"]),
            Err(LayoutError::NoIndexHtml)
        );
        assert_eq!(
            check_layout(["a/b/index.html"]),
            Err(LayoutError::NoIndexHtml)
        );
        assert_eq!(check_layout(Vec::<&str>::new()), Err(LayoutError::Empty));
    }
}
