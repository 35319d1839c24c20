// Every neuron's own map for the network view, as TF Playground draws them: each input feature, hidden neuron and
// output over the input plane, painted once per arriving frame onto a small offscreen canvas (one pixel per grid
// point) that the view scales into the neuron's square. A redraw of the same frame (hover, resize) repaints
// nothing: a canvas is repainted only when its grid array is a new one.
//
// Reads frame.dataset.arrays.feature_grid (F, r, r), frame.neuronGrids[k] (out, r, r), frame.outputGrid (C, R, R),
// frame.task (docs/page.md). Same palette and scales as the decision-boundary view (grid-paint.js).

import { paintDiverging, blockMaxAbs } from '../../core/grid-paint.js';

export class NeuronMaps {
  constructor() {
    this.canvases = []; // [layer][index] → canvas, layer 0 the input features, the last the outputs
    this.sources = []; // [layer] → the grid array the layer's canvases were painted from
    this.shapeKey = '';
    this.repaints = 0; // grids painted so far (for tests: a redraw of the same frame paints none)
  }

  /** Whether a frame has maps at all: 2-D datasets only (image datasets have no grids). */
  static available(frame) {
    return Boolean(frame.outputGrid) && !frame.inputShape;
  }

  /** Paint every layer whose grid is new in this frame. `sizes`: the network's layer sizes. */
  refresh(frame) {
    const sizes = frame.layerSizes;
    const L = sizes.length - 1;
    const key = sizes.join('-');
    if (key !== this.shapeKey) {
      // A new shape: the old maps belong to other neurons; until a grid arrives a neuron shows no map.
      this.shapeKey = key;
      this.canvases = sizes.map((n) => Array.from({ length: n }, () => null));
      this.sources = sizes.map(() => null);
    }
    this.paintLayer(0, frame.dataset?.arrays.feature_grid, () => 1e-6);
    for (let l = 1; l < L; l += 1) this.paintLayer(l, frame.neuronGrids[l - 1], () => 1);
    const out = frame.outputGrid;
    // One output (tanh, ±1) and class probabilities are drawn on their fixed scale; a regression on its range.
    const regression = frame.task === 'regression';
    this.paintLayer(L, out, (grid, offset, n) => (regression ? Math.max(1, blockMaxAbs(grid, offset, n)) : 1), true);
  }

  /**
   * Paint layer l's maps from grid (n, r, r), if it is a grid these canvases do not show yet. `scaleOf(grid,
   * offset, count)` is the value drawn at full colour; `fixed` uses it as is, otherwise each map is scaled to its
   * own largest |value| with scaleOf as the floor (as the decision-boundary view's small maps are).
   */
  paintLayer(l, grid, scaleOf, fixed = false) {
    if (!grid || grid === this.sources[l] || grid.shape[0] !== this.canvases[l].length) return;
    this.sources[l] = grid;
    const r = grid.shape[1];
    const n = r * r;
    this.canvases[l].forEach((_, i) => {
      const canvas = this.canvases[l][i] ?? document.createElement('canvas');
      this.canvases[l][i] = canvas;
      const offset = i * n;
      const floor = scaleOf(grid, offset, n);
      paintDiverging(canvas, grid, offset, r, fixed ? floor : Math.max(floor, blockMaxAbs(grid, offset, n)));
      this.repaints += 1;
    });
  }

  /** Neuron (l, i)'s painted map, or null while none has arrived. */
  get(l, i) {
    return this.canvases[l]?.[i] ?? null;
  }
}
