// The top bar's tools: a toast for short notices, copy-link, save/load the model, presenter mode (full screen,
// larger type everywhere) and keyboard shortcuts.

import { setTypeScale } from './theme.js';
import { sessionToken } from './socket.js';

const $ = (id) => document.getElementById(id);
let toastTimer = null;

/** A short notice in the corner (errors the page cannot put next to a control, confirmations). */
export function toast(message, ms = 3000) {
  const box = $('error-toast');
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, ms);
}

/** Point the save links at this tab's session (docs/protocol.md, "HTTP routes"). */
export function updateModelLinks() {
  const token = sessionToken();
  if (!token) return;
  $('save-json').href = `/api/session/${token}/model.json`;
  $('save-npz').href = `/api/session/${token}/model.npz`;
  $('export-pytorch').href = `/api/session/${token}/model.py`;
}

/** ``url`` on the address the server gave for others to reach it (the LAN's, with --lan), if it gave one. */
export function shareable(url) {
  const base = document.body.dataset.publicUrl;
  if (!base) return url;
  const { pathname, search, hash } = new URL(url, window.location.href);
  return `${base}${pathname}${search}${hash}`;
}

/** Copy ``text`` to the clipboard (or show it to copy by hand where the page may not). */
export async function copyText(text, done) {
  try {
    await navigator.clipboard.writeText(text);
    toast(done);
  } catch {
    window.prompt('Copy this link:', text);
  }
}

const isPresenting = () => document.documentElement.classList.contains('presenter');

/**
 * Chart type follows the window (full HD is 1) and presenter mode (larger still: the smallest chart text, 12 px
 * legends, reaches 16 px, and 14 px ticks 18 px, on any projector).
 */
function scaleType() {
  const window_ = Math.min(1.15, Math.max(0.9, window.innerWidth / 1920));
  setTypeScale(isPresenting() ? Math.max(16 / 12, 1.3 * window_) : window_);
}

/** The controls collapsed to a slim strip (or back); kept in the link as controls=0 / controls=1. */
function setControlsHidden(hidden, remember = true) {
  document.documentElement.classList.toggle('controls-hidden', hidden);
  $('hide-controls').setAttribute('aria-pressed', String(hidden));
  if (!remember) return;
  const params = new URLSearchParams(window.location.search);
  params.set('controls', hidden ? '0' : '1');
  const query = params.toString().replaceAll('%2C', ',');
  window.history.replaceState(null, '', `${window.location.pathname}?${query}`);
}
const controlsHidden = () => document.documentElement.classList.contains('controls-hidden');

/**
 * Wire the tools. hooks: togglePlay(), step(), onError(error) for a refused model file, onRestyle() when type
 * sizes or the layout changed (views redraw). `presenter`: start in presenter mode (?presenter=1).
 */
export function setupTools(hooks, { presenter = false, controls = null } = {}) {
  const toggleControls = () => {
    setControlsHidden(!controlsHidden());
    hooks.onRestyle();
  };
  $('hide-controls').addEventListener('click', toggleControls);
  $('controls-strip').addEventListener('click', toggleControls);
  $('error-toast').addEventListener('click', () => { $('error-toast').hidden = true; });

  $('share').addEventListener('click', () => copyText(shareable(window.location.href), 'Link copied: it reproduces this setup.'));

  $('load-model').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    event.target.value = '';
    if (!file) return;
    const reply = await fetch(`/api/session/${sessionToken()}/model`, { method: 'POST', body: file })
      .then((response) => response.json())
      .catch(() => ({ ok: false, error: { event: 'load_model', message: 'load: the server could not be reached' } }));
    if (reply.ok === false) hooks.onError(reply.error);
    else toast(`Loaded ${file.name}.`);
  });

  const setPresenter = (on) => {
    document.documentElement.classList.toggle('presenter', on); // on <html>, so rem sizes follow
    $('presenter').setAttribute('aria-pressed', String(on));
    // Presenter mode tucks the controls into their strip, unless the link asks for them (controls=1).
    if (on && controls !== '1') setControlsHidden(true, false);
    if (!on && controls === null) setControlsHidden(false, false);
    scaleType();
    hooks.onRestyle();
  };
  $('presenter').addEventListener('click', () => {
    const on = !isPresenting();
    setPresenter(on);
    if (on) document.documentElement.requestFullscreen?.().catch(() => {});
    else if (document.fullscreenElement) document.exitFullscreen?.();
  });
  document.addEventListener('fullscreenchange', () => {
    if (!document.fullscreenElement && isPresenting()) setPresenter(false);
  });

  document.addEventListener('keydown', (event) => {
    if (event.target.closest?.('input, select, textarea') || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === ' ') {
      event.preventDefault();
      hooks.togglePlay();
    } else if (event.key === 's') hooks.step();
    else if (event.key === 'p') $('presenter').click();
  });

  window.addEventListener('resize', () => {
    scaleType();
    hooks.onRestyle();
  });
  scaleType();
  if (controls === '0') setControlsHidden(true, false);
  if (presenter) setPresenter(true);
}
