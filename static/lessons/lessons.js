// Lessons in the page: the #lessons menu (by concept, and a teacher's own file), the #lesson-panel beside the views
// (step k of n, the text with its formulas, callouts on what the step points at, the prediction asked before the
// run, the run live in the normal views, the check's verdict with its measured numbers), and ?lesson=NAME&step=k.
// The server does the work (app/lessons/routes.py): it opens a step on this tab's session, runs it (stopping where
// `nnplayground lessons --check` stops) and measures the checks on the live numbers.

import { sessionToken } from '../core/socket.js';
import { Callouts } from './callouts.js';
import { renderInline, renderMarkdown } from './markdown.js';
import { readable, renderVerdict, runStatus } from './verdict.js';

const $ = (id) => document.getElementById(id);
const nnp = () => window.__nnp ?? {};
const callouts = new Callouts($('lesson-callouts'), (name) => controlLabel(name));

const view = {
  lesson: null,     // the lesson as GET /api/lessons/<name> gives it
  index: 0,         // the step shown, 0-based
  phase: 'idle',    // opening | ready | running | checking | done | failed
  answer: null,     // the choice the class predicted
  runVersion: null, // the config_version the run started at: states older than it are not its end
  runFrom: 0,       // the step count when the run started
  readOnly: false,  // a follower watches the teacher's step
};
window.__nnp_lessons = view; // for tests

// ---------------- the server ----------------
async function request(method, path, body, type = 'application/json') {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.body = type === 'application/json' ? JSON.stringify(body) : body;
    options.headers['Content-Type'] = type;
  }
  const response = await fetch(path, options);
  let json = null;
  try {
    json = await response.json();
  } catch {
    json = { ok: false, error: `${response.status} ${response.statusText}` };
  }
  if (!response.ok && json.ok === undefined) json.ok = false;
  return json;
}

/** This tab's session token, once the server has said which session we are (after its first state). */
function session() {
  return new Promise((resolve) => {
    const ready = () => nnp().state && sessionToken();
    if (ready()) return resolve(sessionToken());
    const poll = setInterval(() => {
      if (ready()) {
        clearInterval(poll);
        resolve(sessionToken());
      }
    }, 50);
  });
}

const stepPath = async (action) => `/api/session/${await session()}/lesson/${view.lesson.name}/${view.index + 1}/${action}`;

// ---------------- the menu ----------------
const menu = $('lessons-menu');

async function openMenu() {
  const token = await session();
  const { lessons = [], problems = [] } = await request('GET', `/api/lessons?token=${encodeURIComponent(token)}`);
  const groups = new Map();
  for (const lesson of lessons) {
    const concept = lesson.uploaded ? 'Your lessons' : lesson.concept;
    if (!groups.has(concept)) groups.set(concept, []);
    groups.get(concept).push(lesson);
  }
  const list = $('lessons-list');
  list.replaceChildren();
  for (const [concept, items] of groups) {
    const group = document.createElement('section');
    group.className = 'lessons-group';
    group.append(Object.assign(document.createElement('h3'), { textContent: concept }));
    for (const lesson of items) {
      const item = document.createElement('button');
      item.className = 'lessons-item';
      item.setAttribute('role', 'menuitem');
      item.dataset.lesson = lesson.name;
      item.title = lesson.summary ?? '';
      item.append(Object.assign(document.createElement('span'), { textContent: lesson.title }),
        Object.assign(document.createElement('span'), { className: 'muted', textContent: `${lesson.steps} steps` }));
      item.addEventListener('click', () => {
        closeMenu();
        openLesson(lesson.name, 1);
      });
      group.append(item);
    }
    list.append(group);
  }
  if (!lessons.length) list.textContent = 'No lessons yet (lessons/*.yaml).';
  for (const problem of problems) {
    list.append(Object.assign(document.createElement('div'), { className: 'lesson-error', textContent: problem.text }));
  }
  menu.hidden = false;
  $('lessons').setAttribute('aria-expanded', 'true');
}

function closeMenu() {
  menu.hidden = true;
  $('lessons').setAttribute('aria-expanded', 'false');
}

$('lessons').addEventListener('click', (event) => {
  event.stopPropagation();
  if (menu.hidden) openMenu();
  else closeMenu();
});
document.addEventListener('click', (event) => {
  if (!menu.hidden && !menu.contains(event.target)) closeMenu();
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && !menu.hidden) closeMenu();
});

// A teacher's own lesson file: the server checks it; its problems are listed with their lines.
$('lesson-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  event.target.value = '';
  if (!file) return;
  const box = $('lesson-upload-error');
  box.hidden = true;
  const token = await session();
  const reply = await request('POST', `/api/session/${token}/lessons?name=${encodeURIComponent(file.name)}`,
    await file.text(), 'text/plain; charset=utf-8');
  if (reply.ok) {
    closeMenu();
    showLesson(reply.lesson, 1);
    return;
  }
  box.replaceChildren(Object.assign(document.createElement('strong'), { textContent: `${file.name} was not loaded:` }),
    ...(reply.problems ?? [{ text: reply.error ?? 'the server refused it' }]).map((p) => Object.assign(
      document.createElement('div'), { className: 'lesson-problem', textContent: p.text })));
  box.hidden = false;
});

// ---------------- a lesson ----------------
async function openLesson(name, k) {
  const token = await session();
  const reply = await request('GET', `/api/lessons/${encodeURIComponent(name)}?token=${encodeURIComponent(token)}`);
  if (reply.ok === false || !reply.steps) {
    showPanel(true);
    $('lesson-title').textContent = name;
    fail(reply.error ?? `no lesson "${name}"`);
    return;
  }
  showLesson(reply, k);
}

function showPanel(on) {
  $('lesson-panel').hidden = !on;
  document.documentElement.classList.toggle('lesson-open', on);
  if (!on) callouts.show([]);
  window.dispatchEvent(new Event('resize')); // the views take the width back (or give it up)
}

function showLesson(lesson, k) {
  view.lesson = lesson;
  showPanel(true);
  $('lesson-concept').textContent = lesson.concept;
  $('lesson-title').textContent = lesson.title;
  showStep(Math.min(Math.max(1, k), lesson.steps.length) - 1);
}

function writeUrl() {
  if (view.readOnly) return; // a follower's page is the class's, not a link of its own
  const params = new URLSearchParams(window.location.search);
  if (view.lesson && !view.lesson.uploaded) {
    params.set('lesson', view.lesson.name);
    params.set('step', String(view.index + 1));
  } else {
    params.delete('lesson');
    params.delete('step');
  }
  const query = params.toString().replaceAll('%2C', ',');
  window.history.replaceState(null, '', `${window.location.pathname}${query ? `?${query}` : ''}`);
}

function controlLabel(name) {
  if (name.startsWith('#')) {
    // A view by its figure's title ("Cost"), else the element's own name for itself.
    const el = document.getElementById(name.slice(1));
    const title = el?.querySelector('.title') ?? el?.closest('figure')?.querySelector('figcaption .title')
      ?? (el?.tagName === 'DD' ? el.parentElement.querySelector('dt') : null);
    return title?.textContent.trim() || el?.getAttribute('aria-label') || el?.title?.split(':')[0] || name.slice(1);
  }
  return nnp().schema?.controls?.find((c) => c.name === name)?.label ?? name;
}

async function showStep(index, { open = true } = {}) {
  const lesson = view.lesson;
  const step = lesson.steps[index];
  Object.assign(view, { index, phase: open ? 'opening' : 'ready', answer: null, runVersion: null });
  writeUrl();
  const n = lesson.steps.length;
  $('lesson-progress').textContent = `Step ${index + 1} of ${n}`;
  $('lesson-progress-fill').style.width = `${(100 * (index + 1)) / n}%`;
  $('lesson-prev').disabled = index === 0;
  $('lesson-next').disabled = index === n - 1;
  $('lesson-prev').hidden = view.readOnly; // a follower's steps are the teacher's
  $('lesson-next').hidden = view.readOnly;
  $('lesson-step-title').textContent = step.title;
  $('lesson-verdict').hidden = true;
  $('lesson-error').hidden = true;
  note('');
  $('lesson-run-status').textContent = '';
  $('lesson-body').scrollTop = 0;
  $('lesson-text').innerHTML = await renderMarkdown(step.text);
  await showPredict(step);
  showRunButton(step);
  if (open && !view.readOnly) {
    if (step.start === 'continue' && index) note('Opening…');
    const reply = await request('POST', await stepPath('open'));
    if (view.index !== index || view.lesson !== lesson) return; // the class moved on meanwhile
    if (!reply.ok) {
      fail(reply.problem?.text ?? reply.error ?? 'the step could not be opened');
      return;
    }
    view.phase = 'ready';
    const replayed = reply.replayed ?? [];
    note(replayed.length
      ? `This step continues step${replayed.length > 1 ? 's' : ''} ${replayed.length > 1 ? `${replayed[0]}–${replayed.at(-1)}` : replayed[0]}: replayed first.`
      : '');
  }
  callouts.show(step.highlight); // they follow their targets, and the controls a lab switch builds
  showRunButton(step);
}

/** A line under the step's text: what the panel did for it (e.g. replayed the steps it continues). */
function note(text) {
  $('lesson-note').textContent = text;
  $('lesson-note').hidden = !text;
}

async function showPredict(step) {
  const box = $('lesson-predict');
  box.hidden = !step.predict;
  if (!step.predict) return;
  $('lesson-question').innerHTML = await renderInline(step.predict.question);
  const choices = $('lesson-choices');
  choices.replaceChildren();
  for (const [i, choice] of step.predict.choices.entries()) {
    const label = document.createElement('label');
    label.className = 'lesson-choice';
    const input = Object.assign(document.createElement('input'), { type: 'radio', name: 'lesson-choice', value: String(i) });
    input.disabled = view.readOnly;
    input.addEventListener('change', () => {
      view.answer = choice;
      showRunButton(step);
    });
    const text = document.createElement('span');
    text.innerHTML = await renderInline(choice);
    label.append(input, text);
    choices.append(label);
  }
}

function runWords(run) {
  const cap = run.steps !== null && run.steps !== undefined ? `${run.steps.toLocaleString('en')} steps`
    : `${run.epochs} epoch${run.epochs === 1 ? '' : 's'}`;
  return run.until ? `Run up to ${cap} (until ${readable(run.until)})` : `Run ${cap}`;
}

function showRunButton(step) {
  const button = $('lesson-run');
  const again = view.phase === 'done' || view.phase === 'failed';
  button.textContent = again ? 'Run this step again' : step.run ? runWords(step.run) : 'Check';
  button.hidden = view.readOnly || (!step.run && !step.check.length && !step.predict);
  const waiting = step.predict && view.answer === null && !again;
  button.disabled = !(view.phase === 'ready' || again) || waiting;
  button.title = waiting ? 'Answer the prediction first' : '';
  if (view.readOnly) $('lesson-run-status').textContent = step.run ? 'The teacher runs this step.' : '';
  else if (waiting && view.phase === 'ready') $('lesson-run-status').textContent = 'Predict first, then run.';
  else if (view.phase === 'ready') $('lesson-run-status').textContent = '';
}

$('lesson-run').addEventListener('click', async () => {
  const step = view.lesson.steps[view.index];
  if (view.phase === 'done' || view.phase === 'failed') {
    showStep(view.index);
    return;
  }
  if (view.phase !== 'ready') return;
  for (const input of document.querySelectorAll('#lesson-choices input')) input.disabled = true;
  if (!step.run) {
    check();
    return;
  }
  view.phase = 'running';
  view.runFrom = nnp().state?.step ?? 0;
  showRunButton(step);
  $('lesson-run').disabled = true;
  const reply = await request('POST', await stepPath('run'));
  if (!reply.ok) {
    fail(reply.error ?? 'the run could not start');
    return;
  }
  view.runVersion = reply.config_version;
  watchRun();
});

/** While the step runs: how far it is; when the session stops running (the server ends the run), the check. */
function watchRun() {
  const step = view.lesson.steps[view.index];
  const lesson = view.lesson;
  const index = view.index;
  const tick = setInterval(() => {
    if (view.lesson !== lesson || view.index !== index || view.phase !== 'running') {
      clearInterval(tick);
      return;
    }
    const state = nnp().state;
    const frame = nnp().frame;
    if (frame && step.run.race) {
      const race = frame.race;
      const budget = race ? race.trials * race.samplers.length : 0;
      $('lesson-run-status').textContent = `Racing: ${frame.step.toLocaleString('en')} of ${budget} trials`;
    } else if (frame) {
      const done = Math.max(0, frame.step - view.runFrom);
      const cap = step.run.steps ? ` of ${step.run.steps.toLocaleString('en')}` : ` (epoch ${frame.epoch})`;
      $('lesson-run-status').textContent = `Running: step ${done.toLocaleString('en')}${cap}`;
    }
    if (state && view.runVersion !== null && state.config_version >= view.runVersion && state.status !== 'running') {
      clearInterval(tick);
      check();
    }
  }, 100);
}

async function check() {
  view.phase = 'checking';
  $('lesson-run-status').textContent = 'Checking…';
  const reply = await request('POST', await stepPath('check'));
  if (!reply.ok) {
    fail(reply.error ?? 'the check could not run');
    return;
  }
  await showVerdict(reply);
  view.phase = 'done';
  showRunButton(view.lesson.steps[view.index]);
}

async function showVerdict(reply) {
  const box = $('lesson-verdict');
  $('lesson-run-status').textContent = runStatus(reply.run);
  await renderVerdict(box, view.lesson.steps[view.index], view.answer, reply);
  box.hidden = false;
  box.scrollIntoView({ block: 'nearest' });
}

function fail(text) {
  view.phase = 'failed';
  const box = $('lesson-error');
  box.textContent = text;
  box.hidden = false;
  $('lesson-run-status').textContent = '';
  if (view.lesson) showRunButton(view.lesson.steps[view.index]);
}

$('lesson-prev').addEventListener('click', () => view.index > 0 && showStep(view.index - 1));
$('lesson-next').addEventListener('click', () => view.index < view.lesson.steps.length - 1 && showStep(view.index + 1));
function closeLesson() {
  view.lesson = null;
  view.phase = 'idle';
  showPanel(false);
  writeUrl();
}

$('lesson-close').addEventListener('click', async () => {
  const teaching = view.lesson && !view.readOnly;
  closeLesson();
  if (teaching) await request('POST', `/api/session/${await session()}/lesson-closed`); // the class's panel too
});

/**
 * A follower of a class: the teacher's lesson step ({name, step} or null), read-only — the teacher's page opens,
 * runs and checks it on the session both watch; this page shows the same step's text, question and callouts.
 */
async function follow(lesson) {
  view.readOnly = true;
  $('lesson-follow').hidden = false;
  $('lesson-close').hidden = true;
  if (!lesson) {
    closeLesson();
    return;
  }
  if (view.lesson?.name !== lesson.name) {
    const code = encodeURIComponent(document.body.dataset.joinCode ?? '');
    const reply = await request('GET', `/api/lessons/${encodeURIComponent(lesson.name)}?join=${code}`);
    if (!reply.steps) return; // a teacher's own file: not shown to followers
    view.lesson = reply;
    showPanel(true);
    $('lesson-concept').textContent = reply.concept;
    $('lesson-title').textContent = reply.title;
  }
  if (view.phase === 'idle' || view.index !== lesson.step - 1) showStep(lesson.step - 1, { open: false });
}
view.follow = follow;

// A class (static/classroom/): a follower shows the teacher's lesson step; with a copy of its own, or when the
// class ends, the panel is the student's again.
window.addEventListener('nnp:class', (event) => {
  const state = event.detail;
  if (state && state.role === 'follower' && !state.forked && !state.ended) {
    follow(state.lesson ?? null);
  } else if (view.readOnly) {
    view.readOnly = false;
    $('lesson-follow').hidden = true;
    $('lesson-close').hidden = false;
    $('lesson-prev').hidden = false;
    $('lesson-next').hidden = false;
    if (view.lesson) showStep(view.index, { open: false });
  }
});

// ?lesson=NAME&step=k opens it at once (after the session is there).
{
  const params = new URLSearchParams(window.location.search);
  const name = params.get('lesson');
  if (name) openLesson(name, Number.parseInt(params.get('step') ?? '1', 10) || 1);
}
