// The RNN lab's page: nn.RNN / nn.LSTM / nn.GRU unrolled through time, every tensor's and parameter's shape, the
// gradient of the loss through time, the prediction, the hidden state over time and, for characters, the text
// the model writes. The core (static/core/main.js) connects, builds the controls from the schema, runs the
// transport and the readouts (#train-loss …) and hands this lab its schema, states and frames (docs/labs.md).

import { decodeArrays } from '../../core/frame.js';
import { Curves } from '../../core/curves.js';
import { decodeFrame } from './frame.js';
import { ShapesView } from './shapes-view.js';
import { UnrolledView } from './unrolled-view.js';
import { GradientTimeChart } from './charts.js';
import { PredictionChart } from './prediction-view.js';
import { HiddenHeatmap } from './heatmap-view.js';
import { TextView } from './text-view.js';

export const URL_KEYS = [];

// A setting that only matters when another has a given value is dimmed otherwise (still usable).
const RELEVANT_WHEN = {
  nonlinearity: (s) => s.cell_type === 'RNN',
  dropout: (s) => s.num_layers > 1,
  momentum: (s) => s.optimizer === 'momentum',
  clip_threshold: (s) => s.clipping !== 'off',
  temperature: (s) => s.task === 'chars',
};

export function createLab(ctx) {
  const { root, send, charts, inSight, nnp } = ctx;
  const $ = (id) => root.querySelector(`#${id}`);
  let state = null;
  let sample = null;

  const shapes = new ShapesView($('shapes'), $('rnn-shapes-cell'));
  const unrolled = new UnrolledView($('rnn-unrolled'), $('rnn-unrolled-caption'));
  const gradient = new GradientTimeChart($('rnn-gradient-time'), $('rnn-gradient-caption'));
  const prediction = new PredictionChart($('rnn-prediction'), $('rnn-prediction-title'), $('rnn-prediction-caption'));
  const heatmap = new HiddenHeatmap($('rnn-hidden-heatmap'), $('rnn-heatmap-layer'), () => ctx.redrawLast());
  const text = new TextView($('generated-text'), $('rnn-text-caption'));
  const curves = new Curves($('rnn-curves'));
  const chars = () => state?.task === 'chars';
  charts.add('loss curves', () => curves.draw(), 400, inSight($('rnn-curves')));
  charts.add('gradient through time', () => gradient.draw(), 300, inSight($('rnn-gradient-time')));
  const dataViews = [gradient];
  const canvasViews = [unrolled, heatmap, prediction];
  Object.assign(nnp.views, { rnnUnrolled: unrolled, rnnGradient: gradient, rnnPrediction: prediction,
    rnnHeatmap: heatmap, rnnText: text, rnnShapes: shapes, rnnCurves: curves });

  // the text view's own temperature slider: the same control as the panel's
  const temperature = $('rnn-temperature');
  const temperatureValue = $('rnn-temperature-value');
  temperature.addEventListener('change', () => send('set', { temperature: Number(temperature.value) }));
  temperature.addEventListener('input', () => { temperatureValue.textContent = temperature.value; });

  return {
    urlKeys: URL_KEYS,
    controlOptions: { relevantWhen: RELEVANT_WHEN },
    canvasViews,

    showState(s) {
      state = s;
      root.classList.toggle('chars', chars());
      shapes.show(s);
      if (document.activeElement !== temperature) {
        temperature.value = String(s.settings.temperature);
        temperatureValue.textContent = String(s.settings.temperature);
      }
      unrolled.geometry = null;
    },

    takeBundles(raw) {
      if (raw.history) curves.load(decodeArrays(raw.history));
      if (raw.sample) {
        const { arrays, data, ...meta } = raw.sample; // the text travels in the bundle's fields
        sample = meta;
        text.show(sample);
      }
    },

    decode(raw) {
      return decodeFrame(raw, state);
    },

    draw(frame) {
      for (const view of dataViews) ctx.guarded(view, () => view.take(frame));
      for (const view of canvasViews) ctx.drawView(view, frame);
    },

    restyle() {
      unrolled.geometry = null;
    },
  };
}
