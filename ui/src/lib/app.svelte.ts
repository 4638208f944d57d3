// The window's shared state: who I am, what is selected, the inbox filter, which overlays are
// open, and the theme. Components read it directly; writes go through the backend, then
// `changed()` bumps the revision so the list and the counts reload.
import { backend, isUiError, type AppInfo, type Channel, type OperatorView, type QueueSummary, type StoreStats, type TicketFilter, type TicketSort, type TicketStatus } from "./backend";
import { t, type Locale } from "./i18n/index.svelte";
import { toast } from "./shell/toast.svelte";

export type Theme = "light" | "dark" | "system";
export type View = { kind: "my" } | { kind: "unassigned" } | { kind: "all_open" } | { kind: "all" } | { kind: "queue"; id: string };
export type AssigneeChoice = "anyone" | "me" | "unassigned";

export const OPEN_STATUSES: TicketStatus[] = ["new", "open", "pending"];
export const ALL_STATUSES: TicketStatus[] = ["new", "open", "pending", "resolved", "closed"];
export const CHANNELS: Channel[] = ["phone", "web_call", "email", "chat", "messenger"];

function stored<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
  const v = typeof localStorage !== "undefined" ? localStorage.getItem(key) : null;
  return allowed.includes(v as T) ? (v as T) : fallback;
}

export const app = $state({
  info: null as AppInfo | null,
  stats: null as StoreStats | null,
  me: null as OperatorView | null,
  operators: [] as OperatorView[],
  queues: [] as QueueSummary[],
  tags: [] as string[],
  view: { kind: "all_open" } as View,
  /** Empty means every status. */
  statuses: [...OPEN_STATUSES] as TicketStatus[],
  assignee: "anyone" as AssigneeChoice,
  channel: null as Channel | null,
  tag: null as string | null,
  sort: "sla_due" as TicketSort,
  selectedId: null as string | null,
  searchOpen: false,
  shortcutsOpen: false,
  /** The rules and templates sheet. */
  workOpen: false,
  /** The team lead's wallboard. */
  wallboardOpen: false,
  /** The notices list under the bell. */
  noticesOpen: false,
  theme: stored<Theme>("okno.theme", ["light", "dark", "system"], "system"),
  /** Bumped after every write so lists and counts reload. */
  revision: 0,
});

/** A rail entry: sets the view and the filters it implies (the filter bar can refine them). */
/** Team leads and admins: the wallboard and the center's rules are theirs (the server decides). */
export function isLead(): boolean {
  return app.me?.role === "team_lead" || app.me?.role === "admin";
}

export function goTo(view: View): void {
  app.view = view;
  app.selectedId = null;
  app.assignee = view.kind === "my" ? "me" : view.kind === "unassigned" ? "unassigned" : "anyone";
  app.statuses = view.kind === "all" ? [] : [...OPEN_STATUSES];
}

/** The inbox filter for the current view and filter bar (without paging). */
export function currentFilter(): Omit<TicketFilter, "offset" | "limit"> {
  return {
    statuses: [...app.statuses],
    channel: app.channel,
    queue_id: app.view.kind === "queue" ? app.view.id : null,
    assignee: app.assignee === "anyone" ? null : { kind: app.assignee },
    tag: app.tag,
    sort: app.sort,
  };
}

export function applyTheme(theme: Theme): void {
  app.theme = theme;
  localStorage.setItem("okno.theme", theme);
  const dark = theme === "dark" || (theme === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

/** Cycles system → the opposite of the system's → the same as the system's → system, so the first press always changes the colours. */
export function nextTheme(): void {
  const systemDark = matchMedia("(prefers-color-scheme: dark)").matches;
  const order: Theme[] = systemDark ? ["system", "light", "dark"] : ["system", "dark", "light"];
  applyTheme(order[(order.indexOf(app.theme) + 1) % order.length]);
}

/** Run a backend call; on failure show a toast whose text depends on the error code. */
export async function attempt<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (e) {
    if (isUiError(e)) toast(t(`error.${e.code}`), "error", e.message);
    else toast(t("error.internal"), "error", e instanceof Error ? e.message : String(e));
    return undefined;
  }
}

let refreshing = false;

/** Queues with their counts, the store counts, me, operators and tags (every 10 s and after writes). */
export async function refreshSideData(): Promise<void> {
  if (refreshing) return;
  refreshing = true;
  try {
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
  } finally {
    refreshing = false;
  }
}

/** After a write: counts reload now; the list keeps its scroll position and refetches its pages. */
export function changed(): void {
  app.revision += 1;
  void refreshSideData();
}

export function localeTag(loc: Locale): string {
  return loc === "ru" ? "ru-RU" : "en-GB";
}
