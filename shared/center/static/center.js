// The sign-in center's pages (no inline script: the Content-Security-Policy allows only this file).
// A "send code" button rendered with data-wait="N" stays disabled for N seconds, counting down.
document.querySelectorAll('button[data-wait]').forEach((button) => {
  let left = parseInt(button.dataset.wait, 10) || 0
  const label = button.textContent
  const tick = () => {
    if (left <= 0) {
      button.disabled = false
      button.textContent = label
      return
    }
    button.disabled = true
    button.textContent = `${label} (${left}s)`
    left -= 1
    setTimeout(tick, 1000)
  }
  tick()
})

// A sign-in QR code with data-poll: ask every two seconds whether the phone has scanned it; once it
// has, go where the answer says (the center session is set by then). An expired code reloads the page.
document.querySelectorAll('img[data-poll]').forEach((image) => {
  const poll = async () => {
    try {
      const answer = await fetch(image.dataset.poll, { credentials: 'same-origin', cache: 'no-store' })
      const state = await answer.json()
      if (state.status === 'done') return window.location.assign(state.next)
      if (state.status === 'expired') return window.location.reload()
    } catch (error) {
      // a network hiccup: try again at the next tick
    }
    setTimeout(poll, 2000)
  }
  setTimeout(poll, 2000)
})

// Passkeys (WebAuthn). Nothing shows unless the browser has WebAuthn; the server renders none of it in
// in-app browsers (WeChat's and others), where the page offers WeChat and SMS codes instead.
const fromB64url = (text) => {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4)
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
}
const toB64url = (buffer) =>
  btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
const pageToken = () => (document.querySelector('input[name="csrf_token"]') || {}).value || ''
const postJSON = async (url, body) => {
  const answer = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': pageToken() },
    body: JSON.stringify(body || {}),
  })
  if (!answer.ok) throw new Error(`HTTP ${answer.status}`)
  return (await answer.json()).data
}
const requestOptions = (json) => {
  if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(json)
  const allow = (json.allowCredentials || []).map((c) => ({ ...c, id: fromB64url(c.id) }))
  return { ...json, challenge: fromB64url(json.challenge), allowCredentials: allow }
}
const creationOptions = (json) => {
  if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(json)
  const exclude = (json.excludeCredentials || []).map((c) => ({ ...c, id: fromB64url(c.id) }))
  const user = { ...json.user, id: fromB64url(json.user.id) }
  return { ...json, challenge: fromB64url(json.challenge), user, excludeCredentials: exclude }
}
const credentialJSON = (credential) => {
  try {
    if (credential.toJSON) return credential.toJSON()
  } catch (error) {
    // older browsers: built by hand below
  }
  const r = credential.response
  const response = { clientDataJSON: toB64url(r.clientDataJSON) }
  if (r.attestationObject) {
    response.attestationObject = toB64url(r.attestationObject)
    response.transports = r.getTransports ? r.getTransports() : []
  } else {
    response.authenticatorData = toB64url(r.authenticatorData)
    response.signature = toB64url(r.signature)
    if (r.userHandle) response.userHandle = toB64url(r.userHandle)
  }
  return {
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
  }
}
const failed = (box) => {
  let note = box.querySelector('.error')
  if (!note) {
    note = document.createElement('p')
    note.className = 'error'
    note.setAttribute('role', 'alert')
    box.prepend(note)
  }
  note.textContent = box.dataset.failed
}

// Sign in with a passkey: the button, and the browser's autofill on the username field (conditional
// mediation) where it offers one.
document.querySelectorAll('.passkey[data-verify]').forEach(async (box) => {
  if (!window.PublicKeyCredential || !navigator.credentials) return
  box.hidden = false
  const signIn = async (mediation, signal) => {
    const options = await postJSON(box.dataset.options)
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options.publicKey), mediation, signal })
    if (!credential) return
    await postJSON(box.dataset.verify, { challenge_id: options.challenge_id, credential: credentialJSON(credential) })
    window.location.assign(box.dataset.after)
  }
  let autofill = null
  box.querySelector('button').addEventListener('click', () => {
    if (autofill) autofill.abort() // one WebAuthn request at a time
    signIn('optional').catch(() => failed(box))
  })
  const conditional = PublicKeyCredential.isConditionalMediationAvailable
  if (conditional && (await conditional.call(PublicKeyCredential))) {
    autofill = new AbortController()
    signIn('conditional', autofill.signal).catch(() => {})
  }
})

// Add a passkey: the prompt after a sign-in (skippable; a browser without WebAuthn goes straight on) and
// the account page.
document.querySelectorAll('.passkey-add').forEach((box) => {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    if (box.dataset.leaveWithout) window.location.replace(box.dataset.after)
    return
  }
  box.hidden = false
  box.querySelector('button').addEventListener('click', async () => {
    try {
      const options = await postJSON(box.dataset.options)
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options.publicKey) })
      await postJSON(box.dataset.register, { credential: credentialJSON(credential) })
      window.location.assign(box.dataset.after)
    } catch (error) {
      failed(box)
    }
  })
})
