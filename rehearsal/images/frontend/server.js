// The frontend stand-in: GET /api/health answers 200 with JSON, every other path a small page.
// PORT and HOSTNAME as the Next.js standalone server reads them; SIGTERM closes it cleanly.
"use strict";
const http = require("node:http");

const port = Number(process.env.PORT || 3000);
const host = process.env.HOSTNAME || "0.0.0.0";

const server = http.createServer((req, res) => {
  if (req.url === "/api/health") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "ok", stand_in: true }));
    return;
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end("<!doctype html><title>Quintas CRM</title><p>frontend stand-in</p>\n");
});

server.listen(port, host, () => console.log(`frontend stand-in listening on ${host}:${port}`));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
