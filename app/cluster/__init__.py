"""Several server processes serving one class: ``nnplayground --workers N`` / ``--redis URL`` (docs/deploy.md).

``node``: a process in the cluster (the directory, piping connections to the process that holds their session,
relaying frames); ``link``: its Redis connection; ``wire``: names and the packing of messages; ``launcher``: the
parent of ``--workers N``; ``http``: the per-session HTTP routes (model files) served by the session's process.
"""
