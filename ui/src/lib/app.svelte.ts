// The window's shared state: who I am, what is selected, which overlays are open, and the
// theme. Components read it directly; writes go through the backend and then refresh it.
import { backend, isUiError, type AppInfo, type OperatorView, type QueueSummary, type StoreStats, type TicketFilter, type TicketStatus } from "./backend";
import { t } from "./i18n/index.svelte";
import { toast } from "./shell/toast.svelte";

export type Theme = "light" | "dark" | "system";
export type View =
  | { kind: "all_open" } | { kind: "my" } | { kind: "unassigned" } | { kind: "all" } | { kind: "queue"; id: string };

export const app = $state({
  info: null as AppInfo | null,
  stats: null as StoreStats | null,
  me: null as OperatorView | null,
  operators: [] as OperatorView[],
  queues: [] as QueueSummary[],
  tags: [] as string[],
  view: { kind: "all_open" } as View,
  channel: null as TicketFilter["channel"],
  tag: null as string | null,
  sort: "sla_due" as TicketFilter["sort"],
  /** "open" = new, open and pending; "all" = every status; or one status. */
  statusFilter: "open" as "open" | "all" | TicketStatus,
  selectedId: null as string | null,
  searchOpen: false,
  shortcutsOpen: false,
  theme: (localStorage.getItem("okno.theme") as Theme | null) ?? "system",
  /** Bumped after every write so lists and counts reload. */
  revision: 0,
});

/** The inbox filter for the current view (without paging). */
export function currentFilter(): Omit<TicketFilter, "offset" | "limit"> {
  const statuses: TicketStatus[] =
    app.statusFilter === "open" ? ["new", "open", "pending"] : app.statusFilter === "all" ? [] : [app.statusFilter];
  const base = { statuses, channel: app.channel, queue_id: null as string | null, assignee: null as TicketFilter["assignee"], tag: app.tag, sort: app.sort };
  switch (app.view.kind) {
    case "my": return { ...base, assignee: { kind: "me" } };
    case "unassigned": return { ...base, assignee: { kind: "unassigned" } };
    case "all": return { ...base, statuses: app.statusFilter === "open" ? [] : statuses };
    case "queue": return { ...base, queue_id: app.view.id };
    default: return base;
  }
}

export function applyTheme(theme: Theme): void {
  app.theme = theme;
  localStorage.setItem("okno.theme", theme);
  const dark = theme === "dark" || (theme === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

/** Run a backend call; on failure show a toast whose text depends on the error code. */
export async function attempt<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (e) {
    if (isUiError(e)) toast(t(`error.${e.code}`), "error", e.message);
    else toast(t("error.internal"), "error", String(e));
    return undefined;
  }
}

export async function refreshSideData(): Promise<void> {
  const [queues, stats, me, operators, tags] = await Promise.all([
    attempt(() => backend.listQueues()),
    attempt(() => backend.storeStats()),
    attempt(() => backend.me()),
    attempt(() => backend.listOperators()),
    attempt(() => backend.listTags()),
  ]);
  if (queues) app.queues = queues;
  if (stats) app.stats = stats;
  if (me) app.me = me;
  if (operators) app.operators = operators;
  if (tags) app.tags = tags;
}

export function changed(): void {
  app.revision += 1;
  void refreshSideData();
}
