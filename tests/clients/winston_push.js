// Pushes COUNT lines to Norn with winston-loki (protobuf + snappy, as its default), then exits.
// Usage: node winston_push.js <url> <count>
const winston = require('winston');
const LokiTransport = require('winston-loki');

const [url, count] = [process.argv[2], Number(process.argv[3] || 10)];
let errors = 0;
const transport = new LokiTransport({
  host: url,
  labels: { app: 'winston-client' },
  json: false,
  batching: true,
  interval: 1,
  replaceTimestamp: true,
  onConnectionError: (err) => { errors++; console.error('winston-loki error:', err && err.message); },
});
const logger = winston.createLogger({ transports: [transport] });
for (let i = 0; i < count; i++) logger.info(`winston line ${i}`, { labels: { level_hint: 'info' } });
setTimeout(async () => {
  await transport.flush();
  setTimeout(() => process.exit(errors ? 1 : 0), 500);
}, 1500);
