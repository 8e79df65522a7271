//! Reading a value out of a `capacitor.config.ts` or `.js` without running it:
//! the one lookup the `updraft` CLI and `updraft-sim` share, so both read the
//! same `appId`, `webDir` or `publicKey` from the same file.

/// The string literal given to `key` in a TypeScript or JavaScript capacitor
/// config (`key: '…'`, `"…"` or `` `…` ``; the key may itself be quoted), with
/// `\n` escapes turned into newlines.
///
/// The first `key:` in the file decides: when its value is not a string
/// literal (`publicKey: process.env.KEY`), the value is unknown and this is
/// `None`, even if a later `key:` has a literal. A key is matched as a whole
/// word, so `mypublicKey:` is not `publicKey:`.
pub fn script_string(text: &str, key: &str) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(found) = text[from..].find(key) {
        let start = from + found;
        let end = start + key.len();
        from = end;
        let before = &text[..start];
        let (before, quote) = match before.chars().next_back() {
            Some(q @ ('\'' | '"')) => (&before[..before.len() - 1], Some(q)),
            _ => (before, None),
        };
        let mut after = &text[end..];
        if let Some(q) = quote {
            match after.strip_prefix(q) {
                Some(rest) => after = rest,
                None => continue,
            }
        }
        let word_start = before
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'));
        let word_end = quote.is_some()
            || after
                .chars()
                .next()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$'));
        let Some(value) = after.trim_start().strip_prefix(':') else {
            continue;
        };
        if !(word_start && word_end) {
            continue;
        }
        return literal(value.trim_start());
    }
    None
}

/// The string literal at the start of `text`, up to its first unescaped
/// closing quote.
fn literal(text: &str) -> Option<String> {
    let quote = text
        .chars()
        .next()
        .filter(|q| matches!(q, '\'' | '"' | '`'))?;
    let body = &text[1..];
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == quote => return Some(unescape(&body[..i], quote)),
            _ => {}
        }
    }
    None
}

fn unescape(body: &str, quote: char) -> String {
    body.replace("\\n", "\n")
        .replace(&format!("\\{quote}"), &quote.to_string())
}

#[cfg(test)]
mod tests {
    use super::script_string;

    const TS: &str = "import type { CapacitorConfig } from '@capacitor/cli';\nconst config: CapacitorConfig = {\n  appId: 'com.example.ts',\n  appName: \"My App\",\n  webDir: `www`,\n  plugins: { CapacitorUpdater: {\n    publicKey: '-----BEGIN RSA PUBLIC KEY-----\\nMIIB\\n-----END RSA PUBLIC KEY-----\\n',\n  } },\n};\nexport default config;\n";

    #[test]
    fn reads_each_kind_of_string_literal() {
        assert_eq!(
            script_string(TS, "appId").as_deref(),
            Some("com.example.ts")
        );
        assert_eq!(script_string(TS, "appName").as_deref(), Some("My App"));
        assert_eq!(script_string(TS, "webDir").as_deref(), Some("www"));
        assert_eq!(
            script_string(TS, "publicKey").as_deref(),
            Some("-----BEGIN RSA PUBLIC KEY-----\nMIIB\n-----END RSA PUBLIC KEY-----\n")
        );
        assert_eq!(script_string(TS, "updateUrl"), None);
    }

    #[test]
    fn quoted_keys_and_escaped_quotes() {
        assert_eq!(
            script_string(r#"{ "appId": "a.b" }"#, "appId").as_deref(),
            Some("a.b")
        );
        assert_eq!(
            script_string(r"{ appName: 'Bob\'s app' }", "appName").as_deref(),
            Some("Bob's app")
        );
    }

    #[test]
    fn only_whole_keys_match() {
        assert_eq!(script_string("mypublicKey: 'x'", "publicKey"), None);
        assert_eq!(script_string("publicKeyId: 'x'", "publicKey"), None);
        assert_eq!(script_string("appId: 'a.b'", "publicKey"), None);
        assert_eq!(
            script_string("mypublicKey: 'x', publicKey: 'y'", "publicKey").as_deref(),
            Some("y")
        );
    }

    #[test]
    fn the_first_key_decides_even_when_it_is_not_a_literal() {
        let ts = "publicKey: process.env.KEY,\n// publicKey: 'old',\n";
        assert_eq!(script_string(ts, "publicKey"), None);
        assert_eq!(script_string("publicKey: 'unterminated", "publicKey"), None);
    }
}
