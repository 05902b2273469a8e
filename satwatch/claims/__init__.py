"""Testing public claims against imagery: the claims catalog, indicators, verdicts with confidence, evidence.

Modules: :mod:`~satwatch.claims.catalog` (claims and indicators, validated on load), :mod:`~satwatch.claims.factors`
(planning factors), :mod:`~satwatch.claims.measures` (indicator values from a run folder),
:mod:`~satwatch.claims.verdicts` (rules, ``claims.json``), :mod:`~satwatch.claims.evidence` (chips, plots,
layers) and :mod:`~satwatch.claims.check` (planning and running a check). Rules and schema: ``docs/claims.md``.
"""
