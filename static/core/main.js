// The page's core: connect, show the lab the session shows (static/labs/<name>/lab.js, loaded on first use),
// build its controls from its schema, run the transport, the readouts, the divergence banner and the errors, and
// redraw at most once per animation frame with the newest frame (older ones are never drawn; the server sends
// the next only after our ack). The lab's canvas views draw every such frame; its Plotly charts take turns
// (scheduler.js). How a lab plugs in: docs/labs.md.
// window.__nnp exposes counters for tests and bench/render.py (redraws: frames actually drawn).

import { connect } from './socket.js';
import { decodeHeader } from './frame.js';
import { Controls } from './controls.js';
import { pageValues, readUrl, settingsToApply, writeUrl } from './url-state.js';
import { setupTools, toast, updateModelLinks } from './tools.js';
import { ChartScheduler } from './scheduler.js';
import { DrawCanvas } from './draw-canvas.js';
import { setupClassroom } from '../classroom/classroom.js';

const $ = (id) => document.getElementById(id);
const url = readUrl();
const joinCode = document.body.dataset.joinCode || null; // a follower's page (/join/CODE): see classroom.js

const nnp = { redraws: 0, framesReceived: 0, drawMs: {}, schema: null, state: null, frame: null, errors: [], views: {},
  lab: null };
window.__nnp = nnp;

let schema = null;
let state = null;
let urlApplied = Boolean(joinCode); // a follower takes the teacher's settings, not the link's
let pending = null; // the newest frame not drawn yet, with its ack
let early = []; // frames of the lab shown that came before its views were ready: [{raw, ack}], not acked yet
let drawScheduled = false;
let lastFrame = null;
let lab = null; // the lab shown: {name, module's object}
let playWhenDrawn = false; // ?play=1: start training once the first frame (epoch 0) is on screen
let lastFinite = null; // the newest frame drawn before a divergence: what the views keep showing after it
let noticeShown = null;
const labs = new Map(); // name -> the lab object, created the first time it is shown
const loading = new Map(); // name -> the promise of its module

const charts = new ChartScheduler();
nnp.chartMs = charts.drawMs;
nnp.chartPaintMs = charts.paintMs;
nnp.charts = charts;
// A chart scrolled out of sight (or in a lab not shown) waits: drawing it would cost the views on screen their
// frame rate. Scrolled into sight, it draws the newest data at once.
const onScreen = new WeakMap();
const sight = new IntersectionObserver((entries) => {
  for (const entry of entries) onScreen.set(entry.target, entry.isIntersecting);
  redrawLast();
});
function inSight(el, when = () => true) {
  sight.observe(el);
  return () => when() && onScreen.get(el) !== false;
}

// The one drawing pad (#draw-canvas → #prediction), lent to whichever lab is shown.
const drawPanel = document.createElement('div');
drawPanel.id = 'draw-panel';
const drawing = new DrawCanvas(drawPanel, { send: (event, payload) => send(event, payload) });

const controls = new Controls($('controls'), {
  onChange: (name, value) => send('set', { [name]: value }),
  onLayerActivation: (layer, activation) => send('set_activation', { activation, layer }),
  onPageOption: (name, value) => {
    if (!lab) return;
    lab.page[name] = value;
    lab.setPageOption?.(name, value);
    rewriteUrl();
    redrawLast();
  },
});

// ---------------- labs ----------------
function loadLab(name) {
  if (!loading.has(name)) loading.set(name, import(`../labs/${name}/lab.js`));
  return loading.get(name);
}

/** The lab object for `name`, created (views built in its <section data-lab>) the first time. */
async function labFor(name) {
  if (labs.has(name)) return labs.get(name);
  const module = await loadLab(name);
  if (labs.has(name)) return labs.get(name);
  const root = document.querySelector(`section.views[data-lab="${name}"]`);
  const page = name === url.lab || (!url.lab && name === 'mlp') ? pageValues(url, module.URL_KEYS ?? []) : {};
  const ctx = {
    name, root, page, controls, charts, inSight, drawing, nnp,
    // A lab not shown has nothing to ask the server (it would refuse the event: another lab is shown).
    send: (event, payload) => (lab?.name === name ? send(event, payload) : Promise.resolve(null)),
    guarded, drawView,
    redrawLast: () => redrawLast(),
    framePending: () => pending !== null,
    onPageChange: () => rewriteUrl(),
  };
  const made = module.createLab(ctx);
  made.name = name;
  made.root = root;
  made.page = page;
  labs.set(name, made);
  return made;
}

/** Show the lab of this schema: its section, its controls, its drawing pad. */
async function showLab(s) {
  const next = await labFor(s.lab);
  if (s !== schema) return; // a newer schema arrived while the module loaded
  if (lab !== next) {
    for (const section of document.querySelectorAll('section.views[data-lab]')) section.hidden = section.dataset.lab !== s.lab;
    lab = next;
    nnp.lab = s.lab;
    lastFrame = null;
    lab.activate?.();
  }
  controls.build(s, lab.page, lab.controlOptions ?? {});
  controls.hide(url.hide);
  // The speed control lives on the first screen, beside play, whatever the controls panel shows.
  const speed = $('controls').querySelector('#speed')?.closest('.control'); // this lab's, if it has one
  $('speed-slot').replaceChildren(...(speed ? [speed] : []));
  lab.takeSchema?.(s);
  showLabChoices(s);
  $('model-tools').hidden = !s.model_files && !s.model_export;
  for (const el of [$('save-json'), $('save-npz'), $('load-model').closest('label')]) el.hidden = !s.model_files;
  $('export-pytorch').hidden = !s.model_export;
  if (state && state.lab === s.lab) takeState(state);
  takeEarlyFrames();
  classroom.lock();
}

/** Frames that came while the lab's module loaded: their bundles are sent once, so none may be lost. */
function takeEarlyFrames() {
  const frames = early;
  early = [];
  for (const { raw, ack } of frames) takeFrame(raw, ack);
}

function takeFrame(raw, ack) {
  lab.takeBundles?.(raw);
  if (pending) pending.ack(); // never happens while we ack on draw; if it does, the newer frame wins
  pending = { raw, ack };
  scheduleDraw();
}

function showLabChoices(s) {
  const select = $('lab');
  if (select.dataset.key !== s.labs.map((l) => l.name).join()) {
    select.dataset.key = s.labs.map((l) => l.name).join();
    select.replaceChildren(...s.labs.map((l) => Object.assign(document.createElement('option'),
      { value: l.name, textContent: l.label })));
  }
  select.value = s.lab;
}
$('lab').addEventListener('change', (event) => send('set_lab', { lab: event.target.value }));
labFor(url.lab ?? 'mlp').catch(() => {}); // build the likely lab's views while the socket connects

// ---------------- the connection ----------------
const classroom = setupClassroom({ send: (event, payload) => send(event, payload), joinCode });
function showConnection(status, title = `Connection to the server: ${status}`) {
  $('connection').dataset.state = status;
  $('connection').textContent = status;
  $('connection').title = title;
}
const server = connect({
  onConnection: (status, reason) => {
    showConnection(status);
    if (status === 'disconnected') classroom.onDisconnect(reason);
    if (status !== 'connected') $('relay-banner').hidden = true;
  },
  onRelay: (s) => {
    const away = s.state === 'reconnecting';
    $('relay-banner').hidden = !away;
    $('relay-message').textContent = s.message;
    if (away) showConnection('reconnecting', s.message);
    else showConnection('connected');
  },
  onClass: (s) => {
    classroom.takeClass(s);
    window.dispatchEvent(new CustomEvent('nnp:class', { detail: s })); // static/lessons: the teacher's lesson step
  },
  onSession: () => updateModelLinks(),
  onSchema: (s) => {
    schema = s;
    nnp.schema = s;
    showLab(s).catch((error) => console.error('lab', s.lab, error));
  },
  onState: (s) => {
    state = s;
    nnp.state = s;
    if (lab && lab.name === s.lab && schema?.lab === s.lab) takeState(s);
  },
  onFrame: (raw, ack) => {
    nnp.framesReceived += 1;
    if (schema && raw.lab !== schema.lab) ack(); // a frame of the lab just left: the next is the new lab's
    else if (!lab || raw.lab !== lab.name) early.push({ raw, ack }); // the lab's views are on their way
    else takeFrame(raw, ack);
  },
  onError: (error) => showError(error),
}, { join: joinCode });
nnp.send = (event, payload) => send(event, payload);
nnp.socketSend = (event, payload) => server.send(event, payload); // past the page's own checks (tests)

function takeState(s) {
  showPlaying(s.status === 'running');
  controls.update(s.settings);
  lab.showState?.(s);
  showDivergence(s.status === 'diverged' ? s.divergence : null);
  // What the last edit did (e.g. what a new layer starts as), once, while it is the newest change.
  if (s.notice && s.notice.config_version === s.config_version && noticeShown !== s.notice.config_version) {
    noticeShown = s.notice.config_version;
    toast(s.notice.text, 9000);
  }
  if (!urlApplied) applyUrl();
  else rewriteUrl();
  classroom.lock();
}

function rewriteUrl() {
  if (joinCode) return; // a follower's address is the class's
  if (schema && state && lab && schema.lab === state.lab) writeUrl(schema, state.settings, lab.page);
}

/** Send a control; its reply clears the errors it fixes or shows why it was refused. */
async function send(event, payload) {
  if (classroom.refuse(event, payload)) return { ok: false }; // following a class: the teacher's controls only
  const reply = await server.send(event, payload);
  if (reply && reply.ok === false && reply.error) showError(reply.error);
  else if (event === 'set' && payload) Object.keys(payload).forEach((name) => controls.clearError(name));
  return reply;
}

/**
 * A shared link: first its lab, then push the URL's settings that differ from the session's, dropping any the
 * server refuses.
 */
async function applyUrl() {
  urlApplied = true;
  if (url.lab && url.lab !== state.lab) {
    urlApplied = false; // again once the lab asked for is shown
    const reply = await send('set_lab', { lab: url.lab });
    if (reply?.ok !== false) return;
    urlApplied = true; // an unknown lab: stay in this one
  }
  const wanted = settingsToApply(schema, url.settings, state.settings);
  for (let attempt = 0; attempt < 6 && Object.keys(wanted).length; attempt += 1) {
    const reply = await send('set', wanted);
    if (reply?.ok !== false) break;
    const field = reply.error?.field?.split('.')[0];
    if (!field || !(field in wanted)) break;
    delete wanted[field];
  }
  // `play=1` (what `make run` opens) starts a fresh session training, once its first frame — epoch 0, the
  // settings of the link — is on screen; a rejoined session keeps its own state.
  if (url.play && state.status === 'paused' && state.step === 0) playWhenDrawn = true;
  rewriteUrl();
}

// ---------------- drawing ----------------
function scheduleDraw() {
  if (drawScheduled) return;
  drawScheduled = true;
  requestAnimationFrame(draw);
}

function draw(now) {
  drawScheduled = false;
  if (pending) {
    const { raw, ack } = pending;
    pending = null;
    ack(); // ask for the next frame now, so it travels while this one is drawn
    if (lab && raw.lab === lab.name) {
      const frame = lab.decode(raw, state);
      lastFrame = frame;
      nnp.frame = frame;
      showReadouts(decodeHeader(raw));
      // After a divergence every view keeps the last finite state, marked "diverged"; the readouts and the
      // banner say what happened.
      const diverged = frame.status === 'diverged';
      if (!diverged) lastFinite = frame;
      const shown = diverged && lastFinite ? { ...lastFinite, status: 'diverged', diverged: true } : frame;
      markDiverged(diverged);
      lab.draw(shown);
      charts.touch();
      nnp.redraws += 1;
      nnp.firstDrawn ??= { step: frame.step, epoch: frame.epoch, status: frame.status };
      if (playWhenDrawn && state && frame.configVersion >= state.config_version && frame.step === 0) {
        playWhenDrawn = false;
        send('play');
      }
    }
  }
  if (charts.tick(now)) scheduleDraw(); // charts still waiting for their turn
}

function guarded(view, work) {
  try {
    work();
  } catch (error) {
    console.error(`${view.constructor.name}:`, error);
  }
}

function drawView(view, frame) {
  const start = performance.now();
  guarded(view, () => view.update(frame));
  // A moving average of each view's drawing time, for bench/render.py.
  const name = view.constructor.name;
  nnp.drawMs[name] = 0.9 * (nnp.drawMs[name] ?? 0) + 0.1 * (performance.now() - start);
}

/** Redraw the newest frame again (hover, options, size) when no newer one is on its way. */
function redrawLast() {
  if (!lastFrame) return;
  charts.touch(); // at once: charts.idle() turns false until they have redrawn
  if (pending) return; // a newer frame is on its way to every view
  requestAnimationFrame(() => {
    if (pending || !lastFrame || !lab) return;
    for (const view of lab.canvasViews ?? []) drawView(view, lastFrame);
    scheduleDraw();
  });
}

/** The session's share of the server while others train too ("server 52 % · fair 52 %"); hidden when alone. */
function showServerShare(cpu) {
  const element = $('server-share');
  element.hidden = !cpu;
  if (cpu) element.textContent = `server ${Math.round(cpu.share * 100)} % · fair ${Math.round(cpu.fair * 100)} %`;
}

const formatLoss = (v) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : String(Number(v.toPrecision(4))));

function showReadouts(header) {
  $('epoch').textContent = String(header.epoch);
  $('train-loss').textContent = formatLoss(header.trainLoss);
  $('test-loss').textContent = formatLoss(header.testLoss);
  const accuracy = header.testAccuracy;
  $('test-accuracy').textContent = accuracy === null || accuracy === undefined ? '–' : `${(accuracy * 100).toFixed(1)}%`;
  showServerShare(header.cpu);
  // A frame can report what no control caused (divergence pauses the session): trust it unless it predates
  // the newest state.
  if (!state || header.configVersion >= state.config_version) {
    showPlaying(header.status === 'running');
    showDivergence(header.status === 'diverged' ? header.divergence : null);
  }
}

function showPlaying(running) {
  $('play').setAttribute('aria-pressed', String(running));
  $('play').setAttribute('aria-label', running ? 'Pause' : 'Play');
}

const DIVERGED = { loss: 'the loss', gradient: 'the gradient', weights: 'the weights' };

/** A "diverged" mark over each of the lab's views ([data-diverged-mark] elements) while the run is diverged. */
function markDiverged(on) {
  for (const view of document.querySelectorAll('[data-diverged-mark]')) {
    let mark = view.querySelector(':scope > .diverged-mark');
    if (on && !mark) {
      mark = document.createElement('div');
      mark.className = 'diverged-mark';
      mark.textContent = 'diverged — the last finite step';
      view.append(mark);
    }
    if (mark) mark.hidden = !on;
  }
}

function showDivergence(divergence) {
  const banner = $('divergence');
  banner.hidden = !divergence;
  if (!divergence) return;
  // What blew up, plainly; then the server's message (it names the step, the learning rate and what to try).
  const what = DIVERGED[divergence.cause] ?? DIVERGED.loss;
  $('divergence-cause').textContent = `${what} became ${divergence.loss === 'nan' ? 'NaN' : 'infinite'}`;
  $('divergence-detail').textContent = divergence.message
    || `${what[0].toUpperCase()}${what.slice(1)} stopped being a finite number at step ${divergence.step}.`;
  $('divergence-hint').textContent = divergence.message
    ? '' : 'Try a lower learning rate or gradient clipping, then reset.';
  // The learning rate in force when it diverged, and exactly what the button sets (the server's numbers).
  const rate = divergence.learning_rate;
  const lower = $('divergence-lower');
  lower.hidden = !(divergence.suggested_learning_rate > 0);
  lower.disabled = !(divergence.suggested_learning_rate < rate);
  lower.textContent = `Learning rate ${rate} → ${divergence.suggested_learning_rate} & reset`;
  lower.title = `Set the learning rate to ${divergence.suggested_learning_rate}, then start again from fresh weights`;
  lowerTo = divergence.suggested_learning_rate;
}

let lowerTo = null;

/** The banner's one-click fix: the learning rate it names, then fresh weights (only if the server took it). */
async function lowerRateAndReset() {
  if (!(lowerTo > 0)) return;
  const reply = await send('set', { learning_rate: lowerTo });
  if (reply?.ok !== false) send('reset');
}

// ---------------- errors ----------------
/** The server's refusal, next to what caused it: the control, the lab's own place for it, or a toast. */
function showError(error) {
  nnp.errors.push(error);
  const field = (error.field ?? '').split('.')[0];
  // A student's sentence where the server gave one; the control snaps back to the value in force.
  const text = error.explanation ?? error.message;
  if (error.event === 'set' && controls.showError(field, text)) return;
  if (lab?.showError?.({ ...error, message: text })) return;
  toast(text, 8000);
}

// ---------------- transport, tools ----------------
function togglePlay() {
  send($('play').getAttribute('aria-pressed') === 'true' ? 'pause' : 'play');
}
$('play').addEventListener('click', togglePlay);
$('step').addEventListener('click', (event) => send('step', { unit: event.shiftKey ? 'epoch' : 'batch' }));
$('reset').addEventListener('click', () => send('reset'));
$('divergence-reset').addEventListener('click', () => send('reset'));
$('divergence-lower').addEventListener('click', () => lowerRateAndReset());

setupTools({
  togglePlay,
  step: () => send('step', { unit: 'batch' }),
  onError: (error) => showError(error),
  onRestyle: () => {
    lab?.restyle?.();
    redrawLast();
  },
}, { presenter: url.presenter, controls: url.controls });
