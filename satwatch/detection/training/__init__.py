"""Training and evaluation of the detectors, and the error figures recorded per profile.

``train`` (losses, batches, ``train_one_epoch``, ``fit``, ``train``), ``evaluate`` (one-to-one matching of
detections to labels: precision, recall, F1, count error), ``validation`` (the real validation sets, ``score``) and
``figures`` (figures with bootstrap intervals, the default rule, the metrics files that
:mod:`satwatch.detection.auto` reads). Modules here may import ``data/``, ``models/`` and the top-level detection
vocabulary; nothing in ``models/`` or ``data/`` imports them.
"""
