// Starts fauxqs (an SQS server) bound to 127.0.0.1 only: its own CLI listens
// on every interface. FAUXQS_PORT=0 picks a free port; the chosen one is
// printed as "ready <port>".
import { buildApp } from "fauxqs";

// SQS accepts #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in a
// message body. fauxqs 1.9 checks UTF-16 code units, so it refuses the
// surrogate halves of every character above U+FFFF (emoji, in WhatsApp
// messages): check code points, as SQS does. The module is the one fauxqs's
// handlers import, so they see the fix.
const types = await import(new URL("./sqs/sqsTypes.js", import.meta.resolve("fauxqs")));
const refused = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
types.INVALID_MESSAGE_BODY_CHAR.test = (body) => refused.test(body);

const app = buildApp({ logger: process.env.FAUXQS_LOGGER === "true" });
const address = await app.listen({ port: parseInt(process.env.FAUXQS_PORT ?? "0", 10), host: "127.0.0.1" });
console.log(`ready ${new URL(address).port}`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => app.close().finally(() => process.exit(0)));
}
