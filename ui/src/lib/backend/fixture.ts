// An in-memory Backend with a small, fixed dataset: for UI unit tests and for opening the UI
// in a browser without the app. The real data always comes from the Rust store.
import type {
  AgentState, Backend, CallView, Channel, CustomerCard, MessageView, OperatorView, QueueSummary, SearchHit,
  TicketDetail, TicketFilter, TicketRow, TicketStatus, TimelineItem,
} from "./bindings";

const NOW = Date.UTC(2026, 10, 20, 12, 0, 0);
const HOUR = 3_600_000;
const channels: Channel[] = ["phone", "email", "chat", "messenger", "email", "phone"];
const statuses: TicketStatus[] = ["new", "open", "open", "pending", "resolved", "closed"];
const names = ["Иван Петров", "Emma Smith", "Мария Соколова", "John Taylor", "Ольга Волкова", "David Clark"];
const subjects = ["Где мой заказ ORD-100234?", "Refund request for Dyson V15 vacuum", "Двойное списание за заказ ORD-100311", "Change delivery address to Berlin", "Промокод не применяется", "Warranty question about Galaxy S24"];

function makeQueues(): QueueSummary[] {
  return [
    { id: "q-hotline", name: "Горячая линия 8-800", channel: "phone", department_id: "dep-support", department_name: "Поддержка / Support", open_count: 0, unread_count: 0 },
    { id: "q-support-email", name: "support@shop.example", channel: "email", department_id: "dep-support", department_name: "Поддержка / Support", open_count: 0, unread_count: 0 },
    { id: "q-support-chat", name: "Чат на сайте", channel: "chat", department_id: "dep-support", department_name: "Поддержка / Support", open_count: 0, unread_count: 0 },
    { id: "q-delivery-wa", name: "WhatsApp доставка", channel: "messenger", department_id: "dep-delivery", department_name: "Доставка / Delivery", open_count: 0, unread_count: 0 },
  ];
}

export function fixtureBackend(): Backend {
  const operators: OperatorView[] = [
    { id: "op-01", name: "Анна Смирнова", role: "operator", state: "available", state_since: NOW - HOUR, is_me: true },
    { id: "op-02", name: "Дмитрий Волков", role: "operator", state: "busy", state_since: NOW - 2 * HOUR, is_me: false },
    { id: "op-03", name: "Olga Kuznetsova", role: "team_lead", state: "break", state_since: NOW - 600_000, is_me: false },
  ];
  const queues = makeQueues();
  const tickets: TicketRow[] = [];
  const timelines = new Map<string, TimelineItem[]>();
  for (let i = 0; i < 60; i++) {
    const channel = channels[i % channels.length];
    const queue = queues.find((q) => q.channel === channel) ?? queues[0];
    const created = NOW - i * 5 * HOUR;
    const id = `t-${i}`;
    const row: TicketRow = {
      id, number: 10_000 + i, subject: subjects[i % subjects.length], customer_id: `c-${i % names.length}`,
      customer_name: names[i % names.length], channel, status: statuses[i % statuses.length],
      priority: (["normal", "high", "low", "urgent"] as const)[i % 4], queue_id: queue.id, queue_name: queue.name,
      assignee_id: i % 3 === 0 ? null : operators[i % 2].id, assignee_name: i % 3 === 0 ? null : operators[i % 2].name,
      tags: i % 2 ? ["доставка"] : ["refund", "vip"], created_at: created, updated_at: created + HOUR,
      sla_due_at: created + 4 * HOUR, first_response_at: i % 4 === 0 ? null : created + HOUR, unread: i % 5 === 0,
      preview: "Здравствуйте! Заказ должен был приехать вчера…", message_count: 3,
    };
    tickets.push(row);
    const messages: MessageView[] = [0, 1, 2].map((k) => ({
      id: `${id}-m${k}`, ticket_id: id, channel, direction: k === 1 ? "outbound" : k === 2 ? "internal" : "inbound",
      author_name: k === 0 ? row.customer_name : operators[0].name, subject: k === 0 && channel === "email" ? row.subject : null,
      body: k === 0 ? "Здравствуйте! Заказ должен был приехать вчера, но статус не меняется." : k === 1 ? "Проверила заказ: он на складе, доставка завтра до 14:00." : "Клиент VIP, отвечать в приоритете.",
      attachments: k === 0 && channel === "email" ? [{ name: "photo.jpg", mime: "image/jpeg", size: 120_000 }] : [], created_at: created + k * HOUR,
    }));
    const items: TimelineItem[] = messages.map((m) => ({ kind: "message" as const, ...m }));
    if (channel === "phone") {
      const call: CallView = { id: `${id}-call`, customer_id: row.customer_id, ticket_id: id, direction: "inbound", from_number: "+7 915 123-45-67", to_number: "+7 800 555-35-35", started_at: created - 60_000, answered_at: created - 50_000, ended_at: created + 200_000, outcome: "answered", disposition: "Заказ / Статус доставки", notes: "Уточнила статус заказа", recording_ref: null, operator_name: operators[0].name, queue_name: queue.name, talk_secs: 250 };
      items.unshift({ kind: "call" as const, ...call });
    }
    timelines.set(id, items);
  }
  let me = operators[0];

  const recount = () => {
    for (const q of queues) {
      const open = tickets.filter((t) => t.queue_id === q.id && (t.status === "new" || t.status === "open"));
      q.open_count = open.length;
      q.unread_count = open.filter((t) => t.unread).length;
    }
  };
  const find = (id: string) => {
    const t = tickets.find((x) => x.id === id);
    if (!t) throw { code: "not_found", message: `ticket ${id} does not exist` };
    return t;
  };
  const detail = (id: string): TicketDetail => ({ ticket: { ...find(id) }, timeline: [...(timelines.get(id) ?? [])] });
  const matches = (t: TicketRow, f: TicketFilter) =>
    (f.statuses.length === 0 || f.statuses.includes(t.status)) && (!f.channel || t.channel === f.channel) &&
    (!f.queue_id || t.queue_id === f.queue_id) && (!f.tag || t.tags.includes(f.tag)) &&
    (!f.assignee || (f.assignee.kind === "me" ? t.assignee_id === me.id : f.assignee.kind === "unassigned" ? t.assignee_id === null : t.assignee_id === f.assignee.id));

  return {
    appInfo: async () => ({ version: "fixture", db_path: "(in memory)", demo: true, stats: { tickets: tickets.length, messages: tickets.length * 3, customers: names.length, calls: 10, outbox_pending: 0 } }),
    storeStats: async () => ({ tickets: tickets.length, messages: tickets.length * 3, customers: names.length, calls: 10, outbox_pending: 0 }),
    listQueues: async () => (recount(), queues.map((q) => ({ ...q }))),
    listOperators: async () => operators.map((o) => ({ ...o })),
    me: async () => ({ ...me }),
    setAgentState: async (state: AgentState) => ((me = { ...me, state, state_since: Date.now() }), { ...me }),
    listTickets: async (f) => {
      const all = tickets.filter((t) => matches(t, f));
      const key = (t: TicketRow) => (f.sort === "sla_due" ? (t.sla_due_at ?? Number.MAX_SAFE_INTEGER) : f.sort === "updated" ? -t.updated_at : -t.created_at);
      all.sort((a, b) => key(a) - key(b));
      return { total: all.length, offset: f.offset, rows: all.slice(f.offset, f.offset + f.limit).map((t) => ({ ...t })) };
    },
    listTags: async () => ["refund", "vip", "доставка"],
    getTicket: async (id) => ((find(id).unread = false), detail(id)),
    replyTicket: async (id, body, internal) => {
      if (!body.trim()) throw { code: "invalid_input", message: "the reply is empty" };
      const t = find(id);
      const m: MessageView = { id: `${id}-m${Date.now()}`, ticket_id: id, channel: t.channel, direction: internal ? "internal" : "outbound", author_name: me.name, subject: null, body: body.trim(), attachments: [], created_at: Date.now() };
      timelines.get(id)?.push({ kind: "message", ...m });
      t.message_count += 1;
      t.preview = m.body.slice(0, 140);
      return detail(id);
    },
    setTicketStatus: async (id, status) => ((find(id).status = status), { ...find(id) }),
    assignTicket: async (id, assigneeId) => {
      const t = find(id);
      t.assignee_id = assigneeId;
      t.assignee_name = operators.find((o) => o.id === assigneeId)?.name ?? null;
      return { ...t };
    },
    setTicketTags: async (id, tags) => ((find(id).tags = [...tags]), { ...find(id) }),
    getCustomer: async (customerId): Promise<CustomerCard> => {
      const own = tickets.filter((t) => t.customer_id === customerId);
      const name = own[0]?.customer_name ?? "—";
      return {
        id: customerId, name, company: customerId === "c-0" ? "ООО «Ромашка»" : null, tier: customerId === "c-0" ? "premium" : "standard", tags: ["постоянный"],
        identities: [{ kind: "phone", value: "+7 915 123-45-67" }, { kind: "email", value: "ivan.petrov@mail.ru" }], created_at: NOW - 300 * 24 * HOUR,
        stats: { tickets_total: own.length, tickets_open: own.filter((t) => t.status !== "closed" && t.status !== "resolved").length, calls_total: 4, calls_missed: 1, orders_total: 2, lifetime_value_cents: 15_990_000, first_contact_at: NOW - 200 * 24 * HOUR, last_contact_at: NOW },
        recent_contacts: own.map((t) => ({ kind: "ticket" as const, id: t.id, ticket_id: t.id, channel: t.channel, title: t.subject, state: t.status, at: t.updated_at })),
        orders: [{ id: "o1", number: "ORD-100234", status: "delivered", total_cents: 7_990_000, currency: "RUB", items: "пылесос Dyson V15", created_at: NOW - 40 * 24 * HOUR }],
      };
    },
    search: async (query) => {
      const q = query.trim().toLowerCase();
      const hit = (t: TicketRow): SearchHit => ({ kind: "ticket", id: t.id, ticket_id: t.id, customer_id: t.customer_id, title: `#${t.number} ${t.subject}`, snippet: t.subject.replace(new RegExp(`(${q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")})`, "i"), "\u0002$1\u0003"), at: t.updated_at });
      const found = q ? tickets.filter((t) => t.subject.toLowerCase().includes(q) || t.customer_name.toLowerCase().includes(q)) : [];
      return { query, tickets: found.slice(0, 20).map(hit), messages: [], customers: [], calls: [] };
    },
    uiReady: async () => {},
  };
}
