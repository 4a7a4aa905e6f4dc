'use strict';
// WebSocket echo server on the `ws` package: an evbench comparison peer.
//   node server.js PORT [HOST]      (HOST defaults to 127.0.0.1)
// Every message goes back with its own kind (text as text, binary as binary); ws answers pings and echoes
// the client's close code by itself. Compression is off, as in the other peers. Node runs JavaScript on one
// core: on this 2-core machine that is one core for node, one for the client.
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const host = process.argv[3] || '127.0.0.1';
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node server.js PORT [HOST]');
  process.exit(2);
}

const wss = new WebSocketServer({
  host,
  port,
  backlog: 4096,
  perMessageDeflate: false,
  maxPayload: 1 << 20, // evserver's -max-message-size default
  clientTracking: false, // nothing iterates the clients; tracking them costs memory per connection
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  // A protocol error or a reset closes the socket; without a listener it would crash the process.
  ws.on('error', () => {});
});
wss.on('error', (err) => {
  console.error('server error:', err.message);
  process.exit(1);
});
wss.on('listening', () => console.log(`ws echo listening on ${host}:${port}`));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
