// A quick end-to-end check of the built UI with the fixture backend: keyboard shortcuts,
// reply, status, assignment, search, click-to-call, themes and languages. Exits non-zero on failure.
//
//   npm run build && node scripts/smoke.mjs
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { preview } from "vite";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("..", import.meta.url));
const port = await new Promise((resolve) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const server = await preview({ root, configFile: false, base: "./", logLevel: "warn", preview: { host: "127.0.0.1", port, strictPort: true } });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
});
const failures = [];
const check = (name, ok, detail = "") => {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` — ${detail}` : ""}`);
  if (!ok) failures.push(name);
};

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
  const p = await context.newPage();
  const errors = [];
  p.on("pageerror", (e) => errors.push(e.message));
  await p.goto(`http://127.0.0.1:${port}/`);
  await p.waitForSelector("[data-testid=ticket-row][data-ticket-id]");
  const text = (sel) => p.locator(sel).first().textContent();

  await p.keyboard.press("j");
  await p.waitForSelector("[data-testid=customer-name]");
  const first = await p.locator("[data-testid=ticket-row]").first().getAttribute("data-ticket-id");
  const selected = await p.locator("[data-testid=ticket-row][aria-selected=true]").getAttribute("data-ticket-id");
  check("j opens the first ticket", first === selected, `${first} / ${selected}`);
  await p.keyboard.press("ArrowDown");
  await p.waitForTimeout(150);
  const second = await p.locator("[data-testid=ticket-row][aria-selected=true]").getAttribute("data-ticket-id");
  check("↓ moves to the next ticket", second !== first && second !== null);
  await p.keyboard.press("k");
  await p.waitForTimeout(150);
  check("k moves back", (await p.locator("[data-testid=ticket-row][aria-selected=true]").getAttribute("data-ticket-id")) === first);

  await p.keyboard.press("a");
  await p.waitForTimeout(200);
  check("a assigns to me", (await p.locator("[data-testid=ticket-assignee]").inputValue()) === "op-01");
  await p.keyboard.press("e");
  await p.waitForTimeout(200);
  check("e closes the ticket", (await p.locator("[data-testid=ticket-status]").inputValue()) === "closed");
  await p.keyboard.press("o");
  await p.waitForTimeout(200);
  check("o reopens it", (await p.locator("[data-testid=ticket-status]").inputValue()) === "open");

  await p.keyboard.press("n");
  check("n focuses the note box", await p.locator("[data-testid=reply-box]").evaluate((e) => e === document.activeElement));
  await p.keyboard.type("Internal: call back at 15:00\nsecond line");
  await p.keyboard.press("Control+Enter");
  await p.waitForTimeout(250);
  const last = p.locator("[data-testid=timeline-item]").last();
  check("Ctrl+Enter saves a note", (await last.getAttribute("data-kind")) === "note" && (await last.textContent()).includes("second line"));
  check("newlines are kept", (await last.locator(".body").evaluate((e) => getComputedStyle(e).whiteSpace)) === "pre-wrap");
  await p.keyboard.press("Escape");

  await p.keyboard.press("Alt+2");
  await p.waitForTimeout(200);
  check("Alt+2 sets break", (await p.locator("[data-testid=agent-state]").inputValue()) === "break");

  await p.keyboard.press("g");
  await p.keyboard.press("i");
  check("g i focuses the inbox", await p.locator("[data-testid=ticket-list]").evaluate((e) => e === document.activeElement));

  const theme0 = await p.evaluate(() => document.documentElement.dataset.theme);
  await p.keyboard.press("t");
  const theme1 = await p.evaluate(() => document.documentElement.dataset.theme);
  check("t switches the theme", theme0 !== theme1, `${theme0} → ${theme1}`);
  await p.keyboard.press("l");
  check("l switches to Russian", (await text("[data-testid=call-state]")).includes("Нет звонка"));
  await p.keyboard.press("l");
  check("and back", (await text("[data-testid=call-state]")).includes("No call"));
  check("the language is remembered", (await p.evaluate(() => localStorage.getItem("okno.locale"))) === "en");

  await p.keyboard.press("?");
  check("? opens the shortcuts", await p.locator("[data-testid=shortcuts-overlay]").isVisible());
  await p.keyboard.press("Escape");
  check("Esc closes them", (await p.locator("[data-testid=shortcuts-overlay]").count()) === 0);

  await p.waitForSelector("[data-testid=registration-state][data-state=registered]");
  await p.locator("[data-testid=customer-card] [data-testid=click-to-call]").first().click();
  await p.waitForSelector("[data-testid=in-call]");
  const number = await p.locator("[data-testid=dial-number]").inputValue();
  check("click-to-call dials, and the number stays for a redial", number.startsWith("+"), number);
  await p.waitForSelector("[data-testid=in-call][data-phase=active]");
  await p.keyboard.press("Alt+h");
  await p.waitForSelector("[data-testid=in-call][data-phase=held]");
  check("Alt+H holds", await p.locator("[data-testid=resume]").isVisible());
  await p.keyboard.press("Alt+h");
  await p.keyboard.press("Alt+x");
  await p.waitForSelector("[data-testid=wrapup]");
  check("Alt+X hangs up into the wrap-up", (await text("[data-testid=call-state]")).includes("Wrap-up"));
  await p.keyboard.type("дост");
  await p.keyboard.press("ArrowDown");
  await p.keyboard.press("Alt+s");
  await p.waitForSelector("[data-testid=wrapup]", { state: "detached" });
  check("Alt+S finishes the wrap-up", (await text("[data-testid=call-state]")).includes("No call"));

  await p.keyboard.press("/");
  await p.keyboard.type("Петров");
  await p.waitForSelector("[data-testid=search-hit][data-kind=customer]");
  const groups = await p.locator("[data-testid=search-group]").evaluateAll((gs) => gs.map((g) => g.getAttribute("data-kind")));
  check("search groups by kind", groups.length >= 2, groups.join(","));
  check("matches are highlighted", (await p.locator("[data-testid=search-results] mark").count()) > 0);
  check("the time is shown", /\d+ ms/.test(await text("[data-testid=search-took]")));
  const customerHit = p.locator("[data-testid=search-hit][data-kind=customer]").first();
  await customerHit.hover();
  await p.keyboard.press("Enter");
  await p.waitForTimeout(300);
  check("Enter on a customer opens their latest ticket", (await text("[data-testid=customer-name]")) === "Иван Петров" && (await p.locator("[data-testid=search-input]").count()) === 0);

  await p.locator("[data-testid=filter-status]").click();
  await p.locator("label.opt", { hasText: "Closed" }).click();
  await p.keyboard.press("Escape");
  await p.waitForTimeout(200);
  check("the status filter takes several statuses", (await text("[data-testid=filter-status]")).includes("4"));

  check("no page errors", errors.length === 0, errors.join("; "));
} finally {
  await browser.close();
  await server.close();
}
if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exitCode = 1;
}
