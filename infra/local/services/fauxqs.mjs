// Starts fauxqs (an SQS server) bound to 127.0.0.1 only: its own CLI listens
// on every interface. FAUXQS_PORT=0 picks a free port; the chosen one is
// printed as "ready <port>".
import { buildApp } from "fauxqs";

const app = buildApp({ logger: process.env.FAUXQS_LOGGER === "true" });
const address = await app.listen({ port: parseInt(process.env.FAUXQS_PORT ?? "0", 10), host: "127.0.0.1" });
console.log(`ready ${new URL(address).port}`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => app.close().finally(() => process.exit(0)));
}
