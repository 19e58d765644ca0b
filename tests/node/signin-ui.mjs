// The hosted sign-in page, used by a person in a real browser: Debian's
// headless Chromium (/usr/bin/chromium) driven by playwright-core, with
// JavaScript off. Run by crates/lamba/tests/it/signin_ui.rs; by hand:
//
//   node tests/node/signin-ui.mjs --url 'http://127.0.0.1:8080/connect/authorize?client_id=…' \
//     --application 'Acme' --email ada@example.com --password '...' \
//     --redirect-uri https://app.example.com/callback --screenshot /tmp/signin.png \
//     [--error-screenshot /tmp/signin-error.png] [--provider-button 'Sign in with Acme SSO']
//
// `--url` is a complete authorization request (PKCE, state, …) whose
// redirect_uri starts with `--redirect-uri`. The browser never reaches the
// network: every request is intercepted before it is sent — the Lamba server
// passes, the redirect URI's host gets a tiny page of ours, anything else is
// failed and reported — and host-name resolution is disabled outright.
// No browser is ever downloaded (`npx playwright install` is never needed).
//
// One line per check; exit 1 with a message on the first failure.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const GENERIC_ERROR = 'The email or password is not correct.';
const OPTIONS = {
  url: { type: 'string' },
  application: { type: 'string' },
  email: { type: 'string' },
  password: { type: 'string' },
  'redirect-uri': { type: 'string' },
  screenshot: { type: 'string' },
  'error-screenshot': { type: 'string' },
  'provider-button': { type: 'string' },
};
const REQUIRED = ['url', 'application', 'email', 'password', 'redirect-uri', 'screenshot'];

function readArgs() {
  const { values } = parseArgs({ args: process.argv.slice(2), options: OPTIONS, strict: true });
  const missing = REQUIRED.filter((k) => !values[k]);
  if (missing.length) {
    throw new Error(`missing arguments: ${missing.map((k) => `--${k}`).join(' ')}`);
  }
  return values;
}

function step(name, detail = '') {
  console.log(`ok   ${name}${detail ? `: ${detail}` : ''}`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function same(actual, expected, what) {
  check(actual === expected, `${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

/** The `id` (or tag name) of the focused element, for messages. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    return el ? el.id || el.tagName.toLowerCase() : null;
  });
}

/** Whether `locator`'s element has the focus, and a visible focus ring. */
function focusState(locator) {
  return locator.evaluate((el) => {
    const style = getComputedStyle(el);
    return {
      focused: el === document.activeElement,
      visible: el.matches(':focus-visible'),
      outline: `${style.outlineStyle} ${style.outlineWidth}`,
    };
  });
}

async function expectFocus(page, locator, what) {
  const state = await focusState(locator);
  check(state.focused, `${what} should have the focus; it is on ${JSON.stringify(await focused(page))}`);
  check(
    state.visible && !state.outline.startsWith('none') && !state.outline.endsWith(' 0px'),
    `${what} has the keyboard focus but no visible focus ring (:focus-visible ${state.visible}, outline ${state.outline})`,
  );
  return state;
}

const CALLBACK_PAGE =
  '<!doctype html><title>Callback</title><p id="js">JavaScript off</p>' +
  '<script>document.getElementById("js").textContent = "JavaScript ran"</script>';

/**
 * Intercepts every request of `page` before it is sent: the Lamba server's
 * pass, the redirect URI's host gets CALLBACK_PAGE (a 404 off its path), and
 * anything else is failed and listed in the returned array.
 *
 * This is CDP's Fetch domain, the mechanism under `page.route`, used directly
 * because `page.route`/`context.route` never see a redirect's next hop
 * (documented, and so in practice: Chromium went on to resolve
 * app.example.com after the server's 303). Fetch.requestPaused does fire for
 * that hop. Playwright's own routing stays off, so nothing else intercepts.
 */
async function keepOffTheNetwork(context, page, server, redirect) {
  const blocked = [];
  const cdp = await context.newCDPSession(page);
  cdp.on('Fetch.requestPaused', async ({ requestId, request }) => {
    const url = new URL(request.url);
    try {
      if (url.origin === server) {
        await cdp.send('Fetch.continueRequest', { requestId });
      } else if (url.host === redirect.host) {
        const found = url.pathname === redirect.pathname;
        await cdp.send('Fetch.fulfillRequest', {
          requestId,
          responseCode: found ? 200 : 404,
          responseHeaders: [{ name: 'Content-Type', value: 'text/html; charset=utf-8' }],
          body: Buffer.from(found ? CALLBACK_PAGE : 'not found').toString('base64'),
        });
      } else {
        blocked.push(url.href);
        await cdp.send('Fetch.failRequest', { requestId, errorReason: 'BlockedByClient' });
      }
    } catch {
      // The page or the request is gone (closing); nothing to answer.
    }
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*', requestStage: 'Request' }] });
  return blocked;
}

/** Submits by pressing Enter in `field`; resolves with the POST's response. */
async function submitWithEnter(page, field) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/connect/authorize'),
    field.press('Enter'),
  ]);
  return response;
}

async function main() {
  const args = readArgs();
  const authorize = new URL(args.url);
  const server = authorize.origin;
  const redirectPrefix = args['redirect-uri'];
  const redirectHost = new URL(redirectPrefix).host;
  const expectedState = authorize.searchParams.get('state');
  check(expectedState, '--url has no state parameter');
  const heading = `Sign in to ${args.application}`;

  const profile = mkdtempSync(join(tmpdir(), 'lamba-chromium-'));
  let context;
  try {
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        // Playwright adds --user-data-dir=<profile> itself.
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          // Belt and braces: no host name ever resolves, so nothing that
          // slipped past the interception could reach the network.
          '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
        ],
        // The form must work without any script.
        javaScriptEnabled: false,
        viewport: { width: 1280, height: 800 },
        locale: 'en-US',
      });
    } catch (err) {
      throw new Error(
        `cannot launch ${CHROMIUM} (install Debian's chromium: apt-get install chromium): ${err.message}`,
      );
    }
    step('launch', `Chromium ${context.browser()?.version() ?? '?'} (${CHROMIUM}), JavaScript disabled`);

    const page = context.pages()[0] ?? (await context.newPage());
    const blocked = await keepOffTheNetwork(context, page, server, new URL(redirectPrefix));

    // 1. The page names the application.
    const opened = await page.goto(authorize.href);
    same(opened?.status(), 200, 'GET /connect/authorize status');
    same(await page.title(), heading, 'page title');
    const h1 = page.getByRole('heading', { level: 1 });
    same(await h1.count(), 1, 'number of h1 headings');
    same((await h1.innerText()).trim(), heading, 'h1');
    step('title and h1 name the application', JSON.stringify(heading));

    // 2. The fields, found by their labels, as a screen reader would.
    const email = page.getByLabel('Email', { exact: true });
    const password = page.getByLabel('Password', { exact: true });
    const submit = page.getByRole('button', { name: 'Sign in', exact: true });
    for (const [locator, what] of [
      [email, 'the field labelled "Email"'],
      [password, 'the field labelled "Password"'],
      [submit, 'the "Sign in" button'],
    ]) {
      same(await locator.count(), 1, `number of ${what}`);
      check(await locator.isVisible(), `${what} is not visible`);
    }
    same(await email.getAttribute('type'), 'email', 'Email input type');
    same(await email.getAttribute('autocomplete'), 'username', 'Email autocomplete');
    same(await password.getAttribute('type'), 'password', 'Password input type');
    same(await password.getAttribute('autocomplete'), 'current-password', 'Password autocomplete');
    same(await page.getByRole('alert').count(), 0, 'alerts before any attempt');
    step('email and password reachable by their labels', 'type=email autocomplete=username; type=password autocomplete=current-password');

    // 3. The card is centred in the viewport.
    const card = await page.locator('main').boundingBox();
    const viewport = page.viewportSize();
    check(card, 'no <main> card on the page');
    const left = card.x;
    const right = viewport.width - (card.x + card.width);
    const top = card.y;
    const bottom = viewport.height - (card.y + card.height);
    check(Math.abs(left - right) <= 2, `the card is not centred horizontally (left ${left}px, right ${right}px)`);
    check(Math.abs(top - bottom) <= 2, `the card is not centred vertically (top ${top}px, bottom ${bottom}px)`);
    step('card centred', `${Math.round(card.width)}×${Math.round(card.height)} px in ${viewport.width}×${viewport.height}`);

    // 4. Keyboard: the email field has the focus on arrival; Tab goes to the
    // password, then to the button, each with a visible focus ring.
    await expectFocus(page, email, 'on arrival, the Email field');
    await email.pressSequentially(args.email);
    await page.keyboard.press('Tab');
    await expectFocus(page, password, 'after Tab from Email, the Password field');
    await page.keyboard.press('Tab');
    const ring = await expectFocus(page, submit, 'after a second Tab, the Sign in button');
    step('keyboard: Email → Tab → Password → Tab → Sign in', `focus ring ${ring.outline}`);

    // 4b. An identity provider's button: after the password form, in a
    // region labelled by its heading, named by its text, reachable by Tab.
    if (args['provider-button']) {
      const region = page.getByRole('region', { name: 'Or continue with' });
      same(await region.count(), 1, 'number of "Or continue with" regions');
      const provider = region.getByRole('button', { name: args['provider-button'], exact: true });
      same(await provider.count(), 1, `number of "${args['provider-button']}" buttons`);
      await page.keyboard.press('Tab');
      const providerRing = await expectFocus(page, provider, `after Tab from Sign in, the "${args['provider-button']}" button`);
      await page.keyboard.press('Shift+Tab');
      await expectFocus(page, submit, 'after Shift+Tab from the provider button, the Sign in button');
      step('provider button reachable by Tab and labelled', `${JSON.stringify(args['provider-button'])}, focus ring ${providerRing.outline}`);
    }

    // 5. The screenshot: the email typed, the focus on the password field.
    await page.keyboard.press('Shift+Tab');
    await expectFocus(page, password, 'after Shift+Tab from the button, the Password field');
    await page.screenshot({ path: args.screenshot, fullPage: true });
    step('screenshot', args.screenshot);

    // 6. A wrong password: a generic alert, the email kept, the password not.
    await password.fill('not the password');
    const rejected = await submitWithEnter(page, password);
    await page.waitForLoadState('load');
    same(rejected.status(), 401, 'wrong password: POST /connect/authorize status');
    const alert = page.getByRole('alert');
    same(await alert.count(), 1, 'wrong password: number of role=alert elements');
    same((await alert.innerText()).trim(), GENERIC_ERROR, 'wrong password: the alert');
    same(await email.inputValue(), args.email, 'wrong password: the Email field');
    same(await password.inputValue(), '', 'wrong password: the Password field');
    same(await email.getAttribute('aria-describedby'), await alert.getAttribute('id'), 'Email aria-describedby');
    same(await page.getByLabel('Password').getAttribute('aria-describedby'), await alert.getAttribute('id'), 'Password aria-describedby');
    same(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true', 'Password aria-invalid');
    same(await page.title(), `Error: ${heading}`, 'wrong password: page title says Error first');
    await expectFocus(page, password, 'after a wrong password, the Password field');
    if (args['error-screenshot']) await page.screenshot({ path: args['error-screenshot'], fullPage: true });
    step('wrong password', `HTTP 401, role=alert ${JSON.stringify(GENERIC_ERROR)}, email kept, focus on Password`);

    // 7. The right password: a redirect to the client with code and state.
    await password.fill(args.password);
    const [, accepted] = await Promise.all([
      page.waitForURL((url) => url.href.startsWith(redirectPrefix), { waitUntil: 'load' }),
      submitWithEnter(page, password),
    ]);
    same(accepted.status(), 303, 'right password: POST /connect/authorize status');
    const landed = new URL(page.url());
    same(accepted.headers().location, landed.href, 'the page the browser landed on');
    const code = landed.searchParams.get('code');
    check(code, `redirected without a code: ${landed.href}`);
    same(landed.searchParams.get('state'), expectedState, 'state on the redirect');
    same(landed.searchParams.get('iss'), server, 'iss on the redirect');
    check(!landed.searchParams.has('error'), `redirected with an error: ${landed.href}`);
    same(await page.locator('#js').innerText(), 'JavaScript off', 'the callback page (scripts must not run)');
    step('right password', `redirected to ${landed.origin}${landed.pathname} with code and state`);

    // 8. The cookies the browser keeps.
    const cookies = await context.cookies(server);
    const session = cookies.find((c) => c.name === 'lamba_session');
    check(session, `no lamba_session cookie; the browser has ${JSON.stringify(cookies.map((c) => c.name))}`);
    for (const cookie of cookies.filter((c) => c.name.startsWith('lamba_'))) {
      check(cookie.httpOnly, `the ${cookie.name} cookie is not HttpOnly`);
      same(cookie.sameSite, 'Lax', `the ${cookie.name} cookie's SameSite`);
      same(cookie.path, '/', `the ${cookie.name} cookie's Path`);
    }
    step('cookies', cookies.map((c) => `${c.name} HttpOnly SameSite=${c.sameSite}`).join(', '));

    check(blocked.length === 0, `the browser tried to reach the network: ${blocked.join(', ')}`);
    step('network', `only ${server} and the intercepted ${redirectHost} were requested`);
  } finally {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
  console.log('PASS signin-ui: every check succeeded');
}

// A hung browser must not hang the test; the Rust side has its own timeout.
const watchdog = setTimeout(() => {
  console.error('FAIL signin-ui: timed out after 90 s (the last "ok" line is the last check that finished)');
  process.exit(1);
}, 90_000);
watchdog.unref();

try {
  await main();
} catch (err) {
  console.error(`FAIL signin-ui: ${err?.message ?? err}`);
  if (err?.stack) console.error(err.stack.split('\n').slice(1, 6).join('\n'));
  process.exitCode = 1;
}
