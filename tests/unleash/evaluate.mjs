// Asks Unleash's Node.js SDK (npm `unleash-client`, as an application would use it) about a
// list of contexts and prints one JSON array of answers, for rollbot's SDK tests.
//
// Run as: node evaluate.mjs <sdk install dir> <unleash api url> <flag> < contexts.json
// stdin holds a JSON array of Unleash contexts ({userId, properties}); the client token comes
// from UNLEASH_CLIENT_TOKEN and is sent bare in `Authorization`, as the SDK's docs say. The
// SDK fetches the features once (startUnleash resolves when it has them) and evaluates
// locally; it registers, but sends no metrics and writes no backup file.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [installDir, url, flag] = process.argv.slice(2);
if (!installDir || !url || !flag) {
  console.error('usage: node evaluate.mjs <sdk install dir> <unleash api url> <flag> < contexts.json');
  process.exit(2);
}
const entry = path.join(installDir, 'node_modules', 'unleash-client', 'lib', 'index.js');
const sdk = (await import(pathToFileURL(entry).href)).default;

let input = '';
for await (const chunk of process.stdin) input += chunk;
const contexts = JSON.parse(input);

const unleash = await sdk.startUnleash({
  url,
  appName: 'rollbot-tests-node',
  customHeaders: { Authorization: process.env.UNLEASH_CLIENT_TOKEN ?? '' },
  disableMetrics: true,
  refreshInterval: 60_000,
  storageProvider: new sdk.InMemStorageProvider(),
  skipInstanceCountWarning: true,
});
unleash.on('error', (err) => console.error(`unleash-client: ${err.message}`));
try {
  const answers = contexts.map((context) => {
    const variant = unleash.getVariant(flag, context);
    return {
      userId: context.userId,
      enabled: unleash.isEnabled(flag, context),
      variant: variant.name,
      variantEnabled: variant.enabled,
      payload: variant.payload ?? null,
    };
  });
  process.stdout.write(JSON.stringify(answers));
} finally {
  unleash.destroy();
}
