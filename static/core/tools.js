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

const isPresenting = () => document.documentElement.classList.contains('presenter');

/** Chart type follows the window (full HD is 1) and presenter mode (larger still). */
function scaleType() {
  setTypeScale((isPresenting() ? 1.3 : 1) * Math.min(1.15, Math.max(0.8, window.innerWidth / 1920)));
}

/**
 * Wire the tools. hooks: togglePlay(), step(), onError(error) for a refused model file, onRestyle() when type
 * sizes or the layout changed (views redraw). `presenter`: start in presenter mode (?presenter=1).
 */
export function setupTools(hooks, { presenter = false } = {}) {
  $('error-toast').addEventListener('click', () => { $('error-toast').hidden = true; });

  $('share').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(window.location.href);
      toast('Link copied: it reproduces this setup.');
    } catch {
      window.prompt('Copy this link:', window.location.href);
    }
  });

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
  if (presenter) setPresenter(true);
}
