// What the browser scripts share: openid-client as the relying party (discovery, a code flow with PKCE,
// state and nonce) and Debian's Chromium, headless, through playwright-core.
import * as oidc from 'openid-client'
import { chromium } from 'playwright-core'

export async function discover (issuer, clientId) {
  return oidc.discovery(new URL(issuer), clientId, undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests] // make run serves http on loopback
  })
}

export async function startFlow (config, redirectUri, scope, extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier()
  const state = oidc.randomState()
  const nonce = oidc.randomNonce()
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra
  })
  return { url, verifier, state, nonce }
}

export function launch () {
  return chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync']
  })
}
