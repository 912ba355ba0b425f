// Pushes COUNT lines to Norn with pino-loki (JSON push), then exits.
// Usage: node pino_push.js <url> <count>
const pino = require('pino');
const { pinoLoki } = require('pino-loki');

const [url, count] = [process.argv[2], Number(process.argv[3] || 10)];
const transport = pinoLoki({
  host: url,
  labels: { app: 'pino-client' },
  batching: false,
  silenceErrors: false,
});
const logger = pino({}, transport);
for (let i = 0; i < count; i++) logger.info(`pino line ${i}`);
setTimeout(() => process.exit(0), 2000);
