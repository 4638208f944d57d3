//! Which ticket a message belongs to: the `[#NUMBER]` token the center puts in every subject it
//! sends, and the reply subject that carries it. (Header threading, In-Reply-To and References
//! first, is the server's lookup; the token is its fallback for clients that drop headers.)

/// The ticket number in a subject's `[#NUMBER]` token, the last one when there are several
/// (a forwarded thread quotes older tokens first).
pub fn ticket_token(subject: &str) -> Option<i64> {
    let mut found = None;
    let mut rest = subject;
    while let Some(start) = rest.find("[#") {
        let after = &rest[start + 2..];
        let digits: &str = &after[..after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len())];
        if !digits.is_empty() && after[digits.len()..].starts_with(']') {
            found = digits.parse().ok().or(found);
        }
        rest = after;
    }
    found
}

/// The subject of a reply on ticket `number`: one `Re:` and the token, whatever the customer's
/// client did to the subject before.
pub fn reply_subject(subject: &str, number: i64) -> String {
    let mut base = subject.trim();
    loop {
        let lower = base.to_lowercase();
        let stripped = ["re:", "fwd:", "fw:", "ответ:", "отв:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| base[p.len()..].trim_start());
        match stripped {
            Some(s) => base = s,
            None => break,
        }
    }
    let token = format!("[#{number}]");
    if ticket_token(base) == Some(number) {
        format!("Re: {base}")
    } else if base.is_empty() {
        format!("Re: {token}")
    } else {
        format!("Re: {base} {token}")
    }
}

/// Message-IDs as stored and compared: without angle brackets, trimmed.
pub fn bare_message_id(id: &str) -> String {
    id.trim().trim_start_matches('<').trim_end_matches('>').trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_found_wherever_the_client_put_it() {
        let cases = [
            ("Re: Order late [#1042]", Some(1042)),
            ("[#7] Refund", Some(7)),
            ("Fwd: Re: [#12] old [#15] newer", Some(15)),
            ("Order #1042", None),
            ("[#] nothing [#12a]", None),
            ("Вопрос [#2001]", Some(2001)),
            ("", None),
        ];
        for (subject, want) in cases {
            assert_eq!(ticket_token(subject), want, "{subject:?}");
        }
    }

    #[test]
    fn a_reply_subject_has_one_re_and_one_token() {
        assert_eq!(reply_subject("Order late", 1042), "Re: Order late [#1042]");
        assert_eq!(reply_subject("RE: Re: Order late [#1042]", 1042), "Re: Order late [#1042]");
        assert_eq!(reply_subject("Ответ: Заказ", 5), "Re: Заказ [#5]");
        assert_eq!(reply_subject("  ", 5), "Re: [#5]");
    }

    #[test]
    fn message_ids_compare_without_brackets() {
        assert_eq!(bare_message_id(" <a.b@c> "), "a.b@c");
        assert_eq!(bare_message_id("a.b@c"), "a.b@c");
    }
}
