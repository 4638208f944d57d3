// An in-memory Backend with a realistic, deterministic dataset (mixed Russian and English): for
// the UI's unit tests and for opening the UI in a browser without the app (`npm run dev`).
// The real data always comes from the Rust store. `rows` makes a large inbox (e.g. 100,000) to
// try the virtual list; only the first 60 tickets have hand-written conversations.
import { tagMatches } from "../snippet";
import type {
  AgentState, Backend, CallOutcome, CallView, Channel, CsatSettings, ContactItem, CustomerCard, CustomerTier, EmailView, Identity, MessageView,
  OperatorView, OrderView, Priority, QueueSummary, Rule, SearchHit, SearchResults, Template, TemplateList, TicketDetail, TicketFilter, TicketRow,
  TicketStatus, TimelineItem, UiError,
} from "./bindings";

export type FixtureOptions = { now?: number; rows?: number; latencyMs?: number };

/** The fixture's Backend plus what the softphone fixture needs: caller-ID lookup and calls setting my state. */
export type FixtureBackend = Backend & {
  /** The demo customers' phone numbers (caller ID matches these). */
  phoneBook(): Array<{ id: string; name: string; phone: string }>;
  /** My state as the phone sets it (busy on a call, wrap-up after it), which `setAgentState` refuses. */
  phoneSetsState(state: AgentState): void;
};

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

type Person = { name: string; company: string | null; tier: CustomerTier; tags: string[]; phone: string; email: string; ru: boolean; currency: string };

const PEOPLE: Person[] = [
  { name: "Иван Петров", company: "ООО «Ромашка»", tier: "premium", tags: ["b2b", "постоянный"], phone: "+7 915 123-45-67", email: "i.petrov@romashka.ru", ru: true, currency: "RUB" },
  { name: "Emma Smith", company: null, tier: "standard", tags: [], phone: "+44 20 7946 0958", email: "emma.smith@gmail.com", ru: false, currency: "GBP" },
  { name: "Мария Соколова", company: null, tier: "premium", tags: ["vip"], phone: "+7 926 555-12-30", email: "m.sokolova@yandex.ru", ru: true, currency: "RUB" },
  { name: "John Taylor", company: "Taylor & Sons Ltd", tier: "standard", tags: ["b2b"], phone: "+1 415 555 0142", email: "john@taylorsons.com", ru: false, currency: "USD" },
  { name: "Ольга Волкова", company: null, tier: "standard", tags: ["постоянный"], phone: "+7 903 200-11-44", email: "olga.volkova@mail.ru", ru: true, currency: "RUB" },
  { name: "David Clark", company: null, tier: "standard", tags: [], phone: "+49 30 901820", email: "d.clark@web.de", ru: false, currency: "EUR" },
  { name: "Алексей Кузнецов", company: "ИП Кузнецов А.В.", tier: "standard", tags: ["опт"], phone: "+7 916 777-88-99", email: "kuznetsov.av@bk.ru", ru: true, currency: "RUB" },
  { name: "Наталья Морозова", company: null, tier: "premium", tags: ["vip", "постоянный"], phone: "+7 985 410-22-17", email: "n.morozova@gmail.com", ru: true, currency: "RUB" },
  { name: "Sophie Martin", company: "Atelier Martin", tier: "premium", tags: ["b2b"], phone: "+33 1 42 68 53 00", email: "sophie@ateliermartin.fr", ru: false, currency: "EUR" },
  { name: "Сергей Лебедев", company: null, tier: "standard", tags: [], phone: "+7 921 340-56-78", email: "lebedev.s@yandex.ru", ru: true, currency: "RUB" },
  { name: "Екатерина Новикова", company: null, tier: "standard", tags: ["новый клиент"], phone: "+7 977 812-03-45", email: "katya.novikova@mail.ru", ru: true, currency: "RUB" },
  { name: "Michael Brown", company: "Brown Logistics", tier: "standard", tags: ["b2b"], phone: "+1 212 555 0199", email: "m.brown@brownlogistics.com", ru: false, currency: "USD" },
  { name: "Дмитрий Фёдоров", company: null, tier: "standard", tags: [], phone: "+7 999 123-00-11", email: "fedorov.d@gmail.com", ru: true, currency: "RUB" },
  { name: "Анастасия Белова", company: "ООО «ТехноСфера»", tier: "premium", tags: ["b2b", "vip"], phone: "+7 495 660-18-90", email: "belova@technosfera.ru", ru: true, currency: "RUB" },
  { name: "Lucas Meyer", company: null, tier: "standard", tags: [], phone: "+49 89 2180 4411", email: "lucas.meyer@gmx.de", ru: false, currency: "EUR" },
  { name: "Юлия Орлова", company: null, tier: "standard", tags: ["постоянный"], phone: "+7 905 318-74-62", email: "yulia.orlova@rambler.ru", ru: true, currency: "RUB" },
  { name: "Артём Захаров", company: null, tier: "standard", tags: [], phone: "+7 968 502-91-13", email: "zakharov.artem@yandex.ru", ru: true, currency: "RUB" },
  { name: "Chloe Wilson", company: null, tier: "standard", tags: ["новый клиент"], phone: "+44 161 496 0731", email: "chloe.w@outlook.com", ru: false, currency: "GBP" },
];

type Scenario = { subject: string; body: string; reply: string; note?: string; channel: Channel; tags: string[]; priority: Priority; ru: boolean };

const SCENARIOS: Scenario[] = [
  { ru: true, channel: "phone", priority: "high", tags: ["доставка"], subject: "Где мой заказ ORD-100234?", body: "Здравствуйте! Заказ должен был приехать вчера, но статус не меняется.\nТрек-номер: RP123456789RU.", reply: "Проверила заказ: он на складе в Подольске, доставка завтра с 10:00 до 14:00. Курьер позвонит за час.", note: "Склад подтвердил задержку на сортировке." },
  { ru: false, channel: "email", priority: "normal", tags: ["refund"], subject: "Refund request for Dyson V15 vacuum", body: "Hello,\n\nThe vacuum I received stops after two minutes. I would like a full refund, please.\n\nOrder ORD-100311, photos attached.\n\nBest regards", reply: "Hello, thank you for the photos. I have started the return: a courier will collect the vacuum on Thursday, and the refund follows within 5 working days." },
  { ru: true, channel: "chat", priority: "urgent", tags: ["оплата"], subject: "Двойное списание за заказ ORD-100518", body: "С карты списали 12 490 ₽ два раза!!! Верните деньги.", reply: "Вижу два платежа, второй уже отменён банком-эквайером. Деньги вернутся на карту в течение 3 рабочих дней.", note: "Эскалировано в финотдел, тикет FIN-2291." },
  { ru: false, channel: "email", priority: "normal", tags: ["доставка"], subject: "Change delivery address to Berlin", body: "Hi, I am moving next week. Could you deliver order ORD-100602 to Torstraße 49, 10119 Berlin instead?", reply: "Done: the delivery address is now Torstraße 49, 10119 Berlin. The new delivery date is Monday." },
  { ru: true, channel: "messenger", priority: "low", tags: ["промокод"], subject: "Промокод WINTER25 не применяется", body: "Пишет «промокод недействителен», хотя в рассылке срок до конца месяца.", reply: "Промокод действует на товары без скидки. Для вашей корзины я оформила персональный код SORRY10 на 10%." },
  { ru: false, channel: "phone", priority: "normal", tags: ["гарантия"], subject: "Warranty question about Galaxy S24", body: "Caller asks whether a cracked back glass is covered by the extended warranty.", reply: "Explained: accidental damage is not covered; offered the paid repair (4–6 days) with a courier pickup." },
  { ru: true, channel: "web_call", priority: "high", tags: ["возврат"], subject: "Возврат холодильника Bosch KGN39", body: "Клиентка звонила с сайта: холодильник шумит, хочет вернуть в течение 14 дней.", reply: "Оформили возврат, мастер приедет на проверку в среду с 9 до 13.", note: "Проверить акт мастера перед возвратом денег." },
  { ru: true, channel: "email", priority: "normal", tags: ["b2b", "счёт"], subject: "Счёт на оплату для юрлица", body: "Добрый день!\nПрошу выставить счёт на ООО «ТехноСфера», ИНН 7701234567, за 12 ноутбуков Lenovo ThinkPad E14.\n\nС уважением,\nАнастасия", reply: "Счёт № 4411 от сегодняшнего дня во вложении. Резерв товара — 5 банковских дней." },
  { ru: false, channel: "chat", priority: "normal", tags: ["аккаунт"], subject: "Cannot log in after password reset", body: "The reset link says it has expired even though I just requested it.", reply: "I have sent a fresh link that is valid for 24 hours. Please open it in the same browser." },
  { ru: true, channel: "phone", priority: "urgent", tags: ["доставка", "жалоба"], subject: "Курьер не приехал, заказ ORD-100777", body: "Ждала курьера весь день, никто не позвонил. Очень недовольна.", reply: "Извинились, перенесли доставку на завтра 9:00–12:00 бесплатно и начислили 500 бонусов.", note: "Служба доставки «Быстрее»: третий срыв за неделю." },
  { ru: false, channel: "messenger", priority: "low", tags: ["наличие"], subject: "Is the iPhone 16 Pro 256 GB back in stock?", body: "Hi! When will you have the desert titanium colour again?", reply: "The next delivery is expected on the 28th. I have subscribed you to the stock notification." },
  { ru: true, channel: "chat", priority: "normal", tags: ["рассрочка"], subject: "Рассрочка на телевизор LG OLED 65\"", body: "Можно оформить рассрочку без переплаты на 12 месяцев?", reply: "Да, через банк-партнёр на 12 месяцев без переплаты. Ссылка на заявку отправлена в чат." },
  { ru: false, channel: "email", priority: "high", tags: ["b2b", "доставка"], subject: "Damaged pallet on delivery #DL-88412", body: "Two of the twelve monitors arrived with broken screens. Photos and the signed delivery note are attached.", reply: "We are sorry. Two replacement monitors ship tomorrow by express; no need to return the damaged ones." },
  { ru: true, channel: "phone", priority: "normal", tags: ["сервис"], subject: "Запись на установку кондиционера", body: "Клиент хочет установку сплит-системы на этой неделе, адрес: Казань, ул. Баумана, 15.", reply: "Записали на пятницу, 10:00. Монтажник позвонит накануне." },
  { ru: true, channel: "messenger", priority: "normal", tags: ["оплата"], subject: "Не пришёл чек после оплаты", body: "Оплатила заказ через СБП, чек на почту не пришёл.", reply: "Отправили чек повторно на вашу почту, проверьте папку «Спам»." },
  { ru: false, channel: "web_call", priority: "normal", tags: ["доставка"], subject: "Delivery slot for Saturday?", body: "Customer asked through the website call button whether Saturday delivery is possible.", reply: "Booked Saturday 12:00–16:00; confirmation SMS sent." },
];

const OPERATORS: Array<Omit<OperatorView, "state_since">> = [
  { id: "op-01", name: "Анна Смирнова", role: "operator", state: "available", is_me: true },
  { id: "op-02", name: "Дмитрий Волков", role: "operator", state: "busy", is_me: false },
  { id: "op-03", name: "Olga Kuznetsova", role: "team_lead", state: "break", is_me: false },
  { id: "op-04", name: "Сергей Иванов", role: "operator", state: "available", is_me: false },
  { id: "op-05", name: "Maria Garcia", role: "contractor", state: "wrap_up", is_me: false },
  { id: "op-06", name: "Павел Орлов", role: "operator", state: "offline", is_me: false },
];

const QUEUES: Array<Omit<QueueSummary, "open_count" | "unread_count">> = [
  { id: "q-hotline", name: "Горячая линия 8-800", channel: "phone", department_id: "dep-support", department_name: "Поддержка" },
  { id: "q-webcall", name: "Звонок с сайта", channel: "web_call", department_id: "dep-support", department_name: "Поддержка" },
  { id: "q-email", name: "support@shop.example", channel: "email", department_id: "dep-support", department_name: "Поддержка" },
  { id: "q-chat", name: "Чат на сайте", channel: "chat", department_id: "dep-support", department_name: "Поддержка" },
  { id: "q-telegram", name: "Telegram-бот", channel: "messenger", department_id: "dep-delivery", department_name: "Доставка и возвраты" },
  { id: "q-courier", name: "Линия курьеров", channel: "phone", department_id: "dep-delivery", department_name: "Доставка и возвраты" },
  { id: "q-b2b", name: "B2B sales", channel: "email", department_id: "dep-b2b", department_name: "Corporate sales" },
];

const STATUS_CYCLE: TicketStatus[] = ["new", "open", "open", "pending", "new", "open", "resolved", "open", "closed", "pending"];
const OUTCOMES: CallOutcome[] = ["answered", "answered", "missed", "answered", "abandoned", "answered", "busy"];
const ORDER_ITEMS = ["Dyson V15 Detect", "Lenovo ThinkPad E14 ×2", "LG OLED 65\" C4", "Bosch KGN39 холодильник", "iPhone 16 Pro 256 GB", "Кофемашина De'Longhi Magnifica", "Galaxy S24 + чехол", "Philips Hue starter kit", "Стиральная машина Haier HW70"];

/** A tiny deterministic PRNG so every run (and every test) sees the same data. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const fail = (code: UiError["code"], message: string): UiError => ({ code, message });

/** Marks every occurrence of every query word with U+0002 … U+0003, cut to a window around the first match. */
export function markSnippet(text: string, query: string, width = 90): string | null {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const lower = text.toLowerCase();
  const first = Math.min(...words.map((w) => lower.indexOf(w)).filter((i) => i >= 0));
  if (!Number.isFinite(first)) return null;
  const start = Math.max(0, first - 30);
  const end = Math.min(text.length, start + width);
  let out = "";
  const piece = text.slice(start, end).replace(/\s+/g, " ");
  const lp = piece.toLowerCase();
  for (let i = 0; i < piece.length; ) {
    const w = words.find((x) => lp.startsWith(x, i));
    if (w) {
      out += `\u0002${piece.slice(i, i + w.length)}\u0003`;
      i += w.length;
    } else {
      out += piece[i++];
    }
  }
  return (start > 0 ? "…" : "") + out + (end < text.length ? "…" : "");
}

export function fixtureBackend(options: FixtureOptions = {}): FixtureBackend {
  const NOW = options.now ?? Date.now();
  const count = Math.max(1, options.rows ?? 60);
  const clock = () => (options.now === undefined ? Date.now() : NOW);
  const delay = () => (options.latencyMs ? new Promise((r) => setTimeout(r, options.latencyMs)) : Promise.resolve());
  const rnd = random(42);

  const operators: OperatorView[] = OPERATORS.map((o, i) => ({ ...o, state_since: NOW - (i + 1) * 17 * MIN }));
  let me = operators[0];
  /** Who follows which ticket (by operator id). */
  const followers = new Map<string, string[]>();
  const work = {
    version: 0,
    rules: [] as Rule[],
    templates: [
      { id: "tpl-delay", name: "Доставка задерживается", language: "ru", queue_id: null, owner_id: null, subject: null, attachments: [],
        body: "Здравствуйте, {{customer.name}}! Заказ задерживается на день, курьер позвонит заранее. Обращение №{{ticket.number}}." },
      { id: "tpl-refund", name: "Refund started", language: "en", queue_id: null, owner_id: null, subject: null, attachments: [],
        body: "Hello {{customer.name}}, your refund has been started and reaches your card in 3–5 working days. {{operator.name}}" },
    ] as Template[],
  };
  const workView = () => ({
    version: work.version,
    rules: structuredClone(work.rules),
    queues: queues.map((q) => ({ id: q.id, name: q.name })),
    operators: operators.filter((o) => o.role !== "contractor").map((o) => ({ id: o.id, name: o.name })),
    templates: work.templates.filter((x) => x.owner_id === null).map((x) => ({ id: x.id, name: x.name })),
    mailboxes: ["support"],
  });
  const templateList = (): TemplateList => ({
    templates: work.templates.filter((x) => x.owner_id === null || x.owner_id === me.id),
    variables: [
      { name: "customer.name", what: "the customer's name" },
      { name: "ticket.number", what: "the ticket's number" },
      { name: "ticket.subject", what: "the ticket's subject" },
      { name: "operator.name", what: "the name of the operator who sends the reply" },
      { name: "order.number", what: "the number of the customer's latest order" },
      { name: "order.status", what: "the status of the customer's latest order" },
      { name: "order.total", what: "the total of the customer's latest order" },
    ],
  });
  const queues = QUEUES.map((q) => ({ ...q, open_count: 0, unread_count: 0 }));
  let csat: CsatSettings = { scale: "three", ask_by_email: false, ask_in_chat: true, manager_queue_id: null };
  // Calls waiting in the hotline's queue on the demo wallboard (a team lead may move them).
  const demoWaiting = QUEUES.filter((q) => q.channel === "phone").slice(0, 1).flatMap((q) => [
    { call_id: "demo-wait-1", queue_id: q.id, arrived_at: NOW - 48_000 },
    { call_id: "demo-wait-2", queue_id: q.id, arrived_at: NOW - 12_000 },
  ]);
  const wallboardView = () => {
    const figures = (offered: number, answered: number, fast: number, abandoned: number) => ({
      offered, answered, answered_in_target: fast, abandoned, abandoned_in_target: 0, callbacks: 0,
      service_level: offered ? fast / offered : null, abandon_rate: offered ? abandoned / offered : null,
      average_answer_ms: answered ? 9_000 : null, waiting: 0, longest_wait_ms: 0,
    });
    return {
      at: Date.now(),
      queues: queues.map((q, i) => ({
        id: q.id, name: q.name, channel: q.channel, waiting_calls: demoWaiting.filter((c) => c.queue_id === q.id).length,
        waiting_chats: q.channel === "chat" ? 2 : 0,
        calls_waiting: demoWaiting.filter((c) => c.queue_id === q.id).map((c) => ({ call_id: c.call_id, arrived_at: c.arrived_at, waited_ms: Date.now() - c.arrived_at })),
        longest_wait_ms: q.channel === "chat" ? 34_000 : Math.max(0, ...demoWaiting.filter((c) => c.queue_id === q.id).map((c) => Date.now() - c.arrived_at)),
        today: figures(q.channel === "phone" ? 120 + i : 0, q.channel === "phone" ? 117 : 0, q.channel === "phone" ? 112 : 0, q.channel === "phone" ? 3 : 0),
        last_15_min: figures(q.channel === "phone" ? 6 : 0, q.channel === "phone" ? 6 : 0, q.channel === "phone" ? 5 : 0, 0),
      })),
      agents: operators.filter((o) => o.role !== "admin").map((o) => ({ id: o.id, name: o.name, role: o.role, state: o.state, state_since: o.state_since, handled_today: 7, not_responding: false, hotline_call: null })),
    };
  };
  const queueFor = (channel: Channel, i: number) => {
    const options = queues.filter((q) => q.channel === channel);
    return options[i % options.length] ?? queues[0];
  };

  // Customers, their calls outside tickets (for the activity chart) and orders.
  const customers = PEOPLE.map((p, i) => ({ ...p, id: `c-${i + 1}`, created_at: NOW - (200 + i * 37) * DAY }));
  const calls: CallView[] = [];
  const orders = new Map<string, OrderView[]>();
  customers.forEach((c, ci) => {
    const n = 3 + Math.floor(rnd() * 10);
    for (let k = 0; k < n; k++) {
      const started = NOW - Math.floor(rnd() * 360 * DAY) - HOUR;
      const outcome = OUTCOMES[(ci + k) % OUTCOMES.length];
      const talk = outcome === "answered" ? 40 + Math.floor(rnd() * 600) : 0;
      calls.push({
        id: `call-${ci}-${k}`, customer_id: c.id, ticket_id: null, direction: k % 3 === 2 ? "outbound" : "inbound",
        from_number: k % 3 === 2 ? "+7 800 555-35-35" : c.phone, to_number: k % 3 === 2 ? c.phone : "+7 800 555-35-35",
        started_at: started, answered_at: talk ? started + 12_000 : null, ended_at: started + 12_000 + talk * 1000, outcome,
        disposition: talk ? (c.ru ? "Консультация" : "Consultation") : null, notes: "", recording_ref: null,
        operator_name: talk ? operators[(ci + k) % operators.length].name : null, queue_name: QUEUES[0].name, talk_secs: talk,
      });
    }
    const list: OrderView[] = [];
    const m = ci % 5 === 4 ? 0 : 1 + Math.floor(rnd() * 4);
    for (let k = 0; k < m; k++) {
      const statuses: OrderView["status"][] = ["delivered", "shipped", "paid", "returned", "delivered", "cancelled"];
      list.push({
        id: `o-${ci}-${k}`, number: `ORD-${100_200 + ci * 37 + k * 11}`, status: k === 0 && ci % 3 === 0 ? "shipped" : statuses[(ci + k) % statuses.length],
        total_cents: (c.currency === "RUB" ? 990_000 + Math.floor(rnd() * 15_000_000) : 4_900 + Math.floor(rnd() * 180_000)),
        currency: c.currency, items: ORDER_ITEMS[(ci + k * 3) % ORDER_ITEMS.length], created_at: NOW - (k * 47 + 3 + ci) * DAY,
      });
    }
    orders.set(c.id, list);
  });

  // Tickets: the newest first in time; open ones recent, resolved and closed ones older.
  const tickets: TicketRow[] = [];
  for (let i = 0; i < count; i++) {
    const sc = SCENARIOS[i % SCENARIOS.length];
    const people = customers.filter((c) => c.ru === sc.ru);
    const c = people[(i * 7 + Math.floor(i / SCENARIOS.length)) % people.length];
    const status = STATUS_CYCLE[i % STATUS_CYCLE.length];
    const done = status === "resolved" || status === "closed";
    const age = i < 60 ? (done ? (20 + i * 4) * DAY : (i * 4 + 2) * MIN) : i * 11 * MIN;
    const created = NOW - age;
    const queue = queueFor(sc.channel, i);
    const assignee = i % 4 === 0 ? null : operators[i % 3 === 0 ? 0 : i % operators.length];
    const answered = status !== "new" && i % 5 !== 1;
    const slaTarget = c.tier === "premium" ? HOUR : 4 * HOUR;
    tickets.push({
      id: `t-${i + 1}`, number: 10_480 + count - i, subject: i < SCENARIOS.length || i >= 60 ? sc.subject : sc.subject.replace(/\d{6}/, String(100_000 + ((i * 7919) % 900))),
      customer_id: c.id, customer_name: c.name, channel: sc.channel, status, priority: sc.priority, queue_id: queue.id, queue_name: queue.name,
      assignee_id: assignee?.id ?? null, assignee_name: assignee?.name ?? null, tags: [...sc.tags], created_at: created,
      updated_at: created + (answered ? 25 * MIN : 0), sla_due_at: !answered && (status === "new" || status === "open") ? created + slaTarget : null,
      first_response_at: answered ? created + 25 * MIN : null, unread: !done && i % 3 === 1,
      preview: (answered ? sc.reply : sc.body).slice(0, 140), message_count: answered ? (sc.note ? 3 : 2) : 1,
    });
  }
  const byId = new Map(tickets.map((t) => [t.id, t]));

  const noEmail: EmailView = { mailbox: null, message_id: null, from: null, reply_to: null, to: [], cc: [], kind: null, notes: [], html: null, remote_images: 0, delivery: null, sent_at: null };
  /** What the server's mail intake and outbox would have written on a demo email message. */
  const fixtureEmail = (direction: MessageView["direction"], author: string, customer: string, k: number, body: string): EmailView => {
    const customerAddress = { address: `${customer.toLowerCase().replace(/[^a-z]+/g, ".").replace(/^\.|\.$/g, "") || "customer"}@example.com`, name: customer };
    const support = { address: "support@shop.example", name: direction === "outbound" ? author : "Support" };
    if (direction === "outbound") return { ...noEmail, from: support, to: [customerAddress], delivery: { state: "sent", reason: null, at: null } };
    const html = k === 0 ? `<p>${body.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</p><p><img src="https://shop.example/logo.png" alt="logo" width="120"></p>` : null;
    return { ...noEmail, from: customerAddress, to: [support], kind: "personal", html, remote_images: html ? 1 : 0 };
  };

  // Conversations are made on first view, then kept (so replies stay).
  const timelines = new Map<string, TimelineItem[]>();
  const timeline = (t: TicketRow): TimelineItem[] => {
    const have = timelines.get(t.id);
    if (have) return have;
    const sc = SCENARIOS[(Number(t.id.slice(2)) - 1) % SCENARIOS.length];
    const c = customers.find((x) => x.id === t.customer_id) ?? customers[0];
    const agent = t.assignee_name ?? me.name;
    const msg = (k: number, direction: MessageView["direction"], author: string, body: string, at: number): TimelineItem => ({
      kind: "message", id: `${t.id}-m${k}`, ticket_id: t.id, channel: t.channel, direction, author_name: author,
      subject: t.channel === "email" && direction !== "internal" ? (k === 0 ? t.subject : `Re: ${t.subject}`) : null, body,
      attachments: t.channel === "email" && k === 0
        ? [{ name: "photo_2026-11-19.jpg", mime: "image/jpeg", size: 1_284_113, sha256: null, content_id: null, inline: false }, { name: "invoice.pdf", mime: "application/pdf", size: 88_402, sha256: null, content_id: null, inline: false }]
        : [],
      created_at: at,
      email: t.channel === "email" && direction !== "internal" ? fixtureEmail(direction, author, c.name, k, body) : null,
    });
    const items: TimelineItem[] = [];
    if (t.channel === "phone" || t.channel === "web_call") {
      const talk = 180 + (t.number % 7) * 41;
      items.push({
        kind: "call", id: `${t.id}-call`, customer_id: c.id, ticket_id: t.id, direction: "inbound", from_number: c.phone, to_number: "+7 800 555-35-35",
        started_at: t.created_at - talk * 1000, answered_at: t.created_at - talk * 1000 + 9_000, ended_at: t.created_at, outcome: "answered",
        disposition: c.ru ? "Заказ / статус доставки" : "Order / delivery status", notes: sc.body, recording_ref: `rec/${t.id}.opus`,
        operator_name: agent, queue_name: t.queue_name, talk_secs: talk,
      });
      items.push(msg(0, "internal", agent, c.ru ? "Итог звонка: " + sc.body : "Call summary: " + sc.body, t.created_at + MIN));
    } else {
      items.push(msg(0, "inbound", c.name, sc.body, t.created_at));
    }
    if (t.first_response_at !== null) {
      items.push(msg(1, "outbound", agent, sc.reply, t.first_response_at));
      if (sc.note) items.push(msg(2, "internal", operators[2].name, sc.note, t.first_response_at + 5 * MIN));
    }
    timelines.set(t.id, items);
    return items;
  };

  const find = (id: string): TicketRow => {
    const t = byId.get(id);
    if (!t) throw fail("not_found", `ticket ${id} does not exist`);
    return t;
  };
  // In the demo a chat's visitor has read every reply but the newest.
  const visitorReadAt = (t: TicketRow, items: TicketDetail["timeline"]): number | null => {
    const replies = items.flatMap((i) => (i.kind === "message" && i.direction === "outbound" ? [i.created_at] : []));
    return t.channel === "chat" && replies.length > 1 ? replies[replies.length - 2] : null;
  };
  const detail = (t: TicketRow): TicketDetail => {
    const items = [...timeline(t)];
    return { ticket: { ...t, tags: [...t.tags] }, timeline: items, visitor_read_at: visitorReadAt(t, items) };
  };
  const touch = (t: TicketRow) => (t.updated_at = clock());
  const isOpen = (s: TicketStatus) => s === "new" || s === "open";
  const matches = (t: TicketRow, f: TicketFilter) =>
    (f.statuses.length === 0 || f.statuses.includes(t.status)) && (!f.channel || t.channel === f.channel) &&
    (!f.queue_id || t.queue_id === f.queue_id) && (!f.tag || t.tags.includes(f.tag)) &&
    (!f.assignee || (f.assignee.kind === "me" ? t.assignee_id === me.id : f.assignee.kind === "unassigned" ? t.assignee_id === null : t.assignee_id === f.assignee.id));
  const stats = () => ({
    tickets: tickets.length, messages: tickets.reduce((n, t) => n + t.message_count, 0), customers: customers.length,
    calls: calls.length + tickets.filter((t) => t.channel === "phone" || t.channel === "web_call").length, outbox_pending: 0,
  });

  return {
    appInfo: async () => ({ version: "0.1.0-preview", db_path: "(in memory)", demo: true, stats: stats() }),
    storeStats: async () => stats(),
    listQueues: async () =>
      queues.map((q) => {
        const open = tickets.filter((t) => t.queue_id === q.id && isOpen(t.status));
        return { ...q, open_count: open.length, unread_count: open.filter((t) => t.unread).length };
      }),
    listOperators: async () => operators.map((o) => (o.id === me.id ? { ...me } : { ...o })),
    me: async () => ({ ...me }),
    setAgentState: async (state: AgentState) => {
      if (state === "busy") throw fail("invalid_input", "busy is set by calls, not by hand");
      me = { ...me, state, state_since: clock() };
      return { ...me };
    },
    listTickets: async (f) => {
      await delay();
      if (f.limit <= 0 || f.limit > 500) throw fail("invalid_input", `limit ${f.limit} is outside 1..=500`);
      const all = tickets.filter((t) => matches(t, f));
      const key = (t: TicketRow) => (f.sort === "sla_due" ? (t.sla_due_at ?? Number.MAX_SAFE_INTEGER) : f.sort === "updated" ? -t.updated_at : -t.created_at);
      all.sort((a, b) => key(a) - key(b) || b.number - a.number);
      return { total: all.length, offset: f.offset, rows: all.slice(f.offset, f.offset + f.limit).map((t) => ({ ...t, tags: [...t.tags] })) };
    },
    listTags: async () => [...new Set(SCENARIOS.flatMap((s) => s.tags))].sort((a, b) => a.localeCompare(b)),
    getTicket: async (id) => {
      const t = find(id);
      t.unread = false;
      return detail(t);
    },
    replyTicket: async (id, body, internal, cc, attachments) => {
      const t = find(id);
      const text = body.trim();
      if (!text) throw fail("invalid_input", "the reply is empty");
      const at = clock();
      timeline(t).push({
        kind: "message", id: `${id}-r${timeline(t).length}`, ticket_id: id, channel: t.channel, direction: internal ? "internal" : "outbound",
        author_name: me.name, subject: null, body: text, created_at: at,
        attachments: attachments.map((a) => ({ name: a.name, mime: a.mime, size: a.size, sha256: a.sha256, content_id: null, inline: false })),
        email: t.channel === "email" && !internal ? { ...noEmail, cc: cc.map((address) => ({ address, name: null })), delivery: { state: "queued", reason: null, at: null } } : null,
      });
      t.message_count += 1;
      touch(t);
      if (!internal) {
        t.preview = text.slice(0, 140);
        if (t.first_response_at === null) t.first_response_at = at;
        t.sla_due_at = null;
        if (t.status === "new") t.status = "open";
      }
      return detail(t);
    },
    setTicketStatus: async (id, status) => {
      const t = find(id);
      t.status = status;
      touch(t);
      return { ...t, tags: [...t.tags] };
    },
    assignTicket: async (id, assigneeId) => {
      const t = find(id);
      const op = assigneeId === null ? null : operators.find((o) => o.id === assigneeId);
      if (op === undefined) throw fail("not_found", `operator ${assigneeId} does not exist`);
      t.assignee_id = op?.id ?? null;
      t.assignee_name = op?.name ?? null;
      touch(t);
      return { ...t, tags: [...t.tags] };
    },
    setTicketTags: async (id, tags) => {
      const t = find(id);
      t.tags = [...new Set(tags.map((x) => x.trim()).filter(Boolean))];
      touch(t);
      return { ...t, tags: [...t.tags] };
    },
    getCustomer: async (customerId): Promise<CustomerCard> => {
      const c = customers.find((x) => x.id === customerId);
      if (!c) throw fail("not_found", `customer ${customerId} does not exist`);
      const own = tickets.filter((t) => t.customer_id === customerId).slice(0, 200);
      const ownCalls = calls.filter((x) => x.customer_id === customerId);
      const contacts: ContactItem[] = [
        ...own.map((t) => ({ kind: "ticket" as const, id: t.id, ticket_id: t.id, channel: t.channel, title: t.subject, state: t.status, at: t.updated_at })),
        ...ownCalls.map((x) => ({ kind: "call" as const, id: x.id, ticket_id: x.ticket_id, channel: "phone" as const, title: `${x.direction === "inbound" ? "←" : "→"} ${x.direction === "inbound" ? x.from_number : x.to_number}`, state: x.outcome, at: x.started_at })),
      ].sort((a, b) => b.at - a.at);
      const ords = orders.get(customerId) ?? [];
      const identities: Identity[] = [{ kind: "phone", value: c.phone }, { kind: "email", value: c.email }];
      if (c.ru) identities.push({ kind: "messenger", value: `@${c.email.split("@")[0].replace(/\W/g, "_")}` });
      return {
        id: c.id, name: c.name, company: c.company, tier: c.tier, tags: [...c.tags], identities, created_at: c.created_at,
        stats: {
          tickets_total: own.length, tickets_open: own.filter((t) => t.status !== "closed" && t.status !== "resolved").length,
          calls_total: ownCalls.length, calls_missed: ownCalls.filter((x) => x.outcome === "missed" || x.outcome === "abandoned").length,
          orders_total: ords.length, lifetime_value_cents: ords.filter((o) => o.status !== "cancelled" && o.status !== "returned").reduce((n, o) => n + o.total_cents, 0),
          first_contact_at: contacts.length ? contacts[contacts.length - 1].at : null, last_contact_at: contacts[0]?.at ?? null,
        },
        recent_contacts: contacts.slice(0, 50),
        orders: ords,
      };
    },
    search: async (query, limit): Promise<SearchResults> => {
      await delay();
      const q = query.trim();
      const empty: SearchResults = { query, tickets: [], messages: [], customers: [], calls: [] };
      if (!q) return empty;
      const pool = tickets.slice(0, 2000);
      const hits = <T>(items: T[], make: (x: T) => SearchHit | null) => {
        const out: SearchHit[] = [];
        for (const x of items) {
          const h = make(x);
          if (h) out.push(h);
          if (out.length >= limit) break;
        }
        return out;
      };
      return {
        query,
        tickets: hits(pool, (t) => {
          const s = markSnippet(`${t.subject} — ${t.customer_name}`, q);
          const byTag = t.tags.some((tag) => tagMatches(tag, q));
          return s || byTag ? { kind: "ticket", id: t.id, ticket_id: t.id, customer_id: t.customer_id, title: `#${t.number} ${t.subject}`, snippet: s ?? "", tags: t.tags, at: t.updated_at } : null;
        }),
        messages: hits(pool.slice(0, 200).flatMap(timeline).filter((x): x is Extract<TimelineItem, { kind: "message" }> => x.kind === "message"), (m) => {
          const s = markSnippet(m.body, q);
          const t = byId.get(m.ticket_id);
          return s && t ? { kind: "message", id: m.id, ticket_id: t.id, customer_id: t.customer_id, title: `${m.author_name} · #${t.number}`, snippet: s, tags: [], at: m.created_at } : null;
        }),
        customers: hits(customers, (c) => {
          const s = markSnippet([c.name, c.company, c.email, c.phone].filter(Boolean).join(" · "), q);
          return s ? { kind: "customer", id: c.id, ticket_id: null, customer_id: c.id, title: c.name, snippet: s, tags: [], at: c.created_at } : null;
        }),
        calls: hits(calls, (x) => {
          const s = markSnippet(`${x.from_number} → ${x.to_number} ${x.disposition ?? ""}`, q);
          const c = customers.find((y) => y.id === x.customer_id);
          return s ? { kind: "call", id: x.id, ticket_id: x.ticket_id, customer_id: x.customer_id, title: c?.name ?? x.from_number, snippet: s, tags: [], at: x.started_at } : null;
        }),
      };
    },
    uiReady: async () => {},
    // The demo has no website visitors to tell.
    chatTyping: async () => {},
    attachmentData: async () => {
      throw fail("unavailable", "attachments come from the server, and the demo has none");
    },
    uploadAttachment: async (name, mime, dataBase64) => {
      // The size the server would count; the demo keeps nothing.
      const size = Math.floor((dataBase64.length * 3) / 4) - (dataBase64.endsWith("==") ? 2 : dataBase64.endsWith("=") ? 1 : 0);
      return { name, mime, size, sha256: "0".repeat(64) };
    },
    downloadAttachment: async () => {
      throw fail("unavailable", "attachments download from the server, and the demo has none");
    },
    syncStatus: async () => ({ connection: "local_only", unsent: 0, first_sync: null, last_rejection: null, problem: null, revision: 0 }),
    listRejections: async () => [],
    // The demo has no server to send notices; the list is empty.
    listNotices: async () => ({ notices: [], unseen: 0 }),
    markNoticesSeen: async () => ({ notices: [], unseen: 0 }),
    // The center's work rules live on the server; the fixture keeps a few in memory so the
    // sheet and the reply box's picker can be tried in a browser. The server runs the rules.
    workRules: async () => {
      if (me.role !== "team_lead" && me.role !== "admin") throw fail("forbidden", "only admins and team leads change the center's rules");
      return workView();
    },
    saveWorkRules: async (version, rules) => {
      if (version !== work.version) throw fail("conflict", "the rules were changed by someone else; reload them");
      work.version += 1;
      work.rules = structuredClone(rules);
      return workView();
    },
    dryRunRules: async () => ({ tickets: [], matched: 0, replayed: 0, replies: 0 }),
    ticketFollowers: async (ticketId) => ({ people: (followers.get(ticketId) ?? []).map((id) => operators.find((o) => o.id === id)!).map((o) => ({ id: o.id, name: o.name, role: o.role })), following: (followers.get(ticketId) ?? []).includes(me.id) }),
    followTicket: async (ticketId, follow) => {
      const now = (followers.get(ticketId) ?? []).filter((id) => id !== me.id);
      followers.set(ticketId, follow ? [...now, me.id] : now);
      return { people: followers.get(ticketId)!.map((id) => operators.find((o) => o.id === id)!).map((o) => ({ id: o.id, name: o.name, role: o.role })), following: follow };
    },
    mentionPeople: async () => ({ people: operators.map((o) => ({ id: o.id, name: o.name, role: o.role })) }),
    listTemplates: async () => templateList(),
    saveTemplate: async (template) => {
      work.templates = [...work.templates.filter((x) => x.id !== template.id), structuredClone(template)];
      return templateList();
    },
    deleteTemplate: async (id) => {
      work.templates = work.templates.filter((x) => x.id !== id);
      return templateList();
    },
    renderTemplate: async (id, ticketId) => {
      const template = work.templates.find((x) => x.id === id);
      const ticket = byId.get(ticketId);
      if (!template || !ticket) throw fail("not_found", "no such template or ticket");
      const missing: string[] = [];
      const text = template.body.replace(/\{\{\s*([a-z.]+)\s*\}\}/g, (_, name: string) => {
        const value = ({ "customer.name": ticket.customer_name, "ticket.number": String(ticket.number), "ticket.subject": ticket.subject, "operator.name": me.name } as Record<string, string>)[name];
        if (value === undefined && !missing.includes(name)) missing.push(name);
        return value ?? "";
      });
      return { body: { text, missing }, subject: null, attachments: template.attachments };
    },
    // Merging and splitting are the server's; the demo has none.
    mergeTickets: async () => {
      throw fail("unavailable", "merging tickets needs the server, and the demo has none");
    },
    splitMessage: async () => {
      throw fail("unavailable", "splitting tickets needs the server, and the demo has none");
    },
    wallboard: async () => wallboardView(),
    wallboardMonitor: async () => {
      throw fail("unavailable", "listening in needs the server's hotline, and the demo has none");
    },
    wallboardMove: async (callId, queueId) => {
      const call = demoWaiting.find((c) => c.call_id === callId);
      if (!call) throw fail("conflict", "no such call waiting");
      call.queue_id = queueId;
      return wallboardView();
    },
    setOperatorState: async (operatorId, state) => {
      const op = operators.find((o) => o.id === operatorId);
      if (!op) throw fail("not_found", "no such operator");
      op.state = state;
      op.state_since = Date.now();
    },
    slaPolicies: async () => ({ policies: [], queues: queues.map((q) => ({ id: q.id, name: q.name, sla_policy_id: null })) }),
    saveSlaPolicy: async () => {
      throw fail("unavailable", "SLA policies are kept by the server, and the demo has none");
    },
    setQueuePolicy: async () => {
      throw fail("unavailable", "SLA policies are kept by the server, and the demo has none");
    },
    csatSettings: async () => ({
      settings: structuredClone(csat),
      public_url: null,
      queues: queues.map((q) => ({ id: q.id, name: q.name })),
    }),
    saveCsatSettings: async (settings) => {
      if (settings.ask_by_email) throw fail("invalid_input", "email customers cannot be asked: the demo has no public address for the links");
      if (settings.manager_queue_id && !queues.some((q) => q.id === settings.manager_queue_id)) throw fail("invalid_input", `no queue has the id "${settings.manager_queue_id}"`);
      csat = structuredClone(settings);
      return { settings: structuredClone(csat), public_url: null, queues: queues.map((q) => ({ id: q.id, name: q.name })) };
    },
    phoneBook: () => customers.map((c) => ({ id: c.id, name: c.name, phone: c.phone })),
    phoneSetsState: (state: AgentState) => {
      if (me.state !== state) me = { ...me, state, state_since: clock() };
    },
  };
}
