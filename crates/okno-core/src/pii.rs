//! Masking of personal data for restricted roles (outsourced contractors).
//!
//! The server applies these when it builds a contractor's sync projection; the desktop never
//! receives the clear value, so hiding is not left to the UI.
//!
//! The rule for numbers, in fields and in free text alike: a *number* is a run of digits (any
//! script's, and `*` for a digit already hidden) joined by at most [`MAX_SEPARATORS`]
//! separators (spaces, `-`, `.`, `/`, brackets, a leading `+`). A number with more than
//! [`MAX_CLEAR_NUMBER`] digits (phones in any format, card numbers, account numbers) keeps only
//! its last [`KEEP_TAIL`] digits, so an operator can still confirm "the number ending in 67";
//! shorter ones (order numbers, amounts, times) stay. Emails keep their first letter and
//! domain; messenger handles (`@name`) keep only the `@`. Written by hand, not with a regex
//! crate: one pass over the text, and the same scanner defines what [`clear_digits_exposed`]
//! checks, so the masking and its property test cannot drift apart.

/// The longest number that stays in clear text.
pub const MAX_CLEAR_NUMBER: usize = 6;
/// How many trailing digits of a longer number stay.
pub const KEEP_TAIL: usize = 2;
/// How many separator characters in a row may join two digit groups of one number.
pub const MAX_SEPARATORS: usize = 3;

fn is_digit(c: char) -> bool {
    c.is_numeric() || c == '*'
}

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '-' | '–' | '.' | '/' | '(' | ')' | '+')
}

/// The numbers in `chars`: (start, end) index ranges, each starting and ending on a digit.
fn numbers(chars: &[char]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        loop {
            while end < chars.len() && is_digit(chars[end]) {
                end += 1;
            }
            let mut gap = end;
            while gap < chars.len() && gap - end < MAX_SEPARATORS && is_separator(chars[gap]) {
                gap += 1;
            }
            if gap > end && gap < chars.len() && is_digit(chars[gap]) {
                end = gap;
            } else {
                break;
            }
        }
        found.push((start, end));
        i = end;
    }
    found
}

/// `+7 915 123-45-67` → `+* *** ***-**-67`; `+79151234567` → `+*********67`.
pub fn mask_phone(phone: &str) -> String {
    let mut chars: Vec<char> = phone.chars().collect();
    let digits = chars.iter().filter(|c| is_digit(**c)).count();
    let mut seen = 0;
    for c in &mut chars {
        if is_digit(*c) {
            seen += 1;
            if seen + KEEP_TAIL <= digits {
                *c = '*';
            }
        }
    }
    chars.into_iter().collect()
}

/// `ivan.petrov@mail.ru` → `i***@mail.ru` (the first character only if it is a letter, so an
/// address masked before comes out the same).
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).filter(|c| c.is_alphabetic()).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

fn is_email_local(c: char) -> bool {
    // `*`: an address masked before keeps its shape when masked again.
    c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-' | '*')
}

fn is_domain(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-')
}

/// Free text (a message body, a subject, a note) with every long number, email address and
/// messenger handle in it masked as the module doc says; the rest unchanged.
pub fn mask_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    // Emails and handles first (an address's digits belong to it), as replacements of spans.
    let mut spans: Vec<(usize, usize, String)> = Vec::new();
    for (pos, _) in chars.iter().enumerate().filter(|(_, c)| **c == '@') {
        let taken = spans.last().map_or(0, |s| s.1);
        if pos < taken {
            continue;
        }
        let mut left = pos;
        while left > taken && is_email_local(chars[left - 1]) {
            left -= 1;
        }
        let mut right = pos + 1;
        while right < chars.len() && is_domain(chars[right]) {
            right += 1;
        }
        // A trailing dot ends the sentence, not the domain.
        while right > pos + 1 && chars[right - 1] == '.' {
            right -= 1;
        }
        let domain: String = chars[pos + 1..right].iter().collect();
        if left < pos && domain.contains('.') {
            let local: String = chars[left..pos].iter().collect();
            spans.push((left, right, mask_email(&format!("{local}@{domain}"))));
        } else {
            // `@handle`: a messenger id (Telegram and the like), also right after other text.
            let mut end = pos + 1;
            while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            if end - pos > 3 {
                spans.push((pos, end, "@***".to_owned()));
            }
        }
    }
    let mut replaced = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, with) in spans {
        replaced.extend(&chars[at..start]);
        replaced.push_str(&with);
        at = end;
    }
    replaced.extend(&chars[at..]);
    mask_text_numbers(&replaced)
}

fn mask_text_numbers(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for (start, end) in numbers(&chars) {
        let digits = chars[start..end].iter().filter(|c| is_digit(**c)).count();
        if digits > MAX_CLEAR_NUMBER {
            let mut seen = 0;
            for c in &mut chars[start..end] {
                if is_digit(*c) {
                    seen += 1;
                    if seen + KEEP_TAIL <= digits {
                        *c = '*';
                    }
                }
            }
        }
    }
    chars.into_iter().collect()
}

/// The most clear digits any number in `text` exposes beyond what the rule allows: 0 when the
/// text keeps the rule (every number of more than [`MAX_CLEAR_NUMBER`] digits shows at most
/// [`KEEP_TAIL`]). For tests and audits of what a restricted role received.
pub fn clear_digits_exposed(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    numbers(&chars)
        .into_iter()
        .map(|(start, end)| {
            let run = &chars[start..end];
            let digits = run.iter().filter(|c| is_digit(**c)).count();
            let clear = run.iter().filter(|c| c.is_numeric()).count();
            if digits > MAX_CLEAR_NUMBER { clear.saturating_sub(KEEP_TAIL) } else { 0 }
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_field_keeps_only_its_last_two_digits() {
        assert_eq!(mask_phone("+7 915 123-45-67"), "+* *** ***-**-67");
        assert_eq!(mask_phone("+79151234567"), "+*********67");
        assert_eq!(mask_phone("8 (495) 555-01-02"), "* (***) ***-**-02");
        assert_eq!(mask_phone("12"), "12");
    }

    #[test]
    fn email_keeps_first_letter_and_domain() {
        assert_eq!(mask_email("ivan.petrov@mail.ru"), "i***@mail.ru");
        assert_eq!(mask_email("not-an-email"), "***");
    }

    #[test]
    fn free_text_is_masked_where_it_holds_contacts() {
        let cases = [
            ("Call me at +79151234567 please", "Call me at +*********67 please"),
            ("мой номер 8 (915) 123-45-67, спасибо", "мой номер * (***) ***-**-67, спасибо"),
            ("card 4276 1234 5678 9012 exp 12/27", "card **** **** **** **12 exp 12/27"),
            ("write to ivan.petrov@mail.ru.", "write to i***@mail.ru."),
            ("a@b.ru and c.d@e.com", "a***@b.ru and c***@e.com"),
            ("telegram @ivan_petrov", "telegram @***"),
            ("order 5512 for 1 500 ₽ at 12:30", "order 5512 for 1 500 ₽ at 12:30"),
            ("fullwidth ９１５１２３４５６７", "fullwidth ********６７"),
            ("already +7 *** ***-**-67", "already +* *** ***-**-67"),
        ];
        for (text, masked) in cases {
            assert_eq!(mask_text(text), masked, "{text:?}");
            assert_eq!(clear_digits_exposed(&mask_text(text)), 0, "{text:?}");
        }
        assert!(clear_digits_exposed("call +79151234567") > 0, "the check sees a clear phone");
    }

    #[test]
    fn no_masked_text_exposes_more_than_the_allowed_digits() {
        let pieces = [
            "0", "1", "7", "9", "42", "915", "+", "-", " ", "  ", "(", ")", ".", "/", "*", "@", "a", "Иван", "x@y.ru",
            "\n", ",", "٣", "９", "–", "\u{a0}", "@tg_user", "mail", ":",
        ];
        let mut rng = crate::rng::Rng::new(0x9E37_79B9_7F4A_7C15);
        for case in 0..20_000 {
            let text: String = (0..rng.below(40)).map(|_| *rng.pick(&pieces)).collect();
            let masked = mask_text(&text);
            assert_eq!(clear_digits_exposed(&masked), 0, "case {case}: {text:?} → {masked:?}");
        }
    }
}
