// What the page knows of the race: each sampler's progress (every frame's `race`), its finished trials, the
// learning curves and the parameter importances (bundles sent when they change: docs/protocol.md, "The search
// lab"). Views read it; each keeps the versions it drew, so a frame with nothing new costs them nothing.

import { colors, classColors } from '../../core/theme.js';

export const SAMPLER_LABELS = { grid: 'grid', random: 'random', tpe: 'TPE', gp: 'GP' };
export const SAMPLER_TITLES = { grid: 'grid', random: 'random', tpe: 'TPE (Bayesian)', gp: 'GP (Bayesian)' };
export const SAMPLER_COLORS = { grid: colors.accentSoft, random: colors.positive, tpe: colors.green,
  gp: classColors[5] };

export class RaceModel {
  constructor() {
    this.clear(null);
    this.progress = null; // {number, phase, objective, direction, params, trials, epochs, samplers: [...]}
  }

  clear(number) {
    this.number = number;
    this.trials = {}; // sampler -> [{number, state, value, params, seconds, reason, best_so_far}]
    this.curves = {}; // sampler -> [{number, state, curve}]
    this.importances = null; // {all: {param: share}, samplers: {sampler: {...}}, trials} or null
    // Counters only ever grow: a view's drawn key never comes back after the race starts over.
    const v = this.versions ?? { trials: 0, curves: 0, importances: 0, progress: 0 };
    this.versions = { trials: v.trials + 1, curves: v.curves + 1, importances: v.importances + 1,
      progress: v.progress + 1 };
  }

  /** A bundle of the frame: "trials.<sampler>", "curves" or "importances". */
  takeSection(name, bundle) {
    if (!bundle || bundle.race < this.number) return; // a frame from before the newest race
    if (bundle.race !== this.number) this.clear(bundle.race);
    if (name.startsWith('trials.')) {
      this.trials[bundle.sampler] = bundle.trials;
      this.versions.trials += 1;
    } else if (name === 'curves') {
      this.curves = bundle.curves;
      this.versions.curves += 1;
    } else if (name === 'importances') {
      this.importances = bundle.importances;
      this.versions.importances += 1;
    }
  }

  /** Every frame's `race` (null before the first race). */
  takeProgress(race) {
    const key = JSON.stringify(race);
    if (key === this.progressKey) return;
    this.progressKey = key;
    this.progress = race;
    if (!race) this.clear(this.number); // reset: the race is forgotten (its number is not reused)
    else if (race.number !== this.number) this.clear(race.number);
    this.versions.progress += 1;
  }

  get samplers() {
    return (this.progress?.samplers ?? []).map((s) => s.sampler);
  }

  get minimize() {
    return this.progress?.direction !== 'maximize';
  }

  /** Every finished trial of every sampler, with its sampler's name. */
  allTrials() {
    return this.samplers.flatMap((sampler) => (this.trials[sampler] ?? []).map((t) => ({ ...t, sampler })));
  }

  /** The best complete trial of the race: {sampler, trial} or null. */
  best() {
    let best = null;
    for (const s of this.progress?.samplers ?? []) {
      if (s.best_value === null || s.best_value === undefined) continue;
      if (!best || (this.minimize ? s.best_value < best.value : s.best_value > best.value)) {
        best = { sampler: s.sampler, value: s.best_value, number: s.best_number, params: s.best_params };
      }
    }
    return best;
  }
}

/** The objective in words, for axis titles. */
export function objectiveLabel(objective) {
  return objective === 'test_accuracy' ? 'test accuracy' : 'test loss';
}

/** A value as a student reads it: 4 significant digits, accuracy as a percentage. */
export function formatValue(value, objective) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (objective === 'test_accuracy') return `${(value * 100).toFixed(1)}%`;
  return String(Number(value.toPrecision(3)));
}

/** A hyperparameter's value, short: 0.0031, 16, relu. */
export function formatParam(value) {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(2)));
}

/**
 * Round values between 10^lo and 10^hi for a log axis: 1, 2, 5 × 10^k, or finer steps when that gives fewer than
 * three (a loss between 0.9 and 1.7 gets 1, 1.2, 1.5).
 */
export function niceTicks(lo, hi, most = 12) {
  let out = [];
  for (const mantissas of [[1, 2, 5], [1, 1.5, 2, 3, 5, 7], [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]]) {
    out = [];
    for (let k = Math.floor(lo) - 1; k <= Math.ceil(hi); k += 1) {
      for (const f of mantissas) {
        const v = Number((f * 10 ** k).toPrecision(2));
        const l = Math.log10(v);
        if (l >= lo - 1e-9 && l <= hi + 1e-9) out.push(v);
      }
    }
    if (out.length >= 3) return thin(out, most);
  }
  return out.length ? thin(out, most) : [Number((10 ** lo).toPrecision(2))];
}

/** At most `most` of the ticks: the powers of ten first (when two or more), then every k-th. */
function thin(ticks, most) {
  if (ticks.length <= most) return ticks;
  const decades = ticks.filter((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
  const pool = decades.length >= 2 ? decades : ticks;
  const every = Math.ceil(pool.length / most);
  return pool.filter((_, i) => i % every === 0);
}

/** Tick values and labels at whole decades from `low` to `high` (every `every`-th), for a log axis. */
export function decadeTicks(low, high, every = 1) {
  const tickvals = [];
  const [first, last] = [Math.ceil(Math.log10(low) - 1e-9), Math.floor(Math.log10(high) + 1e-9)];
  for (let k = first; k <= last; k += every) tickvals.push(10 ** k);
  return { tickvals, ticktext: tickvals.map((v) => formatParam(v)), tickmode: 'array' };
}
