"""``python -m app.search --storage URL --study NAME [--index K] [--managed]``: one search worker process
(app.search.worker; app.search.run starts them this way)."""

from .worker import main

main()
