//! `@mentions` in an internal note: which account handles a note names, so that the server can
//! pull those colleagues (or an outside contractor, by email) into the ticket.
//!
//! A handle is an account's login (`@anna`, `@ext.ivanov`): letters, digits, `.`, `_` and `-`,
//! starting right after an `@` that does not follow a letter or digit, so that the local part
//! of an email address (`olga@shop.test`) is never read as a mention. A trailing `.` or `-` is
//! punctuation ("ask @anna.") and not part of the handle. Handles compare case-insensitively.

/// The distinct handles mentioned in `text`, lower-cased, in order of first appearance.
pub fn mentioned_handles(text: &str) -> Vec<String> {
    let mut handles: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let starts = c == '@' && !previous.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '.');
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[at + 1..];
        let len: usize =
            rest.chars().take_while(|&h| h.is_alphanumeric() || matches!(h, '.' | '_' | '-')).map(char::len_utf8).sum();
        let handle = rest[..len].trim_end_matches(['.', '-']);
        if handle.is_empty() {
            continue;
        }
        let handle = handle.to_lowercase();
        if !handles.contains(&handle) {
            handles.push(handle);
        }
        // Skip what was read, so an `@` inside the handle's run is not a second start.
        while chars.peek().is_some_and(|&(i, _)| i < at + 1 + len) {
            previous = chars.next().map(|(_, c)| c);
        }
    }
    handles
}

#[cfg(test)]
mod tests {
    use super::mentioned_handles;

    #[test]
    fn handles_are_read_from_notes_as_people_write_them() {
        let cases: &[(&str, &[&str])] = &[
            ("@anna please look", &["anna"]),
            ("ask @Anna and @boris.", &["anna", "boris"]),
            ("(@ext.ivanov) can you check?", &["ext.ivanov"]),
            ("the customer wrote from olga@shop.test", &[]),
            ("@anna, @anna again", &["anna"]),
            ("@Ольга посмотри", &["ольга"]),
            ("email @ or @@", &[]),
            ("first line\n@boris-k- second", &["boris-k"]),
            ("", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(mentioned_handles(text), *expected, "{text:?}");
        }
    }
}
