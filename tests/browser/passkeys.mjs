// Second factors and passkeys on the sign-in center's pages, in headless Chromium (issue 13). A virtual
// authenticator (Chrome DevTools Protocol WebAuthn domain: a platform authenticator with resident keys
// and user verification) stands in for the phone's; openid-client is the relying party that checks the
// ID tokens. tests/e2e/test_center_browser.py runs it and reads what it prints.
//
// Input (environment): ISSUER (http://localhost:<port>: WebAuthn refuses IP addresses), CLIENT (JSON:
// {client_id, redirect_uri}), PASSKEY_USER / TOTP_USER (usernames), PASSWORD, TOTP_SECRET (base32, of
// TOTP_USER), SCREENSHOTS (a folder), CHROMIUM (the executable).
// Output: one JSON object on stdout; any failed check throws (exit code 1).
import * as oidc from 'openid-client'
import { discover, launch, startFlow } from './rp.mjs'
import { createHmac } from 'node:crypto'
import { mkdirSync } from 'node:fs'

const issuer = process.env.ISSUER
const client = JSON.parse(process.env.CLIENT)
const shots = process.env.SCREENSHOTS
mkdirSync(shots, { recursive: true })
const result = {}

function check (condition, message) {
  if (!condition) throw new Error(message)
}

// RFC 6238 with SHA-1, 6 digits, 30 s: what an authenticator app shows for the secret.
function totp (secret, at = Date.now() / 1000) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const ch of secret.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0')
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)))
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30)))
  const mac = createHmac('sha1', key).update(counter).digest()
  const offset = mac[mac.length - 1] & 0xf
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0')
}

const config = await discover(issuer, client.client_id)
const start = (extra = {}) => startFlow(config, client.redirect_uri, 'openid profile', extra)

async function finish (page, flow) {
  await page.waitForURL((u) => u.href.startsWith(client.redirect_uri))
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true
  })
  return tokens.claims()
}

const browser = await launch()
try {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 } })
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true
    }
  })

  // 1. A password sign-in, then the prompt: "sign in faster next time with a passkey" -> create one
  const first = await start()
  await page.goto(first.url.href)
  result.autofill_field = await page.locator('#username').getAttribute('autocomplete')
  result.autofill_available = await page.evaluate(() =>
    window.PublicKeyCredential && PublicKeyCredential.isConditionalMediationAvailable
      ? PublicKeyCredential.isConditionalMediationAvailable() : false)
  result.passkey_button = await page.locator('#passkey-sign-in').isVisible()
  await page.getByLabel('用户名 / 邮箱 / 手机号').fill(process.env.PASSKEY_USER)
  await page.getByLabel('密码').fill(process.env.PASSWORD)
  await page.getByRole('button', { name: '登录', exact: true }).click()
  await page.locator('#passkey-add').waitFor({ state: 'visible' })
  result.prompt_title = await page.locator('h1').innerText()
  await page.screenshot({ path: `${shots}/7-passkey-prompt.png`, fullPage: true })
  await page.locator('#passkey-add').click()
  const firstClaims = await finish(page, first)
  result.password_amr = firstClaims.amr
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
  result.stored = credentials.map((c) => ({ resident: c.isResidentCredential, rp: c.rpId, count: c.signCount }))

  // 2. Signed out (cookies gone): the passkey alone signs in. Chromium offers autofill (conditional
  // mediation), which the page starts at once; the virtual authenticator answers it by itself.
  await context.clearCookies()
  const second = await start()
  await page.goto(second.url.href)
  const autofillClaims = await finish(page, second)
  result.autofill_sub_same = autofillClaims.sub === firstClaims.sub
  result.autofill_amr = autofillClaims.amr
  const after = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]
  result.count_after = after.signCount

  // 2b. A browser without autofill: the passkey button. The same passkey, copied into this browser's
  // authenticator (as a synced passkey would arrive).
  const plain = await browser.newContext({ locale: 'zh-CN' })
  await plain.addInitScript(() => {
    if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false
  })
  const buttonPage = await plain.newPage()
  const cdp2 = await plain.newCDPSession(buttonPage)
  await cdp2.send('WebAuthn.enable')
  const second2 = await cdp2.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
  })
  await cdp2.send('WebAuthn.addCredential', { authenticatorId: second2.authenticatorId, credential: after })
  const third0 = await start()
  await buttonPage.goto(third0.url.href)
  await buttonPage.screenshot({ path: `${shots}/8-passkey-sign-in.png`, fullPage: true })
  await buttonPage.locator('#passkey-sign-in').click()
  const buttonClaims = await finish(buttonPage, third0)
  result.button_sub_same = buttonClaims.sub === firstClaims.sub
  result.button_amr = buttonClaims.amr
  await plain.close()

  // 3. The account page lists it
  await page.goto(`${issuer}/account`)
  result.account_passkeys = await page.locator('#passkey-list li').count()
  await page.screenshot({ path: `${shots}/9-account-passkeys.png`, fullPage: true })

  // 4. A TOTP user: password, then the code page (and the lost-device path is offered)
  await context.clearCookies()
  const third = await start()
  await page.goto(third.url.href)
  await page.getByLabel('用户名 / 邮箱 / 手机号').fill(process.env.TOTP_USER)
  await page.getByLabel('密码').fill(process.env.PASSWORD)
  await page.getByRole('button', { name: '登录', exact: true }).click()
  await page.locator('#mfa_code').waitFor({ state: 'visible' })
  result.mfa_title = await page.locator('h1').innerText()
  result.recovery_link = await page.getByRole('link', { name: '手机丢了？使用恢复码' }).isVisible()
  await page.screenshot({ path: `${shots}/10-totp-step.png`, fullPage: true })
  await page.locator('#mfa_code').fill(totp(process.env.TOTP_SECRET))
  await page.getByRole('button', { name: '验证' }).click()
  const skip = page.locator('#passkey-skip') // this person has no passkey yet: the prompt, skipped
  await skip.waitFor({ state: 'visible' })
  await skip.click()
  result.totp_amr = (await finish(page, third)).amr

  // 5. Inside WeChat's browser: no passkey at all, WeChat and SMS codes offered instead
  const wechat = await browser.newContext({
    locale: 'zh-CN',
    userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.50 NetType/WIFI'
  })
  const inside = await wechat.newPage()
  await inside.goto((await start()).url.href)
  result.webview_button = await inside.locator('#passkey-sign-in').count()
  result.webview_notice = await inside.locator('#passkey-webview').innerText()
  result.webview_tabs = await inside.locator('nav.tabs a').allInnerTexts()
  await inside.screenshot({ path: `${shots}/11-wechat-no-passkey.png`, fullPage: true })
} finally {
  await browser.close()
}
check(result.password_amr, 'no ID token')
console.log(JSON.stringify(result))
