import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  FAKE_ID,
  FAKE_ID_REG,
  FAKE_IRQ_LINE,
  FAKE_IRQ_REG,
  FakeTarget,
} from "../qtest/fake-target.js";
import { serveSocket } from "../qtest/server.js";
import { QtestClient, QtestError } from "./qtest-client.js";

const dir = mkdtempSync(join(tmpdir(), "cmdqv-qtest-client-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function withClient(
  body: (c: QtestClient, target: FakeTarget) => Promise<void>,
): Promise<void> {
  const target = new FakeTarget();
  const server: Server = await serveSocket(target, join(dir, `c${n++}.sock`));
  const client = await QtestClient.connect(server.address() as string);
  try {
    await body(client, target);
  } finally {
    await client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const RAM = 0x4000_0000;

describe("QtestClient against our own session over a socket", () => {
  it("reads and writes every width", async () => {
    await withClient(async (c) => {
      await c.writeq(RAM, 0x1122_3344_5566_7788n);
      assert.equal(await c.readb(RAM), 0x88);
      assert.equal(await c.readw(RAM), 0x7788);
      assert.equal(await c.readl(RAM), 0x5566_7788);
      assert.equal(await c.readq(RAM), 0x1122_3344_5566_7788n);
      await c.writeb(RAM, 0xaa);
      await c.writew(RAM + 2, 0xbbcc);
      await c.writel(RAM + 4, 0xdeadbeef);
      assert.equal(await c.readq(RAM), 0xdeadbeef_bbcc_7788n | 0xaan);
      assert.equal(await c.readl(FAKE_ID_REG), FAKE_ID);
    });
  });

  it("moves byte buffers with read/write and b64read/b64write, and memsets", async () => {
    await withClient(async (c) => {
      const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
      await c.memwrite(RAM, data);
      assert.deepEqual(await c.memread(RAM, 300), data);
      assert.deepEqual(await c.b64read(RAM, 300), data);
      await c.b64write(RAM + 0x1000, data.subarray(0, 5));
      assert.deepEqual(await c.memread(RAM + 0x1000, 6), Uint8Array.from([0, 7, 14, 21, 28, 0]));
      await c.memset(RAM, 4, 0x5a);
      assert.equal(await c.readl(RAM), 0x5a5a5a5a);
      assert.deepEqual(await c.memread(RAM, 0), new Uint8Array(0));
      await c.memwrite(RAM, new Uint8Array(0));
      await c.b64write(RAM, new Uint8Array(0));
      assert.deepEqual(await c.b64read(RAM, 0), new Uint8Array(0));
    });
  });

  it("steps and sets the clock and reads the endianness", async () => {
    await withClient(async (c, target) => {
      target.addTimer(40, () => {});
      assert.equal(await c.clockStep(), 40);
      assert.equal(await c.clockStep(10), 50);
      assert.equal(await c.clockSet(1000n), 1000);
      assert.equal(await c.endianness(), "little");
    });
  });

  it("collects IRQ lines apart from replies, with how many replies came before each", async () => {
    await withClient(async (c) => {
      await c.irqInterceptIn("/machine/fake");
      await c.writel(FAKE_IRQ_REG, 1);
      await c.writel(FAKE_IRQ_REG, 0);
      assert.deepEqual(c.irqEvents(), [
        { line: FAKE_IRQ_LINE, level: true, afterReplies: 1 },
        { line: FAKE_IRQ_LINE, level: false, afterReplies: 2 },
      ]);
      assert.equal(c.irqLevel(FAKE_IRQ_LINE), false);
      c.clearIrqEvents();
      assert.deepEqual(c.irqEvents(), []);
      await c.setIrqIn("/machine/fake", "unnamed-gpio-in", 0, 1);
    });
  });

  it("matches pipelined replies in order and rejects FAIL replies with QtestError", async () => {
    await withClient(async (c) => {
      const replies = await Promise.all([
        c.command("endianness"),
        c.command("bogus"),
        c.command("write 0 4 0x"),
        c.command("cmdqv_echo x y"),
        c.readl(0),
      ]);
      assert.deepEqual(replies, [
        "OK little",
        "FAIL Unknown command 'bogus'",
        "ERR invalid argument size",
        "OK x,y",
        0,
      ]);
      await assert.rejects(c.irqInterceptIn("/machine/nope"), (e: unknown) => {
        assert.ok(e instanceof QtestError);
        assert.equal(e.reply, "FAIL Unknown device");
        return true;
      });
      await assert.rejects(c.command("two\nlines"), QtestError);
      assert.deepEqual(c.noise(), []);
    });
  });

  it("rejects commands after close", async () => {
    let closed: QtestClient | null = null;
    await withClient(async (c) => {
      closed = c;
    });
    assert.ok(closed !== null);
    await assert.rejects((closed as QtestClient).readl(0), QtestError);
  });
});

describe("QtestClient over a child's stdio", () => {
  it("keeps lines that are not protocol apart and reports the process going away", async () => {
    const script = [
      "process.stdout.write('qemu: some warning\\n');",
      "process.stdin.setEncoding('latin1');",
      "process.stdin.on('data', (d) => { for (const l of d.split('\\n').filter(Boolean))",
      "  process.stdout.write(l === 'endianness' ? 'IRQ raise 7\\nOK little\\n' : 'FAIL Unknown command\\n'); });",
    ].join("\n");
    const c = QtestClient.spawn(process.execPath, ["-e", script], { graceMs: 2000 });
    assert.equal(await c.endianness(), "little");
    assert.deepEqual(c.irqEvents(), [{ line: 7, level: true, afterReplies: 0 }]);
    assert.deepEqual(c.noise(), ["qemu: some warning"]);
    await c.close();
    await assert.rejects(c.readl(0), QtestError);
  });

  it("rejects pending commands when the process cannot start", async () => {
    const c = QtestClient.spawn(join(dir, "no-such-program"), []);
    await assert.rejects(c.readl(0), /cannot run|exited|closed/);
    await c.close();
  });
});
