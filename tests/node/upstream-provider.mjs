// A real upstream OpenID Connect provider for Lamba's federation tests:
// node `oidc-provider` with its development interactions (a login form and
// a consent form, driven by plain form posts), one confidential client
// whose redirect URI is Lamba's callback. Run by
// crates/lamba/tests/it/federation_node.rs; by hand:
//
//   node tests/node/upstream-provider.mjs --client-id lamba \
//     --client-secret s3cret --redirect-uri http://127.0.0.1:8080/connect/callback
//
// Prints `listening <issuer>` once it accepts connections. Every account
// exists: its id is the login typed, its email `<login>@oidc.example`,
// verified unless the login starts with `unverified`.

import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
  },
  strict: true,
});

const server = (await import('node:http')).createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: values['client-id'],
      client_secret: values['client-secret'],
      redirect_uris: [values['redirect-uri']],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name'],
  },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@oidc.example`,
          email_verified: !id.startsWith('unverified'),
          given_name: `Given ${id}`,
          family_name: 'Node',
        };
      },
    };
  },
});
// Quiet: the test reads stdout for the one line below.
provider.on('server_error', (ctx, error) => console.error('server_error', error));
server.on('request', provider.callback());
console.log(`listening ${issuer}`);
