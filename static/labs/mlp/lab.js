// The MLP lab's page: the network, the decision boundary (2-D data) or the drawing pad and digits views (images),
// the cost, −∇C and the loss landscape, activations and gradient health, the backprop step-through and SGD.
// The core (static/core/main.js) connects, builds the controls, runs the transport and the readouts, and hands
// this lab its schema, states and frames (docs/labs.md, "The page side").

import { decodeArrays } from '../../core/frame.js';
import { decodeFrame } from './frame.js';
import { NetworkView } from './network-view.js';
import { CostChart } from './cost-chart.js';
import { BoundaryView } from './boundary-view.js';
import { GradientView } from './gradient-view.js';
import { LandscapeView } from './landscape-view.js';
import { ActivationView } from './activation-view.js';
import { WeightEditor } from './weight-editor.js';
import { DatasetThumbnails } from './dataset-thumbnails.js';
import { DigitsView } from './digits-view.js';
import { BackpropView } from './backprop-view.js';
import { SgdView } from './sgd-view.js';
import { PointEditor } from './point-editor.js';
import { toast } from '../../core/tools.js';
import { sessionToken } from '../../core/socket.js';

// Page-only display settings (not the server's): they live in the URL too.
export const PAGE_OPTIONS = [
  { name: 'show_test', label: 'Show test data', group: 'data', default: false },
  { name: 'discretize', label: 'Discretize output', group: 'data', default: false },
];
export const URL_KEYS = ['show_test', 'discretize', 'maps'];

// A setting that only matters when another has a given value is dimmed otherwise (still usable).
const RELEVANT_WHEN = {
  momentum: (s) => s.optimizer === 'momentum',
  regularization_rate: (s) => s.regularization !== 'none',
  clip_threshold: (s) => s.clipping !== 'off',
  features: (s) => !['digits', 'mnist'].includes(s.dataset),
  noise: (s) => !['digits', 'mnist', 'custom'].includes(s.dataset),
};

/**
 * The lab. `ctx` (static/core/main.js): {root, send, controls, charts, inSight, drawing, nnp, page, onPageChange,
 * redrawLast}. `page` holds this lab's display options (from the URL or their defaults).
 */
export function createLab(ctx) {
  const { root, send, charts, inSight, nnp } = ctx;
  const $ = (id) => root.querySelector(`#${id}`);
  const page = ctx.page;
  for (const option of PAGE_OPTIONS) page[option.name] ??= option.default;
  page.maps ??= true; // the network view's "neuron maps" toggle (its own checkbox, not a control)

  let schema = null;
  let state = null;
  let lastFrame = null;
  let imageMode = false;
  const bundles = { dataset: null, evaluation: null, landscape: null };

  const network = new NetworkView($('network-view'), {
    buttons: $('neuron-buttons'),
    onEdit: (target) => editor.open(target, lastFrame),
    onHoverNeuron: (neuron) => hoverNeuron(neuron),
    onNeuronDelta: (layer, delta) => send(delta > 0 ? 'add_neuron' : 'remove_neuron', { layer }),
    onMaps: (on) => {
      page.maps = on;
      ctx.onPageChange();
    },
    onResize: () => ctx.redrawLast(),
  });
  network.setMaps(page.maps);
  const cost = new CostChart($('cost-chart'));
  const boundary = new BoundaryView($('boundary-view'), $('neuron-maps'), $('boundary-title'), {
    onProbe: (probe) => send('probe', probe),
    onHoverNeuron: (neuron) => hoverNeuron(neuron),
    onResize: () => ctx.redrawLast(),
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
  const drawing = ctx.drawing; // the one drawing pad (#draw-canvas), lent to the lab shown
  const backprop = new BackpropView($('backprop-view'));
  const sgd = new SgdView($('sgd-view'), { send: (event, payload) => send(event, payload) });
  const canvasViews = [network, boundary, digits, drawing]; // the last two draw nothing for 2-D data
  // take(frame) every frame, drawn by the scheduler (the landscape moves its path and point on a canvas in take)
  const dataViews = [cost, gradient, landscape, activation, backprop, sgd];
  const images = () => imageMode;
  // Redraw intervals (ms): 2-4 times a second is plenty for a chart, and what changes most visibly comes first;
  // the landscape's surface itself arrives at most 4 times a second, the evaluation (confusion matrix) at most twice.
  charts.add('cost', () => cost.draw(), 250, inSight($('cost-chart')));
  charts.add('gradient column', () => gradient.drawColumn(), 250, inSight($('gradient-column')));
  charts.add('loss landscape', () => landscape.draw(), 500, inSight($('loss-landscape')));
  charts.add('activations', () => activation.drawHistograms(), 350, inSight($('activation-curves')));
  charts.add('gradient norms', () => activation.drawNorms(), 500, inSight($('grad-norms')));
  charts.add('backprop step-through', () => backprop.draw(), 500, inSight($('backprop-view'), images));
  charts.add('minibatch cost', () => sgd.draw(), 350, inSight($('sgd-view'), images));
  charts.add('confusion matrix', () => digits.drawConfusion(), 1000, inSight($('digits-confusion'), images));
  Object.assign(nnp.views, { network, boundary, cost, gradient, landscape, activation, digits, drawing, backprop, sgd });
  boundary.setOptions({ showTest: page.show_test, discretize: page.discretize });

  const editor = new WeightEditor($('weight-editor'), {
    send: (event, payload) => send(event, payload),
    onChooseAxis: (which, parameter) => landscape.choose(which, parameter),
  });
  const thumbnails = new DatasetThumbnails((name) => send('set', { dataset: name }));
  // Your own data: a drawn set small enough travels in the link (?points=), and comes back from it.
  const points = new PointEditor(boundary, {
    toolbar: $('data-tools'), mode: $('data-mode'), classes: $('class-picker'), valueBox: $('value-picker'),
    value: $('point-value'), valueOut: $('point-value-out'), eraser: $('eraser'), clear: $('clear-points'),
    upload: $('upload-data'), note: $('data-note'),
  }, {
    send, toast, limits: () => schema?.own_data,
    // While drawing, every point is shown (test points as rings): a point you drew should not vanish.
    onEditing: (on) => {
      boundary.setOptions({ showTest: page.show_test || on });
      ctx.redrawLast();
    },
  });
  let linkedPoints = new URLSearchParams(window.location.search).get('points');
  Object.assign(nnp.views, { points });

  function hoverNeuron(neuron) {
    boundary.setHover(neuron);
    if (lastFrame && !ctx.framePending()) requestAnimationFrame(() => lastFrame && ctx.drawView(boundary, lastFrame));
  }

  /** Image datasets swap the decision boundary for the drawing pad and add the digits views (lab.css). */
  function setImageMode(on) {
    if (on === imageMode) return;
    imageMode = on;
    root.classList.toggle('images', on);
    network.geometry = null;
    ctx.redrawLast();
  }

  $('add-layer').addEventListener('click', () => send('add_layer', {}));
  $('remove-layer').addEventListener('click', () => send('remove_layer', {}));
  $('show-arrows').addEventListener('change', (event) => { network.setArrows(event.target.checked); ctx.redrawLast(); });
  $('cost-log').addEventListener('change', (event) => {
    cost.setLog(event.target.checked);
    ctx.redrawLast();
  });

  return {
    urlKeys: URL_KEYS,
    controlOptions: { pageOptions: PAGE_OPTIONS, relevantWhen: RELEVANT_WHEN },
    canvasViews,

    /** The drawing pad moves into this lab's panel while it is shown. */
    activate() {
      root.querySelector('.draw-body').prepend(drawing.root);
      network.geometry = null;
    },

    takeSchema(s) {
      schema = s;
      thumbnails.attach(ctx.controls.root.querySelector('#dataset'), s);
      activation.setCurves(s.activation_curves);
      // The server computes the landscape only while a page shows it (per connection, so again on reconnect).
      if (s.landscape) send('landscape', { show: true });
    },

    showState(s) {
      state = s;
      setImageMode(s.input_kind === 'image');
      ctx.controls.updateLayerActivations(s.hidden_activations);
      thumbnails.select(s.settings.dataset);
      const hidden = s.layer_sizes.length - 2;
      $('layer-count').textContent = `${hidden} hidden layer${hidden === 1 ? '' : 's'}`;
      $('add-layer').disabled = hidden >= (schema?.limits?.max_hidden_layers ?? Infinity);
      $('remove-layer').disabled = hidden <= 0;
      points.showState(s);
      $('download-data').href = `/api/session/${sessionToken()}/data.csv`;
      $('download-data').setAttribute('download', `nnplayground-${s.settings.dataset}.csv`);
      if (linkedPoints && s.points?.link !== linkedPoints) {
        send('upload_data', { link: linkedPoints }); // a shared link's drawn points, once
      }
      linkedPoints = null;
      if (s.points?.link) page.points = s.points.link;
      else delete page.points;
    },

    /** Bundles arrive with the frame that first carries their version; they stay until a newer one comes. */
    takeBundles(raw) {
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
    },

    decode(raw) {
      const frame = decodeFrame(raw, state);
      Object.assign(frame, { dataset: bundles.dataset, evaluation: bundles.evaluation, landscape: bundles.landscape,
        probe: state?.probe, settings: state?.settings });
      lastFrame = frame;
      return frame;
    },

    /** Every frame: the data views take it (the chart scheduler draws them); the canvas views draw it. */
    draw(frame) {
      for (const view of dataViews) ctx.guarded(view, () => view.take(frame));
      for (const view of canvasViews) ctx.drawView(view, frame);
    },

    setPageOption() {
      boundary.setOptions({ showTest: page.show_test || points.active, discretize: page.discretize });
    },

    restyle() {
      network.geometry = null;
    },

    /** The lab's own place for an error; false: the core shows a toast. */
    showError(error) {
      return (error.event === 'edit_weight' || error.event === 'edit_bias') && editor.showError(error.message);
    },
  };
}
