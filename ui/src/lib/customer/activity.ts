// Contacts per calendar month for the card's bar chart: the last 12 months ending at `now`.
export type MonthBar = { year: number; month: number; count: number };

export function contactsPerMonth(times: number[], now: number, months = 12): MonthBar[] {
  const end = new Date(now);
  const bars: MonthBar[] = [];
  for (let i = months - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - i, 1));
    bars.push({ year: d.getUTCFullYear(), month: d.getUTCMonth(), count: 0 });
  }
  for (const at of times) {
    const d = new Date(at);
    const bar = bars.find((b) => b.year === d.getUTCFullYear() && b.month === d.getUTCMonth());
    if (bar) bar.count += 1;
  }
  return bars;
}
