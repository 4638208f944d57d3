import { describe, expect, it } from "vitest";
import type { Template } from "../backend";
import { insertAt, matchTemplates } from "./templates";

const tpl = (id: string, name: string, body: string, language = "ru"): Template =>
  ({ id, name, body, language, queue_id: null, owner_id: null, subject: null, attachments: [] });
const all = [
  tpl("a", "Доставка задерживается", "Курьер привезёт заказ завтра."),
  tpl("b", "Возврат денег", "Деньги вернутся за 3–5 дней."),
  tpl("c", "Delivery delayed", "The courier will bring it tomorrow.", "en"),
  tpl("d", "Счёт", "Счёт во вложении."),
];

describe("finding a template while typing", () => {
  it("matches every word in the name or the text, in any case and with ё as е", () => {
    expect(matchTemplates(all, "курьер").map((t) => t.id)).toEqual(["a"]);
    expect(matchTemplates(all, "СЧЕТ").map((t) => t.id)).toEqual(["d"]);
    expect(matchTemplates(all, "деньги дней").map((t) => t.id)).toEqual(["b"]);
    expect(matchTemplates(all, "nothing like this")).toEqual([]);
  });

  it("puts names that start with the query and the ticket's language first", () => {
    expect(matchTemplates(all, "del", "en")[0].id).toBe("c");
    expect(matchTemplates(all, "", "en")[0].id).toBe("c");
    expect(matchTemplates(all, "").length).toBe(4);
  });

  it("inserts at the caret with a space where words would run together", () => {
    expect(insertAt("Здравствуйте!", 13, 13, "Заказ в пути.")).toEqual({ body: "Здравствуйте! Заказ в пути.", caret: 27 });
    expect(insertAt("", 0, 0, "Hi")).toEqual({ body: "Hi", caret: 2 });
    expect(insertAt("a XX b", 2, 4, "Y")).toEqual({ body: "a Y b", caret: 3 });
  });
});
