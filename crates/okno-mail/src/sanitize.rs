//! Mail HTML made safe to show in the desk, with `ammonia` (html5ever underneath): no scripts,
//! styles sheets, forms, frames or event handlers; links open nowhere by themselves
//! (`rel="noopener noreferrer"`); images may point at `cid:` parts, inline `data:` or the
//! sender's web server. The last are tracking pixels as often as pictures: the desk shows them
//! only when the operator asks (its viewer's content security policy blocks remote images until
//! then), and [`SafeHtml::remote_images`] tells it whether to offer that at all.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Sanitised HTML and what the desk needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeHtml {
    pub html: String,
    /// `<img>` elements loading from `http:` or `https:`.
    pub remote_images: usize,
}

/// Sanitise mail HTML for display.
pub fn sanitize(html: &str) -> SafeHtml {
    let remote = Arc::new(AtomicUsize::new(0));
    let counter = remote.clone();
    let schemes: HashSet<&str> = ["http", "https", "mailto", "tel", "cid", "data"].into_iter().collect();
    let clean = ammonia::Builder::default()
        .url_schemes(schemes)
        .link_rel(Some("noopener noreferrer"))
        .attribute_filter(move |element, attribute, value| {
            let lower = value.trim_start().to_ascii_lowercase();
            match (element, attribute) {
                ("img", "src") => {
                    if lower.starts_with("http:") || lower.starts_with("https:") {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(value.into())
                }
                // `data:` only for pictures: a data: link could carry a page of its own.
                (_, "href") if lower.starts_with("data:") => None,
                _ => Some(value.into()),
            }
        })
        .clean(html)
        .to_string();
    SafeHtml { html: clean, remote_images: remote.load(Ordering::Relaxed) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_forms_go_text_and_images_stay() {
        let dirty = r#"<p onclick="steal()">Hello <b>Ivan</b><script>alert(1)</script></p>
            <img src="https://tracker.example/p.gif"><img src="cid:logo@x"><a href="javascript:alert(1)">x</a>
            <a href="data:text/html,<script>">y</a><form action="https://evil"><input name=p></form>
            <iframe src="https://evil"></iframe><style>body{display:none}</style>"#;
        let safe = sanitize(dirty);
        for banned in ["script", "onclick", "javascript:", "<form", "<input", "<iframe", "<style", "data:text"] {
            assert!(!safe.html.contains(banned), "{banned} survived: {}", safe.html);
        }
        assert!(safe.html.contains("<b>Ivan</b>"), "{}", safe.html);
        assert!(safe.html.contains(r#"src="cid:logo@x""#), "{}", safe.html);
        assert_eq!(safe.remote_images, 1);
    }
}
