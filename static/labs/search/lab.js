// The search lab's page: grid, random and Bayesian (TPE) search racing on the same hyperparameters and budget —
// the best value so far per sampler, where each sampler looked (the plane of two hyperparameters), the trials
// training now, parallel coordinates and the parameter importances — and the winner loaded into its lab
// (#apply-best). The core (static/core/main.js) builds the controls from the schema and hands this lab its
// schema, states and frames (docs/labs.md); the race's data comes in the frames' bundles (docs/protocol.md).

import { RaceModel } from './race-model.js';
import { ProgressView } from './progress-view.js';
import { BestChart, CurvesChart, ImportanceChart } from './charts.js';
import { PlaneView } from './plane-view.js';
import { ParcoordsView } from './parcoords-view.js';
import { idOf } from '../../core/controls.js';

export const URL_KEYS = [];
const SECTIONS = ['curves', 'importances']; // with trials.<sampler>: the bundles of the race (docs/protocol.md)

// A range's controls matter only when its hyperparameter is searched (filled from the schema: each
// hyperparameter names its controls); those of hyperparameters the lab to tune does not have are hidden.
const RELEVANT_WHEN = {};

export function createLab(ctx) {
  const { root, send, charts, inSight, nnp } = ctx;
  const $ = (id) => root.querySelector(`#${id}`);
  const model = new RaceModel();
  let stateVersion = -1;
  let hyperparameters = [];
  let targets = {};

  /** Offer only what the lab to tune has: its datasets, its hyperparameters and their ranges. */
  function showTarget(target) {
    const offered = targets[target];
    if (!offered) return;
    for (const h of hyperparameters) {
      for (const name of h.controls) {
        const widget = ctx.controls.widgets?.get(name);
        if (widget) widget.box.hidden = !offered.params.includes(h.name);
      }
    }
    for (const box of document.querySelectorAll(`#${idOf('params')} input`)) {
      box.closest('label').hidden = !offered.params.includes(box.value);
    }
    for (const option of document.querySelectorAll(`#${idOf('dataset')} option`)) {
      option.hidden = !offered.datasets.includes(option.value);
    }
  }

  const progress = new ProgressView({ progress: $('search-progress'), best: $('search-best'),
    start: $('search-start'), stop: $('search-stop'), apply: $('apply-best') }, model);
  const best = new BestChart($('search-best-chart'), model);
  const plane = new PlaneView($('search-plane'), $('search-plane-caption'), model);
  const curves = new CurvesChart($('search-curves'), model);
  const parcoords = new ParcoordsView($('search-parcoords'), model);
  const importance = new ImportanceChart($('search-importance'), model, $('search-importance-caption'));
  const views = { best, plane, curves, parcoords, importance };
  // Each redraws at most every so many ms while the race runs (parcoords is WebGL: costly in software).
  charts.add('search best so far', () => best.draw(), 400, inSight($('search-best-chart')));
  charts.add('search plane', () => plane.draw(), 600, inSight($('search-plane')));
  charts.add('search curves', () => curves.draw(), 500, inSight($('search-curves')));
  charts.add('search parcoords', () => parcoords.draw(), 2500, inSight($('search-parcoords')));
  charts.add('search importance', () => importance.draw(), 1500, inSight($('search-importance')));
  Object.assign(nnp.views, { searchModel: model, searchBest: best, searchPlane: plane, searchCurves: curves,
    searchParcoords: parcoords, searchImportance: importance });

  // A search takes no minibatch steps: the transport's step button is hidden while this lab is shown.
  const step = document.getElementById('step');
  new MutationObserver(() => { step.hidden = !root.hidden; }).observe(root, { attributeFilter: ['hidden'] });

  $('search-start').addEventListener('click', () => send('search_start'));
  $('search-stop').addEventListener('click', () => send('search_stop'));
  $('apply-best').addEventListener('click', () => send('apply_best', {}));

  return {
    controlOptions: { relevantWhen: RELEVANT_WHEN },
    canvasViews: [],

    takeSchema(schema) {
      hyperparameters = schema.hyperparameters ?? [];
      targets = schema.targets ?? {};
      for (const h of hyperparameters) {
        for (const name of h.controls) RELEVANT_WHEN[name] = (s) => s.params.includes(h.name);
      }
      plane.setHyperparameters(schema.hyperparameters ?? []);
      parcoords.setHyperparameters(schema.hyperparameters ?? []);
      importance.setHyperparameters(schema.hyperparameters ?? []);
      progress.setHyperparameters(schema.hyperparameters ?? []);
    },

    showState(s) {
      stateVersion = s.config_version;
      showTarget(s.settings.target);
      plane.setAxes(s.settings.plane_x, s.settings.plane_y);
      model.takeProgress(s.race);
      progress.update();
    },

    takeBundles(raw) {
      for (const name of Object.keys(raw)) {
        if (name.startsWith('trials.') || SECTIONS.includes(name)) model.takeSection(name, raw[name]);
      }
    },

    decode(raw) {
      return { status: raw.status, step: raw.step, epoch: raw.epoch, configVersion: raw.config_version,
        race: raw.race };
    },

    draw(frame) {
      if (frame.configVersion < stateVersion) return; // built before the newest state (a race started since)
      model.takeProgress(frame.race);
      progress.update();
    },

    restyle() {
      for (const view of Object.values(views)) view.restyle();
    },

    /** A refused start names the control at fault: show it there (the core shows only `set`'s). */
    showError(error) {
      const field = (error.field ?? '').split('.')[0];
      return error.event === 'search_start' && ctx.controls.showError(field, error.message);
    },
  };
}
