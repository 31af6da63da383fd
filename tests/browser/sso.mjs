// The sign-in center driven as a real relying party would: openid-client (an OpenID-certified RP library)
// does discovery, PKCE, the code exchange with ID token validation (signature, iss, aud, nonce, RFC 9207
// iss in the response), userinfo and refresh; headless Chromium (Debian's, through playwright-core) is the
// browser on the center's pages. tests/e2e/test_center_browser.py runs it and reads what it prints.
//
// Input (environment): ISSUER, CLIENTS (JSON: [{client_id, redirect_uri, post_logout_redirect_uri}, x2]),
// USERNAME, PASSWORD, EMAIL (the user's), PHONE (a new number, mainland form), OUTBOX (the local server's
// outbox.jsonl, where codes are "sent"), WECHAT_ID (a mock WeChat user), SCREENSHOTS (a folder), CHROMIUM (the executable).
// Output: one JSON object on stdout; any failed check throws (exit code 1).
import * as oidc from 'openid-client'
import { discover, launch, startFlow } from './rp.mjs'
import { mkdirSync, readFileSync } from 'node:fs'

const issuer = process.env.ISSUER
const clients = JSON.parse(process.env.CLIENTS)
const shots = process.env.SCREENSHOTS
mkdirSync(shots, { recursive: true })
const result = {}

function check (condition, message) {
  if (!condition) throw new Error(message)
}

const configure = (client) => discover(issuer, client.client_id)
const start = (config, client, extra = {}) => startFlow(config, client.redirect_uri, 'openid profile email', extra)

// The browser lands on the client's redirect URI: the test's stand-in client server answers it. The first
// password or code sign-in of a browser may show the "add a passkey" prompt first: "Not now" skips it.
async function landed (page, client) {
  const arrived = (u) => u.href.startsWith(client.redirect_uri) || u.href.startsWith(client.post_logout_redirect_uri)
  const skip = page.locator('#passkey-skip')
  const first = await Promise.race([
    page.waitForURL(arrived).then(() => 'landed', () => 'timeout'),
    skip.waitFor({ state: 'visible' }).then(() => 'prompt', () => 'timeout')
  ])
  if (first === 'prompt' && !arrived(new URL(page.url()))) {
    result.passkey_prompts = (result.passkey_prompts || 0) + 1
    await skip.click()
    await page.waitForURL(arrived)
  }
  return page.url()
}

const browser = await launch()
try {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 } })
  const page = await context.newPage()
  const [shop, blog] = clients
  const shopConfig = await configure(shop)
  const blogConfig = await configure(blog)
  result.discovery = { issuer: shopConfig.serverMetadata().issuer, methods: shopConfig.serverMetadata().code_challenge_methods_supported }

  // 1. Code + PKCE through the sign-in page, in Chinese by default
  const first = await start(shopConfig, shop)
  await page.goto(first.url.href)
  result.page_title = await page.locator('h1').innerText()
  await page.screenshot({ path: `${shots}/1-sign-in-page.png`, fullPage: true })
  await page.getByLabel('用户名 / 邮箱 / 手机号').fill(process.env.USERNAME)
  await page.getByLabel('密码').fill(process.env.PASSWORD)
  await page.getByRole('button', { name: '登录', exact: true }).click()
  const back = await landed(page, shop)
  check(!back.includes('access_token'), 'a token in the URL')
  const tokens = await oidc.authorizationCodeGrant(shopConfig, new URL(back), {
    pkceCodeVerifier: first.verifier, expectedState: first.state, expectedNonce: first.nonce, idTokenExpected: true
  })
  const claims = tokens.claims()
  result.id_token = { sub: claims.sub, aud: claims.aud, amr: claims.amr, sid: claims.sid, nonce_ok: claims.nonce === first.nonce }
  result.userinfo = await oidc.fetchUserInfo(shopConfig, tokens.access_token, claims.sub)
  const refreshed = await oidc.refreshTokenGrant(shopConfig, tokens.refresh_token)
  result.refreshed = refreshed.refresh_token !== tokens.refresh_token && !!refreshed.access_token
  result.access_token = refreshed.access_token

  // 2. Single sign-on into the second client: no page, straight back with a code
  for (const prompt of [undefined, 'none']) {
    const sso = await start(blogConfig, blog, prompt ? { prompt } : {})
    await page.goto(sso.url.href)
    const ssoBack = await landed(page, blog)
    const ssoTokens = await oidc.authorizationCodeGrant(blogConfig, new URL(ssoBack), {
      pkceCodeVerifier: sso.verifier, expectedState: sso.state, expectedNonce: sso.nonce, idTokenExpected: true
    })
    check(ssoTokens.claims().sub === claims.sub, 'single sign-on gave another person')
    check(ssoTokens.claims().sid === claims.sid, 'single sign-on opened another center session')
    result[prompt ? 'sso_prompt_none' : 'sso'] = true
  }

  // 3. RP-initiated logout, back to the registered URI with its state
  const logoutUrl = oidc.buildEndSessionUrl(shopConfig, {
    id_token_hint: tokens.id_token, post_logout_redirect_uri: shop.post_logout_redirect_uri, state: 'bye-1'
  })
  await page.goto(logoutUrl.href)
  result.logout = await landed(page, shop)

  // 4. After it, prompt=none finds no sign-in: login_required to the client
  const none = await start(blogConfig, blog, { prompt: 'none' })
  await page.goto(none.url.href)
  const refused = new URL(await landed(page, blog))
  result.after_logout = refused.searchParams.get('error')
  try {
    await oidc.authorizationCodeGrant(blogConfig, refused, { pkceCodeVerifier: none.verifier, expectedState: none.state })
    result.after_logout_grant = 'accepted'
  } catch (error) {
    result.after_logout_grant = error.error || error.code || error.name
  }

  // 5. The center's own sign-in, then the account page, then signing out there (confirmed on its page)
  await page.goto(`${issuer}/login`)
  await page.getByLabel('用户名 / 邮箱 / 手机号').fill(process.env.USERNAME)
  await page.getByLabel('密码', { exact: true }).fill(process.env.PASSWORD)
  await page.getByRole('button', { name: '登录', exact: true }).click()
  await page.waitForURL(`${issuer}/account`)
  result.account_heading = await page.locator('h1').innerText()
  result.account_username = await page.locator('#account-username').innerText()
  await page.screenshot({ path: `${shots}/6-account.png`, fullPage: true })
  await page.getByRole('link', { name: '退出登录' }).click()
  await page.getByRole('button', { name: '退出登录' }).click()
  await page.waitForSelector('text=您已退出登录')

  // 6. Code sign-ins (an email code proves the email, which takes the password away: API.md section 7): SMS (a new phone registers) and email, codes read from the local outbox
  const outbox = (to) => {
    const lines = readFileSync(process.env.OUTBOX, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    return lines.filter((m) => m.to === to && m.code_type === 'login').pop().code
  }
  for (const [tab, target, label, codeLabel] of [['sms', process.env.PHONE, '手机号', '短信验证码'],
    ['email', process.env.EMAIL, '邮箱', '邮箱验证码']]) {
    const coded = await start(shopConfig, shop, { tab })
    await page.goto(coded.url.href)
    await page.getByLabel(label, { exact: true }).fill(target)
    await page.getByRole('button', { name: '发送验证码' }).click()
    await page.waitForSelector('.notice')
    const countdown = await page.getByRole('button', { name: /发送验证码/ }).innerText()
    await page.screenshot({ path: `${shots}/3-${tab}-code-sent.png`, fullPage: true })
    const to = tab === 'sms' ? '+86' + target : target
    await page.getByLabel(codeLabel, { exact: true }).fill(outbox(to))
    await page.getByRole('button', { name: '登录', exact: true }).click()
    const codeBack = await landed(page, shop)
    const codeTokens = await oidc.authorizationCodeGrant(shopConfig, new URL(codeBack), {
      pkceCodeVerifier: coded.verifier, expectedState: coded.state, expectedNonce: coded.nonce, idTokenExpected: true
    })
    result[tab] = { amr: codeTokens.claims().amr, sub: codeTokens.claims().sub, countdown }
    await page.goto(oidc.buildEndSessionUrl(shopConfig, {
      id_token_hint: codeTokens.id_token, post_logout_redirect_uri: shop.post_logout_redirect_uri
    }).href)
    await landed(page, shop)
  }

  // 7. WeChat, mocked in local mode (an identifier stands for a WeChat user): the computer shows a QR
  // code and polls; a phone (another browser, WeChat's User-Agent) opens what the code holds and signs in
  const wx = await start(shopConfig, shop, { tab: 'wechat' })
  await page.goto(wx.url.href)
  await page.screenshot({ path: `${shots}/4-wechat-qr.png`, fullPage: true })
  const scanUrl = await page.locator('img.qr').getAttribute('data-scan')
  const phone = await browser.newContext({
    locale: 'zh-CN', userAgent: 'Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.50', viewport: { width: 390, height: 844 }
  })
  const phonePage = await phone.newPage()
  await phonePage.goto(scanUrl)
  await phonePage.getByLabel('模拟的微信用户标识').fill(process.env.WECHAT_ID)
  await phonePage.getByRole('button', { name: '登录', exact: true }).click()
  await phonePage.waitForSelector('text=扫码成功')
  await phonePage.screenshot({ path: `${shots}/5-wechat-phone.png`, fullPage: true })
  await phone.close()
  const wxTokens = await oidc.authorizationCodeGrant(shopConfig, new URL(await landed(page, shop)), {
    pkceCodeVerifier: wx.verifier, expectedState: wx.state, expectedNonce: wx.nonce, idTokenExpected: true
  })
  result.wechat = { amr: wxTokens.claims().amr }
  await page.goto(oidc.buildEndSessionUrl(shopConfig, {
    id_token_hint: wxTokens.id_token, post_logout_redirect_uri: shop.post_logout_redirect_uri
  }).href)
  await landed(page, shop)

  // 8. The pages in English, by the switch
  const english = await start(shopConfig, shop)
  await page.goto(english.url.href)
  await page.getByRole('link', { name: 'English' }).click()
  result.english_title = await page.locator('h1').innerText()
  await page.screenshot({ path: `${shots}/2-sign-in-page-en.png`, fullPage: true })

  await context.close()
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(result) + '\n')
