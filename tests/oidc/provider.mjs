// A real OpenID provider for the sign-in tests: npm's `oidc-provider` (OpenID Certified), with
// the accounts and claims a test writes to a JSON file, read again at every sign-in.
//
//   node provider.mjs ACCOUNTS.json CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI
//
// It listens on 127.0.0.1 on a free port and prints `listening <issuer>` once ready. Logging in
// uses the provider's own development login form (any password); consent is granted for the
// one client, as a province's first-party portal does.
//
// For the refusals a real provider never produces on its own, `POST /_test/tamper` with a body
// `expired`, `foreign_audience`, `foreign_issuer`, `wrong_nonce`, `alg_none`, `hmac` or
// `unknown_key` makes the provider's next token response carry an ID token altered that way
// (re-signed with the provider's own key, where a signature is wanted); `rotated_key` signs it
// with a new key that the provider's JWKS publishes from then on, as a real key rotation does. The token endpoint
// itself, the code's single use and PKCE stay the provider's.

import Provider from 'oidc-provider';
import * as jose from 'jose';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [accountsFile, clientId, clientSecret, redirectUri, postLogoutUri] = process.argv.slice(2);
if (!postLogoutUri) {
  console.error('usage: provider.mjs ACCOUNTS.json CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI');
  process.exit(2);
}

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
// A key the provider never publishes, for `unknown_key`.
const { privateKey: strayKey } = await jose.generateKeyPair('RS256');
// The key it rotates to, for `rotated_key`: published from then on, beside the first.
const { privateKey: nextKey, publicKey: nextPublic } = await jose.generateKeyPair('RS256', { extractable: true });
const nextJwk = { ...(await jose.exportJWK(nextPublic)), kid: 'test-key-2', alg: 'RS256', use: 'sig' };
let rotated = false;

const accounts = () => JSON.parse(readFileSync(accountsFile, 'utf8'));

let tamper = null;

// The issuer names the port: listen first, then mount the provider.
const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingJwk] },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name', 'ioc_role', 'ioc_unit', 'groups'],
    email: ['email'],
  },
  cookies: { keys: ['oidc-provider-test-cookie-key'] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    const claims = accounts()[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  // The one client is the province's own: its scopes and claims need no consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    grant.addOIDCClaims(['preferred_username', 'name', 'ioc_role', 'ioc_unit', 'groups', 'email']);
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function altered(idToken, how) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  const sign = (payload, key = privateKey, kid = signingJwk.kid) =>
    new jose.SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
  switch (how) {
    case 'expired': return sign({ ...claims, iat: now - 7200, exp: now - 3600 });
    case 'foreign_audience': return sign({ ...claims, aud: 'another-client' });
    case 'foreign_issuer': return sign({ ...claims, iss: 'https://sso.elsewhere.example' });
    case 'wrong_nonce': return sign({ ...claims, nonce: 'not-the-nonce-of-this-sign-in' });
    case 'alg_none': return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    case 'hmac':
      return new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: signingJwk.kid })
        .sign(new TextEncoder().encode(clientSecret));
    case 'unknown_key': return sign(claims, strayKey, 'never-published');
    case 'rotated_key': rotated = true; return sign(claims, nextKey, nextJwk.kid);
    default: throw new Error(`unknown tamper ${how}`);
  }
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/_test/tamper' && ctx.method === 'POST') {
    let body = '';
    for await (const chunk of ctx.req) body += chunk;
    tamper = body.trim() || null;
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/jwks' && rotated && Array.isArray(ctx.body?.keys)) {
    ctx.body = { keys: [...ctx.body.keys, nextJwk] };
  }
  if (ctx.path === '/token' && ctx.status === 200 && tamper && ctx.body?.id_token) {
    const how = tamper;
    tamper = null;
    ctx.body = { ...ctx.body, id_token: await altered(ctx.body.id_token, how) };
  }
});

server.on('request', provider.callback());
console.log(`listening ${issuer}`);
