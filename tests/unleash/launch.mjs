// Starts a real Unleash server for rollbot's tests and prints one JSON line with its address.
//
// Run as: node launch.mjs <unleash install dir>. Everything else comes from the environment
// the test fixture sets: UNLEASH_TEST_DATABASE_URL (a fresh PostgreSQL database),
// INIT_ADMIN_API_TOKENS (the admin token the tests use). It listens on 127.0.0.1 only, on a
// port the OS picks (port 0), so parallel runs never collide; the chosen port is printed.
// Telemetry and version checks are off: the tests never reach beyond this machine.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const installDir = process.argv[2];
if (!installDir) {
  console.error('usage: node launch.mjs <unleash install dir>');
  process.exit(2);
}
const entry = path.join(installDir, 'node_modules', 'unleash-server', 'dist', 'lib', 'server-impl.js');
const unleash = await import(pathToFileURL(entry).href);

const instance = await unleash.start({
  db: { connectionString: process.env.UNLEASH_TEST_DATABASE_URL, ssl: false },
  server: { host: '127.0.0.1', port: 0, enableRequestLogger: false },
  // open-source auth: the admin API answers to admin API tokens (INIT_ADMIN_API_TOKENS).
  authentication: { type: 'open-source', enableApiToken: true, createAdminUser: false },
  versionCheck: { enable: false },
  telemetry: false,
  logLevel: 'warn',
});
const address = instance.server.address();
console.log(JSON.stringify({ host: address.address, port: address.port }));

const stop = async () => {
  try {
    await instance.stop();
  } finally {
    process.exit(0);
  }
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
