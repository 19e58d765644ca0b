// An independent, spec-strict OpenID Connect client — panva's oauth4webapi —
// driving a running Lamba server end to end. Run by
// crates/lamba/tests/it/node_client.rs; by hand:
//
//   node tests/node/oauth4webapi.mjs --issuer http://127.0.0.1:8080 \
//     --client-id ID --client-secret SECRET --redirect-uri https://app.example.com/callback \
//     --public-client-id ID --public-redirect-uri http://localhost:3000/cb \
//     [--spa-client-id ID] --email ada@example.com --password '...' [--user-id ID]
//
// (or one argument: a JSON object with the same keys in camelCase).
//
// Every OAuth/OIDC step goes through oauth4webapi's API. The only relaxation
// is `allowInsecureRequests` on every request, because the test issuer is
// plain http://127.0.0.1. The hosted sign-in form is filled in with plain
// fetch, as a browser would. One line per step; exit 1 on the first failure,
// with the library's error code, message and cause.

import { inspect, parseArgs } from 'node:util';
import * as oauth from 'oauth4webapi';

const OPTIONS = {
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'redirect-uri': { type: 'string' },
  'public-client-id': { type: 'string' },
  'public-redirect-uri': { type: 'string' },
  email: { type: 'string' },
  password: { type: 'string' },
  'user-id': { type: 'string' },
  // A client with a secret whose policy is NotRequiredWhenUsingPKCE, used
  // without its secret, as FusionAuth's SPA guide configures one.
  'spa-client-id': { type: 'string' },
};
const REQUIRED = Object.keys(OPTIONS).filter((k) => k !== 'user-id' && k !== 'spa-client-id');

function readArgs() {
  const argv = process.argv.slice(2);
  let values;
  if (argv.length === 1 && argv[0].trimStart().startsWith('{')) {
    const json = JSON.parse(argv[0]);
    values = {};
    for (const key of Object.keys(OPTIONS)) {
      const camel = key.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
      if (json[camel] !== undefined) values[key] = String(json[camel]);
    }
  } else {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true }));
  }
  const missing = REQUIRED.filter((k) => !values[k]);
  if (missing.length) {
    throw new Error(`missing arguments: ${missing.map((k) => `--${k}`).join(' ')}`);
  }
  return values;
}

// The test issuer is http://127.0.0.1:<port>; this is the one relaxation.
const insecure = { [oauth.allowInsecureRequests]: true };

function step(name, detail = '') {
  console.log(`ok   ${name}${detail ? `: ${detail}` : ''}`);
}

function check(condition, message, detail) {
  if (!condition) {
    const error = new Error(message);
    if (detail !== undefined) error.cause = detail;
    throw error;
  }
}

// --- The hosted sign-in page, as a browser without JavaScript sees it -------

class CookieJar {
  #cookies = new Map();

  keep(response) {
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';', 1)[0];
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /;\s*max-age=0\b/i.test(line)) {
        this.#cookies.delete(name);
      } else {
        this.#cookies.set(name, value);
      }
    }
  }

  has(name) {
    return this.#cookies.has(name);
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (_, entity) => {
    const e = entity.toLowerCase();
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e];
  });
}

function attributes(tag) {
  const attrs = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/** The sign-in form: its method, action and hidden inputs. */
function parseForm(html, pageUrl) {
  const form = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/i);
  check(form, 'the sign-in page has no <form>', html);
  const formAttrs = attributes(form[1]);
  const hidden = [];
  const names = new Set();
  for (const input of form[2].matchAll(/<input\b([^>]*)>/gi)) {
    const a = attributes(input[1]);
    names.add(a.name);
    if ((a.type ?? '').toLowerCase() === 'hidden' && a.name) hidden.push([a.name, a.value ?? '']);
  }
  check(names.has('email') && names.has('password'), 'the form has no email/password inputs', html);
  return {
    method: (formAttrs.method ?? 'get').toLowerCase(),
    action: new URL(formAttrs.action ?? '', pageUrl),
    hidden,
  };
}

/**
 * Follows the authorization URL like a browser: the sign-in form, then its
 * POST; returns the URL the server redirects to (the callback).
 */
async function signIn(authorizationUrl, email, password, expectedRedirectUri) {
  const jar = new CookieJar();
  const page = await fetch(authorizationUrl, { redirect: 'manual' });
  jar.keep(page);
  const html = await page.text();
  check(page.status === 200, `GET authorization endpoint: HTTP ${page.status}, expected the sign-in page`, html);
  check(
    (page.headers.get('content-type') ?? '').startsWith('text/html'),
    `the sign-in page is ${page.headers.get('content-type')}`,
  );
  const form = parseForm(html, authorizationUrl);
  check(form.method === 'post', `the sign-in form uses ${form.method}`);
  check(form.action.origin === authorizationUrl.origin, `the sign-in form posts to ${form.action}`);
  const csrf = form.hidden.find(([name]) => name === 'csrf_token');
  check(csrf, 'the sign-in form has no csrf_token', html);
  check(jar.has('lamba_csrf'), 'the sign-in page set no lamba_csrf cookie');
  const body = new URLSearchParams(form.hidden);
  body.set('email', email);
  body.set('password', password);
  const posted = await fetch(form.action, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: jar.header(),
      origin: authorizationUrl.origin,
    },
    body,
  });
  jar.keep(posted);
  const location = posted.headers.get('location');
  check(
    posted.status === 303 && location,
    `POST sign-in form: HTTP ${posted.status}, expected 303 with Location`,
    await posted.text(),
  );
  const callback = new URL(location, form.action);
  check(
    callback.origin + callback.pathname === expectedRedirectUri,
    `redirected to ${callback}, not to the redirect_uri ${expectedRedirectUri}`,
  );
  return callback;
}

// --- The flows ----------------------------------------------------------------

function authorizationUrl(as, clientId, redirectUri, scope, { state, nonce, challenge }) {
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', scope);
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  url.searchParams.set('code_challenge', challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url;
}

/** A resource server's view (RFC 9068) of a JWT access token. */
async function validateAccessToken(as, accessToken, audience) {
  const request = new Request(new URL('/resource', as.issuer), {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  return oauth.validateJwtAccessToken(as, request, audience, insecure);
}

async function introspect(as, client, auth, token) {
  const response = await oauth.introspectionRequest(as, client, auth, token, insecure);
  return oauth.processIntrospectionResponse(as, client, response);
}

async function codeFlow(as, client, auth, redirectUri, scope, email, password, label) {
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  step(`${label} PKCE`, `S256 challenge ${challenge}`);

  const url = authorizationUrl(as, client.client_id, redirectUri, scope, { state, nonce, challenge });
  step(`${label} authorization URL`, url.href);

  const callback = await signIn(url, email, password, redirectUri);
  step(`${label} hosted sign-in`, `303 to ${callback.origin}${callback.pathname}`);

  const params = oauth.validateAuthResponse(as, client, callback, state);
  step(`${label} validateAuthResponse`, `state matches, iss=${params.get('iss')}`);

  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    auth,
    params,
    redirectUri,
    verifier,
    insecure,
  );
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
    expectedNonce: nonce,
    requireIdToken: true,
  });
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  // The ID token's signature, against the issuer's jwks_uri.
  await oauth.validateApplicationLevelSignature(as, response, insecure);
  step(
    `${label} authorization_code grant`,
    `token_type=${tokens.token_type} scope="${tokens.scope}" ID token valid (sub=${claims.sub}, nonce, signature)`,
  );
  return { tokens, claims, params, verifier };
}

/** Resolves with the library's error, or fails when `promise` resolves. */
async function rejection(promise, what) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error(`${what} was accepted`);
}

async function main() {
  const args = readArgs();
  const issuer = new URL(args.issuer);

  // 1. Discovery (OpenID Connect Discovery 1.0, issuer checked).
  const discovery = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure });
  const as = await oauth.processDiscoveryResponse(issuer, discovery);
  // validateAuthResponse enforces RFC 9207 `iss` only when it is advertised.
  check(
    as.authorization_response_iss_parameter_supported === true,
    'discovery does not advertise authorization_response_iss_parameter_supported',
    as,
  );
  check(as.code_challenge_methods_supported?.includes('S256'), 'discovery does not advertise PKCE S256', as);
  step('discovery', `issuer ${as.issuer}`);

  // 2. Confidential client, client_secret_basic.
  const client = { client_id: args['client-id'] };
  const auth = oauth.ClientSecretBasic(args['client-secret']);

  // An error goes back to the redirect URI with state and iss (RFC 6749
  // 4.1.2.1, RFC 9207 2): prompt=none without a session is login_required.
  {
    const state = oauth.generateRandomState();
    const url = authorizationUrl(as, client.client_id, args['redirect-uri'], 'openid', {
      state,
      nonce: oauth.generateRandomNonce(),
      challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    });
    url.searchParams.set('prompt', 'none');
    const response = await fetch(url, { redirect: 'manual' });
    const location = response.headers.get('location');
    check(response.status === 303 && location, `prompt=none: HTTP ${response.status}, expected 303`, await response.text());
    const err = await rejection(
      Promise.resolve().then(() => oauth.validateAuthResponse(as, client, new URL(location), state)),
      'an error response',
    );
    if (!(err instanceof oauth.AuthorizationResponseError)) throw err;
    check(err.error === 'login_required', `prompt=none: error ${err.error}, expected login_required`, err.cause);
    step('authorization error response', `error=${err.error}, state and iss valid`);
  }
  const { tokens, claims } = await codeFlow(
    as,
    client,
    auth,
    args['redirect-uri'],
    'openid profile email offline_access',
    args.email,
    args.password,
    'confidential',
  );
  if (args['user-id']) {
    check(claims.sub === args['user-id'], `ID token sub ${claims.sub}, expected ${args['user-id']}`, claims);
  }
  check(claims.email === args.email, `ID token email ${claims.email}, expected ${args.email}`, claims);
  check(tokens.refresh_token, 'no refresh_token for offline_access', tokens);

  const atClaims = await validateAccessToken(as, tokens.access_token, client.client_id);
  check(atClaims.sub === claims.sub, 'access token sub differs from the ID token sub', atClaims);
  step('access token (RFC 9068)', `typ at+jwt, signature, iss, aud=${atClaims.aud}, client_id valid`);

  // 3. UserInfo, with the subject from the ID token.
  {
    const response = await oauth.userInfoRequest(as, client, tokens.access_token, insecure);
    const info = await oauth.processUserInfoResponse(as, client, claims.sub, response);
    check(info.email === args.email, `userinfo email ${info.email}`, info);
    step('userinfo', `sub=${info.sub} email=${info.email}`);
  }

  // 4. Refresh.
  let refreshed;
  {
    const response = await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, insecure);
    refreshed = await oauth.processRefreshTokenResponse(as, client, response);
    const refreshedIdToken = oauth.getValidatedIdTokenClaims(refreshed);
    if (refreshedIdToken) {
      // OpenID Connect Core 12.2: same iss, sub, aud as the original.
      check(refreshedIdToken.sub === claims.sub, 'refreshed ID token has another sub', refreshedIdToken);
      await oauth.validateApplicationLevelSignature(as, response, insecure);
    }
    check(refreshed.access_token !== tokens.access_token, 'refresh returned the same access token');
    step(
      'refresh_token grant',
      `new access token${refreshed.refresh_token ? ', rotated refresh token' : ''}${refreshedIdToken ? ', ID token valid' : ''}`,
    );
  }
  const refreshToken = refreshed.refresh_token ?? tokens.refresh_token;

  // 5. Introspection, revocation, introspection.
  {
    const active = await introspect(as, client, auth, refreshed.access_token);
    check(active.active === true, 'introspection of a fresh access token: not active', active);
    check(active.sub === claims.sub, `introspection sub ${active.sub}`, active);
    check(active.client_id === client.client_id, `introspection client_id ${active.client_id}`, active);
    step('introspection', `active=true sub=${active.sub} client_id=${active.client_id}`);

    const response = await oauth.revocationRequest(as, client, auth, refreshed.access_token, insecure);
    await oauth.processRevocationResponse(response);
    step('revocation', 'access token revoked');

    const inactive = await introspect(as, client, auth, refreshed.access_token);
    check(inactive.active === false, 'introspection after revocation: still active', inactive);
    step('introspection after revocation', 'active=false');
  }
  {
    const active = await introspect(as, client, auth, refreshToken);
    check(active.active === true, 'introspection of the refresh token: not active', active);
    const response = await oauth.revocationRequest(as, client, auth, refreshToken, insecure);
    await oauth.processRevocationResponse(response);
    const inactive = await introspect(as, client, auth, refreshToken);
    check(inactive.active === false, 'refresh token still active after revocation', inactive);
    const again = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, insecure);
    const refused = await rejection(
      oauth.processRefreshTokenResponse(as, client, again),
      'a revoked refresh token',
    );
    if (!(refused instanceof oauth.ResponseBodyError)) throw refused;
    check(refused.error === 'invalid_grant', `a revoked refresh token: ${refused.error}, expected invalid_grant`, refused.cause);
    step('refresh token revocation', `introspection active=false, grant refused: ${refused.status} ${refused.error}`);
  }

  // 6. Client credentials.
  {
    const response = await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'reports:read' }, insecure);
    const cc = await oauth.processClientCredentialsResponse(as, client, response);
    check(cc.refresh_token === undefined && cc.id_token === undefined, 'client_credentials gave a refresh or ID token', cc);
    const ccClaims = await validateAccessToken(as, cc.access_token, client.client_id);
    check(ccClaims.sub === client.client_id, `client_credentials token sub ${ccClaims.sub}`, ccClaims);
    const active = await introspect(as, client, auth, cc.access_token);
    check(active.active === true, 'client_credentials token not active', active);
    step('client_credentials grant', `scope="${cc.scope}" sub=${ccClaims.sub}, RFC 9068 valid, active=true`);
  }

  // 7. Public client: PKCE, no secret (`none`), its own tokens only.
  {
    const publicClient = { client_id: args['public-client-id'], token_endpoint_auth_method: 'none' };
    const none = oauth.None();
    const { tokens: pub, claims: pubClaims, params, verifier } = await codeFlow(
      as,
      publicClient,
      none,
      args['public-redirect-uri'],
      'openid profile email',
      args.email,
      args.password,
      'public',
    );
    check(pubClaims.sub === claims.sub, 'the public client sees another sub', pubClaims);
    await validateAccessToken(as, pub.access_token, publicClient.client_id);
    const response = await oauth.userInfoRequest(as, publicClient, pub.access_token, insecure);
    const info = await oauth.processUserInfoResponse(as, publicClient, pubClaims.sub, response);
    step('public userinfo', `sub=${info.sub}`);

    const active = await introspect(as, publicClient, none, pub.access_token);
    check(active.active === true, 'public client introspecting its own token: not active', active);
    const revoked = await oauth.revocationRequest(as, publicClient, none, pub.access_token, insecure);
    await oauth.processRevocationResponse(revoked);
    const inactive = await introspect(as, publicClient, none, pub.access_token);
    check(inactive.active === false, 'public client token still active after revocation', inactive);
    step('public introspection/revocation', 'active=true, revoked, active=false');

    // A code is single use.
    const replay = await oauth.authorizationCodeGrantRequest(
      as,
      publicClient,
      none,
      params,
      args['public-redirect-uri'],
      verifier,
      insecure,
    );
    const refused = await rejection(
      oauth.processAuthorizationCodeResponse(as, publicClient, replay),
      'a replayed authorization code',
    );
    if (!(refused instanceof oauth.ResponseBodyError)) throw refused;
    check(refused.error === 'invalid_grant', `code replay: ${refused.error}, expected invalid_grant`, refused.cause);
    step('public code replay', `refused: ${refused.status} ${refused.error}`);
  }

  // 8. A single-page app: NotRequiredWhenUsingPKCE, used without its secret
  // (`none`), refreshing twice, introspecting and revoking its own tokens.
  if (args['spa-client-id']) {
    const spa = { client_id: args['spa-client-id'], token_endpoint_auth_method: 'none' };
    const none = oauth.None();
    const { tokens } = await codeFlow(
      as,
      spa,
      none,
      args['public-redirect-uri'],
      'openid offline_access',
      args.email,
      args.password,
      'spa',
    );
    check(typeof tokens.refresh_token === 'string', 'the SPA got no refresh token', tokens);
    let refreshToken = tokens.refresh_token;
    for (const round of [1, 2]) {
      const response = await oauth.refreshTokenGrantRequest(as, spa, none, refreshToken, insecure);
      const refreshed = await oauth.processRefreshTokenResponse(as, spa, response);
      check(
        typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== refreshToken,
        `SPA refresh ${round} did not rotate`,
        refreshed,
      );
      refreshToken = refreshed.refresh_token;
      await validateAccessToken(as, refreshed.access_token, spa.client_id);
    }
    step('spa refresh (twice)', 'client_id alone, rotated each time');
    const active = await introspect(as, spa, none, refreshToken);
    check(active.active === true && active.token_type === 'refresh_token', 'SPA introspecting its refresh token', active);
    const revoked = await oauth.revocationRequest(as, spa, none, refreshToken, insecure);
    await oauth.processRevocationResponse(revoked);
    const inactive = await introspect(as, spa, none, refreshToken);
    check(inactive.active === false, 'SPA refresh token still active after revocation', inactive);
    const again = await oauth.refreshTokenGrantRequest(as, spa, none, refreshToken, insecure);
    const refused = await rejection(oauth.processRefreshTokenResponse(as, spa, again), 'a revoked SPA refresh token');
    if (!(refused instanceof oauth.ResponseBodyError)) throw refused;
    check(refused.error === 'invalid_grant', `revoked SPA refresh: ${refused.error}`, refused.cause);
    step('spa introspection/revocation', 'active=true, revoked, active=false, refresh refused');
  }

  console.log('PASS oauth4webapi: every step succeeded');
}

async function describe(value) {
  if (value instanceof Response) {
    const body = value.bodyUsed ? '(body already read)' : await value.text().catch((e) => `(${e})`);
    return `HTTP ${value.status} ${inspect(Object.fromEntries(value.headers))}\n  body: ${body}`;
  }
  if (typeof value === 'string') {
    return value.length > 4000 ? `${value.slice(0, 4000)}… (${value.length} chars)` : value;
  }
  return inspect(value, { depth: 6, breakLength: 120 });
}

// A hung request must not hang the test; the Rust side has its own timeout.
const watchdog = setTimeout(() => {
  console.error('FAIL oauth4webapi: timed out after 90 s (the last "ok" line is the last step that finished)');
  process.exit(1);
}, 90_000);
watchdog.unref();

try {
  await main();
} catch (err) {
  console.error(`FAIL ${err?.name ?? 'Error'}${err?.code ? ` [${err.code}]` : ''}: ${err?.message ?? err}`);
  for (const key of ['error', 'error_description', 'status']) {
    if (err?.[key] !== undefined) console.error(`  ${key}: ${err[key]}`);
  }
  if (err?.cause !== undefined) console.error(`  cause: ${await describe(err.cause)}`);
  if (err?.response instanceof Response) console.error(`  response: ${await describe(err.response)}`);
  if (err?.stack) console.error(err.stack.split('\n').slice(1, 6).join('\n'));
  process.exitCode = 1;
}
