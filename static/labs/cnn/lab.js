// The CNN lab's page: the input (drawable on the digit sets) and its augmented strip, the feature maps of every
// layer (#feature-maps), the shape and parameter table (#shape-table), train and test curves with the gap shaded,
// and the layer list editor among the controls. The core (static/core/main.js) connects, builds the controls,
// runs the transport and the readouts (#test-accuracy ...), and hands this lab its schema, states and frames
// (docs/labs.md, "The page side").

import { decodeArrays } from '../../core/frame.js';
import { decodeFrame } from './frame.js';
import { FeatureMaps } from './feature-maps.js';
import { ShapeTable } from './shape-table.js';
import { Curves } from '../../core/curves.js';
import { AugmentedStrip } from './strip.js';
import { layerEditor } from './layer-editor.js';
import { DetailView } from './detail-view.js';
import { GradientNorms, KernelGradients } from './gradient-views.js';

export const URL_KEYS = [];

const RELEVANT_WHEN = {
  momentum: (s) => s.optimizer === 'momentum',
};

export function createLab(ctx) {
  const { root, send, charts, inSight, nnp } = ctx;
  const $ = (id) => root.querySelector(`#${id}`);
  let state = null;
  const bundles = { augmented: null };

  const detail = new DetailView($('cnn-detail-view'));
  const maps = new FeatureMaps($('feature-maps'), {
    onInspect: (layer, channel, y, x) => { detail.reopen(); send('inspect', { layer, channel, y, x }); },
  });
  const table = new ShapeTable($('shape-table'));
  const curves = new Curves($('cnn-curves'));
  const strip = new AugmentedStrip($('cnn-strip'));
  const drawing = ctx.drawing;
  const kernelGrads = new KernelGradients($('cnn-kernel-grads'));
  const gradNorms = new GradientNorms($('cnn-grad-norms'));
  const canvasViews = [maps, drawing, detail];
  charts.add('train and test curves', () => curves.draw(), 400, inSight($('cnn-curves')));
  charts.add('kernel gradients', () => kernelGrads.draw(), 250, inSight($('cnn-kernel-grads')));
  charts.add('gradient norms', () => gradNorms.draw(), 400, inSight($('cnn-grad-norms')));
  Object.assign(nnp.views, { featureMaps: maps, shapeTable: table, curves, strip, detail, kernelGrads, gradNorms });

  return {
    controlOptions: { relevantWhen: RELEVANT_WHEN, widgets: { layers: layerEditor } },
    canvasViews,

    /** The drawing pad moves into this lab's input panel while it is shown. */
    activate() {
      root.querySelector('.cnn-draw').append(drawing.root);
    },

    showState(s) {
      state = s;
      maps.setStructure(s);
      for (const view of [detail, kernelGrads, gradNorms]) view.setStructure(s);
      table.update(s);
      const [c, h, w] = s.image_shape;
      root.querySelector('.cnn-draw').hidden = c !== 1; // drawing makes a grey digit: the digit sets only
      const used = s.n_train < s.n_train_available ? ` (${s.n_train} of ${s.n_train_available})` : '';
      $('cnn-input-caption').textContent = `${s.settings.dataset}: ${c}×${h}×${w}, ${s.n_train} training images${used}, `
        + `${s.n_test} test`;
    },

    takeBundles(raw) {
      if (raw.history) curves.load(decodeArrays(raw.history));
      if (raw.augmented) bundles.augmented = { meta: raw.augmented, arrays: decodeArrays(raw.augmented) };
    },

    decode(raw) {
      return decodeFrame(raw, state);
    },

    draw(frame) {
      for (const view of canvasViews) ctx.drawView(view, frame);
      for (const view of [kernelGrads, gradNorms]) ctx.guarded(view, () => view.take(frame));
      ctx.guarded(strip, () => strip.update(bundles.augmented, state?.settings?.augment_shift ?? 0));
    },

    showError() {
      return false;
    },
  };
}
