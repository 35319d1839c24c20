// The page: connect, build the controls from the schema, and redraw at most once per animation frame with the
// newest frame (older ones are never drawn; the server sends the next only after our ack). The canvas views
// (network, boundary) draw every such frame; the Plotly charts take turns (scheduler.js).
// window.__nnp exposes counters for tests and bench/render.py (redraws: frames actually drawn).

import { connect } from './socket.js';
import { decodeArrays, decodeFrame } from './frame.js';
import { Controls, PAGE_OPTIONS } from './controls.js';
import { NetworkView } from './network-view.js';
import { CostChart } from './cost-chart.js';
import { BoundaryView } from './boundary-view.js';
import { GradientView } from './gradient-view.js';
import { LandscapeView } from './landscape-view.js';
import { ActivationView } from './activation-view.js';
import { WeightEditor } from './weight-editor.js';
import { DatasetThumbnails } from './dataset-thumbnails.js';
import { readUrl, settingsToApply, writeUrl } from './url-state.js';
import { setupTools, toast, updateModelLinks } from './tools.js';
import { ChartScheduler } from './scheduler.js';
import { DigitsView } from './digits-view.js';
import { DrawCanvas } from './draw-canvas.js';
import { BackpropView } from './backprop-view.js';
import { SgdView } from './sgd-view.js';

const $ = (id) => document.getElementById(id);
const url = readUrl();
const page = Object.fromEntries(PAGE_OPTIONS.map((o) => [o.name, url.page[o.name] ?? o.default]));
page.maps = url.page.maps ?? true; // the network view's "neuron maps" toggle (its own checkbox, not a control)

const nnp = { redraws: 0, framesReceived: 0, drawMs: {}, schema: null, state: null, frame: null, errors: [], views: {} };
window.__nnp = nnp;

let schema = null;
let state = null;
let urlApplied = false;
let pending = null; // the newest frame not drawn yet, with its ack
let drawScheduled = false;
let lastFrame = null;
const bundles = { dataset: null, evaluation: null, landscape: null };

// ---------------- views ----------------
const network = new NetworkView($('network-view'), {
  buttons: $('neuron-buttons'),
  onEdit: (target) => editor.open(target, lastFrame),
  onHoverNeuron: (neuron) => hoverNeuron(neuron),
  onNeuronDelta: (layer, delta) => send(delta > 0 ? 'add_neuron' : 'remove_neuron', { layer }),
  onMaps: (on) => {
    page.maps = on;
    if (schema && state) writeUrl(schema, state.settings, page);
  },
  onResize: () => redrawLast(),
});
network.setMaps(page.maps);
const cost = new CostChart($('cost-chart'));
const boundary = new BoundaryView($('boundary-view'), $('neuron-maps'), $('boundary-title'), {
  onProbe: (probe) => send('probe', probe),
  onHoverNeuron: (neuron) => hoverNeuron(neuron),
  onResize: () => redrawLast(),
});
const gradient = new GradientView($('gradient-column'));
const landscape = new LandscapeView($('loss-landscape'), { onChoose: (weights) => send('landscape', { weights }) });
const activation = new ActivationView($('activation-curves'), $('grad-norms'));
// Image datasets (digits, mnist): draw a digit, what the network sees and answers, its first-layer weights,
// the test digits it gets wrong, the confusion matrix, the backprop step-through and SGD's minibatch cost.
const digits = new DigitsView({
  input: $('digits-input'), outputs: $('digits-outputs'), weights: $('digits-weights'), wrong: $('digits-wrong'),
  confusion: $('digits-confusion'),
}, { onProbe: (probe) => send('probe', probe) });
const drawing = new DrawCanvas($('draw-panel'), { send: (event, payload) => send(event, payload) });
const backprop = new BackpropView($('backprop-view'));
const sgd = new SgdView($('sgd-view'), { send: (event, payload) => send(event, payload) });
let imageMode = false;
const canvasViews = [network, boundary, digits, drawing]; // the last two draw nothing for 2-D data
// take(frame) every frame, drawn by the scheduler (the landscape moves its path and point on a canvas in take)
const dataViews = [cost, gradient, landscape, activation, backprop, sgd];
const charts = new ChartScheduler();
// A chart scrolled out of sight waits (image datasets add panels below the fold, small screens scroll): drawing it
// would cost the views on screen their frame rate. Scrolled into sight, it draws the newest data at once.
const onScreen = new WeakMap();
const sight = new IntersectionObserver((entries) => {
  for (const entry of entries) onScreen.set(entry.target, entry.isIntersecting);
  redrawLast();
});
function inSight(el, when = () => true) {
  sight.observe(el);
  return () => when() && onScreen.get(el) !== false;
}
const images = () => imageMode;
// Redraw intervals (ms): 2-4 times a second is plenty for a chart, and what changes most visibly comes first; the
// landscape's surface itself arrives at most 4 times a second, the evaluation (confusion matrix) at most twice.
charts.add('cost', () => cost.draw(), 250, inSight($('cost-chart')));
charts.add('gradient column', () => gradient.drawColumn(), 250, inSight($('gradient-column')));
charts.add('loss landscape', () => landscape.draw(), 500, inSight($('loss-landscape')));
charts.add('activations', () => activation.drawHistograms(), 350, inSight($('activation-curves')));
charts.add('gradient norms', () => activation.drawNorms(), 500, inSight($('grad-norms')));
charts.add('backprop step-through', () => backprop.draw(), 500, inSight($('backprop-view'), images));
charts.add('minibatch cost', () => sgd.draw(), 350, inSight($('sgd-view'), images));
charts.add('confusion matrix', () => digits.drawConfusion(), 1000, inSight($('digits-confusion'), images));
Object.assign(nnp.views, { network, boundary, cost, gradient, landscape, activation, digits, drawing, backprop, sgd });
nnp.chartMs = charts.drawMs;
nnp.chartPaintMs = charts.paintMs;
nnp.charts = charts;
boundary.setOptions({ showTest: page.show_test, discretize: page.discretize });

const editor = new WeightEditor($('weight-editor'), {
  send: (event, payload) => send(event, payload),
  onChooseAxis: (which, parameter) => landscape.choose(which, parameter),
});
const thumbnails = new DatasetThumbnails((name) => send('set', { dataset: name }));

const controls = new Controls($('controls'), {
  onChange: (name, value) => send('set', { [name]: value }),
  onLayerActivation: (layer, activation) => send('set_activation', { activation, layer }),
  onPageOption: (name, value) => {
    page[name] = value;
    boundary.setOptions({ showTest: page.show_test, discretize: page.discretize });
    if (schema && state) writeUrl(schema, state.settings, page);
    redrawLast();
  },
});

// ---------------- the connection ----------------
const server = connect({
  onConnection: (status) => {
    $('connection').dataset.state = status;
    $('connection').textContent = status;
  },
  onSession: () => updateModelLinks(),
  onSchema: (s) => {
    schema = s;
    nnp.schema = s;
    controls.build(s, page);
    thumbnails.attach($('dataset'), s);
    controls.hide(url.hide);
    activation.setCurves(s.activation_curves);
    // The server computes the landscape only while a page shows it (per connection, so again on reconnect).
    if (s.landscape) send('landscape', { show: true });
  },
  onState: (s) => {
    state = s;
    nnp.state = s;
    showState(s);
    if (!urlApplied && schema) applyUrl();
    else if (schema) writeUrl(schema, s.settings, page);
  },
  onFrame: (raw, ack) => {
    nnp.framesReceived += 1;
    takeBundles(raw);
    if (pending) pending.ack(); // never happens while we ack on draw; if it does, the newer frame wins
    pending = { raw, ack };
    scheduleDraw();
  },
  onError: (error) => showError(error),
});
nnp.send = (event, payload) => send(event, payload);

/** Send a control; its reply clears the errors it fixes or shows why it was refused. */
async function send(event, payload) {
  const reply = await server.send(event, payload);
  if (reply && reply.ok === false && reply.error) showError(reply.error);
  else if (event === 'set' && payload) Object.keys(payload).forEach((name) => controls.clearError(name));
  return reply;
}

/** A shared link: push the URL's settings that differ from the session's, dropping any the server refuses. */
async function applyUrl() {
  urlApplied = true;
  const wanted = settingsToApply(schema, url.settings, state.settings);
  for (let attempt = 0; attempt < 6 && Object.keys(wanted).length; attempt += 1) {
    const reply = await send('set', wanted);
    if (reply?.ok !== false) break;
    const field = reply.error?.field?.split('.')[0];
    if (!field || !(field in wanted)) break;
    delete wanted[field];
  }
  // `play=1` (what `make run` opens) starts a fresh session training; a rejoined one keeps its own state.
  if (url.play && state.status === 'paused' && state.step === 0) await send('play');
  writeUrl(schema, state.settings, page);
}

function takeBundles(raw) {
  if (raw.dataset) {
    const { arrays, data, ...meta } = raw.dataset; // meta: the bundle's fields but its arrays
    bundles.dataset = { version: raw.dataset.version, meta, arrays: decodeArrays(raw.dataset) };
    thumbnails.remember(bundles.dataset);
  }
  if (raw.history) {
    const history = decodeArrays(raw.history);
    cost.load(history);
    sgd.load(history);
  }
  if (raw.evaluation) bundles.evaluation = { meta: raw.evaluation, arrays: decodeArrays(raw.evaluation) };
  if (raw.landscape) bundles.landscape = { meta: raw.landscape, arrays: decodeArrays(raw.landscape) };
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
    const frame = decodeFrame(raw, state);
    Object.assign(frame, { dataset: bundles.dataset, evaluation: bundles.evaluation, landscape: bundles.landscape,
      probe: state?.probe, settings: state?.settings });
    lastFrame = frame;
    nnp.frame = frame;
    showReadouts(frame);
    for (const view of dataViews) guarded(view, () => view.take(frame));
    for (const view of canvasViews) drawView(view, frame);
    charts.touch();
    nnp.redraws += 1;
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
    if (pending || !lastFrame) return;
    for (const view of canvasViews) drawView(view, lastFrame);
    scheduleDraw();
  });
}

function hoverNeuron(neuron) {
  boundary.setHover(neuron);
  if (lastFrame && !pending) requestAnimationFrame(() => lastFrame && drawView(boundary, lastFrame));
}

const formatLoss = (v) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : String(Number(v.toPrecision(4))));

function showReadouts(frame) {
  $('epoch').textContent = String(frame.epoch);
  $('train-loss').textContent = formatLoss(frame.trainLoss);
  $('test-loss').textContent = formatLoss(frame.testLoss);
  const accuracy = frame.testAccuracy;
  $('test-accuracy').textContent = accuracy === null || accuracy === undefined ? '–' : `${(accuracy * 100).toFixed(1)}%`;
  // A frame can report what no control caused (divergence pauses the session): trust it unless it predates
  // the newest state.
  if (!state || frame.configVersion >= state.config_version) {
    showPlaying(frame.status === 'running');
    showDivergence(frame.status === 'diverged' ? frame.divergence : null);
  }
}

function showPlaying(running) {
  $('play').setAttribute('aria-pressed', String(running));
  $('play').setAttribute('aria-label', running ? 'Pause' : 'Play');
}

function showState(s) {
  showPlaying(s.status === 'running');
  setImageMode(s.input_kind === 'image');
  controls.update(s.settings);
  controls.updateLayerActivations(s.hidden_activations);
  thumbnails.select(s.settings.dataset);
  const hidden = s.layer_sizes.length - 2;
  $('layer-count').textContent = `${hidden} hidden layer${hidden === 1 ? '' : 's'}`;
  $('add-layer').disabled = hidden >= (schema?.limits?.max_hidden_layers ?? Infinity);
  $('remove-layer').disabled = hidden <= 0;
  showDivergence(s.status === 'diverged' ? s.divergence : null);
}

/** Image datasets swap the decision boundary for the drawing pad and add the digits views (digits.css). */
function setImageMode(on) {
  if (on === imageMode) return;
  imageMode = on;
  document.querySelector('.views').classList.toggle('images', on);
  network.geometry = null;
  redrawLast();
}

const DIVERGED = { loss: 'the loss', gradient: 'the gradient', weights: 'the weights' };

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
  const rate = state?.settings?.learning_rate;
  const lowest = schema?.controls?.find?.((c) => c.name === 'learning_rate')?.minimum;
  const lower = $('divergence-lower');
  lower.disabled = !(rate > 0) || (lowest !== undefined && rate / 10 < lowest);
  lower.title = rate > 0 ? `Learning rate ${rate} → ${Number((rate / 10).toPrecision(6))}, then fresh weights` : lower.title;
}

/** The banner's one-click fix: a tenth of the learning rate, then fresh weights (only if the server took it). */
async function lowerRateAndReset() {
  const rate = state?.settings?.learning_rate;
  if (!(rate > 0)) return;
  const reply = await send('set', { learning_rate: Number((rate / 10).toPrecision(6)) });
  if (reply?.ok !== false) send('reset');
}

// ---------------- errors ----------------
/** The server's refusal, next to what caused it: the control, the weight editor, or a toast. */
function showError(error) {
  nnp.errors.push(error);
  const field = (error.field ?? '').split('.')[0];
  if (error.event === 'set' && controls.showError(field, error.message)) return;
  if ((error.event === 'edit_weight' || error.event === 'edit_bias') && editor.showError(error.message)) return;
  toast(error.message, 8000);
}

// ---------------- transport, layers, tools ----------------
function togglePlay() {
  send($('play').getAttribute('aria-pressed') === 'true' ? 'pause' : 'play');
}
$('play').addEventListener('click', togglePlay);
$('step').addEventListener('click', (event) => send('step', { unit: event.shiftKey ? 'epoch' : 'batch' }));
$('reset').addEventListener('click', () => send('reset'));
$('divergence-reset').addEventListener('click', () => send('reset'));
$('divergence-lower').addEventListener('click', () => lowerRateAndReset());
$('add-layer').addEventListener('click', () => send('add_layer', {}));
$('remove-layer').addEventListener('click', () => send('remove_layer', {}));
$('show-arrows').addEventListener('change', (event) => { network.setArrows(event.target.checked); redrawLast(); });
$('cost-log').addEventListener('change', (event) => {
  cost.setLog(event.target.checked);
  redrawLast();
});

setupTools({
  togglePlay,
  step: () => send('step', { unit: 'batch' }),
  onError: (error) => showError(error),
  onRestyle: () => {
    network.geometry = null;
    redrawLast();
  },
}, { presenter: url.presenter });
