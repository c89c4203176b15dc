// A real OpenID provider for the sign-in tests (tests/api/oidc_support.rs starts it): npm
// `oidc-provider` (the certified implementation), installed in tests/browser/node_modules.
//
//   node tests/support/oidc-provider.mjs [PORT]
//
// PORT (or OIDC_PORT; 0 or unset: any free port) is bound on 127.0.0.1 and ::1, and the issuer
// is http://localhost:PORT: a service under test on 127.0.0.1 keeps its cookies, since cookies
// are per host name, not per port. Prints `ready http://localhost:PORT` once listening.
//
// Clients (redirect URIs: OIDC_REDIRECT_URIS, space-separated):
//   `secret-client`  client_secret_basic, secret OIDC_CLIENT_SECRET (default `secret-client-secret`)
//   `jwt-client`     private_key_jwt (RS256); its public JWK is the JSON file OIDC_CLIENT_JWK
//                    (default tests/support/oidc-client-key.pub.jwk.json)
// Accounts: the development login form (devInteractions) takes any login and password, then a
// consent page. The account's `email` is the login, `email_verified` true unless the login
// starts with `unverified`. As the library does by default, the email claims go to the userinfo
// response only, not into the ID token; with OIDC_EMAIL_IN_ID_TOKEN=1 they go into the ID token
// and there is no userinfo endpoint. PKCE (S256) is required of every client.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// The package lives in tests/browser/node_modules (scripts/test runs `npm ci` there).
const require = createRequire(new URL('../browser/package.json', import.meta.url));
const { default: Provider, interactionPolicy } = await import(
  pathToFileURL(require.resolve('oidc-provider')).href
);

const env = process.env;
const redirectUris = (env.OIDC_REDIRECT_URIS ?? '').split(/\s+/).filter(Boolean);
if (redirectUris.length === 0) throw new Error('set OIDC_REDIRECT_URIS');
const jwkFile = env.OIDC_CLIENT_JWK ?? new URL('oidc-client-key.pub.jwk.json', import.meta.url);
const clientJwk = JSON.parse(readFileSync(jwkFile, 'utf8'));
const emailInIdToken = env.OIDC_EMAIL_IN_ID_TOKEN === '1';

// Listen first (port 0 picks one), then make the provider for the issuer with that port.
let handle;
const server4 = createServer((req, res) => handle(req, res));
await new Promise((ok, fail) => server4.once('error', fail).listen(Number(process.argv[2] ?? env.OIDC_PORT ?? 0), '127.0.0.1', ok));
const { port } = server4.address();
const server6 = createServer((req, res) => handle(req, res));
await new Promise((ok, fail) => server6.once('error', fail).listen(port, '::1', ok));

// `prompt=select_account` (as Login.gov's clients send) is accepted; the login form is where
// an account is chosen, so the prompt adds no interaction of its own.
const policy = interactionPolicy.base();
const selectAccount = new interactionPolicy.Prompt({ name: 'select_account', requestable: true });
selectAccount.checks.clear();
policy.add(selectAccount, 0);

const common = { redirect_uris: redirectUris, grant_types: ['authorization_code'], response_types: ['code'] };
const provider = new Provider(`http://localhost:${port}`, {
  clients: [
    {
      ...common,
      client_id: 'secret-client',
      client_secret: env.OIDC_CLIENT_SECRET ?? 'secret-client-secret',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      ...common,
      client_id: 'jwt-client',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS256',
      jwks: { keys: [clientJwk] },
    },
  ],
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: !id.startsWith('unverified') };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: !emailInIdToken,
  features: { devInteractions: { enabled: true }, userinfo: { enabled: !emailInIdToken } },
  interactions: { policy },
  pkce: { required: () => true },
  cookies: { keys: ['cx-survey test provider only'] },
});
handle = provider.callback();

console.log(`ready http://localhost:${port}`);
