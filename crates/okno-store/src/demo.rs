//! A realistic demo dataset, generated deterministically from a seed: the same seed, size and
//! anchor time give the same rows on every machine, so tests and benchmarks can rely on it.
//!
//! Volumes follow a call center's shape: most contacts by phone, then email and chat; a daily
//! curve with a morning and an afternoon peak; quieter weekends; a few customers with many
//! contacts; a few very long threads; Russian and English mixed.

use okno_core::sla::{BusinessHours, SlaPolicy, first_response_due};
use okno_core::{CustomerTier, Millis, Priority};
use sqlx::{QueryBuilder, Sqlite};

use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoSize {
    /// A few thousand tickets: the demo and the tests.
    Small,
    /// 100k tickets, 1M messages, 50k customers, 200k calls: the benchmarks.
    Large,
}

impl std::str::FromStr for DemoSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "small" => Ok(DemoSize::Small),
            "large" => Ok(DemoSize::Large),
            other => Err(format!("unknown demo size {other:?} (expected small or large)")),
        }
    }
}

struct Volumes {
    customers: usize,
    tickets: usize,
    /// Average messages per ticket.
    messages_per_ticket: usize,
    calls: usize,
}

impl DemoSize {
    fn volumes(self) -> Volumes {
        match self {
            DemoSize::Small => Volumes { customers: 1_000, tickets: 3_000, messages_per_ticket: 8, calls: 6_000 },
            DemoSize::Large => Volumes { customers: 50_000, tickets: 100_000, messages_per_ticket: 10, calls: 200_000 },
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub customers: usize,
    pub tickets: usize,
    pub messages: usize,
    pub calls: usize,
    pub orders: usize,
}

/// okno-core's seeded generator (stable forever, unlike a library RNG whose stream may change)
/// with the picks the demo data needs.
struct Rng(okno_core::rng::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.index(n)
    }
    fn unit(&mut self) -> f64 {
        self.0.unit()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.0.chance(p)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        self.0.pick(items)
    }
    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as usize) as u32;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
    /// Deterministic UUIDv7-shaped id whose time part is `at`, so ids sort like their rows.
    fn id(&mut self, at: Millis) -> String {
        let r = self.next();
        let r2 = self.next();
        let ms = at.max(0) as u64 & 0xFFFF_FFFF_FFFF;
        format!(
            "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
            ms >> 16,
            ms & 0xFFFF,
            r & 0xFFF,
            0x8000 | ((r >> 12) & 0x3FFF),
            r2 & 0xFFFF_FFFF_FFFF
        )
    }
}

const HOUR: Millis = 3_600_000;
const DAY: Millis = 24 * HOUR;

/// Contacts per hour of the (Moscow) day: a morning and an afternoon peak.
const HOURLY: [u32; 24] = [2, 1, 1, 1, 1, 2, 4, 8, 18, 30, 36, 34, 28, 30, 33, 32, 29, 24, 18, 13, 9, 6, 4, 3];

struct Dept {
    id: &'static str,
    name: &'static str,
}
const DEPARTMENTS: &[Dept] = &[
    Dept { id: "dep-support", name: "Поддержка / Support" },
    Dept { id: "dep-sales", name: "Продажи / Sales" },
    Dept { id: "dep-billing", name: "Биллинг / Billing" },
    Dept { id: "dep-delivery", name: "Доставка / Delivery" },
];

/// (id, name, channel, department)
const QUEUES: &[(&str, &str, &str, &str)] = &[
    ("q-hotline", "Горячая линия 8-800", "phone", "dep-support"),
    ("q-support-email", "support@shop.example", "email", "dep-support"),
    ("q-support-chat", "Чат на сайте", "chat", "dep-support"),
    ("q-support-tg", "Telegram", "messenger", "dep-support"),
    ("q-sales-phone", "Sales line", "phone", "dep-sales"),
    ("q-sales-webcall", "Звонок с сайта", "web_call", "dep-sales"),
    ("q-sales-chat", "Sales chat", "chat", "dep-sales"),
    ("q-billing-email", "billing@shop.example", "email", "dep-billing"),
    ("q-billing-phone", "Биллинг, телефон", "phone", "dep-billing"),
    ("q-delivery-phone", "Доставка, телефон", "phone", "dep-delivery"),
    ("q-delivery-wa", "WhatsApp доставка", "messenger", "dep-delivery"),
];

/// (name, role, is_me)
const OPERATORS: &[(&str, &str, bool)] = &[
    ("Анна Смирнова", "operator", true),
    ("Дмитрий Волков", "operator", false),
    ("Olga Kuznetsova", "operator", false),
    ("Сергей Попов", "operator", false),
    ("Emily Carter", "operator", false),
    ("Мария Лебедева", "operator", false),
    ("Игорь Новиков", "team_lead", false),
    ("James Wilson", "operator", false),
    ("Екатерина Морозова", "operator", false),
    ("Алексей Соколов", "contractor", false),
    ("Priya Nair", "contractor", false),
    ("Наталья Орлова", "admin", false),
];

const RU_FIRST: &[&str] = &[
    "Иван",
    "Алексей",
    "Мария",
    "Елена",
    "Дмитрий",
    "Ольга",
    "Сергей",
    "Татьяна",
    "Андрей",
    "Наталья",
    "Павел",
    "Юлия",
    "Михаил",
    "Светлана",
    "Николай",
    "Ксения",
    "Артём",
    "Вера",
    "Кирилл",
    "Дарья",
];
const RU_LAST_M: &[&str] = &[
    "Петров",
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
];
const EN_FIRST: &[&str] = &[
    "John", "Emma", "Michael", "Olivia", "David", "Sophia", "Daniel", "Grace", "James", "Chloe", "Robert", "Lucy",
    "Thomas", "Hannah", "George", "Alice",
];
const EN_LAST: &[&str] = &[
    "Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Walker", "Hall", "Young", "King",
    "Wright", "Green", "Baker", "Hill",
];
const COMPANIES: &[&str] = &[
    "ООО «Ромашка»",
    "АО «ТехноСтрой»",
    "ИП Сидоров",
    "Northwind Traders",
    "Contoso Ltd",
    "ООО «Вектор»",
    "Fabrikam Inc",
    "ЗАО «СеверЛес»",
    "Acme Corp",
    "ООО «Гранит»",
];
const CUSTOMER_TAGS: &[&str] = &["vip", "b2b", "постоянный", "новый", "loyal", "опт", "проблемный"];
const TICKET_TAGS: &[&str] = &[
    "доставка",
    "возврат",
    "оплата",
    "refund",
    "delivery",
    "warranty",
    "гарантия",
    "жалоба",
    "bug",
    "feedback",
    "срочно",
    "промокод",
];
const PRODUCTS_RU: &[&str] = &[
    "пылесос Dyson V15",
    "смартфон Galaxy S24",
    "кофемашина DeLonghi",
    "ноутбук ThinkPad X1",
    "стиральная машина Bosch",
    "наушники Sony WH-1000XM5",
    "холодильник LG",
    "телевизор Samsung 55\"",
];
const PRODUCTS_EN: &[&str] = &[
    "Dyson V15 vacuum",
    "Galaxy S24 phone",
    "DeLonghi coffee machine",
    "ThinkPad X1 laptop",
    "Bosch washing machine",
    "Sony WH-1000XM5 headphones",
    "LG fridge",
    "Samsung 55\" TV",
];
const CITIES: &[&str] =
    &["Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Екатеринбург", "London", "Berlin", "Нижний Новгород"];

const SUBJECTS_RU: &[&str] = &[
    "Где мой заказ {order}?",
    "Не пришёл курьер по заказу {order}",
    "Возврат: {product} не работает",
    "Двойное списание за заказ {order}",
    "Хочу изменить адрес доставки ({city})",
    "Вопрос по гарантии на {product}",
    "Не могу оплатить картой",
    "Промокод не применяется к заказу {order}",
    "Жалоба на работу курьера",
    "Консультация по выбору: {product}",
];
const SUBJECTS_EN: &[&str] = &[
    "Where is my order {order}?",
    "Refund request for {product}",
    "Charged twice for order {order}",
    "Change delivery address to {city}",
    "Warranty question about {product}",
    "Card payment keeps failing",
    "Promo code not applied to {order}",
    "Courier never arrived for {order}",
    "Question before buying {product}",
    "Invoice needed for order {order}",
];
const INBOUND_RU: &[&str] = &[
    "Здравствуйте! Заказ {order} должен был приехать вчера, но статус не меняется. Подскажите, где он сейчас?",
    "Добрый день. Купил {product}, через неделю перестал включаться. Хочу оформить возврат или обмен.",
    "С карты списали деньги два раза за заказ {order}. Прошу вернуть лишнее списание.",
    "Можно ли перенести доставку на завтра после 18:00? Адрес: {city}, ул. Ленина, 15.",
    "Курьер не позвонил и не приехал, ждал весь день. Очень недоволен.",
    "Подскажите, есть ли {product} в наличии в магазине в городе {city}?",
    "Промокод WINTER10 пишет «недействителен», хотя срок ещё не истёк.",
    "Спасибо, всё получил, но в коробке не было инструкции.",
    "Когда вернутся деньги за отменённый заказ {order}? Прошло уже 10 дней.",
    "Нужен закрывающий документ для бухгалтерии по заказу {order}.",
];
const INBOUND_EN: &[&str] = &[
    "Hi, my order {order} was supposed to arrive yesterday but tracking has not moved. Where is it now?",
    "I bought the {product} and it stopped working after a week. I would like a refund or a replacement.",
    "I was charged twice for order {order}. Please refund the duplicate payment.",
    "Could you move my delivery to tomorrow after 6 pm? The address is in {city}.",
    "The courier never called or came, I waited all day. Not happy at all.",
    "Is the {product} in stock in your {city} store?",
    "The promo code says it is invalid although it has not expired.",
    "Thanks, everything arrived, but the manual was missing from the box.",
    "When will I get my money back for the cancelled order {order}? It has been ten days.",
    "I need an invoice for my company for order {order}, please.",
];
const OUTBOUND_RU: &[&str] = &[
    "Здравствуйте, {name}! Проверила заказ {order}: он на сортировочном складе, доставка ожидается завтра до 14:00.",
    "Оформила возврат по {product}. Курьер заберёт товар в течение двух рабочих дней.",
    "Видим двойное списание, возврат оформлен — деньги поступят на карту в течение 3–5 рабочих дней.",
    "Перенесла доставку на завтра, 18:00–21:00. Курьер позвонит за час.",
    "Приносим извинения за курьера. Передали жалобу в службу доставки и начислили 500 бонусов.",
    "Промокод применила вручную, новая сумма заказа пересчитана.",
    "Закрывающие документы отправили на вашу почту.",
];
const OUTBOUND_EN: &[&str] = &[
    "Hello {name}, I checked order {order}: it is at the sorting hub and should arrive tomorrow before 2 pm.",
    "I have opened a return for the {product}. A courier will pick it up within two business days.",
    "I can see the duplicate charge; the refund is issued and will reach your card in 3–5 business days.",
    "Your delivery is moved to tomorrow, 6–9 pm. The courier will call an hour before.",
    "We are sorry about the courier. We have escalated it and added 500 bonus points to your account.",
    "I applied the promo code manually and recalculated your order.",
    "The invoice has been sent to your email.",
];
const NOTES: &[&str] = &[
    "Клиент VIP, отвечать в приоритете.",
    "Проверить у склада, есть ли замена.",
    "Escalated to logistics, waiting for their answer.",
    "Звонил повторно, очень раздражён — предложить компенсацию.",
    "Refund approved by team lead.",
    "Связаться с курьерской службой, трек не обновляется.",
];
const DISPOSITIONS: &[&str] = &[
    "Заказ / Статус доставки",
    "Заказ / Изменение адреса",
    "Возврат / Оформлен",
    "Оплата / Двойное списание",
    "Консультация / Наличие товара",
    "Жалоба / Курьер",
    "Sales / Quote sent",
    "Billing / Invoice request",
];
const CALL_NOTES: &[&str] = &[
    "Уточнила статус заказа {order}, клиент доволен.",
    "Клиент просит перезвонить после 18:00.",
    "Customer asked about {product}, sent a quote by email.",
    "Оформлен возврат по {product}.",
    "Перевела на биллинг по вопросу двойного списания.",
    "Wrong number, no follow-up needed.",
    "Записала новый адрес доставки: {city}.",
];

fn fill(template: &str, rng: &mut Rng, name: &str, order: &str, ru: bool) -> String {
    let product = if ru { rng.pick_str(PRODUCTS_RU) } else { rng.pick_str(PRODUCTS_EN) };
    template
        .replace("{order}", order)
        .replace("{product}", product)
        .replace("{city}", rng.pick_str(CITIES))
        .replace("{name}", name.split(' ').next().unwrap_or(name))
}

struct CustomerGen {
    id: String,
    name: String,
    ru: bool,
    tier: CustomerTier,
    phone: String,
    email: Option<String>,
    order_numbers: Vec<String>,
}

/// A time within the last `days` days before `now`, shaped by the hourly curve and weekends.
fn contact_time(rng: &mut Rng, now: Millis, days: i64) -> Millis {
    loop {
        let day = rng.below(days as usize) as i64;
        let hour = rng.weighted(&HOURLY) as i64;
        // Moscow is UTC+3: the curve is local time.
        let start_of_day = (now - day * DAY).div_euclid(DAY) * DAY;
        let at = start_of_day + (hour - 3) * HOUR + rng.below(HOUR as usize) as i64;
        let weekday = (at.div_euclid(DAY) + 3).rem_euclid(7);
        if weekday >= 5 && rng.chance(0.45) {
            continue;
        }
        if at < now {
            return at;
        }
    }
}

const BATCH_ROWS: usize = 400;

impl Store {
    /// Fill an empty store with demo data. Does nothing (and says so) when it already holds tickets.
    pub async fn generate_demo(
        &self,
        size: DemoSize,
        seed: u64,
        now: Millis,
    ) -> Result<Option<DemoSummary>, StoreError> {
        let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets").fetch_one(&self.read).await?;
        if existing > 0 {
            return Ok(None);
        }
        let v = size.volumes();
        let mut rng = Rng(okno_core::rng::Rng::new(seed));
        let mut summary = DemoSummary::default();
        let policy = SlaPolicy::default();
        let hours = BusinessHours {
            utc_offset_minutes: 180,
            open_minute: 8 * 60,
            close_minute: 22 * 60,
            working_days: [true; 7],
        };
        let mut tx = self.write.begin().await?;

        for d in DEPARTMENTS {
            sqlx::query("INSERT INTO departments (id, name) VALUES (?, ?)")
                .bind(d.id)
                .bind(d.name)
                .execute(&mut *tx)
                .await?;
        }
        for (id, name, channel, dep) in QUEUES {
            sqlx::query("INSERT INTO queues (id, name, channel, department_id) VALUES (?, ?, ?, ?)")
                .bind(id)
                .bind(name)
                .bind(channel)
                .bind(dep)
                .execute(&mut *tx)
                .await?;
        }
        let mut operator_ids = Vec::new();
        for (i, (name, role, is_me)) in OPERATORS.iter().enumerate() {
            let id = format!("op-{:02}", i + 1);
            let state =
                if *is_me { "available" } else { ["available", "busy", "break", "wrap_up", "offline"][rng.below(5)] };
            sqlx::query("INSERT INTO operators (id, name, role, state, state_since, is_me) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(&id)
                .bind(name)
                .bind(role)
                .bind(state)
                .bind(now - rng.below(3 * HOUR as usize) as i64)
                .bind(i64::from(*is_me))
                .execute(&mut *tx)
                .await?;
            if *role != "admin" {
                operator_ids.push(id);
            }
        }

        // Customers, their identities and orders.
        let mut customers: Vec<CustomerGen> = Vec::with_capacity(v.customers);
        let mut rows = Vec::new();
        let mut identities: Vec<(String, &'static str, String, String)> = Vec::new();
        let mut orders: Vec<[String; 7]> = Vec::new();
        let mut order_seq = 100_000u64;
        for i in 0..v.customers {
            let ru = rng.chance(0.65);
            let created = now - 400 * DAY + (i as i64 * 365 * DAY / v.customers as i64);
            let id = rng.id(created);
            let name = if ru {
                let first = rng.pick_str(RU_FIRST);
                let last = rng.pick_str(RU_LAST_M);
                let female = first.ends_with('а') || first.ends_with('я');
                format!("{first} {}", if female { format!("{last}а") } else { last.to_owned() })
            } else {
                format!("{} {}", rng.pick(EN_FIRST), rng.pick(EN_LAST))
            };
            let company = rng.chance(0.25).then(|| rng.pick(COMPANIES).to_string());
            let tier = if rng.chance(0.15) { CustomerTier::Premium } else { CustomerTier::Standard };
            let mut tags: Vec<&str> = Vec::new();
            for _ in 0..rng.below(3) {
                let t = rng.pick_str(CUSTOMER_TAGS);
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            // Unique by construction: the customer's index is in the last digits.
            let phone_digits = if ru {
                format!("79{:02}{:07}", 10 + rng.below(89), i)
            } else {
                format!("1{:03}{:07}", 200 + rng.below(700), i)
            };
            let phone = format_phone(&phone_digits);
            let mut contacts = vec![phone.clone(), phone_digits.clone()];
            let mut email_address = None;
            identities.push((id.clone(), "phone", phone.clone(), phone_digits.clone()));
            if rng.chance(0.3) {
                let d2 = format!("{}{:07}", if ru { "7495" } else { "1415" }, (i * 7 + 13) % 10_000_000);
                let p2 = format_phone(&d2);
                contacts.push(p2.clone());
                contacts.push(d2.clone());
                identities.push((id.clone(), "phone", p2, d2));
            }
            if rng.chance(0.8) {
                let local = translit(&name).to_lowercase().replace(' ', ".");
                let email = format!(
                    "{local}{}@{}",
                    i % 1000,
                    rng.pick(&["mail.ru", "yandex.ru", "gmail.com", "outlook.com", "corp.example"])
                );
                contacts.push(email.clone());
                identities.push((id.clone(), "email", email.clone(), email.to_lowercase()));
                email_address = Some(email.clone());
            }
            if rng.chance(0.2) {
                let handle = format!("@{}", translit(&name).to_lowercase().replace(' ', "_"));
                identities.push((id.clone(), "messenger", handle.clone(), format!("{handle}#{i}")));
                contacts.push(handle);
            }
            let mut order_numbers = Vec::new();
            for _ in 0..rng.weighted(&[20, 35, 25, 12, 5, 3]) {
                order_seq += 1 + rng.below(7) as u64;
                let number = format!("ORD-{order_seq}");
                let created_at = created + rng.below((now - created).max(1) as usize) as i64;
                let status =
                    ["placed", "paid", "shipped", "delivered", "delivered", "delivered", "cancelled", "returned"]
                        [rng.below(8)];
                let (items, total) = {
                    let n = 1 + rng.below(3);
                    let mut names = Vec::new();
                    for _ in 0..n {
                        names.push(if ru {
                            rng.pick(PRODUCTS_RU).to_string()
                        } else {
                            rng.pick(PRODUCTS_EN).to_string()
                        });
                    }
                    (names.join(", "), (n as i64) * (1_990 + rng.below(90_000) as i64) * 100)
                };
                let currency = if ru { "RUB" } else { "USD" };
                let total = if ru { total } else { total / 90 };
                orders.push([
                    rng.id(created_at),
                    id.clone(),
                    number.clone(),
                    status.to_owned(),
                    total.to_string(),
                    currency.to_owned(),
                    format!("{items}\u{1}{created_at}"),
                ]);
                order_numbers.push(number);
            }
            rows.push((
                id.clone(),
                name.clone(),
                company,
                tier,
                serde_json::to_string(&tags)?,
                created,
                contacts.join(" "),
            ));
            customers.push(CustomerGen { id, name, ru, tier, phone, email: email_address, order_numbers });
        }
        for chunk in rows.chunks(BATCH_ROWS) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO customers (id, name, company, tier, tags, created_at, contacts_text) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(&r.0)
                    .push_bind(&r.1)
                    .push_bind(&r.2)
                    .push_bind(r.3.as_str())
                    .push_bind(&r.4)
                    .push_bind(r.5)
                    .push_bind(&r.6);
            });
            qb.build().execute(&mut *tx).await?;
        }
        for chunk in identities.chunks(BATCH_ROWS) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT OR IGNORE INTO customer_identities (customer_id, kind, value, normalized) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(&r.0).push_bind(r.1).push_bind(&r.2).push_bind(&r.3);
            });
            qb.build().execute(&mut *tx).await?;
        }
        for chunk in orders.chunks(BATCH_ROWS) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO orders (id, customer_id, number, status, total_cents, currency, items, created_at) ",
            );
            qb.push_values(chunk, |mut b, r| {
                let (items, created) = r[6].split_once('\u{1}').unwrap_or((&r[6], "0"));
                b.push_bind(&r[0]).push_bind(&r[1]).push_bind(&r[2]).push_bind(&r[3]);
                b.push_bind(r[4].parse::<i64>().unwrap_or(0)).push_bind(&r[5]).push_bind(items.to_owned());
                b.push_bind(created.parse::<i64>().unwrap_or(0));
            });
            qb.build().execute(&mut *tx).await?;
        }
        summary.customers = customers.len();
        summary.orders = orders.len();
        drop(rows);
        drop(identities);
        drop(orders);

        // Tickets in time order (so rowid order is time order, which search relies on).
        let mut ticket_times: Vec<Millis> = (0..v.tickets).map(|_| contact_time(&mut rng, now, 365)).collect();
        ticket_times.sort_unstable();
        let channel_weights = [45u32, 3, 25, 20, 7]; // phone, web_call, email, chat, messenger
        let channels = ["phone", "web_call", "email", "chat", "messenger"];
        let me = "op-01";
        let mut ticket_rows: Vec<TicketGen> = Vec::with_capacity(BATCH_ROWS);
        let mut message_rows: Vec<MessageGen> = Vec::with_capacity(BATCH_ROWS * 12);
        let mut tag_rows: Vec<(String, String)> = Vec::new();
        let mut phone_tickets: Vec<(String, usize, Millis, String)> = Vec::new();
        for (n, created_at) in ticket_times.iter().copied().enumerate() {
            // A few customers write a lot: square the uniform draw toward low indexes.
            let u = rng.unit();
            let ci = ((u * u) * customers.len() as f64) as usize % customers.len();
            let c = &customers[ci];
            let channel = channels[rng.weighted(&channel_weights)];
            let queue_choices: Vec<&(&str, &str, &str, &str)> = QUEUES.iter().filter(|q| q.2 == channel).collect();
            let queue = queue_choices[rng.below(queue_choices.len())];
            let age = now - created_at;
            let status = if age < 2 * DAY {
                ["new", "new", "open", "open", "pending", "resolved"][rng.below(6)]
            } else if age < 10 * DAY {
                ["open", "pending", "resolved", "closed", "closed"][rng.below(5)]
            } else if rng.chance(0.01) {
                "pending"
            } else {
                ["resolved", "closed", "closed", "closed"][rng.below(4)]
            };
            let priority =
                [Priority::Low, Priority::Normal, Priority::Normal, Priority::Normal, Priority::High, Priority::Urgent]
                    [rng.below(6)];
            let assignee = match status {
                "new" => None,
                _ if status == "open" && rng.chance(0.2) => None,
                _ if rng.chance(0.12) => Some(me.to_owned()),
                _ => Some(rng.pick(&operator_ids).clone()),
            };
            let order = c.order_numbers.first().cloned().unwrap_or_else(|| format!("ORD-{}", 90_000 + n));
            let subject = fill(
                if c.ru { rng.pick_str(SUBJECTS_RU) } else { rng.pick_str(SUBJECTS_EN) },
                &mut rng,
                &c.name,
                &order,
                c.ru,
            );
            let mut tags = Vec::new();
            for _ in 0..rng.weighted(&[40, 35, 18, 7]) {
                let t = rng.pick(TICKET_TAGS).to_string();
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            let id = rng.id(created_at);
            for t in &tags {
                tag_rows.push((id.clone(), t.clone()));
            }
            let sla = first_response_due(created_at, c.tier, priority, &policy, &hours);

            // The conversation: mostly short, a long tail, and a few 200+ message threads.
            let count =
                if rng.chance(0.002) { 200 + rng.below(60) } else { 1 + rng.below(v.messages_per_ticket * 2 - 1) };
            let answered = !matches!(status, "new");
            // An answered ticket has at least the customer's message and our reply.
            let count = if answered { count.max(2) } else { count };
            let mut at = created_at;
            let mut first_response = None;
            let mut preview = String::new();
            for k in 0..count {
                let must_answer = answered && first_response.is_none() && k == count - 1;
                let inbound = !must_answer && (k == 0 || (!answered && k < 2) || rng.chance(0.5));
                let note = !inbound && !must_answer && rng.chance(0.12);
                let (direction, author, body) = if inbound {
                    (
                        "inbound",
                        c.name.clone(),
                        fill(
                            if c.ru { rng.pick_str(INBOUND_RU) } else { rng.pick_str(INBOUND_EN) },
                            &mut rng,
                            &c.name,
                            &order,
                            c.ru,
                        ),
                    )
                } else if note {
                    ("internal", OPERATORS[rng.below(9)].0.to_owned(), rng.pick(NOTES).to_string())
                } else {
                    (
                        "outbound",
                        OPERATORS[rng.below(9)].0.to_owned(),
                        fill(
                            if c.ru { rng.pick_str(OUTBOUND_RU) } else { rng.pick_str(OUTBOUND_EN) },
                            &mut rng,
                            &c.name,
                            &order,
                            c.ru,
                        ),
                    )
                };
                if !answered && !inbound {
                    continue;
                }
                if direction == "outbound" && first_response.is_none() {
                    first_response = Some(at);
                }
                let attachments = if channel == "email" && inbound && rng.chance(0.15) {
                    format!(
                        r#"[{{"name":"{}","mime":"image/jpeg","size":{}}}]"#,
                        if c.ru { "фото_товара.jpg" } else { "photo.jpg" },
                        40_000 + rng.below(2_000_000)
                    )
                } else {
                    "[]".to_owned()
                };
                preview = body.chars().take(140).collect();
                // What the server's mail intake and outbox would have written (no rng draw, so
                // the rest of the dataset stays as it was for a seed).
                let email = (channel == "email" && direction != "internal").then(|| {
                    use okno_core::email::{DeliveryState, EmailAddress, EmailDelivery, EmailView};
                    let address = c.email.clone().unwrap_or_else(|| "customer@example.com".into());
                    let customer = EmailAddress { address, name: Some(c.name.clone()) };
                    let center = EmailAddress { address: queue.1.to_owned(), name: (!inbound).then(|| author.clone()) };
                    let (from, to) = if inbound { (customer, center) } else { (center, customer) };
                    let delivery =
                        (!inbound).then_some(EmailDelivery { state: DeliveryState::Sent, reason: None, at: Some(at) });
                    let email = EmailView {
                        from: Some(from),
                        to: vec![to],
                        kind: Some("personal".into()),
                        delivery,
                        ..EmailView::default()
                    };
                    serde_json::to_string(&email).unwrap_or_default()
                });
                message_rows.push(MessageGen {
                    id: rng.id(at),
                    ticket_id: id.clone(),
                    channel,
                    direction,
                    author,
                    subject: (channel == "email" && k == 0).then(|| subject.clone()),
                    body,
                    attachments,
                    created_at: at,
                    email,
                });
                summary.messages += 1;
                let gap = if channel == "chat" || channel == "messenger" {
                    20_000 + rng.below(240_000)
                } else {
                    600_000 + rng.below(8 * HOUR as usize)
                };
                at = (at + gap as i64).min(now - 1000);
            }
            let unread = matches!(status, "new" | "open") && rng.chance(0.6);
            if channel == "phone" {
                phone_tickets.push((id.clone(), ci, created_at, queue.0.to_owned()));
            }
            ticket_rows.push(TicketGen {
                id,
                number: 10_000 + n as i64,
                subject,
                customer_id: c.id.clone(),
                channel,
                status,
                priority: priority.as_str(),
                queue_id: queue.0,
                assignee,
                tags: serde_json::to_string(&tags)?,
                created_at,
                updated_at: at,
                sla_due_at: sla,
                first_response_at: first_response,
                unread,
                preview,
                message_count: message_rows
                    .iter()
                    .rev()
                    .take_while(|m| m.ticket_id == ticket_rows_last_id(&message_rows))
                    .count() as i64,
            });
            summary.tickets += 1;
            if ticket_rows.len() >= BATCH_ROWS {
                flush_tickets(&mut tx, &mut ticket_rows, &mut message_rows, &mut tag_rows).await?;
            }
        }
        flush_tickets(&mut tx, &mut ticket_rows, &mut message_rows, &mut tag_rows).await?;

        // Calls: the first call of each phone ticket is linked to it; the rest are calls
        // that needed no ticket, and a few from numbers no customer has.
        let mut call_rows: Vec<CallGen> = Vec::with_capacity(BATCH_ROWS);
        let mut call_times: Vec<Millis> =
            (0..v.calls.saturating_sub(phone_tickets.len())).map(|_| contact_time(&mut rng, now, 365)).collect();
        call_times.sort_unstable();
        let mut linked = phone_tickets.into_iter().peekable();
        let mut unlinked = call_times.into_iter().peekable();
        loop {
            let take_linked = match (linked.peek(), unlinked.peek()) {
                (Some(l), Some(u)) => l.2 <= *u,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let (ticket_id, ci, started_at, queue) = if take_linked {
                let (t, ci, at, q) = linked.next().unwrap_or_default();
                (Some(t), Some(ci), at, q)
            } else {
                let at = unlinked.next().unwrap_or_default();
                let u = rng.unit();
                let ci = (!rng.chance(0.05)).then(|| ((u * u) * customers.len() as f64) as usize % customers.len());
                let q = [QUEUES[0].0, QUEUES[4].0, QUEUES[8].0, QUEUES[9].0][rng.below(4)].to_owned();
                (None, ci, at, q)
            };
            let outbound = ticket_id.is_none() && rng.chance(0.25);
            let outcome = if ticket_id.is_some() {
                "answered"
            } else {
                ["answered"; 90]
                    .iter()
                    .chain(["abandoned"; 4].iter())
                    .chain(["missed"; 3].iter())
                    .chain(["busy"; 2].iter())
                    .chain(["failed"; 1].iter())
                    .copied()
                    .nth(rng.below(100))
                    .unwrap_or("answered")
            };
            let customer = ci.map(|i| &customers[i]);
            let number = customer
                .map(|c| c.phone.clone())
                .unwrap_or_else(|| format_phone(&format!("79{:09}", rng.below(1_000_000_000))));
            let hotline = "+7 800 555-35-35".to_owned();
            let (from, to) = if outbound { (hotline, number) } else { (number, hotline) };
            let ring = 2_000 + rng.below(if outcome == "answered" { 25_000 } else { 60_000 }) as i64;
            let answered_at = (outcome == "answered").then_some(started_at + ring);
            let talk = 30_000 + rng.below(600_000) as i64;
            let ended_at = Some(answered_at.map(|a| a + talk).unwrap_or(started_at + ring)).map(|e| e.min(now));
            let ru = customer.map(|c| c.ru).unwrap_or(true);
            let order = customer.and_then(|c| c.order_numbers.first().cloned()).unwrap_or_else(|| "ORD-100001".into());
            let name = customer.map(|c| c.name.clone()).unwrap_or_default();
            let notes = if outcome == "answered" {
                fill(rng.pick_str(CALL_NOTES), &mut rng, &name, &order, ru)
            } else {
                String::new()
            };
            call_rows.push(CallGen {
                id: rng.id(started_at),
                customer_id: customer.map(|c| c.id.clone()),
                ticket_id,
                queue_id: queue,
                operator_id: answered_at.map(|_| rng.pick(&operator_ids).clone()),
                direction: if outbound { "outbound" } else { "inbound" },
                from,
                to,
                started_at,
                answered_at,
                ended_at,
                outcome,
                disposition: answered_at.map(|_| rng.pick(DISPOSITIONS).to_string()),
                notes,
                recording_ref: answered_at.map(|a| format!("rec/{}.opus", a)),
            });
            summary.calls += 1;
            if call_rows.len() >= BATCH_ROWS {
                flush_calls(&mut tx, &mut call_rows).await?;
            }
        }
        flush_calls(&mut tx, &mut call_rows).await?;

        // The reports' history: one event per ticket created and per call ended.
        sqlx::query(
            "INSERT INTO events (id, at, kind, ticket_id, queue_id, customer_id, data) \
             SELECT 'demo-t-' || rid, created_at, 'ticket_created', id, queue_id, customer_id, json_object('channel', channel) FROM tickets",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO events (id, at, kind, call_id, operator_id, queue_id, customer_id, data) \
             SELECT 'demo-c-' || rid, coalesce(ended_at, started_at), 'call_ended', id, operator_id, queue_id, customer_id, \
                    json_object('outcome', outcome, 'wait_ms', coalesce(answered_at, ended_at) - started_at) FROM calls",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        sqlx::query("PRAGMA optimize").execute(&self.write).await?;
        tracing::info!(?summary, "demo data generated");
        Ok(Some(summary))
    }
}

fn ticket_rows_last_id(messages: &[MessageGen]) -> &str {
    messages.last().map(|m| m.ticket_id.as_str()).unwrap_or("")
}

struct TicketGen {
    id: String,
    number: i64,
    subject: String,
    customer_id: String,
    channel: &'static str,
    status: &'static str,
    priority: &'static str,
    queue_id: &'static str,
    assignee: Option<String>,
    tags: String,
    created_at: Millis,
    updated_at: Millis,
    sla_due_at: Option<Millis>,
    first_response_at: Option<Millis>,
    unread: bool,
    preview: String,
    message_count: i64,
}

struct MessageGen {
    id: String,
    ticket_id: String,
    channel: &'static str,
    direction: &'static str,
    author: String,
    subject: Option<String>,
    body: String,
    attachments: String,
    created_at: Millis,
    email: Option<String>,
}

struct CallGen {
    id: String,
    customer_id: Option<String>,
    ticket_id: Option<String>,
    queue_id: String,
    operator_id: Option<String>,
    direction: &'static str,
    from: String,
    to: String,
    started_at: Millis,
    answered_at: Option<Millis>,
    ended_at: Option<Millis>,
    outcome: &'static str,
    disposition: Option<String>,
    notes: String,
    recording_ref: Option<String>,
}

async fn flush_tickets(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    tickets: &mut Vec<TicketGen>,
    messages: &mut Vec<MessageGen>,
    tags: &mut Vec<(String, String)>,
) -> Result<(), StoreError> {
    if !tickets.is_empty() {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO tickets (id, number, subject, customer_id, channel, status, priority, queue_id, assignee_id, tags, \
             created_at, updated_at, sla_due_at, first_response_due_at, first_response_at, unread, preview, message_count) ",
        );
        qb.push_values(tickets.iter(), |mut b, t| {
            b.push_bind(&t.id).push_bind(t.number).push_bind(&t.subject).push_bind(&t.customer_id).push_bind(t.channel);
            b.push_bind(t.status).push_bind(t.priority).push_bind(t.queue_id).push_bind(&t.assignee).push_bind(&t.tags);
            // Only an unanswered ticket is still waiting on its first-response deadline.
            let pending_due =
                if t.first_response_at.is_none() && matches!(t.status, "new" | "open") { t.sla_due_at } else { None };
            b.push_bind(t.created_at).push_bind(t.updated_at).push_bind(pending_due).push_bind(t.sla_due_at);
            b.push_bind(t.first_response_at);
            b.push_bind(i64::from(t.unread)).push_bind(&t.preview).push_bind(t.message_count);
        });
        qb.build().execute(&mut **tx).await?;
    }
    for chunk in messages.chunks(BATCH_ROWS) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO messages (id, ticket_id, channel, direction, author_name, subject, body, attachments, created_at, email) ",
        );
        qb.push_values(chunk, |mut b, m| {
            b.push_bind(&m.id).push_bind(&m.ticket_id).push_bind(m.channel).push_bind(m.direction).push_bind(&m.author);
            b.push_bind(&m.subject)
                .push_bind(&m.body)
                .push_bind(&m.attachments)
                .push_bind(m.created_at)
                .push_bind(&m.email);
        });
        qb.build().execute(&mut **tx).await?;
    }
    for chunk in tags.chunks(BATCH_ROWS) {
        let mut qb = QueryBuilder::<Sqlite>::new("INSERT OR IGNORE INTO ticket_tags (ticket_id, tag) ");
        qb.push_values(chunk, |mut b, (t, g)| {
            b.push_bind(t).push_bind(g);
        });
        qb.build().execute(&mut **tx).await?;
    }
    tickets.clear();
    messages.clear();
    tags.clear();
    Ok(())
}

async fn flush_calls(tx: &mut sqlx::Transaction<'_, Sqlite>, calls: &mut Vec<CallGen>) -> Result<(), StoreError> {
    if calls.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(
        "INSERT INTO calls (id, customer_id, ticket_id, queue_id, operator_id, direction, from_number, to_number, \
         started_at, answered_at, ended_at, outcome, disposition, notes, recording_ref) ",
    );
    qb.push_values(calls.iter(), |mut b, k| {
        b.push_bind(&k.id)
            .push_bind(&k.customer_id)
            .push_bind(&k.ticket_id)
            .push_bind(&k.queue_id)
            .push_bind(&k.operator_id);
        b.push_bind(k.direction).push_bind(&k.from).push_bind(&k.to).push_bind(k.started_at).push_bind(k.answered_at);
        b.push_bind(k.ended_at)
            .push_bind(k.outcome)
            .push_bind(&k.disposition)
            .push_bind(&k.notes)
            .push_bind(&k.recording_ref);
    });
    qb.build().execute(&mut **tx).await?;
    calls.clear();
    Ok(())
}

/// `79151234567` → `+7 915 123-45-67`; other lengths get spaced groups.
fn format_phone(digits: &str) -> String {
    if digits.len() == 11 && digits.starts_with('7') {
        format!("+7 {} {}-{}-{}", &digits[1..4], &digits[4..7], &digits[7..9], &digits[9..11])
    } else if digits.len() == 11 && digits.starts_with('1') {
        format!("+1 {} {}-{}", &digits[1..4], &digits[4..7], &digits[7..11])
    } else {
        format!("+{digits}")
    }
}

fn translit(s: &str) -> String {
    const MAP: &[(char, &str)] = &[
        ('а', "a"),
        ('б', "b"),
        ('в', "v"),
        ('г', "g"),
        ('д', "d"),
        ('е', "e"),
        ('ё', "e"),
        ('ж', "zh"),
        ('з', "z"),
        ('и', "i"),
        ('й', "y"),
        ('к', "k"),
        ('л', "l"),
        ('м', "m"),
        ('н', "n"),
        ('о', "o"),
        ('п', "p"),
        ('р', "r"),
        ('с', "s"),
        ('т', "t"),
        ('у', "u"),
        ('ф', "f"),
        ('х', "kh"),
        ('ц', "ts"),
        ('ч', "ch"),
        ('ш', "sh"),
        ('щ', "sch"),
        ('ъ', ""),
        ('ы', "y"),
        ('ь', ""),
        ('э', "e"),
        ('ю', "yu"),
        ('я', "ya"),
    ];
    s.chars()
        .map(|c| {
            let lower = c.to_lowercase().next().unwrap_or(c);
            match MAP.iter().find(|(k, _)| *k == lower) {
                Some((_, v)) => v.to_string(),
                None => c.to_string(),
            }
        })
        .collect()
}
