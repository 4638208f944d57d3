// Generated from the Rust types by crates/okno-desk/src/bindings.rs (`cargo xtask bindings`). Do not edit.

/**
 * How a contact reached the center.
 */
export type Channel = "phone" | "web_call" | "email" | "chat" | "messenger";
/**
 * Where a ticket is in its life.
 */
export type TicketStatus = "new" | "open" | "pending" | "resolved" | "closed";
export type Priority = "low" | "normal" | "high" | "urgent";
/**
 * The operator's availability, which routing and the wallboard read.
 */
export type AgentState = "available" | "busy" | "break" | "wrap_up" | "offline" | "not_responding";
/**
 * What an account may do; the server enforces it, the UI only reflects it.
 */
export type Role = "operator" | "team_lead" | "contractor" | "admin";
export type MessageDirection = "inbound" | "outbound" | "internal";
export type CallDirection = "inbound" | "outbound";
/**
 * How a call ended, for the reports (answered, abandoned in queue, missed by the operator...).
 */
export type CallOutcome = "answered" | "abandoned" | "missed" | "busy" | "failed";
/**
 * The kind of a customer's contact identity; phone and email are PII and can be masked.
 */
export type IdentityKind = "phone" | "email" | "chat" | "messenger";
/**
 * Service tier of a customer; decides the first-response SLA target.
 */
export type CustomerTier = "standard" | "premium";
export type OrderStatus = "placed" | "paid" | "shipped" | "delivered" | "cancelled" | "returned";
/**
 * A customer's way to reach us: a phone number, an email address, a chat or messenger id.
 */
export type Identity = { kind: IdentityKind, value: string, };
/**
 * A queue in the left rail with its live counts.
 */
export type QueueSummary = { id: string, name: string, channel: Channel, department_id: string, department_name: string, 
/**
 * Tickets in New or Open.
 */
open_count: number, unread_count: number, };
export type OperatorView = { id: string, name: string, role: Role, state: AgentState, state_since: number, is_me: boolean, };
/**
 * Whose tickets to list.
 */
export type AssigneeFilter = { "kind": "me" } | { "kind": "unassigned" } | { "kind": "operator", "id": string };
export type TicketSort = "sla_due" | "updated" | "created";
/**
 * The inbox filter. Empty `statuses` means every status.
 */
export type TicketFilter = { statuses: Array<TicketStatus>, channel: Channel | null, queue_id: string | null, assignee: AssigneeFilter | null, tag: string | null, sort: TicketSort, offset: number, limit: number, };
/**
 * One window of the inbox: `total` rows match, `rows` start at `offset`.
 */
export type TicketPage = { total: number, offset: number, rows: Array<TicketRow>, };
export type TicketRow = { id: string, 
/**
 * The human ticket number (#10234).
 */
number: number, subject: string, customer_id: string, customer_name: string, channel: Channel, status: TicketStatus, priority: Priority, queue_id: string, queue_name: string, assignee_id: string | null, assignee_name: string | null, tags: Array<string>, created_at: number, updated_at: number, sla_due_at: number | null, first_response_at: number | null, unread: boolean, 
/**
 * The start of the last message.
 */
preview: string, message_count: number, };
/**
 * A ticket with its whole conversation.
 */
export type TicketDetail = { ticket: TicketRow, 
/**
 * Messages, notes and call records, oldest first.
 */
timeline: Array<TimelineItem>, 
/**
 * A website chat's read receipt: the visitor's widget has shown the replies written up to
 * this time.
 */
visitor_read_at: number | null, };
export type TimelineItem = { "kind": "message" } & MessageView | { "kind": "call" } & CallView;
export type Attachment = { name: string, mime: string, size: number, 
/**
 * Hex SHA-256 of the content: the server's name for it (`/v1/blobs/{sha256}`); absent on
 * demo data, which has no server to download from.
 */
sha256: string | null, 
/**
 * For an inline image, the `cid:` the HTML refers to it by.
 */
content_id: string | null, inline: boolean, };
/**
 * An address on an email message.
 */
export type EmailAddress = { address: string, name: string | null, };
/**
 * Where an operator's email reply is: in the server's outbox, accepted by the mail server, or
 * given up with the mail server's reason.
 */
export type DeliveryState = "queued" | "sent" | "failed";
export type EmailDelivery = { state: DeliveryState, reason: string | null, at: number | null, };
/**
 * What the desk shows of an email message, as the server wrote it (okno-server's mail intake
 * and outbox) and the desk's own pending reply: the `email` column of a message, on both
 * sides. The HTML is already sanitised on the server; the desk still shows it sandboxed.
 */
export type EmailView = { mailbox: string | null, message_id: string | null, from: EmailAddress | null, 
/**
 * Where answers go when it is not `from` (an inbound message's Reply-To).
 */
reply_to: EmailAddress | null, to: Array<EmailAddress>, cc: Array<EmailAddress>, 
/**
 * `personal`, `auto_reply`, `bounce` or `own` (mail from one of the center's addresses).
 */
kind: string | null, 
/**
 * What could not be read of the message, for the operator.
 */
notes: Array<string>, html: string | null, 
/**
 * Pictures the HTML loads from the web: blocked until the operator asks.
 */
remote_images: number, delivery: EmailDelivery | null, 
/**
 * The Date header of an inbound message, Unix milliseconds.
 */
sent_at: number | null, };
/**
 * A file attached to an operator's reply: already on the server (uploaded to
 * `/v1/blobs`), named by the SHA-256 of its content.
 */
export type AttachmentRef = { name: string, mime: string, size: number, sha256: string, };
export type MessageView = { id: string, ticket_id: string, channel: Channel, direction: MessageDirection, author_name: string, subject: string | null, body: string, attachments: Array<Attachment>, created_at: number, 
/**
 * Set on email messages (boxed: most messages are not email, and it is the big part).
 */
email: EmailView | null, };
export type CallView = { id: string, customer_id: string | null, ticket_id: string | null, direction: CallDirection, from_number: string, to_number: string, started_at: number, answered_at: number | null, ended_at: number | null, outcome: CallOutcome, disposition: string | null, notes: string, recording_ref: string | null, operator_name: string | null, queue_name: string | null, 
/**
 * Talk time; 0 for calls never answered.
 */
talk_secs: number, };
/**
 * The customer card on the right of the window.
 */
export type CustomerCard = { id: string, name: string, company: string | null, tier: CustomerTier, tags: Array<string>, identities: Array<Identity>, created_at: number, stats: CustomerStats, 
/**
 * The last contacts across every channel, newest first.
 */
recent_contacts: Array<ContactItem>, 
/**
 * Newest first.
 */
orders: Array<OrderView>, };
export type CustomerStats = { tickets_total: number, tickets_open: number, calls_total: number, calls_missed: number, orders_total: number, lifetime_value_cents: number, first_contact_at: number | null, last_contact_at: number | null, };
export type ContactKind = "ticket" | "call";
export type ContactItem = { kind: ContactKind, id: string, 
/**
 * The ticket to open when the contact is clicked (a call's linked ticket, if any).
 */
ticket_id: string | null, channel: Channel, title: string, 
/**
 * A ticket's status or a call's outcome, as its stable text.
 */
state: string, at: number, };
export type OrderView = { id: string, number: string, status: OrderStatus, total_cents: number, currency: string, items: string, created_at: number, };
export type SearchKind = "ticket" | "message" | "customer" | "call";
/**
 * One search result. `snippet` marks matched words with U+0002 … U+0003 so the UI can
 * highlight them without interpreting HTML.
 */
export type SearchHit = { kind: SearchKind, id: string, ticket_id: string | null, customer_id: string | null, title: string, snippet: string, tags: Array<string>, at: number, };
/**
 * Results grouped by kind, newest first within each group.
 */
export type SearchResults = { query: string, tickets: Array<SearchHit>, messages: Array<SearchHit>, customers: Array<SearchHit>, calls: Array<SearchHit>, };
/**
 * Counts for the status bar and the first paint.
 */
export type StoreStats = { tickets: number, messages: number, customers: number, calls: number, 
/**
 * Mutations not yet acknowledged by the server.
 */
outbox_pending: number, };
/**
 * What the status bar and the first paint need to know about this run.
 */
export type AppInfo = { version: string, db_path: string, demo: boolean, stats: StoreStats, };
/**
 * How the desk stands with the server.
 */
export type Connection = "local_only" | "offline" | "connecting" | "online";
/**
 * The first sync of an empty desk: changelog versions received out of the server's head.
 */
export type FirstSync = { version: number, 
/**
 * 0 while unknown (before the live socket's hello).
 */
head: number, };
/**
 * A local write the server refused, and why.
 */
export type RejectionView = { 
/**
 * Which write (`reply_ticket`, `assign_ticket`, ...).
 */
mutation: string, 
/**
 * The server's code (`already_claimed`, `forbidden`, ...): the UI branches on it.
 */
code: string, reason: string, seq: number, 
/**
 * When the server refused it.
 */
at: number, };
/**
 * What the status bar shows about sync.
 */
export type SyncStatus = { connection: Connection, 
/**
 * Local writes the server has not acknowledged yet.
 */
unsent: number, first_sync: FirstSync | null, last_rejection: RejectionView | null, 
/**
 * Why the desk is not online (cannot sign in, server unreachable), for a tooltip.
 */
problem: string | null, 
/**
 * Goes up whenever sync changed local data (a pulled batch, a write rolled back): the
 * window reloads what it shows.
 */
revision: number, };
/**
 * A notice to the signed-in account, as the window lists it.
 */
export type NoticeView = { id: string, 
/**
 * `mention` (a colleague's @mention), `reply` (the customer wrote again on a followed
 * ticket) or `answer` (a contractor answered by email).
 */
kind: string, ticket_id: string, number: number, 
/**
 * Who wrote it.
 */
by: string, excerpt: string, at: number, 
/**
 * Opened in the list since it came.
 */
seen: boolean, };
/**
 * The notices list: the latest notices and how many are not seen yet.
 */
export type NoticeList = { notices: Array<NoticeView>, unseen: number, };
/**
 * Every command failure.
 */
export type UiError = { code: ErrorCode, message: string, };
export type ErrorCode = "not_found" | "invalid_input" | "storage" | "unavailable" | "forbidden" | "conflict" | "internal";
/**
 * A test on a text; every test ignores case.
 */
export type TextTest = { "op": "contains", "value": string } | { "op": "not_contains", "value": string } | { "op": "regex", "value": string };
/**
 * What a rule can look at.
 */
export type Condition = { "field": "channel", any_of: Array<Channel>, } | { "field": "queue", any_of: Array<string>, } | { "field": "mailbox", any_of: Array<string>, } | { "field": "sender", test: TextTest, } | { "field": "sender_domain", any_of: Array<string>, } | { "field": "subject", test: TextTest, } | { "field": "body", test: TextTest, } | { "field": "tier", is: CustomerTier, } | { "field": "tag", has: string, } | { "field": "business_hours", open: boolean, } | { "field": "first_message", is: boolean, };
/**
 * What a rule can do.
 */
export type Action = { "do": "set_queue", queue_id: string, } | { "do": "set_priority", priority: Priority, } | { "do": "add_tags", tags: Array<string>, } | { "do": "assign", operator_id: string, } | { "do": "round_robin" } | { "do": "auto_reply", template_id: string, } | { "do": "close" } | { "do": "mark_spam" } | { "do": "forward", to: string, };
/**
 * A rule as an admin writes it and the server stores it.
 */
export type Rule = { id: string, name: string, enabled: boolean, 
/**
 * All must hold; an empty list always holds.
 */
when: Array<Condition>, then: Array<Action>, 
/**
 * When this rule fires, the rules below it are not considered.
 */
stop: boolean, };
/**
 * Who a ticket goes to.
 */
export type Assignment = { "to": "operator", "operator_id": string } | { "to": "round_robin" };
/**
 * A rule that fired, for the ticket's history and the report event.
 */
export type Fired = { rule_id: string, name: string, actions: Array<Action>, };
/**
 * Everything the rules decided about one message; the server applies it in the message's
 * transaction.
 */
export type Outcome = { fired: Array<Fired>, 
/**
 * The queue the message ends in, when a rule moved it.
 */
queue_id: string | null, priority: Priority | null, add_tags: Array<string>, assign: Assignment | null, auto_reply: string | null, close: boolean, spam: boolean, forward: Array<string>, };
/**
 * One day's opening hours, `HH:MM` in the calendar's zone; `close` may be `24:00`.
 */
export type DayHours = { open: string, close: string, };
/**
 * A calendar as an admin writes it.
 */
export type CalendarSpec = { 
/**
 * IANA name: `Europe/Moscow`, `Asia/Yekaterinburg`.
 */
time_zone: string, 
/**
 * Monday first; `None` is a day off.
 */
week: [DayHours | null, DayHours | null, DayHours | null, DayHours | null, DayHours | null, DayHours | null, DayHours | null], 
/**
 * Local dates (`2027-01-01`) the center is closed.
 */
holidays: Array<string>, };
/**
 * One line of a policy; an empty field matches every value.
 */
export type SlaTarget = { tier: CustomerTier | null, channel: Channel | null, priority: Priority | null, 
/**
 * Working minutes to the first reply.
 */
first_response_minutes: number, 
/**
 * Working minutes to resolution, pauses excluded; `None` sets no resolution target.
 */
resolution_minutes: number | null, };
/**
 * A policy as an admin writes it.
 */
export type SlaPolicySpec = { id: string, name: string, calendar: CalendarSpec, targets: Array<SlaTarget>, };
/**
 * A template as it is stored and synced.
 */
export type Template = { id: string, name: string, 
/**
 * `ru` or `en`.
 */
language: string, 
/**
 * A queue's template (every operator of the queue sees it), or everyone's when `None`.
 */
queue_id: string | null, 
/**
 * A personal template: only its owner sees it.
 */
owner_id: string | null, subject: string | null, body: string, 
/**
 * Files sent with every use (blobs by SHA-256, as message attachments are).
 */
attachments: Array<AttachmentRef>, };
/**
 * A rendered text and the variables that had no value.
 */
export type Rendered = { text: string, missing: Array<string>, };
/**
 * Something a rule or a policy can name, with the name people know it by.
 */
export type Named = { id: string, name: string, };
/**
 * An account a note can `@mention`: its handle (`id`), name and role.
 */
export type Person = { id: string, name: string, role: Role, };
/**
 * `GET /v1/work/people`: the enabled accounts, for `@mention` suggestions.
 */
export type People = { people: Array<Person>, };
/**
 * `GET /v1/tickets/{id}/followers`: who is told of news on a ticket, and whether the caller is.
 */
export type Followers = { people: Array<Person>, following: boolean, };
/**
 * `GET /v1/work/rules`: the rule set and what its rules may refer to.
 */
export type RuleSetView = { 
/**
 * The version to send back when saving, so two editors conflict instead of overwriting.
 */
version: number, rules: Array<Rule>, queues: Array<Named>, operators: Array<Named>, templates: Array<Named>, mailboxes: Array<string>, };
/**
 * What a rule set would have done to one ticket.
 */
export type DryRunTicket = { ticket_id: string, number: number, subject: string, 
/**
 * Whether the replayed message is a reply in the ticket rather than its first message.
 */
reply: boolean, outcome: Outcome, };
export type DryRunReport = { 
/**
 * One entry per replayed message, newest tickets first, a ticket's first message before its reply.
 */
tickets: Array<DryRunTicket>, 
/**
 * Tickets on which at least one rule fired (on either message).
 */
matched: number, 
/**
 * Tickets replayed.
 */
replayed: number, 
/**
 * Of the replayed messages, how many were replies.
 */
replies: number, };
/**
 * A template variable and what it stands for.
 */
export type TemplateVariable = { name: string, what: string, };
/**
 * `GET /v1/work/templates`.
 */
export type TemplateList = { templates: Array<Template>, variables: Array<TemplateVariable>, };
/**
 * `POST /v1/work/templates/{id}/render`.
 */
export type RenderedTemplate = { body: Rendered, subject: Rendered | null, attachments: Array<AttachmentRef>, };
export type QueuePolicy = { id: string, name: string, sla_policy_id: string | null, };
/**
 * `GET /v1/work/sla-policies`.
 */
export type SlaPolicies = { policies: Array<SlaPolicySpec>, queues: Array<QueuePolicy>, };
/**
 * The scale a center asks on.
 */
export type CsatScale = "three" | "five";
/**
 * How a center asks for marks, as admins and team leads set it in the window; the server keeps
 * it and every instance reads it when it asks or takes an answer.
 */
export type CsatSettings = { scale: CsatScale, 
/**
 * Ask email customers by a link after their ticket is resolved (needs the server's public
 * address, `[csat] public_url` in its config).
 */
ask_by_email: boolean, 
/**
 * Ask website visitors in the widget when their chat ends.
 */
ask_in_chat: boolean, 
/**
 * Where a bad mark reopens the ticket (`None`: in its own queue).
 */
manager_queue_id: string | null, };
/**
 * `GET /v1/work/csat` (and the answer to `PUT`): how the center asks for satisfaction marks,
 * and what the settings may refer to.
 */
export type CsatView = { settings: CsatSettings, 
/**
 * The address links start with (`[csat] public_url` of the server's config); without it
 * email customers cannot be asked.
 */
public_url: string | null, queues: Array<Named>, };
/**
 * One queue over one period.
 */
export type QueueFigures = { 
/**
 * Calls that arrived in the period.
 */
offered: number, answered: number, answered_in_target: number, abandoned: number, 
/**
 * Gave up within the target: not counted against the service level.
 */
abandoned_in_target: number, callbacks: number, 
/**
 * In service level, 0..1 (`None` with nothing offered).
 */
service_level: number | null, 
/**
 * Abandoned over offered, 0..1.
 */
abandon_rate: number | null, 
/**
 * Mean wait of answered calls.
 */
average_answer_ms: number | null, 
/**
 * Calls still waiting at `now`, and the longest of their waits.
 */
waiting: number, longest_wait_ms: number, };
/**
 * A call waiting in a queue.
 */
export type WaitingCall = { call_id: string, arrived_at: number, waited_ms: number, };
/**
 * One queue's line.
 */
export type QueueBoard = { id: string, name: string, channel: Channel, 
/**
 * Calls waiting in the call queue now (from the ACD).
 */
waiting_calls: number, 
/**
 * Website chats nobody has taken yet.
 */
waiting_chats: number, 
/**
 * The longest wait of what is waiting now, calls or chats.
 */
longest_wait_ms: number, 
/**
 * The calls waiting now, longest first (a team lead may move one to another queue).
 */
calls_waiting: Array<WaitingCall>, 
/**
 * Calls that arrived since the window's start of today.
 */
today: QueueFigures, last_15_min: QueueFigures, };
/**
 * One agent's tile.
 */
export type AgentBoard = { id: string, name: string, role: Role, state: AgentState, state_since: number, 
/**
 * Calls and chats they handled today.
 */
handled_today: number, 
/**
 * Their desk let a hotline call ring out: no calls are offered until their state is set.
 */
not_responding: boolean, 
/**
 * The hotline call ringing at their desk or connected with them (a team lead may join it).
 */
hotline_call: string | null, };
/**
 * The wallboard at one moment.
 */
export type WallboardView = { 
/**
 * The server's time of these figures (the window shows how old they are).
 */
at: number, queues: Array<QueueBoard>, agents: Array<AgentBoard>, };
export type RegistrationState = "unregistered" | "registering" | "registered" | "failed";
export type SipTransport = "udp" | "tcp" | "tls" | "ws" | "wss";
/**
 * A SIP account as settings show it. The password is never here: only whether one is stored.
 */
export type SipAccount = { id: string, label: string, user: string, domain: string, 
/**
 * `host:port` of the registrar.
 */
registrar: string, transport: SipTransport, outbound_proxy: string | null, codecs: Array<string>, enabled: boolean, has_password: boolean, 
/**
 * A PEM file with the certificate authority (or the PBX's own certificate) to trust over
 * TLS and WSS, besides the public roots: a PBX with a certificate of the center's own CA.
 */
ca_file: string | null, };
/**
 * A SIP account as settings save it; `password: None` keeps the stored one.
 */
export type SipAccountInput = { id: string | null, label: string, user: string, domain: string, registrar: string, transport: SipTransport, outbound_proxy: string | null, codecs: Array<string>, enabled: boolean, password: string | null, 
/**
 * See [`SipAccount::ca_file`].
 */
ca_file: string | null, };
export type AccountStatus = { account_id: string, label: string, state: RegistrationState, detail: string | null, since: number, };
export type CallPhase = "ringing_in" | "dialing" | "ringing_out" | "active" | "held" | "ended";
export type RecordingState = "off" | "on" | "paused";
/**
 * The live quality indicator of a call.
 */
export type LiveQuality = { mos: number, loss_pct: number, jitter_ms: number, rtt_ms: number, };
/**
 * A ticket named in a list (a caller's open tickets, a wrap-up's choices): its id and subject.
 */
export type TicketRef = { id: string, subject: string, };
export type TransferPhase = "asking" | "failed";
export type TransferView = { 
/**
 * The number the call is transferred to.
 */
to: string, phase: TransferPhase, 
/**
 * The SIP status the transfer failed with, if any.
 */
status: number | null, };
/**
 * Who listens in on the operator's call, and how.
 */
export type MonitoredBy = { 
/**
 * The team lead's name as the hotline gives it.
 */
by: string, 
/**
 * `listen` (only hears), `whisper` (the operator hears them) or `barge` (both do).
 */
mode: string, };
/**
 * A call as the window shows it.
 */
export type PhoneCall = { id: string, account_id: string, direction: CallDirection, phase: CallPhase, remote_number: string, remote_name: string | null, 
/**
 * The web page a website caller calls from (their chat widget's page).
 */
page: string | null, customer_id: string | null, customer_name: string | null, open_tickets: Array<TicketRef>, 
/**
 * The hotline number dialled.
 */
line: string | null, queue_name: string | null, 
/**
 * How long the caller waited in the hotline's queue before this desk was rung.
 */
waited_ms: number | null, started_at: number, answered_at: number | null, muted: boolean, recording: RecordingState, quality: LiveQuality | null, 
/**
 * Id of the call this consult leg belongs to.
 */
consult_for: string | null, conferenced_with: string | null, note: string, 
/**
 * A transfer of this call under way or just failed.
 */
transfer: TransferView | null, 
/**
 * A team lead on this hotline call, where the center tells its operators.
 */
monitored: MonitoredBy | null, };
export type WrapUpView = { call_id: string, customer_id: string | null, started_at: number, limit_s: number, open_tickets: Array<TicketRef>, 
/**
 * Who the call was with, for the wrap-up header.
 */
remote_number: string, customer_name: string | null, };
export type PhoneSnapshot = { accounts: Array<AccountStatus>, calls: Array<PhoneCall>, wrap_up: WrapUpView | null, missed_unseen: number, };
export type DispositionNode = { id: string, label: string, children: Array<DispositionNode>, };
/**
 * Which ticket a wrapped-up call belongs to. A new ticket from a call comes with ticket
 * creation on the server (numbering is the server's), which the email and chat intake bring.
 */
export type TicketLink = { "kind": "none" } | { "kind": "existing", ticket_id: string, };
export type CallHistoryEntry = { id: string, direction: CallDirection, outcome: CallOutcome, remote_number: string, customer_id: string | null, customer_name: string | null, started_at: number, duration_s: number, seen: boolean, disposition: string | null, };
export type AudioDevice = { name: string, is_default: boolean, };
export type AudioDevices = { inputs: Array<AudioDevice>, outputs: Array<AudioDevice>, input: string | null, output: string | null, ring: string | null, };
export type TransferTarget = { "kind": "operator", id: string, } | { "kind": "department", id: string, } | { "kind": "number", number: string, };

/** What the window can ask of the app. */
export interface Backend {
  appInfo(): Promise<AppInfo>;
  storeStats(): Promise<StoreStats>;
  listQueues(): Promise<Array<QueueSummary>>;
  listOperators(): Promise<Array<OperatorView>>;
  me(): Promise<OperatorView>;
  setAgentState(agentState: AgentState): Promise<OperatorView>;
  listTickets(filter: TicketFilter): Promise<TicketPage>;
  listTags(): Promise<Array<string>>;
  /** Also marks the ticket read. */
  getTicket(ticketId: string): Promise<TicketDetail>;
  /** `cc` and `attachments`: on an email ticket, addresses that also get the reply and files sent with it (each uploaded first with `upload_attachment`). */
  replyTicket(ticketId: string, body: string, internal: boolean, cc: Array<string>, attachments: Array<AttachmentRef>): Promise<TicketDetail>;
  setTicketStatus(ticketId: string, status: TicketStatus): Promise<TicketRow>;
  assignTicket(ticketId: string, assigneeId: string | null): Promise<TicketRow>;
  setTicketTags(ticketId: string, tags: Array<string>): Promise<TicketRow>;
  getCustomer(customerId: string): Promise<CustomerCard>;
  search(query: string, limit: number): Promise<SearchResults>;
  /** Tells the app the first inbox page is on screen (the cold-start measurement). */
  uiReady(): Promise<void>;
  /** Where sync with the server stands (also sent as the "sync" event). */
  syncStatus(): Promise<SyncStatus>;
  /** The local writes the server refused (rolled back here), newest first. */
  listRejections(): Promise<Array<RejectionView>>;
  /** This operator's notices (@mentions, news on followed tickets), newest first. */
  listNotices(): Promise<NoticeList>;
  /** The operator opened the notices: none is new any more. */
  markNoticesSeen(): Promise<NoticeList>;
  /** Saves an email attachment from the server into the Downloads folder; returns the path. */
  downloadAttachment(sha256: string, name: string): Promise<string>;
  /** An attachment's bytes from the server, base64-encoded (inline pictures of an email's HTML). */
  attachmentData(sha256: string): Promise<string>;
  /** Puts a file (its bytes base64-encoded) on the server to attach to a reply. */
  uploadAttachment(name: string, mime: string, dataBase64: string): Promise<AttachmentRef>;
  /** The operator is typing in a website chat: its visitor sees "typing" (best effort). */
  chatTyping(ticketId: string): Promise<void>;
  /** The center's routing rules, from the server (admins and team leads). */
  workRules(): Promise<RuleSetView>;
  /** Saves the whole rule set edited from `version`; a newer version on the server is a conflict. */
  saveWorkRules(version: number, rules: Array<Rule>): Promise<RuleSetView>;
  /** What `rules` would have done to the latest `last` tickets, changing nothing. */
  dryRunRules(rules: Array<Rule>, last: number): Promise<DryRunReport>;
  /** Who a note can @mention (the server's accounts; a mentioned one is told and follows the ticket). */
  mentionPeople(): Promise<People>;
  /** Who follows a ticket (told of the customer's new messages), and whether this operator does. */
  ticketFollowers(ticketId: string): Promise<Followers>;
  /** This operator follows the ticket, or stops. */
  followTicket(ticketId: string, follow: boolean): Promise<Followers>;
  /** The reply templates this operator may use. */
  listTemplates(): Promise<TemplateList>;
  saveTemplate(template: Template): Promise<TemplateList>;
  deleteTemplate(templateId: string): Promise<TemplateList>;
  /** A template filled in for a ticket, with the variables that had no value. */
  renderTemplate(templateId: string, ticketId: string): Promise<RenderedTemplate>;
  /** Merges `source_id` into `target_id` (one customer's); returns the ticket that holds both now. */
  mergeTickets(sourceId: string, targetId: string): Promise<string>;
  /** Moves a message out into a new ticket of the same customer; returns the new ticket's id. */
  splitMessage(messageId: string): Promise<string>;
  /** SLA policies and the policy of each queue (admins and team leads). */
  slaPolicies(): Promise<SlaPolicies>;
  saveSlaPolicy(policy: SlaPolicySpec): Promise<SlaPolicies>;
  setQueuePolicy(queueId: string, policyId: string | null): Promise<SlaPolicies>;
  /** How the center asks for satisfaction marks (admins and team leads). */
  csatSettings(): Promise<CsatView>;
  saveCsatSettings(settings: CsatSettings): Promise<CsatView>;
  /** The team lead's live view: queues (today from `since`, and the last 15 minutes) and agents. */
  wallboard(since: number): Promise<WallboardView>;
  /** A team lead moves a call waiting in the hotline to another queue; the wallboard after. */
  wallboardMove(callId: string, queueId: string, since: number): Promise<WallboardView>;
  /** A team lead joins an operator's hotline call from their own desk: `listen`, `whisper` or `barge`. */
  wallboardMonitor(callId: string, mode: string): Promise<void>;
  /** A team lead sets another agent's state (synced; the server refuses it from others). */
  setOperatorState(operatorId: string, agentState: AgentState): Promise<void>;
}


/** The softphone's commands (the window adds the "phone" event). */
export interface PhoneCommands {
  /** The phone as it is now (also sent as the "phone" event on every change). */
  phoneSnapshot(): Promise<PhoneSnapshot>;
  phoneDial(number: string, accountId: string | null): Promise<PhoneCall>;
  phoneAnswer(callId: string): Promise<void>;
  phoneReject(callId: string, toQueue: boolean): Promise<void>;
  phoneHangup(callId: string): Promise<void>;
  phoneHold(callId: string, hold: boolean): Promise<void>;
  phoneMute(callId: string, muted: boolean): Promise<void>;
  phoneDtmf(callId: string, digits: string): Promise<void>;
  /** Returns the consult leg when attended. */
  phoneTransfer(callId: string, target: TransferTarget, attended: boolean): Promise<PhoneCall | null>;
  phoneCompleteTransfer(callId: string, consultId: string): Promise<void>;
  phoneConference(callId: string, consultId: string): Promise<void>;
  phoneRecording(callId: string, paused: boolean): Promise<void>;
  phoneSetNote(callId: string, note: string): Promise<void>;
  phoneWrapUp(callId: string, dispositionId: string, comment: string, ticket: TicketLink): Promise<void>;
  listDispositions(): Promise<Array<DispositionNode>>;
  callHistory(limit: number): Promise<Array<CallHistoryEntry>>;
  markCallsSeen(): Promise<void>;
  listSipAccounts(): Promise<Array<SipAccount>>;
  saveSipAccount(input: SipAccountInput): Promise<SipAccount>;
  deleteSipAccount(id: string): Promise<void>;
  /** Codec names this build can negotiate, in the default order. */
  sipCodecs(): Promise<Array<string>>;
  audioDevices(): Promise<AudioDevices>;
  setAudioDevices(input: string | null, output: string | null, ring: string | null): Promise<AudioDevices>;
}

export type InvokeFn = <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>;

/** Every command's name, as `invoke` sends it. */
export const COMMAND_NAMES = ["app_info", "store_stats", "list_queues", "list_operators", "me", "set_agent_state", "list_tickets", "list_tags", "get_ticket", "reply_ticket", "set_ticket_status", "assign_ticket", "set_ticket_tags", "get_customer", "search", "ui_ready", "sync_status", "list_rejections", "list_notices", "mark_notices_seen", "download_attachment", "attachment_data", "upload_attachment", "chat_typing", "work_rules", "save_work_rules", "dry_run_rules", "mention_people", "ticket_followers", "follow_ticket", "list_templates", "save_template", "delete_template", "render_template", "merge_tickets", "split_message", "sla_policies", "save_sla_policy", "set_queue_policy", "csat_settings", "save_csat_settings", "wallboard", "wallboard_move", "wallboard_monitor", "set_operator_state", "phone_snapshot", "phone_dial", "phone_answer", "phone_reject", "phone_hangup", "phone_hold", "phone_mute", "phone_dtmf", "phone_transfer", "phone_complete_transfer", "phone_conference", "phone_recording", "phone_set_note", "phone_wrap_up", "list_dispositions", "call_history", "mark_calls_seen", "list_sip_accounts", "save_sip_account", "delete_sip_account", "sip_codecs", "audio_devices", "set_audio_devices"] as const;

/** The Backend over `invoke` (arguments in camelCase, as Tauri sends them). */
export function createTauriBackend(invoke: InvokeFn): Backend {
  return {
    appInfo: () => invoke("app_info"),
    storeStats: () => invoke("store_stats"),
    listQueues: () => invoke("list_queues"),
    listOperators: () => invoke("list_operators"),
    me: () => invoke("me"),
    setAgentState: (agentState) => invoke("set_agent_state", { agentState }),
    listTickets: (filter) => invoke("list_tickets", { filter }),
    listTags: () => invoke("list_tags"),
    getTicket: (ticketId) => invoke("get_ticket", { ticketId }),
    replyTicket: (ticketId, body, internal, cc, attachments) => invoke("reply_ticket", { ticketId, body, internal, cc, attachments }),
    setTicketStatus: (ticketId, status) => invoke("set_ticket_status", { ticketId, status }),
    assignTicket: (ticketId, assigneeId) => invoke("assign_ticket", { ticketId, assigneeId }),
    setTicketTags: (ticketId, tags) => invoke("set_ticket_tags", { ticketId, tags }),
    getCustomer: (customerId) => invoke("get_customer", { customerId }),
    search: (query, limit) => invoke("search", { query, limit }),
    uiReady: () => invoke("ui_ready"),
    syncStatus: () => invoke("sync_status"),
    listRejections: () => invoke("list_rejections"),
    listNotices: () => invoke("list_notices"),
    markNoticesSeen: () => invoke("mark_notices_seen"),
    downloadAttachment: (sha256, name) => invoke("download_attachment", { sha256, name }),
    attachmentData: (sha256) => invoke("attachment_data", { sha256 }),
    uploadAttachment: (name, mime, dataBase64) => invoke("upload_attachment", { name, mime, dataBase64 }),
    chatTyping: (ticketId) => invoke("chat_typing", { ticketId }),
    workRules: () => invoke("work_rules"),
    saveWorkRules: (version, rules) => invoke("save_work_rules", { version, rules }),
    dryRunRules: (rules, last) => invoke("dry_run_rules", { rules, last }),
    mentionPeople: () => invoke("mention_people"),
    ticketFollowers: (ticketId) => invoke("ticket_followers", { ticketId }),
    followTicket: (ticketId, follow) => invoke("follow_ticket", { ticketId, follow }),
    listTemplates: () => invoke("list_templates"),
    saveTemplate: (template) => invoke("save_template", { template }),
    deleteTemplate: (templateId) => invoke("delete_template", { templateId }),
    renderTemplate: (templateId, ticketId) => invoke("render_template", { templateId, ticketId }),
    mergeTickets: (sourceId, targetId) => invoke("merge_tickets", { sourceId, targetId }),
    splitMessage: (messageId) => invoke("split_message", { messageId }),
    slaPolicies: () => invoke("sla_policies"),
    saveSlaPolicy: (policy) => invoke("save_sla_policy", { policy }),
    setQueuePolicy: (queueId, policyId) => invoke("set_queue_policy", { queueId, policyId }),
    csatSettings: () => invoke("csat_settings"),
    saveCsatSettings: (settings) => invoke("save_csat_settings", { settings }),
    wallboard: (since) => invoke("wallboard", { since }),
    wallboardMove: (callId, queueId, since) => invoke("wallboard_move", { callId, queueId, since }),
    wallboardMonitor: (callId, mode) => invoke("wallboard_monitor", { callId, mode }),
    setOperatorState: (operatorId, agentState) => invoke("set_operator_state", { operatorId, agentState }),
  };
}
/** The PhoneCommands over `invoke` (arguments in camelCase, as Tauri sends them). */
export function createPhoneCommands(invoke: InvokeFn): PhoneCommands {
  return {
    phoneSnapshot: () => invoke("phone_snapshot"),
    phoneDial: (number, accountId) => invoke("phone_dial", { number, accountId }),
    phoneAnswer: (callId) => invoke("phone_answer", { callId }),
    phoneReject: (callId, toQueue) => invoke("phone_reject", { callId, toQueue }),
    phoneHangup: (callId) => invoke("phone_hangup", { callId }),
    phoneHold: (callId, hold) => invoke("phone_hold", { callId, hold }),
    phoneMute: (callId, muted) => invoke("phone_mute", { callId, muted }),
    phoneDtmf: (callId, digits) => invoke("phone_dtmf", { callId, digits }),
    phoneTransfer: (callId, target, attended) => invoke("phone_transfer", { callId, target, attended }),
    phoneCompleteTransfer: (callId, consultId) => invoke("phone_complete_transfer", { callId, consultId }),
    phoneConference: (callId, consultId) => invoke("phone_conference", { callId, consultId }),
    phoneRecording: (callId, paused) => invoke("phone_recording", { callId, paused }),
    phoneSetNote: (callId, note) => invoke("phone_set_note", { callId, note }),
    phoneWrapUp: (callId, dispositionId, comment, ticket) => invoke("phone_wrap_up", { callId, dispositionId, comment, ticket }),
    listDispositions: () => invoke("list_dispositions"),
    callHistory: (limit) => invoke("call_history", { limit }),
    markCallsSeen: () => invoke("mark_calls_seen"),
    listSipAccounts: () => invoke("list_sip_accounts"),
    saveSipAccount: (input) => invoke("save_sip_account", { input }),
    deleteSipAccount: (id) => invoke("delete_sip_account", { id }),
    sipCodecs: () => invoke("sip_codecs"),
    audioDevices: () => invoke("audio_devices"),
    setAudioDevices: (input, output, ring) => invoke("set_audio_devices", { input, output, ring }),
  };
}
