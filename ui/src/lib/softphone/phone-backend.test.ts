import { describe, expect, it } from "vitest";
import { COMMAND_NAMES, createPhoneCommands } from "../backend/bindings";

describe("the phone's Tauri commands", () => {
  it("are the snake_case of the method names, with camelCase arguments, all in the command table", async () => {
    const calls: Array<[string, Record<string, unknown> | undefined]> = [];
    const commands = createPhoneCommands(async <T,>(cmd: string, args?: Record<string, unknown>) => {
      calls.push([cmd, args]);
      return undefined as T;
    });
    for (const method of Object.keys(commands)) {
      const command = method.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      expect(COMMAND_NAMES as readonly string[], method).toContain(command);
    }
    await commands.phoneDial("+7 915 123-45-67", null);
    await commands.phoneReject("call-1", true);
    await commands.phoneTransfer("call-1", { kind: "number", number: "2100" }, true);
    await commands.phoneWrapUp("call-1", "customer.delivery", "ok", { kind: "existing", ticket_id: "t-1" });
    await commands.setAudioDevices("Mic", null, "Speaker");
    expect(calls).toEqual([
      ["phone_dial", { number: "+7 915 123-45-67", accountId: null }],
      ["phone_reject", { callId: "call-1", toQueue: true }],
      ["phone_transfer", { callId: "call-1", target: { kind: "number", number: "2100" }, attended: true }],
      ["phone_wrap_up", { callId: "call-1", dispositionId: "customer.delivery", comment: "ok", ticket: { kind: "existing", ticket_id: "t-1" } }],
      ["set_audio_devices", { input: "Mic", output: null, ring: "Speaker" }],
    ]);
  });
});
