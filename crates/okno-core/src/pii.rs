//! Masking of personal data for restricted roles (outsourced contractors).
//!
//! The server applies these when it builds a contractor's sync projection; the desktop never
//! receives the clear value, so hiding is not left to the UI.

/// `+7 915 123-45-67` → `+7 *** ***-**-67`: the country code and the last two digits stay so
/// an operator can still confirm "the number ending in 67".
pub fn mask_phone(phone: &str) -> String {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let keep_tail = 2;
    let mut seen = 0usize;
    let leading_country = phone.trim_start().starts_with('+');
    let mut in_country_code = leading_country;
    phone
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if in_country_code || seen > digits.saturating_sub(keep_tail) { c } else { '*' }
            } else {
                if c != '+' {
                    in_country_code = false;
                }
                c
            }
        })
        .collect()
}

/// `ivan.petrov@mail.ru` → `i***@mail.ru`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_keeps_country_code_and_last_two_digits() {
        assert_eq!(mask_phone("+7 915 123-45-67"), "+7 *** ***-**-67");
        assert_eq!(mask_phone("8 (495) 555-01-02"), "* (***) ***-**-02");
        assert_eq!(mask_phone("12"), "12");
    }

    #[test]
    fn email_keeps_first_letter_and_domain() {
        assert_eq!(mask_email("ivan.petrov@mail.ru"), "i***@mail.ru");
        assert_eq!(mask_email("not-an-email"), "***");
    }
}
