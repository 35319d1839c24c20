// The whole configuration in the query string, so a shared link reproduces the setup:
//   ?lab=mlp                                                     the lab shown (the #lab switcher)
//   &dataset=spiral&hidden_sizes=8,8,4&learning_rate=0.03&...    every control of the lab, by its schema name
//   &show_test=1&discretize=0&maps=0                             the lab's own display options (its urlKeys)
//   &hide=noise,features,presenter                              controls (or tools) to hide from the class
//   &presenter=1                                                 start in presenter mode
//   &controls=0                                                  the controls tucked into a slim strip (1: shown)
//   &lesson=NAME&step=k                                          the lesson open in the panel (static/lessons/)
//   &play=1                                                      start training a new session on opening
//                                                                (what `make run` opens; dropped once used)
// Values are parsed by the control's kind from the schema; the server still validates them.

const KEEP_KEYS = ['hide', 'presenter', 'controls', 'lesson', 'step'];
const ONE_SHOT_KEYS = ['play'];

/**
 * The query string as {lab, settings, hide, presenter, play}; settings stay text until parsed with the schema
 * (a lab's display options are among them until pageValues picks them out).
 */
export function readUrl(search = window.location.search) {
  const params = new URLSearchParams(search);
  const settings = {};
  for (const [key, value] of params) {
    if (key !== 'lab' && !KEEP_KEYS.includes(key) && !ONE_SHOT_KEYS.includes(key)) settings[key] = value;
  }
  const hide = (params.get('hide') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { lab: params.get('lab'), settings, hide, presenter: params.get('presenter') === '1',
    controls: params.get('controls'), play: params.get('play') === '1' };
}

/** A lab's display options ({key: boolean}) among the URL's values, for the keys it keeps there. */
export function pageValues(url, keys) {
  const page = {};
  for (const key of keys) if (key in url.settings) page[key] = url.settings[key] === '1' || url.settings[key] === 'true';
  return page;
}

/** Parse one URL value by its control's kind; text that does not parse is passed on for the server to refuse. */
export function parseSetting(control, text) {
  switch (control.kind) {
    case 'number':
    case 'integer':
      return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
    case 'choices':
      return text === '' ? [] : text.split(',');
    case 'integer_list':
      return text === '' ? [] : text.split(',').map((t) => (Number.isFinite(Number(t)) ? Number(t) : t));
    case 'object_list':
      try {
        return JSON.parse(text);
      } catch {
        return text; // the server says why
      }
    default:
      return text;
  }
}

export function formatSetting(value) {
  if (Array.isArray(value) && value.some((v) => v !== null && typeof v === 'object')) return JSON.stringify(value);
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}

/** The URL's settings that differ from the session's, as wire values ({} when the link matches the session). */
export function settingsToApply(schema, urlSettings, current) {
  const out = {};
  for (const control of schema.controls) {
    if (!(control.name in urlSettings)) continue;
    const value = parseSetting(control, urlSettings[control.name]);
    if (formatSetting(value) !== formatSetting(current[control.name])) out[control.name] = value;
  }
  return out;
}

/** Rewrite the query string from the lab, its settings and its display options, keeping hide/presenter. */
export function writeUrl(schema, settings, page) {
  const params = new URLSearchParams();
  params.set('lab', schema.lab);
  for (const control of schema.controls) {
    if (control.name in settings) params.set(control.name, formatSetting(settings[control.name]));
  }
  for (const [key, value] of Object.entries(page)) params.set(key, formatSetting(value));
  const old = new URLSearchParams(window.location.search);
  for (const key of KEEP_KEYS) if (old.has(key)) params.set(key, old.get(key));
  // Commas, carets, stars and brackets read better unescaped in a link a teacher pastes into slides.
  const query = params.toString().replaceAll('%2C', ',').replaceAll('%5E', '^').replaceAll('%2A', '*')
    .replaceAll('%28', '(').replaceAll('%29', ')');
  const url = `${window.location.pathname}?${query}`;
  if (url !== `${window.location.pathname}${window.location.search}`) window.history.replaceState(null, '', url);
}
