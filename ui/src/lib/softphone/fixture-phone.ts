// An in-memory PhoneBackend for UI development, unit tests and screenshots. It behaves like the
// real one as far as the window can tell: accounts register, an incoming call rings (caller ID
// matched to the demo customers), answer → active with a running timer, hold, mute, blind and
// attended transfer (a consult leg), conference, recording pause, hangup → wrap-up → history.
// Time comes from `now()` and timers from `setTimeout`, so tests can use fake timers.
import type { FixtureBackend } from "../backend/fixture";
import type { CallOutcome, UiError } from "../backend/bindings";
import type {
  AccountStatus, AudioDevices, CallHistoryEntry, PhoneCall, DispositionNode, PhoneBackend, PhoneSnapshot, SipAccount, TicketRef, WrapUpView,
} from "./contract";

export type FixturePhoneOptions = {
  /** The ticket fixture: customers for caller ID, open tickets, notes written at wrap-up, my state. */
  tickets: FixtureBackend;
  now?: () => number;
  /** How long registration, an outgoing call's ringing and a consult's ringing take (ms). */
  registerMs?: number;
  remoteAnswerMs?: number;
  /** An unanswered incoming call becomes missed after this long (ms). */
  ringTimeoutMs?: number;
  wrapUpLimitS?: number;
};

export type FixturePhone = PhoneBackend & {
  /** An incoming call from `number` (a demo customer's by default) on the hotline. */
  ring(number?: string): Promise<PhoneCall>;
  /** The far end hangs up. */
  remoteHangup(callId: string): void;
  /** The hotline says a team lead joined the answered call as `mode`, or left it (`null`). */
  teamLead(callId: string, by: string, mode: string | null): void;
};

const HOTLINE = "+7 800 555-35-35";
const HOTLINE_QUEUE = "Горячая линия 8-800";
const CODECS = ["PCMA", "PCMU", "G722", "opus"];
const MIN = 60_000;

export const DISPOSITIONS: DispositionNode[] = [
  { id: "customer", label: "Покупатель", children: [
    { id: "customer.delivery", label: "Статус доставки", children: [] },
    { id: "customer.refund", label: "Возврат и обмен", children: [] },
    { id: "customer.payment", label: "Оплата и чеки", children: [] },
    { id: "customer.warranty", label: "Гарантия и ремонт", children: [] },
    { id: "customer.complaint", label: "Жалоба", children: [] },
    { id: "customer.consult", label: "Консультация по товару", children: [] },
  ] },
  { id: "b2b", label: "Юрлицо (B2B)", children: [
    { id: "b2b.invoice", label: "Счёт и закрывающие документы", children: [] },
    { id: "b2b.bulk", label: "Оптовый заказ", children: [] },
    { id: "b2b.contract", label: "Договор", children: [] },
  ] },
  { id: "courier", label: "Курьер / партнёр", children: [
    { id: "courier.address", label: "Уточнение адреса", children: [] },
    { id: "courier.failed", label: "Не дозвонился до клиента", children: [] },
  ] },
  { id: "other", label: "Другое", children: [
    { id: "other.wrong", label: "Ошиблись номером", children: [] },
    { id: "other.silent", label: "Тишина / сорвался", children: [] },
    { id: "other.spam", label: "Реклама, спам", children: [] },
  ] },
];

const digits = (s: string) => s.replace(/\D/g, "");
/** Numbers match on their last ten digits, so "8 915…" and "+7 915…" are the same phone. */
export const sameNumber = (a: string, b: string) => digits(a).length >= 7 && digits(a).slice(-10) === digits(b).slice(-10);

export function fixturePhone(options: FixturePhoneOptions): FixturePhone {
  const { tickets } = options;
  const now = options.now ?? (() => Date.now());
  const registerMs = options.registerMs ?? 700;
  const remoteAnswerMs = options.remoteAnswerMs ?? 1800;
  const ringTimeoutMs = options.ringTimeoutMs ?? 45_000;
  const wrapUpLimitS = options.wrapUpLimitS ?? 90;
  const fail = (code: UiError["code"], message: string): UiError => ({ code, message });
  const started = now();

  let accounts: SipAccount[] = [
    { id: "acc-1", label: "Основная линия", user: "1017", domain: "pbx.shop.example", registrar: "sip:pbx.shop.example", transport: "udp", outbound_proxy: null, codecs: ["PCMA", "PCMU"], enabled: true, has_password: true, ca_file: null },
    { id: "acc-2", label: "Резерв (TLS)", user: "1017", domain: "sip2.shop.example", registrar: "sips:sip2.shop.example:5061", transport: "tls", outbound_proxy: "sip:edge.shop.example", codecs: ["opus", "PCMA"], enabled: false, has_password: false, ca_file: "/etc/okno/shop-ca.pem" },
  ];
  const status = new Map<string, AccountStatus>();
  const calls = new Map<string, PhoneCall>();
  let wrapUp: WrapUpView | null = null;
  let seq = 0;
  let devices: AudioDevices = {
    inputs: [{ name: "Встроенный микрофон", is_default: true }, { name: "Jabra Evolve2 65", is_default: false }],
    outputs: [{ name: "Встроенные динамики", is_default: true }, { name: "Jabra Evolve2 65", is_default: false }, { name: "HDMI — Dell U2720Q", is_default: false }],
    input: "Jabra Evolve2 65", output: "Jabra Evolve2 65", ring: "Встроенные динамики",
  };
  const history: CallHistoryEntry[] = [];
  const listeners = new Set<(s: PhoneSnapshot) => void>();
  const book = () => tickets.phoneBook();

  // A few past calls, two of them missed and not seen yet.
  {
    const people = book();
    const past: Array<[number, CallOutcome, "inbound" | "outbound", number, boolean, string | null]> = [
      [4, "missed", "inbound", 0, false, null], [9, "answered", "inbound", 252, true, "Покупатель → Статус доставки"],
      [2, "answered", "outbound", 96, true, "Покупатель → Возврат и обмен"], [13, "missed", "inbound", 0, false, null],
      [6, "abandoned", "inbound", 0, true, null], [0, "answered", "inbound", 431, true, "Покупатель → Оплата и чеки"],
    ];
    past.forEach(([who, outcome, direction, dur, seen, disposition], i) => {
      const p = people[who % people.length];
      history.push({
        id: `h-${i}`, direction, outcome, remote_number: i === 4 ? "+7 912 000-41-18" : p.phone, customer_id: i === 4 ? null : p.id, customer_name: i === 4 ? null : p.name,
        started_at: started - (i * 47 + 12) * MIN, duration_s: dur, seen, disposition,
      });
    });
  }

  const snapshot = (): PhoneSnapshot => ({
    accounts: accounts.map((a) => status.get(a.id) ?? { account_id: a.id, label: a.label, state: "unregistered", detail: null, since: started }),
    calls: [...calls.values()].filter((c) => c.phase !== "ended").map((c) => ({ ...c, open_tickets: [...c.open_tickets], quality: c.quality && { ...c.quality } })),
    wrap_up: wrapUp && { ...wrapUp, open_tickets: [...wrapUp.open_tickets] },
    missed_unseen: history.filter((h) => !h.seen && (h.outcome === "missed" || h.outcome === "abandoned")).length,
  });
  const emit = () => {
    const s = snapshot();
    for (const l of listeners) l(s);
  };

  const register = (a: SipAccount) => {
    if (!a.enabled) {
      status.set(a.id, { account_id: a.id, label: a.label, state: "unregistered", detail: null, since: now() });
      return;
    }
    status.set(a.id, { account_id: a.id, label: a.label, state: "registering", detail: null, since: now() });
    setTimeout(() => {
      const current = accounts.find((x) => x.id === a.id);
      if (!current?.enabled) return;
      const ok = current.has_password;
      status.set(a.id, { account_id: a.id, label: current.label, state: ok ? "registered" : "failed", detail: ok ? `${current.user}@${current.domain}` : "401 Unauthorized: no password", since: now() });
      emit();
    }, registerMs);
  };
  accounts.forEach(register);

  const lookup = async (number: string): Promise<{ customer_id: string | null; customer_name: string | null; open_tickets: TicketRef[] }> => {
    const c = book().find((p) => sameNumber(p.phone, number));
    if (!c) return { customer_id: null, customer_name: null, open_tickets: [] };
    return { customer_id: c.id, customer_name: c.name, open_tickets: await openTickets(c.id) };
  };
  const openTickets = async (customerId: string): Promise<TicketRef[]> => {
    const card = await tickets.getCustomer(customerId);
    return card.recent_contacts
      .filter((x) => x.kind === "ticket" && x.ticket_id && ["new", "open", "pending"].includes(x.state))
      .slice(0, 5)
      .map((x) => ({ id: x.ticket_id as string, subject: x.title }));
  };
  const find = (id: string): PhoneCall => {
    const c = calls.get(id);
    if (!c || c.phase === "ended") throw fail("not_found", `call ${id} does not exist`);
    return c;
  };
  const firstAccount = () => accounts.find((a) => status.get(a.id)?.state === "registered");
  const live = () => [...calls.values()].filter((c) => c.phase !== "ended");

  const quality = (c: PhoneCall) => {
    // A small wobble so the indicator is alive; a consult leg over the mobile network is worse.
    const t = (now() / 2000) % 6;
    const bad = c.consult_for !== null && c.remote_number.startsWith("+7 9");
    c.quality = { mos: bad ? 3.4 + t * 0.03 : 4.3 - t * 0.02, loss_pct: bad ? 2.5 + t * 0.2 : 0.2 + t * 0.05, jitter_ms: bad ? 38 : 9 + t, rtt_ms: bad ? 140 : 42 };
  };
  setInterval(() => {
    let any = false;
    for (const c of live()) {
      if (c.phase === "active" || c.phase === "held") {
        quality(c);
        any = true;
      }
    }
    if (any) emit();
  }, 2000);

  const newCall = (fields: Partial<PhoneCall> & Pick<PhoneCall, "direction" | "phase" | "remote_number">): PhoneCall => {
    const call: PhoneCall = {
      id: `call-${++seq}`, account_id: firstAccount()?.id ?? accounts[0]?.id ?? "acc-1", remote_name: null, page: null, customer_id: null, customer_name: null, open_tickets: [],
      line: null, queue_name: null, waited_ms: null, started_at: now(), answered_at: null, muted: false, recording: "off", quality: null, consult_for: null,
      conferenced_with: null, note: "", transfer: null, monitored: null, ...fields,
    };
    calls.set(call.id, call);
    return call;
  };

  const answered = (c: PhoneCall) => {
    c.phase = "active";
    c.answered_at = now();
    c.recording = c.consult_for ? "off" : "on";
    quality(c);
    tickets.phoneSetsState("busy");
  };

  /** A call leaves this phone. The customer's call (not a consult leg) goes to wrap-up if it was answered. */
  const end = (c: PhoneCall, outcome: CallOutcome) => {
    if (c.phase === "ended") return;
    c.phase = "ended";
    calls.delete(c.id);
    if (c.consult_for) return;
    for (const leg of live().filter((x) => x.consult_for === c.id)) {
      leg.phase = "ended";
      calls.delete(leg.id);
    }
    history.unshift({
      id: c.id, direction: c.direction, outcome, remote_number: c.remote_number, customer_id: c.customer_id, customer_name: c.customer_name,
      started_at: c.started_at, duration_s: c.answered_at ? Math.round((now() - c.answered_at) / 1000) : 0, seen: outcome === "answered" || c.direction === "outbound", disposition: null,
    });
    if (c.answered_at !== null) {
      wrapUp = { call_id: c.id, customer_id: c.customer_id, started_at: now(), limit_s: wrapUpLimitS, open_tickets: [...c.open_tickets], remote_number: c.remote_number, customer_name: c.customer_name };
      tickets.phoneSetsState("wrap_up");
    } else if (live().length === 0) {
      tickets.phoneSetsState("available");
    }
  };

  const dialOut = async (number: string, consultFor: string | null, name: string | null): Promise<PhoneCall> => {
    const who = consultFor ? { customer_id: null, customer_name: null, open_tickets: [] } : await lookup(number);
    const c = newCall({ direction: "outbound", phase: "dialing", remote_number: number, remote_name: name, consult_for: consultFor, ...who });
    setTimeout(() => {
      if (c.phase !== "dialing") return;
      c.phase = "ringing_out";
      emit();
    }, 300);
    setTimeout(() => {
      if (c.phase !== "ringing_out" && c.phase !== "dialing") return;
      answered(c);
      emit();
    }, remoteAnswerMs);
    return c;
  };

  const me: FixturePhone = {
    phoneSnapshot: async () => snapshot(),
    subscribePhone(onChange) {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    async ring(number) {
      const people = book();
      const from = number ?? people[0].phone;
      const who = await lookup(from);
      const c = newCall({ direction: "inbound", phase: "ringing_in", remote_number: from, line: HOTLINE, queue_name: HOTLINE_QUEUE, waited_ms: 14_000, ...who });
      setTimeout(() => {
        if (c.phase === "ringing_in") {
          end(c, "missed");
          emit();
        }
      }, ringTimeoutMs);
      emit();
      return { ...c };
    },
    teamLead(id, by, mode) {
      const c = calls.get(id);
      if (!c || c.phase === "ended" || c.answered_at === null || !c.queue_name) return;
      c.monitored = mode ? { by, mode } : null;
      emit();
    },
    remoteHangup(id) {
      const c = calls.get(id);
      if (!c) return;
      end(c, c.answered_at ? "answered" : c.direction === "inbound" ? "abandoned" : "failed");
      emit();
    },
    async phoneDial(number, accountId) {
      const n = number.trim();
      if (!digits(n) && !n.includes("@")) throw fail("invalid_input", "the number is empty");
      if (wrapUp) throw fail("invalid_input", "finish the wrap-up of the last call first");
      if (live().some((c) => !c.consult_for && c.phase !== "held")) throw fail("invalid_input", "put the current call on hold first");
      const account = accountId ? accounts.find((a) => a.id === accountId) : firstAccount();
      if (!account || status.get(account.id)?.state !== "registered") throw fail("invalid_input", "no registered SIP account");
      const c = await dialOut(n, null, null);
      c.account_id = account.id;
      emit();
      return { ...c };
    },
    async phoneAnswer(id) {
      const c = find(id);
      if (c.phase !== "ringing_in") throw fail("invalid_input", "the call is not ringing");
      for (const other of live()) if (other.id !== id && other.phase === "active") other.phase = "held";
      answered(c);
      emit();
    },
    async phoneReject(id, toQueue) {
      const c = find(id);
      if (c.phase !== "ringing_in") throw fail("invalid_input", "the call is not ringing");
      // To the queue: the next operator gets it, so it is not a missed call of mine.
      c.phase = "ended";
      calls.delete(id);
      history.unshift({ id, direction: "inbound", outcome: toQueue ? "abandoned" : "busy", remote_number: c.remote_number, customer_id: c.customer_id, customer_name: c.customer_name, started_at: c.started_at, duration_s: 0, seen: true, disposition: null });
      emit();
    },
    async phoneHangup(id) {
      const c = find(id);
      end(c, c.answered_at ? "answered" : c.direction === "inbound" ? "missed" : "failed");
      if (c.consult_for) {
        const main = calls.get(c.consult_for);
        if (main && main.conferenced_with === c.id) main.conferenced_with = null;
      }
      emit();
    },
    async phoneHold(id, hold) {
      const c = find(id);
      if (c.phase !== "active" && c.phase !== "held") throw fail("invalid_input", "the call is not connected");
      c.phase = hold ? "held" : "active";
      if (!hold) for (const other of live()) if (other.id !== id && other.phase === "active" && other.conferenced_with !== id) other.phase = "held";
      emit();
    },
    async phoneMute(id, muted) {
      find(id).muted = muted;
      emit();
    },
    async phoneDtmf(id, d) {
      if (!/^[0-9*#A-D]+$/.test(d)) throw fail("invalid_input", `not DTMF digits: ${d}`);
      find(id);
    },
    async phoneTransfer(id, target, attended) {
      const c = find(id);
      const ops = await tickets.listOperators();
      const queues = await tickets.listQueues();
      let number: string;
      let name: string | null = null;
      if (target.kind === "operator") {
        const op = ops.find((o) => o.id === target.id);
        if (!op) throw fail("not_found", `operator ${target.id} does not exist`);
        number = `1${target.id.replace(/\D/g, "").padStart(3, "0")}`;
        name = op.name;
      } else if (target.kind === "department") {
        const q = queues.find((x) => x.department_id === target.id);
        if (!q) throw fail("not_found", `department ${target.id} does not exist`);
        number = `2${target.id.length}00`;
        name = q.department_name;
      } else {
        number = target.number.trim();
        if (!digits(number)) throw fail("invalid_input", "the number is empty");
      }
      if (!attended) {
        end(c, "answered");
        emit();
        return null;
      }
      c.phase = "held";
      const leg = await dialOut(number, c.id, name);
      emit();
      return { ...leg };
    },
    async phoneCompleteTransfer(id, consultId) {
      const c = find(id);
      const leg = find(consultId);
      leg.phase = "ended";
      calls.delete(leg.id);
      end(c, "answered");
      emit();
    },
    async phoneConference(id, consultId) {
      const c = find(id);
      const leg = find(consultId);
      if (leg.phase !== "active" && leg.phase !== "held") throw fail("invalid_input", "the consult call is not connected yet");
      c.phase = "active";
      leg.phase = "active";
      c.conferenced_with = leg.id;
      leg.conferenced_with = c.id;
      emit();
    },
    async phoneRecording(id, paused) {
      const c = find(id);
      if (c.recording === "off") throw fail("invalid_input", "this call is not recorded");
      c.recording = paused ? "paused" : "on";
      emit();
    },
    async phoneSetNote(id, note) {
      find(id).note = note;
      emit();
    },
    async phoneWrapUp(id, dispositionId, comment, ticket) {
      if (!wrapUp || wrapUp.call_id !== id) throw fail("not_found", `call ${id} is not in wrap-up`);
      const leaf = DISPOSITIONS.flatMap((g) => g.children.map((c) => ({ g, c }))).find((x) => x.c.id === dispositionId);
      if (!leaf) throw fail("invalid_input", `unknown disposition ${dispositionId}`);
      const label = `${leaf.g.label} → ${leaf.c.label}`;
      const entry = history.find((h) => h.id === id);
      if (entry) entry.disposition = label;
      if (ticket.kind === "existing") {
        const text = [`☎ ${wrapUp.remote_number} · ${label}`, comment.trim()].filter(Boolean).join("\n");
        await tickets.replyTicket(ticket.ticket_id, text, true, [], []);
      }
      wrapUp = null;
      tickets.phoneSetsState("available");
      emit();
    },
    listDispositions: async () => structuredClone(DISPOSITIONS),
    callHistory: async (limit) => history.slice(0, limit).map((h) => ({ ...h })),
    async markCallsSeen() {
      for (const h of history) h.seen = true;
      emit();
    },
    listSipAccounts: async () => accounts.map((a) => ({ ...a, codecs: [...a.codecs] })),
    async saveSipAccount(input) {
      if (!input.user.trim() || !input.domain.trim()) throw fail("invalid_input", "user and domain are required");
      if (input.codecs.some((c) => !CODECS.includes(c))) throw fail("invalid_input", "unknown codec");
      const old = input.id ? accounts.find((a) => a.id === input.id) : undefined;
      if (input.id && !old) throw fail("not_found", `account ${input.id} does not exist`);
      const saved: SipAccount = {
        id: old?.id ?? `acc-${++seq}`, label: input.label.trim() || `${input.user}@${input.domain}`, user: input.user.trim(), domain: input.domain.trim(),
        registrar: input.registrar.trim() || `sip:${input.domain.trim()}`, transport: input.transport, outbound_proxy: input.outbound_proxy?.trim() || null,
        codecs: [...input.codecs], enabled: input.enabled, has_password: input.password !== null ? input.password.length > 0 : (old?.has_password ?? false),
        ca_file: input.ca_file?.trim() || null,
      };
      accounts = old ? accounts.map((a) => (a.id === saved.id ? saved : a)) : [...accounts, saved];
      register(saved);
      emit();
      return { ...saved };
    },
    async deleteSipAccount(id) {
      accounts = accounts.filter((a) => a.id !== id);
      status.delete(id);
      emit();
    },
    sipCodecs: async () => [...CODECS],
    audioDevices: async () => structuredClone(devices),
    async setAudioDevices(input, output, ring) {
      const has = (list: { name: string }[], n: string | null) => n === null || list.some((d) => d.name === n);
      if (!has(devices.inputs, input) || !has(devices.outputs, output) || !has(devices.outputs, ring)) throw fail("not_found", "no such audio device");
      devices = { ...devices, input, output, ring };
      return structuredClone(devices);
    },
  };
  return me;
}
