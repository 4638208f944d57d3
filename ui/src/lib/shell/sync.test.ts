import { describe, expect, it, vi } from "vitest";
import { rejectionTitle, typing, visitorTyping } from "./sync.svelte";

describe("sync rejections", () => {
  it("are worded by the server's code and the write's name", () => {
    expect(rejectionTitle("already_claimed", "assign_ticket")).toBe("The assignment was undone: someone else took the ticket first");
    expect(rejectionTitle("something_new", "reply_ticket")).toBe("Your reply was undone by the server");
    expect(rejectionTitle("forbidden", "a_future_write")).toContain("a_future_write");
  });
});

describe("a website visitor typing", () => {
  it("is shown for a few seconds after the last keystroke, per chat", () => {
    vi.useFakeTimers();
    visitorTyping("chat-1");
    expect(typing.until["chat-1"]).toBeGreaterThan(Date.now());
    expect(typing.until["chat-2"]).toBeUndefined();
    vi.advanceTimersByTime(3000);
    visitorTyping("chat-1");
    vi.advanceTimersByTime(2000);
    expect(typing.until["chat-1"], "a new keystroke keeps it").toBeDefined();
    vi.advanceTimersByTime(3000);
    expect(typing.until["chat-1"]).toBeUndefined();
    vi.useRealTimers();
  });
});
