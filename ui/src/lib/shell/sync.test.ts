import { describe, expect, it } from "vitest";
import { rejectionTitle } from "./sync.svelte";

describe("sync rejections", () => {
  it("are worded by the server's code and the write's name", () => {
    expect(rejectionTitle("already_claimed", "assign_ticket")).toBe("The assignment was undone: someone else took the ticket first");
    expect(rejectionTitle("something_new", "reply_ticket")).toBe("Your reply was undone by the server");
    expect(rejectionTitle("forbidden", "a_future_write")).toContain("a_future_write");
  });
});
