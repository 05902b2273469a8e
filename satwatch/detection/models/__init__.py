"""The detectors' inference: the network, its int8 twin, the CNN detector, the classical baseline and the hybrids.

``network`` (the CenterNet U-Net, weights saved and rebuilt), ``quantized`` (int8 ONNX Runtime inference on a CPU),
``cnn`` (tiled, windowed CNN inference), ``baseline`` (CFAR / local contrast on water) and ``hybrid``
(``cnn-extent``, ``cfar-cnn``, ``cnn-cfar``). Inference only: modules here import one another and the top-level
detection vocabulary (``detections``, ``profiles``, ``grid``, ``water``), never ``data/``, ``training/`` or the registry
(:mod:`satwatch.detection.detector`), which is how callers get a detector by name.
"""
