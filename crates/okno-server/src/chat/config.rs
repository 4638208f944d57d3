//! The website chat's settings in `okno-server --config FILE.toml`: one `[[chat]]` table per
//! channel (the id a site names in its script tag, the queue its chats land in, the pages allowed
//! to open it, opening hours) and the abuse limits in `[widget]`.
//!
//! ```toml
//! [widget]
//! max_message_chars = 2000
//! messages_per_minute = 20
//! max_attachment_mb = 10
//! attachment_types = ["image/png", "image/jpeg", "application/pdf"]
//!
//! [[chat]]
//! channel = "shop"
//! queue = "chat"
//! title = "Shop support"
//! origins = ["https://shop.example"]
//! hours = "09:00-21:00"
//! days = "mon-fri"
//! utc_offset = "+03:00"
//! mailbox = "support"
//! ```

use okno_core::sla::BusinessHours;
use serde::Deserialize;

use crate::config_file::{ConfigError, error};

/// One chat channel of one website.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatChannel {
    /// The public id in the site's script tag (`data-channel`).
    pub id: String,
    /// Queue id or name as written; the server resolves it to an id at start.
    pub queue: String,
    /// The widget's heading.
    pub title: String,
    /// Pages allowed to open the chat (`scheme://host[:port]`); empty allows any.
    pub origins: Vec<String>,
    pub hours: BusinessHours,
    /// Outside hours a visitor leaves a message, answered by email from this mailbox; without
    /// one the widget only says when the center opens.
    pub mailbox: Option<String>,
    /// The widget offers a call button (through the `[calls]` gateway).
    pub calls: bool,
}

/// Limits every visitor is held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLimits {
    pub max_message_chars: usize,
    pub messages_per_minute: u32,
    pub max_attachment_bytes: usize,
    /// MIME types a visitor may send; anything else is refused before it is stored.
    pub attachment_types: Vec<String>,
}

impl Default for ChatLimits {
    fn default() -> Self {
        ChatLimits {
            max_message_chars: 2000,
            messages_per_minute: 20,
            max_attachment_bytes: 10 * 1024 * 1024,
            attachment_types: ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"]
                .map(str::to_owned)
                .to_vec(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatConfig {
    pub channels: Vec<ChatChannel>,
    pub limits: ChatLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    max_message_chars: Option<usize>,
    messages_per_minute: Option<u32>,
    max_attachment_mb: Option<u64>,
    attachment_types: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChannel {
    channel: String,
    queue: String,
    title: Option<String>,
    #[serde(default)]
    origins: Vec<String>,
    hours: Option<String>,
    days: Option<String>,
    utc_offset: Option<String>,
    mailbox: Option<String>,
    #[serde(default)]
    calls: bool,
}

impl ChatConfig {
    pub(crate) fn from_file(
        limits: Option<RawLimits>,
        channels: Vec<RawChannel>,
        mailboxes: &[&str],
    ) -> Result<ChatConfig, ConfigError> {
        let mut config = ChatConfig::default();
        if let Some(raw) = limits {
            if let Some(n) = raw.max_message_chars {
                if !(1..=100_000).contains(&n) {
                    return Err(error("widget.max_message_chars", "must be 1 to 100000"));
                }
                config.limits.max_message_chars = n;
            }
            if let Some(n) = raw.messages_per_minute {
                if !(1..=600).contains(&n) {
                    return Err(error("widget.messages_per_minute", "must be 1 to 600"));
                }
                config.limits.messages_per_minute = n;
            }
            if let Some(mb) = raw.max_attachment_mb {
                if !(1..=100).contains(&mb) {
                    return Err(error("widget.max_attachment_mb", "must be 1 to 100"));
                }
                config.limits.max_attachment_bytes = usize::try_from(mb * 1024 * 1024).unwrap_or(usize::MAX);
            }
            if let Some(types) = raw.attachment_types {
                if let Some(bad) = types.iter().find(|t| t.split('/').count() != 2 || t.contains(char::is_whitespace)) {
                    return Err(error("widget.attachment_types", format!("{bad:?} is not a MIME type")));
                }
                config.limits.attachment_types = types.into_iter().map(|t| t.to_ascii_lowercase()).collect();
            }
        }
        for (i, raw) in channels.into_iter().enumerate() {
            let key = |field: &str| format!("chat[{i}].{field}");
            let id_ok = !raw.channel.is_empty()
                && raw.channel.len() <= 64
                && raw.channel.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                return Err(error(
                    key("channel"),
                    "1 to 64 letters, digits, '-' or '_' (it goes in the page's script tag)",
                ));
            }
            if config.channels.iter().any(|c| c.id == raw.channel) {
                return Err(error(key("channel"), format!("{:?} is used by another chat", raw.channel)));
            }
            if raw.queue.trim().is_empty() {
                return Err(error(key("queue"), "must name a queue (id or name)"));
            }
            for origin in &raw.origins {
                let parsed = url::Url::parse(origin).ok().filter(|u| {
                    matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && matches!(u.path(), "" | "/")
                });
                if parsed.is_none() {
                    return Err(error(
                        key("origins"),
                        format!("{origin:?} is not an origin like https://shop.example"),
                    ));
                }
            }
            let mut hours = BusinessHours::ALWAYS;
            if let Some(text) = &raw.hours {
                let (open, close) = text
                    .split_once('-')
                    .and_then(|(a, b)| Some((minute_of_day(a)?, minute_of_day(b)?)))
                    .filter(|(a, b)| a < b)
                    .ok_or_else(|| error(key("hours"), format!("{text:?}: say HH:MM-HH:MM, opening first")))?;
                hours.open_minute = open;
                hours.close_minute = close;
            }
            if let Some(text) = &raw.days {
                hours.working_days = working_days(text)
                    .ok_or_else(|| error(key("days"), format!("{text:?}: say mon-fri, or a list like mon,wed,sat")))?;
            }
            if let Some(text) = &raw.utc_offset {
                hours.utc_offset_minutes =
                    utc_offset(text).ok_or_else(|| error(key("utc_offset"), format!("{text:?}: say +03:00")))?;
            }
            if let Some(mailbox) = &raw.mailbox
                && !mailboxes.contains(&mailbox.as_str())
            {
                return Err(error(key("mailbox"), format!("{mailbox:?} is not an [[email]] name in this file")));
            }
            config.channels.push(ChatChannel {
                title: raw.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| raw.channel.clone()),
                id: raw.channel,
                queue: raw.queue,
                origins: raw.origins.iter().map(|o| o.trim_end_matches('/').to_ascii_lowercase()).collect(),
                hours,
                mailbox: raw.mailbox,
                calls: raw.calls,
            });
        }
        Ok(config)
    }
}

fn minute_of_day(text: &str) -> Option<i64> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=24).contains(&h) && (0..60).contains(&m) && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn working_days(text: &str) -> Option<[bool; 7]> {
    let mut days = [false; 7];
    for part in text.split(',') {
        let index = |d: &str| DAYS.iter().position(|x| *x == d.trim().to_ascii_lowercase());
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (index(from)?, index(to)?);
                if from > to {
                    return None;
                }
                days[from..=to].iter_mut().for_each(|d| *d = true);
            }
            None => days[index(part)?] = true,
        }
    }
    Some(days)
}

fn utc_offset(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=14).contains(&h) && (0..60).contains(&m)).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use crate::config_file::ConfigFile;

    fn parse(text: &str) -> Result<super::ChatConfig, crate::config_file::ConfigError> {
        ConfigFile::parse(text, |_| Some("pw".to_owned())).map(|f| f.chat)
    }

    #[test]
    fn a_channel_reads_whole() {
        let config = parse(
            "[widget]\nmessages_per_minute = 5\nattachment_types = [\"Image/PNG\"]\n\
             [[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\ntitle = \"Shop support\"\n\
             origins = [\"https://Shop.example/\"]\nhours = \"09:00-21:00\"\ndays = \"mon-fri,sun\"\nutc_offset = \"+03:00\"\n",
        )
        .expect("valid");
        assert_eq!(config.limits.messages_per_minute, 5);
        assert_eq!(config.limits.attachment_types, ["image/png"]);
        let c = &config.channels[0];
        assert_eq!(
            (c.id.as_str(), c.title.as_str(), c.origins.as_slice()),
            ("shop", "Shop support", &["https://shop.example".to_owned()][..])
        );
        assert_eq!((c.hours.open_minute, c.hours.close_minute, c.hours.utc_offset_minutes), (540, 1260, 180));
        assert_eq!(c.hours.working_days, [true, true, true, true, true, false, true]);
        assert_eq!(c.mailbox, None);
    }

    #[test]
    fn a_bad_channel_is_refused_with_the_key_and_the_reason() {
        let base = "[[chat]]\nchannel = \"shop\"\nqueue = \"chat\"\n";
        let cases = [
            (base.replace("\"shop\"", "\"shop page\""), "chat[0].channel", "letters"),
            (format!("{base}{base}"), "chat[1].channel", "used by another chat"),
            (base.replace("\"chat\"", "\" \""), "chat[0].queue", "must name a queue"),
            (format!("{base}origins = [\"shop.example\"]\n"), "chat[0].origins", "not an origin"),
            (format!("{base}hours = \"21:00-09:00\"\n"), "chat[0].hours", "HH:MM-HH:MM"),
            (format!("{base}days = \"weekdays\"\n"), "chat[0].days", "mon-fri"),
            (format!("{base}utc_offset = \"3\"\n"), "chat[0].utc_offset", "+03:00"),
            (format!("{base}mailbox = \"support\"\n"), "chat[0].mailbox", "not an [[email]] name"),
            (format!("[widget]\nmessages_per_minute = 0\n{base}"), "widget.messages_per_minute", "1 to 600"),
            (format!("[widget]\nattachment_types = [\"exe\"]\n{base}"), "widget.attachment_types", "not a MIME type"),
        ];
        for (text, key, reason) in cases {
            let e = parse(&text).expect_err(&text);
            assert_eq!(e.key, key, "{text}");
            assert!(e.reason.contains(reason), "{key}: {e}");
        }
    }
}
