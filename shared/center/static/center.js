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
