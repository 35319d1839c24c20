// A lesson step's verdict: how its run stopped, the prediction against what happened, and each check with the
// numbers measured on the live session and the condition they were held to (app/lessons/routes.py's reply).

import { renderInline, renderMarkdown } from './markdown.js';

/** A condition as a teacher reads it: ≥ ≤ ≠ and spaced operators ("test_accuracy ≥ 0.98"). */
export const readable = (condition) => condition.replaceAll('>=', '≥').replaceAll('<=', '≤').replaceAll('!=', '≠')
  .replaceAll('==', '=');

const STOPPED = {
  cap: (run) => `Ran ${run.steps_trained.toLocaleString('en')} steps.`,
  until: (run) => `Stopped after ${run.steps_trained.toLocaleString('en')} steps: the condition held.`,
  diverged: (run) => `Diverged after ${run.steps_trained.toLocaleString('en')} steps.`,
  race: (run) => `The race ran its ${run.steps_trained.toLocaleString('en')} trials.`,
};

function formatNumber(value) {
  if (typeof value === 'string') return value; // "nan", "inf"
  if (value === 0 || !Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e6) return value.toLocaleString('en');
  const abs = Math.abs(value);
  return abs >= 1e-3 && abs < 1e5 ? String(Number(value.toPrecision(4))) : value.toExponential(2);
}

/** The line under the run button once a run has ended: how it stopped, and after how many steps. */
export const runStatus = (run) => (run ? (STOPPED[run.stopped_by] ?? STOPPED.cap)(run) : '');

/** Fill ``box`` with a step's verdict: the prediction against what happened, then each check with its measured
 * numbers and its condition. */
export async function renderVerdict(box, step, answer, reply) {
  box.replaceChildren();
  if (step.predict) {
    const right = answer === step.predict.answer;
    const p = document.createElement('div');
    p.className = `lesson-prediction ${right ? 'right' : 'wrong'}`;
    p.innerHTML = right
      ? `<strong>Your prediction was right:</strong> ${await renderInline(step.predict.answer)}`
      : `<strong>You predicted</strong> ${await renderInline(answer ?? '–')}; <strong>what happens:</strong> ${await renderInline(step.predict.answer)}`;
    box.append(p);
    if (step.predict.explain) {
      box.append(Object.assign(document.createElement('div'), { className: 'lesson-explain', innerHTML: await renderMarkdown(step.predict.explain) }));
    }
  }
  for (const c of reply.checks) {
    const item = document.createElement('div');
    item.className = `lesson-check ${c.passed ? 'passed' : 'failed'}`;
    const head = document.createElement('div');
    head.className = 'lesson-check-head';
    head.innerHTML = `<span class="mark">${c.passed ? '✓' : '✗'}</span> <span>${await renderInline(c.text)}</span>`;
    const numbers = document.createElement('div');
    numbers.className = 'lesson-measured';
    numbers.append(Object.assign(document.createElement('span'), { className: 'lesson-key', textContent: 'measured ' }),
      Object.entries(c.measured).map(([k, v]) => `${k} = ${formatNumber(v)}`).join(' · ')
      + (c.seeds ? ` (median over seeds ${c.seeds.join(', ')})` : ''));
    const rule = Object.assign(document.createElement('code'), { className: 'lesson-rule' });
    rule.append(Object.assign(document.createElement('span'), { className: 'lesson-key', textContent: 'condition ' }),
      readable(c.that));
    item.append(head, numbers, rule);
    if (c.error) item.append(Object.assign(document.createElement('div'), { className: 'lesson-error', textContent: c.error }));
    if (c.explain) item.append(Object.assign(document.createElement('div'), { className: 'lesson-explain', innerHTML: await renderMarkdown(c.explain) }));
    box.append(item);
  }
  if (!reply.checks.length && !step.predict) box.append('Done.');
}
