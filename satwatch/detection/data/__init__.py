"""The detectors' data: what turns real labelled sets and simulated scenes into labelled scenes and samples.

The loaders of real labelled sets (``eotdl_s2_ships``, ``opensarship``, ``aerial_vehicles`` to
:class:`LabelledScene`, ``sen2ships`` ports), label files (``label_files``: vector and COCO labels, detections
files), the fixed train / validation split (``splits``), training samples on the profile grid (``samples``) and
where they come from (``training_data``); the sets, their quirks and their split groups are described in
``docs/datasets.md``. Modules here import the top-level detection vocabulary (``profiles``, ``grid``) and the
imagery package, never ``models/`` or ``training/`` (a detector that mines hard negatives is passed in). Nothing is
re-exported here, so ``samples`` and ``splits`` stay importable without GDAL or GeoPandas (a bare GPU machine
trains on a samples file): import from the module that holds a name.

Example:
    >>> from satwatch.detection.data.eotdl_s2_ships import load_chips
    >>> from satwatch.detection.data.labelled import split_by_group
    >>> train, validation = split_by_group(load_chips(), ("2022-08-25",))  # doctest: +SKIP
"""
