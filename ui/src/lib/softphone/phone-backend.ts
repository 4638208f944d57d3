// Which PhoneBackend the window talks to, picked like backend/index.ts: Tauri commands and the
// "phone" event inside the app; POSTs to `okno-desktop --serve-http` with `?backend=http` (changes
// by polling `phone_snapshot` every 500 ms); the in-memory fixture otherwise (`?incoming=1` rings
// after a moment, `?incoming=unknown` from an unknown number, `?incoming=monitored` answered with a
// team lead listening in).
import { createPhoneCommands, type InvokeFn, type PhoneCommands, type UiError } from "../backend/bindings";
import { loadFixture } from "../backend";
import { bridgeHeaders } from "../backend/http";
import { PHONE_EVENT, type PhoneBackend, type PhoneSnapshot } from "./contract";

type Commands = PhoneCommands;

function tauriPhone(): PhoneBackend {
  let core: Promise<typeof import("@tauri-apps/api/core")> | null = null;
  // Each phone command is its own Tauri command, named in the generated wrappers.
  const invoke: InvokeFn = (cmd, args) => (core ??= import("@tauri-apps/api/core")).then((m) => m.invoke(cmd, args ?? {}));
  return {
    ...createPhoneCommands(invoke),
    subscribePhone(onChange) {
      let stop: (() => void) | null = null;
      let stopped = false;
      void import("@tauri-apps/api/event").then(({ listen }) =>
        listen<PhoneSnapshot>(PHONE_EVENT, (e) => onChange(e.payload)).then((unlisten) => (stopped ? unlisten() : (stop = unlisten))),
      );
      return () => {
        stopped = true;
        stop?.();
      };
    },
  };
}

/** Over HTTP: the same commands as POSTs; changes by polling (only a changed snapshot is reported). */
export function createHttpPhone(base = "", pollMs = 500): PhoneBackend {
  const invoke: InvokeFn = async <T>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
    const response = await fetch(`${base}/invoke/${cmd}`, { method: "POST", headers: bridgeHeaders(), body: JSON.stringify(args ?? {}) });
    const body: unknown = await response.json();
    if (!response.ok) throw body as UiError;
    return body as T;
  };
  const commands = createPhoneCommands(invoke);
  return {
    ...commands,
    subscribePhone(onChange) {
      let last = "";
      let busy = false;
      const poll = async () => {
        if (busy) return;
        busy = true;
        try {
          const s = await commands.phoneSnapshot();
          const text = JSON.stringify(s);
          if (text !== last) {
            last = text;
            onChange(s);
          }
        } catch {
          // The next poll tries again; the window keeps its last snapshot.
        } finally {
          busy = false;
        }
      };
      const timer = setInterval(() => void poll(), pollMs);
      void poll();
      return () => clearInterval(timer);
    },
  };
}

/** The fixture, loaded on demand so the app's bundle does not carry it. */
function fixturePhoneBackend(incoming: string | null): PhoneBackend {
  const load = (async () => {
    const [{ fixturePhone }, tickets] = await Promise.all([import("./fixture-phone"), loadFixture()]);
    const phone = fixturePhone({ tickets });
    if (incoming) setTimeout(() => void phone.ring(incoming === "unknown" ? "+7 912 000-41-18" : undefined).then(async (c) => {
      // `?incoming=monitored`: answered at once, then a team lead listens in.
      if (incoming !== "monitored") return;
      await phone.phoneAnswer(c.id);
      setTimeout(() => phone.teamLead(c.id, "Елена Смирнова", "listen"), 800);
    }), 1200);
    return phone;
  })();
  const deferred = new Proxy({} as PhoneBackend, {
    get: (_t, name) => {
      if (name === "subscribePhone") {
        return (onChange: (s: PhoneSnapshot) => void) => {
          let stop: (() => void) | null = null;
          let stopped = false;
          void load.then((p) => (stopped ? undefined : (stop = p.subscribePhone(onChange))));
          return () => {
            stopped = true;
            stop?.();
          };
        };
      }
      return (...args: never[]) => load.then((p) => (p[name as keyof Commands] as (...a: never[]) => Promise<unknown>).apply(p, args));
    },
  });
  return deferred;
}

function pick(): PhoneBackend {
  if (typeof window !== "undefined" && "__TAURI_INTERNALS__" in window) return tauriPhone();
  const params = new URLSearchParams(typeof location !== "undefined" ? location.search : "");
  if (params.get("backend") === "http") return createHttpPhone();
  return fixturePhoneBackend(params.get("incoming"));
}

export const phoneBackend: PhoneBackend = pick();
