"""Detection: the detectors, their data, their training and evaluation, and each detector's measured error.

Layers, each importing only those before it: the top level holds the shared vocabulary (``detections``: the
detections contract; ``profiles``: the CNN profiles; ``grid``: a scene read on a profile's grid; ``water``: the
water masks, also used by ``change``); ``models/`` the inference (network, int8, CNN, baseline, hybrids); ``data/``
what turns real labelled sets and simulated scenes into labelled scenes and samples; ``training/`` training,
evaluation, real-data validation and the error figures. The dispatch sits on top: ``detector`` (the registry,
``get_detector``, ``detect_files``) and ``auto`` (each profile's default, read from the recorded figures).
"""
