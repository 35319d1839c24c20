// The connection to the server: one training session per tab, rejoined after a refresh with the token kept in
// sessionStorage. Frames are handed on with their ack; the caller acks when it draws, so a page that cannot keep up
// is simply sent fewer frames (the server keeps only the newest unsent one).

import { io } from '/vendor/socket.io.esm.min.js';

const TOKEN_KEY = 'nnplayground.token';
let tokenKey = TOKEN_KEY;

/**
 * Connect and wire the server's events to `handlers`:
 *   onSession({token, created}), onSchema(schema), onState(state), onFrame(frame, ack), onError(error),
 *   onClass(class state | null), onConnection('connecting' | 'connected' | 'disconnected', reason),
 *   onRelay({state: 'reconnecting' | 'live', message}) (the session lives in another server process, whose link
 *   to this one is down or back: docs/deploy.md).
 * `options.join`: a class's code — connect as its follower (auth {join, fork?}: `fork` is the token of the copy
 * this tab took of the class, kept under its own key). Returns {send(event, payload) -> Promise<reply>, socket}.
 */
export function connect(handlers, options = {}) {
  if (options.join) tokenKey = `nnplayground.copy.${options.join}`;
  const socket = io({
    // A function, so every reconnect presents the newest token and lands in the same session.
    auth: (cb) => {
      const token = sessionStorage.getItem(tokenKey);
      if (options.join) cb(token ? { join: options.join, fork: token } : { join: options.join });
      else cb(token ? { token } : {});
    },
    // Several server processes (docs/deploy.md): every request of a long-polling connection must reach the same
    // process, which nothing guarantees there, so the page then speaks websocket only (the server says so).
    transports: document.body.dataset.transports === 'websocket' ? ['websocket'] : ['websocket', 'polling'],
  });

  socket.on('connect', () => handlers.onConnection?.('connected'));
  socket.on('disconnect', (reason) => handlers.onConnection?.('disconnected', reason));
  socket.io.on('reconnect_attempt', () => handlers.onConnection?.('connecting'));
  socket.on('session', (session) => {
    sessionStorage.setItem(tokenKey, session.token);
    handlers.onSession?.(session);
  });
  socket.on('schema', (schema) => handlers.onSchema?.(schema));
  socket.on('state', (state) => handlers.onState?.(state));
  socket.on('error', (error) => handlers.onError?.(error));
  socket.on('class', (state) => handlers.onClass?.(state));
  socket.on('relay', (state) => handlers.onRelay?.(state));
  socket.on('frame', (frame, ack) => handlers.onFrame?.(frame, typeof ack === 'function' ? ack : () => {}));

  /** Emit an event with an ack; resolves with the server's reply ({ok, config_version} or {ok: false, error}). */
  function send(event, payload) {
    return new Promise((resolve) => {
      const reply = (answer) => resolve(answer ?? { ok: true });
      if (payload === undefined) socket.emit(event, reply);
      else socket.emit(event, payload, reply);
    });
  }

  return { send, socket };
}

/** The token of the session this tab controls (null for a follower: it controls none). */
export function sessionToken() {
  return sessionStorage.getItem(tokenKey);
}

/** Forget the session this tab controlled (a follower back from its copy). */
export function forgetSession() {
  sessionStorage.removeItem(tokenKey);
}
