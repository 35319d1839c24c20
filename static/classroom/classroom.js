// The class on the page (docs/protocol.md, "Classes"). A teacher: #class-start, then the join code shown large
// (#join-code: the code, the link, its QR code, who is following), a new code, bring everyone back, end.
// A follower (/join/CODE): the teacher's session, read-only — every control disabled and greyed, #follower-badge —
// until #fork takes a copy of it to experiment with (#follow-again comes back).

import { copyText, toast } from '../core/tools.js';
import { forgetSession } from '../core/socket.js';

const $ = (id) => document.getElementById(id);

// What a follower's page may send while it follows: everything else is the teacher's (the server refuses it too).
const FOLLOWER_EVENTS = new Set(['fork', 'follow_again']);
// Form controls that change the session: the controls panel, the transport, the lab switch, the lab's views.
const CONTROLS = 'main.layout :is(button, input, select, textarea), .transport :is(button, input, select), #lab, '
  + '#model-tools :is(a, input), #divergence button';

/**
 * Wire the class's parts of the page. `send(event, payload)` → the server's reply; `joinCode`: this page follows
 * that class (null: the teacher's side). Returns {following(), takeClass(state), lock(), refuse(event, payload),
 * onDisconnect(reason)}.
 */
export function setupClassroom({ send, joinCode }) {
  let state = null; // the newest `class` event's payload
  let ended = false;
  const following = () => Boolean(joinCode) && !ended && !(state?.forked);

  // ---------------- a follower ----------------
  /** Disable every control while following (and put back those this disabled once the page has a copy). */
  function lock() {
    if (!joinCode) return;
    const on = following() || ended;
    document.body.classList.toggle('following', following());
    for (const el of document.querySelectorAll(CONTROLS)) {
      if (on && !el.disabled && !el.closest('[data-follower-ok]')) {
        el.disabled = true;
        el.dataset.followerLocked = '1';
        if (el.tagName === 'A') el.setAttribute('aria-disabled', 'true');
      } else if (!on && el.dataset.followerLocked) {
        el.disabled = false;
        delete el.dataset.followerLocked;
        el.removeAttribute('aria-disabled');
      }
    }
  }

  // Views build some controls as they draw (a network's +/− neuron buttons): lock those as they appear.
  let lockQueued = false;
  const watcher = new MutationObserver(() => {
    if (lockQueued || !following()) return;
    lockQueued = true;
    queueMicrotask(() => { lockQueued = false; lock(); });
  });
  if (joinCode) watcher.observe(document.querySelector('main.layout'), { childList: true, subtree: true });

  let refusedShown = 0;
  /** A control the page does not send while following: say why, now and then (not on every drag). */
  function refuse(event, payload) {
    if (!following() || FOLLOWER_EVENTS.has(event)) return false;
    // A view saying whether it is on screen (the landscape's `show`) is no one's doing: dropped quietly. The
    // follower sees the landscape when the teacher's page shows it.
    const quiet = event === 'landscape' && payload && !('weights' in payload);
    if (!quiet && performance.now() - refusedShown > 4000) {
      refusedShown = performance.now();
      toast('You are following the class: only the teacher can change this. Take a copy to experiment on your own.',
        5000);
    }
    return true;
  }

  function showFollower() {
    const copy = Boolean(state?.forked);
    $('follower-badge').dataset.mode = ended ? 'ended' : copy ? 'copy' : 'following';
    $('follower-text').textContent = ended ? 'The class has ended'
      : copy ? 'Your own copy' : `Following the class · ${state?.code ?? joinCode}`;
    $('fork').hidden = copy || ended;
    $('follow-again').hidden = !copy || ended;
    if (state?.code && state.code !== joinCode && !ended) { // the teacher made a new code: a refresh still works
      joinCode = state.code;
      window.history.replaceState(null, '', `/join/${state.code}`);
      document.body.dataset.joinCode = state.code;
    }
    if (ended) {
      $('class-ended').hidden = false;
      $('class-ended-text').textContent = copy ? 'Your copy is yours to keep: carry on experimenting.'
        : 'What you see is where the teacher stopped.';
    }
    lock();
  }

  if (joinCode) {
    $('fork').addEventListener('click', async () => {
      $('fork').disabled = true;
      const reply = await send('fork');
      $('fork').disabled = false;
      if (reply?.ok) toast('Your own copy: change anything, press play. "Follow the class again" comes back.', 6000);
    });
    $('follow-again').addEventListener('click', () => send('follow_again'));
  }

  // ---------------- the teacher ----------------
  function showTeacher() {
    const on = Boolean(state);
    $('class-start').hidden = on;
    $('class-button').hidden = !on;
    if (!on) {
      $('join-code').hidden = true;
      return;
    }
    $('class-code-small').textContent = state.code;
    $('class-button').title = `Class ${state.code}: ${state.following} following, ${state.forked} on their own copy. `
      + 'Show the join code and QR code';
    $('class-following').textContent = String(state.following);
    $('join-following').textContent = String(state.following);
    $('join-forked').textContent = String(state.forked);
    $('bring-back').disabled = state.forked === 0;
    $('join-code-text').textContent = state.code;
    $('join-url').textContent = state.join_url.replace(/\/join\/[^/]*$/, '/join');
    const qr = `${state.join_path}/qr.svg`;
    if ($('join-qr').getAttribute('src') !== qr) $('join-qr').src = qr;
    const host = new URL(state.join_url).hostname;
    $('join-warning').hidden = !(host === 'localhost' || host.startsWith('127.') || host === '[::1]');
  }

  if (!joinCode) {
    $('class-start').addEventListener('click', async () => {
      const reply = await send('class_start');
      if (reply?.ok) {
        takeClass(reply.class);
        $('join-code').hidden = false;
      }
    });
    $('class-button').addEventListener('click', () => { $('join-code').hidden = false; });
    $('join-code-close').addEventListener('click', () => { $('join-code').hidden = true; });
    $('join-code').addEventListener('click', (event) => {
      if (event.target === $('join-code')) $('join-code').hidden = true;
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') $('join-code').hidden = true;
    });
    $('copy-join-link').addEventListener('click', () => copyText(state.join_url, 'Join link copied.'));
    $('rotate-code').addEventListener('click', async () => {
      const reply = await send('class_rotate');
      if (reply?.ok) takeClass(reply.class);
    });
    $('bring-back').addEventListener('click', async () => {
      const reply = await send('bring_back');
      if (reply?.ok) toast(`${reply.brought_back} back to following the class.`);
    });
    $('class-end').addEventListener('click', async () => {
      if (!window.confirm('End the class? Followers are told and let go; their copies stay theirs.')) return;
      const reply = await send('class_end');
      if (reply?.ok) takeClass(null);
    });
  }

  /** The `class` event (and the replies that carry it). */
  function takeClass(next) {
    const wasCopy = Boolean(state?.forked);
    state = next;
    if (joinCode && wasCopy && !next?.forked && !next?.ended) forgetSession(); // brought back: the copy is gone
    if (joinCode) {
      ended = ended || Boolean(next?.ended);
      showFollower();
      // The teacher's lesson step, shown read-only beside the class's session (static/lessons/lessons.js).
      if (!next?.forked && !ended) window.__nnp_lessons?.follow?.(next?.lesson ?? null);
    } else {
      showTeacher();
    }
  }

  /** The server closed a follower's connection: the class ended (a `class` said so), or the code is no good. */
  function onDisconnect(reason) {
    if (!joinCode || ended || reason !== 'io server disconnect') return;
    $('class-lost').hidden = false;
    $('class-lost-title').textContent = state ? 'You are no longer in the class.'
      : `No class has the code ${joinCode}.`;
  }

  if (joinCode) showFollower();
  return { following, takeClass, lock, refuse, onDisconnect };
}
