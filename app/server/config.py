"""Where the page's files are and the server's default settings: what the factory, the labs' helpers and the
lessons read without importing the factory (which registers the routes and handlers that use them)."""

from __future__ import annotations

from pathlib import Path

from .controls import LIMITS

SOURCE = Path(__file__).resolve().parents[2]  # a checkout: templates/, static/, node_modules/
PACKAGED = Path(__file__).resolve().parents[1] / "_web"  # an installed wheel: the same three, copied by setup.py
ROOT = SOURCE if (SOURCE / "pyproject.toml").is_file() and (SOURCE / "templates").is_dir() else PACKAGED

DEFAULT_CONFIG = {
    "FPS": 60,                       # frames per second per session, at most
    "MIN_TRAIN_SHARE": 0.4,          # fraction of a session's time kept for training however costly its frames
    "FOLLOWER_FPS": 30,              # frames per second, at most, to each follower of a class
    "GRID_RESOLUTION": 100,          # output heatmap, points per side
    "NEURON_GRID_RESOLUTION": 25,    # each hidden neuron's heatmap, points per side
    "ACK_TIMEOUT": 5.0,              # s before an unacknowledged frame counts as lost
    "SESSION_IDLE_TIMEOUT": 600.0,   # s a session with no connection is kept
    "CORS_ALLOWED_ORIGINS": None,    # None: same origin only; or a list of origins, or "*"
    "BIND_HOST": None,               # the address served on: its names are answered (all local ones for 0.0.0.0)
    "ALLOWED_HOSTS": (),             # more Host names to answer (--allow-host); loopback names always are
    "CONNECTS_PER_SECOND": 2.0,      # new Socket.IO connections per client address, refill rate ...
    "CONNECT_BURST": 30,             # ... and how many at once (0 rate: no limit)
    "PUBLIC_URL": None,              # where students reach the server (join links, QR codes): --lan sets the LAN URL
    "INITIAL_SETTINGS": None,        # overrides of the controls' defaults for new sessions
    "MNIST_DIR": None,               # a folder of MNIST's four IDX files: "mnist" is then the full set
    "NODE_MODULES": ROOT / "node_modules",
    "MAX_CONTENT_LENGTH": LIMITS.max_message_bytes,  # HTTP bodies (model upload)
    "REDIS_URL": None,               # several server processes sharing sessions through Redis (docs/deploy.md)
    "WORKER_ID": None,               # this process's name among them (None: a random one)
    "TRUSTED_PROXIES": 0,            # reverse proxies in front whose X-Forwarded-For is trusted (--behind-proxy: 1)
}
