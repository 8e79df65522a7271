//! Values that must never be printed: [`Secret`] (an API key) and
//! [`DatabaseUrl`] (whose password is hidden). Their `Debug` and `Display`
//! never show the secret, so no log line, error or panic message can leak
//! it; code that needs the value says so with `.expose()`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a hidden secret prints as.
pub(crate) const REDACTED: &str = "<redacted>";

/// A secret value. Prints as `<redacted>` (also when serialized); read it
/// with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub(crate) fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> std::fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Secret)
    }
}

/// Serializes as `<redacted>`: a serialized secret is a printed secret.
impl<T> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// A database URL. `Debug` and `Display` show it with its password hidden
/// (see `redact_url`); [`DatabaseUrl::expose`] gives the real one.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(Secret<String>);

impl DatabaseUrl {
    /// Wraps `url`.
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(Secret::new(url.into()))
    }

    /// The URL with its password, for connecting.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Whether this is a SQLite URL (it holds no password).
    pub(crate) fn is_sqlite(&self) -> bool {
        self.expose().starts_with("sqlite:")
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(self.expose()))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({:?})", redact_url(self.expose()))
    }
}

/// Whether a URL query parameter's name (already percent-decoded) may carry
/// a password. Broad on purpose: `password`, `sslpassword`, `passfile`…
fn is_sensitive(key: &str) -> bool {
    key.to_ascii_lowercase().contains("pass")
}

/// A database URL with its password replaced by `***`: the user-info password
/// and every query parameter whose name, once percent-decoded as the database
/// driver decodes it (`pass%77ord=`), contains `pass`. The URL is read with the
/// parser the driver uses; one it cannot read is hidden after its scheme.
/// When in doubt, more is hidden, never less.
pub(crate) fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        let scheme = raw.split_once(':').map_or("", |(s, _)| s);
        let scheme: String = scheme
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+-.".contains(*c))
            .collect();
        return format!("{scheme}:(not a valid URL, hidden)");
    };
    let mut changed = false;
    if url.password().is_some() {
        // Only URLs that cannot have a password refuse this, and they have none.
        changed = url.set_password(Some("***")).is_ok();
    }
    if url.query_pairs().any(|(k, _)| is_sensitive(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_sensitive(&k) {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if changed {
        url.to_string()
    } else {
        raw.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("upd_0123456789abcdef".to_string());
        for shown in [
            format!("{s}"),
            format!("{s:?}"),
            format!("{:?}", Some(s.clone())),
            serde_json::to_string(&s).unwrap(),
        ] {
            assert!(!shown.contains("0123456789"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
        assert_eq!(s.expose(), "upd_0123456789abcdef");
        let read: Secret<String> = serde_json::from_str("\"k\"").unwrap();
        assert_eq!(read.expose(), "k");
    }

    #[test]
    fn database_passwords_are_redacted() {
        for (url, shown) in [
            ("postgres://u:s3cret@db/x", "postgres://u:***@db/x"),
            ("postgres://u:p@ss@db:5432/x", "postgres://u:***@db:5432/x"),
            (
                "postgres://u@db/x?password=s3cret&sslmode=require",
                "postgres://u@db/x?password=***&sslmode=require",
            ),
            // The driver decodes parameter names: this is `password`.
            (
                "postgres://u@db/x?pass%77ord=s3cret",
                "postgres://u@db/x?password=***",
            ),
            (
                "postgres://u@db/x?sslmode=disable&PASSWORD=s3cret",
                "postgres://u@db/x?sslmode=disable&PASSWORD=***",
            ),
            (
                "postgresql://u:s%40cret@db/x?application_name=a&sslpassword=s3cret",
                "postgresql://u:***@db/x?application_name=a&sslpassword=***",
            ),
            ("postgres://db/x", "postgres://db/x"),
            (
                "sqlite://./updraft-data/updraft.db",
                "sqlite://./updraft-data/updraft.db",
            ),
            // Not a URL the driver would read: everything after the scheme goes.
            (
                "postgres://u:pa/ss@db/x",
                "postgres:(not a valid URL, hidden)",
            ),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn a_database_url_prints_without_its_password() {
        let url = DatabaseUrl::new("postgres://ops:s3cret@db/x?pass%77ord=s3cret");
        for shown in [format!("{url}"), format!("{url:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("postgres://ops:***@db/x"), "{shown}");
        }
        assert_eq!(url.expose(), "postgres://ops:s3cret@db/x?pass%77ord=s3cret");
    }
}
