// The race's bar: each sampler's trials done of its budget (#search-progress), the best trial so far, and which
// of start / stop / apply best can be pressed. Plain DOM: it changes every frame a trial finishes.

import { el } from '../../core/dom.js';
import { SAMPLER_COLORS, SAMPLER_TITLES, formatParam, formatValue, objectiveLabel } from './race-model.js';

const PHASES = { running: 'racing…', finished: 'finished', stopped: 'stopped' };

export class ProgressView {
  constructor({ progress, best, start, stop, apply }, model) {
    Object.assign(this, { progress, best, start, stop, apply, model });
    this.drawnKey = null;
    this.labels = {};
  }

  setHyperparameters(list) {
    this.labels = Object.fromEntries(list.map((h) => [h.name, h.label]));
    this.drawnKey = null;
  }

  update() {
    const m = this.model;
    const key = `${m.number}:${m.versions.progress}`;
    if (key === this.drawnKey) return;
    this.drawnKey = key;
    const race = m.progress;
    const running = race?.phase === 'running';
    this.start.disabled = running;
    this.stop.disabled = !running;
    const best = m.best();
    this.apply.disabled = !best;
    if (!race) {
      this.progress.replaceChildren(el('span', 'phase', 'No race yet: choose the space and the budget, then start.'));
      this.best.textContent = '';
      return;
    }
    const rows = race.samplers.map((s) => {
      const box = el('div', 'sampler');
      box.dataset.sampler = s.sampler;
      box.style.setProperty('--sampler-color', SAMPLER_COLORS[s.sampler]);
      const bar = el('div', 'bar');
      const fill = el('span');
      fill.style.width = `${Math.min(100, (100 * s.done) / s.budget)}%`;
      bar.append(fill);
      const extra = [s.running ? `${s.running} training` : '', s.pruned ? `${s.pruned} pruned` : '',
        s.failed ? `${s.failed} failed` : '', s.stopped ? `${s.stopped} stopped` : '',
        ...(s.worker_failures ?? [])].filter(Boolean).join(' · ');
      box.append(el('span', 'name', SAMPLER_TITLES[s.sampler]), el('span', 'count', `${s.done}/${s.budget}`), bar,
        el('span', 'detail', `best ${formatValue(s.best_value, race.objective)}${extra ? ` · ${extra}` : ''}`));
      return box;
    });
    this.progress.replaceChildren(...rows, el('span', 'phase', PHASES[race.phase] ?? race.phase));
    if (best) {
      const params = race.params.map((p) => `${this.labels[p] ?? p} ${formatParam(best.params?.[p])}`).join(', ');
      this.best.replaceChildren('Best: ', el('strong', '', formatValue(best.value, race.objective)),
        ` ${objectiveLabel(race.objective)} (${SAMPLER_TITLES[best.sampler]}, trial ${best.number}): ${params}`);
    } else {
      this.best.textContent = '';
    }
  }
}
