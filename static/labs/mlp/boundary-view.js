// Decision boundary: the network's output over the input plane with the training (and test) points, and every
// neuron's own small map beside it, as TF Playground draws them. Hovering a neuron shows its map large.
// Clicking the plane or a point makes it the probe (the input the network view shows).
//
// The maps are painted on canvases every frame (cheap); Plotly draws the axes and the points underneath which
// they show through, and is only called again when the points, the probe or the size change.
// For image datasets the page shows the drawing pad and the digits views in this panel's place (main.js).
//
// Reads frame.outputGrid, neuronGrids, dataset, layerSizes, task, extent, activations, probe (docs/page.md).

import { Plotly } from '../../core/plotly.js';
import { colors, classColors, baseLayout, axis, plotConfig, divergingScale } from '../../core/theme.js';
import { paintDiverging, paintClasses, blockMaxAbs } from '../../core/grid-paint.js';

const TRANSPARENT = 'rgba(0,0,0,0)';

export class BoundaryView {
  constructor(root, mapsEl, titleEl, hooks) {
    this.root = root;
    this.maps = mapsEl;
    this.title = titleEl;
    this.hooks = hooks;
    this.display = document.createElement('canvas'); // the large map, under the plot area
    this.display.className = 'boundary-canvas';
    this.plot = document.createElement('div');
    this.plot.className = 'plot boundary-plot';
    root.append(this.display, this.plot);
    this.grid = document.createElement('canvas'); // one pixel per grid point, scaled up smoothly
    this.hover = null; // {layer, index}: neuron layer (0 = inputs) and index, or null for the output
    this.options = { showTest: false, discretize: false };
    this.figureKey = '';
    this.mapCanvases = [];
    this.mapsKey = '';
    this.mapSources = []; // per map column, the grid array last painted there
    this.frame = null;
    this.points = [];
    this.plot.addEventListener('click', (event) => this.onClick(event));
    new ResizeObserver(() => {
      this.figureKey = '';
      hooks.onResize?.();
    }).observe(root);
  }

  setOptions(options) {
    this.options = { ...this.options, ...options };
    this.figureKey = '';
  }

  setHover(neuron) {
    this.hover = neuron;
  }

  get imageMode() {
    return !this.frame?.outputGrid;
  }

  /** Every frame: paint the maps. The Plotly figure is redrawn only when what it shows changed. */
  update(frame) {
    this.frame = frame;
    if (!frame.outputGrid) {
      this.maps.hidden = true;
      this.display.hidden = true;
      return; // image datasets: the drawing pad and the digits views take this panel's place (main.js)
    }
    this.maps.hidden = false;
    this.display.hidden = false;
    const [lo, hi] = frame.extent;
    const probe = JSON.stringify(frame.probe ?? null);
    const key = `${frame.dataset?.version}|${probe}|${this.options.showTest}|${this.plot.clientWidth}x${this.plot.clientHeight}`;
    if (key !== this.figureKey) {
      this.figureKey = key;
      this.drawFigure(frame, lo, hi);
    }
    const title = this.paintLarge(frame);
    if (this.title) this.title.textContent = title;
    this.drawMaps(frame);
  }

  drawFigure(frame, lo, hi) {
    const data = frame.dataset;
    this.points = [];
    const traces = [];
    if (data?.arrays['train.x']) {
      traces.push(pointTrace(data, 'train', frame.task, false));
      this.points.push('train');
      if (this.options.showTest) {
        traces.push(pointTrace(data, 'test', frame.task, true));
        this.points.push('test');
      }
    }
    traces.push(probeTrace(frame));
    const layout = baseLayout({
      width: this.plot.clientWidth, // explicit: the canvas below must match the size Plotly draws at
      height: this.plot.clientHeight,
      paper_bgcolor: TRANSPARENT,
      plot_bgcolor: TRANSPARENT,
      margin: { l: 40, r: 8, t: 8, b: 34 },
      xaxis: axis({ range: [lo, hi], constrain: 'domain', fixedrange: true, dtick: 2, zeroline: false, showgrid: false }),
      yaxis: axis({ range: [lo, hi], scaleanchor: 'x', constrain: 'domain', fixedrange: true, dtick: 2, zeroline: false,
        showgrid: false }),
      hovermode: 'closest',
      dragmode: false,
    });
    Plotly.react(this.plot, traces, layout, plotConfig);
    // The canvas goes exactly under the plot area that Plotly settled on.
    const xa = this.plot._fullLayout.xaxis;
    const ya = this.plot._fullLayout.yaxis;
    this.area = { left: xa._offset, top: ya._offset, width: xa._length, height: ya._length, lo, hi };
    const dpr = window.devicePixelRatio || 1;
    Object.assign(this.display.style, { left: `${this.area.left}px`, top: `${this.area.top}px`,
      width: `${this.area.width}px`, height: `${this.area.height}px` });
    this.display.width = Math.round(this.area.width * dpr);
    this.display.height = Math.round(this.area.height * dpr);
  }

  /** Paint the large map: the output, or the hovered neuron's own map. Returns the panel's title. */
  paintLarge(frame) {
    const title = this.paintGrid(frame);
    if (!this.area) return title;
    // The grid's points are cell centres: cell k of r spans [lo + (k - ½)·d, lo + (k + ½)·d], d = (hi − lo)/(r − 1).
    const { lo, hi } = this.area;
    const r = this.grid.width;
    const d = (hi - lo) / (r - 1);
    const ctx = this.display.getContext('2d');
    const sx = this.display.width / (hi - lo);
    const sy = this.display.height / (hi - lo);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(this.grid, (-d / 2) * sx, (-d / 2) * sy, r * d * sx, r * d * sy);
    return title;
  }

  paintGrid(frame) {
    const L = frame.layerSizes.length - 1;
    const { discretize } = this.options;
    const out = frame.outputGrid;
    const R = out.shape[1];
    const hover = this.hover;
    const features = frame.dataset?.arrays.feature_grid;
    if (hover && hover.layer === 0 && features) {
      const r = features.shape[1];
      const offset = hover.index * r * r;
      paintDiverging(this.grid, features, offset, r, blockMaxAbs(features, offset, r * r));
      return `Input ${frame.inputNames?.[hover.index] ?? hover.index}`;
    }
    if (hover && hover.layer > 0 && hover.layer < L && frame.neuronGrids[hover.layer - 1]) {
      const grid = frame.neuronGrids[hover.layer - 1];
      const r = grid.shape[1];
      const offset = hover.index * r * r;
      paintDiverging(this.grid, grid, offset, r, Math.max(1, blockMaxAbs(grid, offset, r * r)));
      return `Neuron ${hover.layer}.${hover.index}: its output over the plane`;
    }
    const classes = out.shape[0];
    if (classes > 1) {
      if (hover && hover.layer === L) {
        paintDiverging(this.grid, out, hover.index * R * R, R, 1);
        return `Output ${hover.index}: its probability over the plane`;
      }
      paintClasses(this.grid, out, classes, R, { discretize });
      return 'Decision boundary';
    }
    const regression = frame.task === 'regression';
    const scale = regression ? Math.max(1, blockMaxAbs(out, 0, R * R)) : 1;
    paintDiverging(this.grid, out, 0, R, scale, { discretize: discretize && !regression, strength: 0.7 });
    return regression ? 'Output over the plane' : 'Decision boundary';
  }

  /** A click on a point probes that example; anywhere else on the plane probes that (x1, x2). */
  /** The plane's (x1, x2) under a pointer at (clientX, clientY), or null outside the plot area. */
  toPlane(clientX, clientY) {
    if (!this.area || this.imageMode) return null;
    const box = this.plot.getBoundingClientRect();
    const px = clientX - box.left - this.area.left;
    const py = clientY - box.top - this.area.top;
    if (px < 0 || py < 0 || px > this.area.width || py > this.area.height) return null;
    const { lo, hi } = this.area;
    return [lo + (px / this.area.width) * (hi - lo), hi - (py / this.area.height) * (hi - lo)];
  }

  /** Plane units per screen pixel (the plot area is square). */
  unitsPerPixel() {
    return this.area ? (this.area.hi - this.area.lo) / this.area.width : 0;
  }

  onClick(event) {
    const at = this.toPlane(event.clientX, event.clientY);
    if (!at) return;
    const [x1, x2] = at;
    const data = this.frame?.dataset?.arrays;
    const unitsPerPx = this.unitsPerPixel();
    let best = null;
    let bestDistance = 7 * unitsPerPx;
    for (const split of this.points) {
      const x = data[`${split}.x`];
      for (let i = 0; i < x.length / 2; i += 1) {
        const d = Math.hypot(x[2 * i] - x1, x[2 * i + 1] - x2);
        if (d < bestDistance) {
          bestDistance = d;
          best = { split, index: i };
        }
      }
    }
    this.hooks.onProbe(best ?? { point: [round2(x1), round2(x2)] });
  }

  /** TF Playground's small maps: a column per layer (input features, then each hidden layer). */
  drawMaps(frame) {
    const sizes = frame.layerSizes;
    const L = sizes.length - 1;
    const features = frame.dataset?.arrays.feature_grid;
    const columns = [features ? features.shape[0] : 0, ...sizes.slice(1, L)];
    if (columns.join('-') !== this.mapsKey) this.buildMaps(columns);
    const paintColumn = (l, grid, scaleFloor) => {
      if (!grid || grid === this.mapSources[l]) return; // the same array as last painted: its maps are on screen
      this.mapSources[l] = grid;
      const r = grid.shape[1];
      this.mapCanvases[l].forEach((canvas, i) => {
        const offset = i * r * r;
        paintDiverging(canvas, grid, offset, r, Math.max(scaleFloor, blockMaxAbs(grid, offset, r * r)));
      });
    };
    paintColumn(0, features, 1e-6);
    for (let l = 1; l < L; l += 1) paintColumn(l, frame.neuronGrids[l - 1], 1);
    for (const canvas of this.maps.querySelectorAll('canvas')) {
      const active = this.hover && Number(canvas.dataset.layer) === this.hover.layer
        && Number(canvas.dataset.index) === this.hover.index;
      canvas.classList.toggle('active', Boolean(active));
    }
  }

  buildMaps(columns) {
    this.mapsKey = columns.join('-');
    this.mapSources = []; // new canvases: every column must be painted
    this.maps.replaceChildren();
    const tallest = Math.max(1, ...columns);
    const shown = columns.filter((n) => n > 0).length;
    // The maps may take a third of the panel's width; the decision boundary keeps the rest.
    const byHeight = Math.floor((this.maps.clientHeight - 16) / tallest) - 4;
    const byWidth = Math.floor((this.root.parentElement.clientWidth * 0.34) / Math.max(1, shown)) - 6;
    const size = Math.max(10, Math.min(44, byHeight, byWidth));
    this.maps.style.setProperty('--map-size', `${size}px`);
    this.mapCanvases = columns.map((count, l) => {
      const column = document.createElement('div');
      column.className = 'layer';
      const canvases = Array.from({ length: count }, (_, i) => {
        const canvas = document.createElement('canvas');
        canvas.dataset.layer = String(l);
        canvas.dataset.index = String(i);
        canvas.title = l === 0 ? `input ${i}` : `neuron ${l}.${i}`;
        canvas.addEventListener('mouseenter', () => this.hooks.onHoverNeuron({ layer: l, index: i }));
        canvas.addEventListener('mouseleave', () => this.hooks.onHoverNeuron(null));
        column.append(canvas);
        return canvas;
      });
      if (count) this.maps.append(column);
      return canvases;
    });
  }
}

function pointTrace(data, split, task, isTest) {
  const x = data.arrays[`${split}.x`];
  const y = data.arrays[`${split}.y`];
  const n = y.length;
  const px = new Float32Array(n);
  const py = new Float32Array(n);
  for (let i = 0; i < n; i += 1) {
    px[i] = x[2 * i];
    py[i] = x[2 * i + 1];
  }
  const regression = task === 'regression';
  let scale = 1;
  if (regression) y.forEach((v) => { scale = Math.max(scale, Math.abs(v)); });
  const color = regression ? Array.from(y) : Array.from(y, (c) => classColors[c % classColors.length]);
  return {
    type: 'scatter', mode: 'markers', x: px, y: py,
    hovertemplate: `${split} %{pointNumber}: (%{x:.2f}, %{y:.2f})<extra>click: probe it</extra>`,
    marker: {
      size: isTest ? 9 : 8, color, cmin: -scale, cmax: scale, colorscale: regression ? divergingScale : undefined,
      symbol: isTest ? 'circle-open' : 'circle',
      line: isTest ? { width: 2.5 } : { width: 1.2, color: colors.background },
    },
  };
}

function probeTrace(frame) {
  const probe = frame.probe;
  let xy = null;
  if (probe?.point) xy = probe.point;
  else if (probe && 'index' in probe) {
    const x = frame.dataset?.arrays[`${probe.split ?? 'train'}.x`];
    if (x) xy = [x[2 * probe.index], x[2 * probe.index + 1]];
  }
  return {
    type: 'scatter', mode: 'markers', x: xy ? [xy[0]] : [], y: xy ? [xy[1]] : [], hoverinfo: 'skip',
    marker: { symbol: 'circle-open', size: 24, color: colors.accent, line: { width: 3.5, color: colors.accent } },
  };
}

const round2 = (v) => Math.round(v * 100) / 100;
