// The HTTP ceiling: a bare node:http server that reads the request body, parses it as JSON
// (the same 784-float OIP request modelport gets) and answers a fixed JSON body shaped like
// modelport's infer response. No routing, validation, tensors or model: what node:http itself
// can do on this machine.  node bench/baselines/ceiling.mjs --port P   → prints "READY <url>"
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });

const BODY = JSON.stringify({
  model_name: 'digits',
  model_version: '1',
  outputs: [
    {
      name: 'probabilities',
      datatype: 'FP32',
      shape: [1, 10],
      data: [0.0001, 0.0002, 0.0003, 0.0004, 0.0005, 0.0006, 0.0007, 0.9962, 0.0008, 0.0002],
    },
  ],
});
const HEADERS = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) };

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    try {
      if (chunks.length) JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"malformed json"}');
      return;
    }
    res.writeHead(200, HEADERS).end(BODY);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host, () => {
  const { port } = server.address();
  console.log(`READY http://${values.host}:${port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.close(() => process.exit(0)) && server.closeAllConnections());
